"""infra/terraform: the module creates what template.yaml creates, with the same least
privilege, and really creates it.

One deployment is shared by the module's checks (one apply/destroy cycle): the commands of
DEPLOY.md's Terraform section, read from the doc, run as written in a copy of the
repository's layout (the module, the example, a stand-in build/lambda.zip) against moto's
server, with only a provider override file added. Then: ``fmt -check``, ``validate``, a second
plan that must find nothing to change but moto's known gaps, what moto holds (functions,
roles, key, secrets, rotation, schedule, alarms, rule, topic), the IAM statements of the plan
against template.yaml and infra/aws/iam-policy*.json, the variables' validation, and
``destroy``.

moto's gaps, and how they are checked instead: moto's Lambda does not keep LoggingConfig,
and moto's Secrets Manager ignores ScheduleExpression (it reports RotationEnabled false, so
the provider reads no rotation back). Both are checked in the requests Terraform sent, which
moto's recorder keeps, and are the only drift the second plan may show.

Without a ``terraform`` binary the tests that need one skip and say so; the rest (the
validation patterns, the doc's commands) still run.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.aws import iam_policies
from infra.aws.build_lambda import DEFAULT_OUT
from infra.aws.cfn import Renderer, load_template, publisher_input
from tests.deploy_support import (
    ACCOUNT,
    EXAMPLE,
    MODULE_DIR,
    NO_TERRAFORM,
    REGION,
    ROOT,
    TERRAFORM,
    MotoServer,
    Run,
    Terraform,
    canonical,
    cli_config,
    doc_section,
    fenced_blocks,
    provider_override,
    sensitive_on_star,
    shell_commands,
    stand_in_zip,
    statements,
    transformed,
    with_placeholders,
)

TF_SECTION = "2b."
# Not the default: proves the input reaches Secrets Manager (given to the documented commands
# through the environment, so they run exactly as written).
SCHEDULE = "cron(0 4 ? * SUN *)"
MANAGER_CLIENT_ID = "ACmanager-tf"
# template.yaml's parameters for what the documented commands deploy.
DEPLOYED = {
    "CreateExampleSecret": "true",
    "VgsOrganizationId": "ACorgxxxx",
    "VgsVaultId": "tntxxxx",
    "AlarmEmail": "oncall@example.com",
}
# (resource type, attribute): why moto's read-back differs from what was sent.
KNOWN_MOTO_DRIFT = {
    ("aws_lambda_function", "logging_config"): "moto's Lambda does not keep LoggingConfig",
    ("aws_secretsmanager_secret_rotation", "rotation_lambda_arn"): "moto reports RotationEnabled false",
    ("aws_secretsmanager_secret_rotation", "rotation_rules"): "moto ignores ScheduleExpression",
    ("aws_secretsmanager_secret_rotation", "rotation_enabled"): "moto reports RotationEnabled false",
}


def documented_commands() -> list[str]:
    section = doc_section(TF_SECTION)
    return [cmd for block in fenced_blocks(section, "sh") for cmd in shell_commands(block)]


def terraform_commands() -> list[list[str]]:
    return [shlex.split(c) for c in documented_commands() if c.startswith("terraform ")]


def last_plan_vars() -> list[str]:
    """The variables of the doc's last plan (the deployment as it stands at the end)."""
    (*_, plan) = [c for c in terraform_commands() if c[1] == "plan"]
    return [a for a in plan[2:] if not a.startswith("-out")]


# ------------------------------------------------------------------------------- no binary needed


def _hcl_regexes(block_name: str) -> list[str]:
    text = (MODULE_DIR / "variables.tf").read_text()
    start = text.index(f'variable "{block_name}"')
    end = text.index("\n}\n", start)
    literals = re.findall(r'regex\("((?:[^"\\]|\\.)*)"', text[start:end])
    return [lit.replace('\\"', '"').replace("\\\\", "\\") for lit in literals]


def test_schedule_validation_is_the_template_pattern() -> None:
    """The module refuses exactly what template.yaml's AllowedPattern refuses (that pattern is
    held to the 4-hour rule by tests/test_template_schedule.py), for the default expression and
    for each secret's own."""
    pattern = load_template()["Parameters"]["RotationScheduleExpression"]["AllowedPattern"]
    (default,) = _hcl_regexes("rotation_schedule_expression")
    (per_secret,) = [p for p in _hcl_regexes("rotated_secrets") if "rate" in p]
    assert default == pattern
    assert per_secret == pattern
    assert "(?" not in pattern, "RE2 (Terraform) and Python must read the pattern alike"


def test_every_input_and_output_is_described() -> None:
    text = "\n".join(p.read_text() for p in MODULE_DIR.glob("*.tf"))
    variables = re.findall(r'^variable "([^"]+)" \{(.*?)^\}', text, flags=re.S | re.M)
    outputs = re.findall(r'^output "([^"]+)" \{(.*?)^\}', text, flags=re.S | re.M)
    assert len(variables) >= 15 and len(outputs) >= 10
    for name, body in variables:
        assert re.search(r"^\s+type\s+=", body, re.M), f"variable {name} has no type"
        assert re.search(r"^\s+description\s+=", body, re.M), f"variable {name} has no description"
    for name, body in outputs:
        assert "description" in body, f"output {name} has no description"
    readme = (MODULE_DIR / "README.md").read_text()
    for name in [n for n, _ in variables] + [n for n, _ in outputs]:
        assert f"`{name}`" in readme, f"infra/terraform/README.md does not list {name}"
    names = {n for n, _ in outputs}
    for wanted in ("rotation_function_arn", "publisher_function_arn", "rotation_role_arn", "publisher_role_arn"):
        assert wanted in names


def test_documented_commands_deploy_the_example_from_the_build() -> None:
    """The doc builds build/lambda.zip (the example's default lambda_zip), goes to the example,
    and plans to a file before applying that file, twice (the example switched on last)."""
    commands = documented_commands()
    assert commands[0] == "python3 infra/aws/build_lambda.py"
    assert (ROOT / "build" / "lambda.zip") == DEFAULT_OUT / "lambda.zip"
    assert f"cd {EXAMPLE}" in commands
    example = (MODULE_DIR / "examples" / "complete" / "main.tf").read_text()
    assert '"${path.module}/../../../../build/lambda.zip"' in example
    tf = terraform_commands()
    assert tf[0] == ["terraform", "init"]
    verbs = [c[1] for c in tf]
    assert verbs.count("apply") == 2 and verbs.count("plan") == 2
    for i, cmd in enumerate(tf):
        if cmd[1] == "apply":
            assert cmd[2:] == ["tfplan"] and tf[i - 1][1] == "plan" and "-out=tfplan" in tf[i - 1]
    assert "create_example_secret=true" in last_plan_vars()


def test_fleet_tag_wherever_the_docs_create_a_rotated_secret() -> None:
    """Every rotated secret the docs or the example create carries vgs-rotation:kind."""
    doc = (ROOT / "docs" / "DEPLOY.md").read_text()
    commands = [c for block in fenced_blocks(doc, "sh") for c in shell_commands(block)]
    creating = [c for c in commands if c.startswith("aws secretsmanager create-secret") and "/rotated/" in c]
    assert creating
    for command in creating:
        assert re.search(r"Key=vgs-rotation:kind,Value=(service-account|access-credentials)\b", command), command
    r = Renderer(load_template(), DEPLOYED)
    example = r.template["Resources"]["ExampleSecret"]["Properties"]
    tags = {t["Key"]: t["Value"] for t in example["Tags"]}
    assert tags["vgs-rotation:kind"] == json.loads(r.render(example["SecretString"]))["kind"]
    hcl = [*fenced_blocks(doc_section(TF_SECTION), "hcl"), (MODULE_DIR / "examples/complete/main.tf").read_text()]
    for text in hcl:
        for name in re.findall(r'name\s+=\s+"[^"]*/rotated/[^"]*"', text):
            block = text[text.index(name) :][:400]
            assert re.search(r'"vgs-rotation:kind"\s+=\s+"(service-account|access-credentials)"', block), name


# ------------------------------------------------------------------------------- the deployment


@dataclass
class Deployment:
    tf: Terraform
    moto: MotoServer
    code_sha256: str
    phase1: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    drift_exit: Run | None = None
    destroyed: bool = False

    def client(self, service: str) -> Any:
        return self.moto.client(service)


def _copy_layout(dest: Path) -> Path:
    """The repository's layout, as the doc's commands expect it: infra/terraform and build/."""
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "*tfplan", "*_override.tf")
    shutil.copytree(MODULE_DIR, dest / "infra" / "terraform", ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if TERRAFORM is None:
        pytest.skip(NO_TERRAFORM)
    from infra.aws.bootstrap_manager import manager_document, store

    work = tmp_path_factory.mktemp("terraform")
    repo = _copy_layout(work / "repo")
    code_sha = stand_in_zip(repo / "build" / "lambda.zip")
    moto = MotoServer(work / "moto-recording.jsonl")
    home = work / "home"
    home.mkdir()
    tf = Terraform(cwd=repo, home=home, config=cli_config(work / "terraformrc"))
    tf.extra_env["TF_VAR_rotation_schedule_expression"] = SCHEDULE
    dep = Deployment(tf, moto, code_sha)
    try:
        applies = 0
        for command in documented_commands():
            if command.startswith("python3 infra/aws/build_lambda.py"):
                continue  # the stand-in zip is already at build/lambda.zip
            if command.startswith("cd "):
                tf.cwd = repo / command[3:]
                (tf.cwd / "moto_override.tf").write_text(provider_override(moto.url))
                continue
            if not command.startswith("terraform "):
                raise AssertionError(f"DEPLOY.md's Terraform section runs {command!r}: teach this test to run it")
            run = tf.run(shlex.split(command))
            verb = shlex.split(command)[1]
            if verb == "output":
                # Step 3 of the doc, with the ARN the doc's command printed.
                manager_arn = run.stdout.strip()
                document = manager_document(MANAGER_CLIENT_ID, "not-a-real-secret", "ACorgxxxx")
                store(manager_arn, document, client=moto.client("secretsmanager"))
                dep.phase1["manager_arn"] = manager_arn
            if verb == "apply":
                applies += 1
                if applies == 1:
                    dep.phase1.update(_observe(moto))
        # A second plan of the same configuration: it must find nothing to change (but moto's
        # gaps), and its JSON is what the checks of the plan read (every value now known).
        dep.drift_exit = tf.run(
            ["terraform", "plan", "-detailed-exitcode", "-out=again.tfplan", *last_plan_vars()], check=False
        )
        dep.plan = tf.json("terraform", "show", "-json", "again.tfplan")
        dep.outputs = {k: v["value"] for k, v in tf.json("terraform", "output", "-json").items()}
        yield dep
    finally:
        if not dep.destroyed:
            tf.run(["terraform", "destroy", "-auto-approve", *last_plan_vars()], check=False)
        moto.stop()
        total = sum(r.seconds for r in tf.runs)
        print(
            f"\nterraform: {len(tf.runs)} commands, {total:.0f} s: "
            + ", ".join(f"{' '.join(r.args[1:2])} {r.seconds:.0f}s" for r in tf.runs)
        )


def _observe(moto: MotoServer) -> dict[str, Any]:
    """What phase 1 (no example) left in moto."""
    schedule = moto.client("scheduler").get_schedule(Name="vgs-rotation-dev-publisher-refresh")
    alarms = [a["AlarmName"] for a in moto.client("cloudwatch").describe_alarms()["MetricAlarms"]]
    secrets = [s["Name"] for s in moto.client("secretsmanager").list_secrets()["SecretList"]]
    return {
        "schedule_state": schedule["State"],
        "alarms": alarms,
        "secrets": secrets,
        "input": schedule["Target"]["Input"],
    }


@pytest.fixture(scope="module")
def template_r() -> Renderer:
    """template.yaml rendered as the documented deployment: environment dev, the example on."""
    return Renderer(load_template(), DEPLOYED)


def _resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        out.extend(module.get("resources", []))
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return out


def _values(plan: dict[str, Any], address: str) -> dict[str, Any]:
    (res,) = [r for r in _resources(plan) if r["address"] == address]
    values: dict[str, Any] = res["values"]
    return values


M = "module.vgs_rotation."


# ------------------------------------------------------------------------------- terraform itself


def test_fmt_check(tmp_path: Path) -> None:
    if TERRAFORM is None:
        pytest.skip(NO_TERRAFORM)
    tf = Terraform(cwd=ROOT, home=tmp_path, config=cli_config(tmp_path / "terraformrc"))
    run = tf.run(["terraform", "fmt", "-check", "-recursive", "-diff", "infra/terraform"], check=False)
    assert run.returncode == 0, f"terraform fmt would change:\n{run.stdout}"


def test_validate(deployment: Deployment) -> None:
    result = deployment.tf.json("terraform", "validate", "-json")
    assert result["valid"] is True, result
    assert result["error_count"] == 0 and result["warning_count"] == 0, result["diagnostics"]


def test_documented_snippet_validates(tmp_path: Path) -> None:
    """The `module "vgs_rotation"` block of DEPLOY.md, pointed at this module, is valid."""
    if TERRAFORM is None:
        pytest.skip(NO_TERRAFORM)
    (snippet,) = fenced_blocks(doc_section(TF_SECTION), "hcl")
    source = re.search(r'source\s+=\s+"([^"]+)"', snippet)
    assert source is not None
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(snippet.replace(source.group(1), str(MODULE_DIR)))
    stand_in_zip(root / "vgs-rotation" / "build" / "lambda.zip")
    tf = Terraform(cwd=root, home=tmp_path, config=cli_config(tmp_path / "terraformrc"))
    tf.run(["terraform", "init"])
    result = tf.json("terraform", "validate", "-json")
    assert result["valid"] is True and result["warning_count"] == 0, result["diagnostics"]


# ------------------------------------------------------------------------------- what the plan holds


CFN_TO_TF = {
    "AWS::KMS::Key": "aws_kms_key",
    "AWS::KMS::Alias": "aws_kms_alias",
    "AWS::SecretsManager::Secret": "aws_secretsmanager_secret",
    "AWS::SecretsManager::RotationSchedule": "aws_secretsmanager_secret_rotation",
    "AWS::Logs::LogGroup": "aws_cloudwatch_log_group",
    "AWS::IAM::Role": "aws_iam_role",
    "AWS::Lambda::Function": "aws_lambda_function",
    "AWS::Lambda::Permission": "aws_lambda_permission",
    "AWS::SQS::Queue": "aws_sqs_queue",
    "AWS::SNS::Topic": "aws_sns_topic",
    "AWS::SNS::TopicPolicy": "aws_sns_topic_policy",
    "AWS::SNS::Subscription": "aws_sns_topic_subscription",
    "AWS::Events::Rule": "aws_cloudwatch_event_rule",
    "AWS::CloudWatch::Alarm": "aws_cloudwatch_metric_alarm",
    "AWS::Scheduler::Schedule": "aws_scheduler_schedule",
}
# What CloudFormation writes inline in its resources and Terraform as resources of their own.
TF_INLINE = {
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_cloudwatch_event_target",
    "aws_secretsmanager_secret_version",
}


def test_plan_creates_what_the_template_creates(deployment: Deployment, template_r: Renderer) -> None:
    """Per resource type, the plan of the deployment holds as many resources as
    template.yaml after the SAM transform, with the same choices (example on, alarm e-mail)."""
    out = transformed()
    r = Renderer(out, DEPLOYED)
    cfn: dict[str, int] = {}
    for logical_id, res in out["Resources"].items():
        if r.resource_exists(logical_id):
            tf_type = CFN_TO_TF[res["Type"]]
            cfn[tf_type] = cfn.get(tf_type, 0) + 1
    tf: dict[str, int] = {}
    for res in _resources(deployment.plan):
        if res["mode"] == "managed" and res["type"] not in TF_INLINE:
            tf[res["type"]] = tf.get(res["type"], 0) + 1
    assert tf == cfn


def test_first_phase_schedule_disabled_without_targets(deployment: Deployment) -> None:
    """Before the example, the publisher has no targets: its schedule is created disabled and
    the "not running" alarm is absent (as the template without PublisherConfig)."""
    phase1 = deployment.phase1
    assert phase1["schedule_state"] == "DISABLED"
    assert json.loads(phase1["input"])["targets"] == []
    assert "vgs-rotation-dev-publisher-not-running" not in phase1["alarms"]
    assert "vgs-rotation-dev-rotation-errors" in phase1["alarms"]
    assert phase1["secrets"] == ["vgs/dev/manager"]


def test_second_plan_changes_nothing_but_moto_gaps(deployment: Deployment) -> None:
    run = deployment.drift_exit
    assert run is not None and run.returncode in (0, 2), run
    plan = deployment.plan
    drift = set()
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        assert actions == ["update"], f"{change['address']}: {actions}"
        before, after = change["change"]["before"], change["change"]["after"]
        for key in set(before) | set(after):
            if before.get(key) != after.get(key) and not change["change"]["after_unknown"].get(key):
                drift.add((change["type"], key))
    unexplained = drift - set(KNOWN_MOTO_DRIFT)
    assert not unexplained, f"terraform would change {sorted(unexplained)} right after apply"


# ------------------------------------------------------------------------------- what moto holds


def test_functions(deployment: Deployment, template_r: Renderer) -> None:
    """Both functions as template.yaml configures them, from the zip at lambda_zip."""
    lam = deployment.client("lambda")
    template = template_r.template
    sent = {
        r.json()["FunctionName"]: r.json()
        for r in deployment.moto.requests()
        if r.method == "POST" and r.url.endswith("/2015-03-31/functions")
    }
    roles = {
        "RotationFunction": deployment.outputs["rotation_role_arn"],
        "PublisherFunction": deployment.outputs["publisher_role_arn"],
    }
    for logical_id, role_arn in roles.items():
        props = template["Resources"][logical_id]["Properties"]
        name = template_r.render(props["FunctionName"])
        conf = lam.get_function_configuration(FunctionName=name)
        assert conf["Runtime"] == props["Runtime"]
        assert conf["Handler"] == props["Handler"]
        assert conf["Architectures"] == props["Architectures"]
        assert conf["MemorySize"] == props["MemorySize"]
        assert conf["Timeout"] == props["Timeout"]
        assert conf["Description"] == props["Description"]
        assert conf["Role"] == role_arn
        assert conf["TracingConfig"]["Mode"] == template_r.render(props["Tracing"])
        expected_env = {k: str(template_r.render(v)) for k, v in props["Environment"]["Variables"].items()}
        assert conf["Environment"]["Variables"] == expected_env
        assert conf["CodeSha256"] == deployment.code_sha256, "not the zip at the example's default lambda_zip"
        assert lam.list_tags(Resource=conf["FunctionArn"])["Tags"]["vgs-rotation:environment"] == "dev"
        # moto does not keep LoggingConfig: what Terraform sent is what Lambda would keep.
        log_group = template_r.render(
            template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]["LogGroupName"]
        )
        assert sent[name]["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": log_group}
        assert "VpcConfig" not in sent[name] or not sent[name]["VpcConfig"].get("SubnetIds")
    assert deployment.outputs["rotation_function_arn"].endswith(":function:vgs-rotation-dev-rotation")
    logs = deployment.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/vgs-rotation-dev-")[
        "logGroups"
    ]
    assert {g["logGroupName"]: g["retentionInDays"] for g in logs} == {
        "/aws/lambda/vgs-rotation-dev-rotation": 90,
        "/aws/lambda/vgs-rotation-dev-publisher": 90,
    }
    policy = json.loads(lam.get_policy(FunctionName="vgs-rotation-dev-rotation")["Policy"])
    (st,) = policy["Statement"]
    assert st["Principal"] == {"Service": "secretsmanager.amazonaws.com"}
    assert st["Action"] == "lambda:InvokeFunction"
    assert st["Condition"] == {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}


def _role_statements(deployment: Deployment, role_arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    iam = deployment.client("iam")
    name = role_arn.rsplit("/", 1)[1]
    role = iam.get_role(RoleName=name)["Role"]
    found: list[dict[str, Any]] = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        found.extend(statements(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]))
    assert not iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"], "no VPC: no managed policy"
    return role, found


def test_roles_in_iam_are_the_template_roles(deployment: Deployment) -> None:
    """The roles moto's IAM holds: the template's statements once its placeholders are filled
    with this deployment's values, and assumable by Lambda only."""
    values = _placeholder_values(deployment)
    for logical_id, output in (("RotationRole", "rotation_role_arn"), ("PublisherRole", "publisher_role_arn")):
        role, found = _role_statements(deployment, deployment.outputs[output])
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
        assert canonical(with_placeholders(found, values)) == canonical(_json_file_statements(logical_id))


def test_key_and_secrets(deployment: Deployment) -> None:
    kms, sm = deployment.client("kms"), deployment.client("secretsmanager")
    key_arn = deployment.outputs["kms_key_arn"]
    key = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]}
    assert aliases == {"alias/vgs-rotation-dev-secrets": key["KeyId"]}
    secrets = {s["Name"]: s for s in sm.list_secrets()["SecretList"]}
    assert set(secrets) == {"vgs/dev/manager", "vgs/dev/rotated/example", "vgs/dev/tokens/example"}
    for s in secrets.values():
        assert s["KmsKeyId"] == key_arn, s["Name"]
    tags = {name: {t["Key"]: t["Value"] for t in s.get("Tags", [])} for name, s in secrets.items()}
    assert tags["vgs/dev/manager"]["vgs-rotation:role"] == "manager"
    assert tags["vgs/dev/rotated/example"]["vgs-rotation:kind"] == "service-account"
    assert (
        deployment.outputs["manager_secret_arn"]
        == secrets["vgs/dev/manager"]["ARN"]
        == deployment.phase1["manager_arn"]
    )


def test_example_seed_is_a_secret_document_naming_the_manager(deployment: Deployment) -> None:
    from rotation.document import parse_document

    sm = deployment.client("secretsmanager")
    raw = sm.get_secret_value(SecretId=deployment.outputs["example_secret_arn"], VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    doc = parse_document(raw)
    assert doc.kind == "service-account"
    assert doc.manager_secret_arn == deployment.outputs["manager_secret_arn"]
    assert (doc.organization_id, doc.vault_ids) == ("ACorgxxxx", ("tntxxxx",))
    manager = json.loads(sm.get_secret_value(SecretId=doc.manager_secret_arn)["SecretString"])
    assert manager["client_id"] == MANAGER_CLIENT_ID, "the doc's step 3 stored the manager"


def test_rotation_configured_with_the_function_and_schedule(deployment: Deployment) -> None:
    """Secrets Manager was asked to rotate the example with the rotation function, on the
    schedule given, at once. moto ignores ScheduleExpression, so the request is checked."""
    secret_arn = deployment.outputs["example_secret_arn"]
    described = deployment.client("secretsmanager").describe_secret(SecretId=secret_arn)
    assert described["RotationLambdaARN"] == deployment.outputs["rotation_function_arn"]
    rotations = [r.json() for r in deployment.moto.requests() if r.target == "secretsmanager.RotateSecret"]
    assert rotations == [
        {
            "ClientRequestToken": rotations[0]["ClientRequestToken"],
            "RotateImmediately": True,
            "RotationLambdaARN": deployment.outputs["rotation_function_arn"],
            "RotationRules": {"ScheduleExpression": SCHEDULE},
            "SecretId": secret_arn,
        }
    ]
    # The rotation was configured after the seed was written (the example takes the ARN from
    # the seed version): the seed's PutSecretValue comes before RotateSecret.
    targets = [r.target for r in deployment.moto.requests() if r.target.startswith("secretsmanager.")]
    seeds = [i for i, t in enumerate(targets) if t == "secretsmanager.PutSecretValue"]
    assert seeds and min(seeds) < targets.index("secretsmanager.RotateSecret")


def test_publisher_schedule(deployment: Deployment, template_r: Renderer) -> None:
    from rotation.publisher import PublishConfig

    template = template_r.template
    event = template["Resources"]["PublisherFunction"]["Properties"]["Events"]["Refresh"]["Properties"]
    schedule = deployment.client("scheduler").get_schedule(Name=template_r.render(event["Name"]))
    assert schedule["ScheduleExpression"] == template_r.render(event["ScheduleExpression"]) == "rate(10 minutes)"
    assert schedule["State"] == template_r.render(event["State"]) == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == deployment.outputs["publisher_function_arn"]
    assert target["RetryPolicy"] == event["RetryPolicy"]
    queue_url = deployment.client("sqs").get_queue_url(QueueName="vgs-rotation-dev-publisher-dlq")["QueueUrl"]
    queue = deployment.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert target["DeadLetterConfig"]["Arn"] == queue["QueueArn"]
    assert (queue["MessageRetentionPeriod"], queue["SqsManagedSseEnabled"]) == ("1209600", "true")
    # The input is the template's, with this deployment's secret ARNs, and the publisher takes it.
    config = json.loads(target["Input"])
    expected = publisher_input(template_r)
    expected["targets"][0].update(
        credential_secret_id=deployment.outputs["example_secret_arn"],
        token_secret_id=deployment.outputs["example_token_secret_arn"],
    )
    assert config == expected
    PublishConfig.from_mapping(config)
    # The scheduler's role: invoke this function, dead-letter into this queue; nothing else.
    role, found = _role_statements(deployment, target["RoleArn"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["scheduler.amazonaws.com"]}
    assert canonical(found) == canonical(
        [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": target["Arn"]},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue["QueueArn"]},
        ]
    )


def test_alarms_rule_and_topic(deployment: Deployment, template_r: Renderer) -> None:
    template = template_r.template
    topic = deployment.outputs["alert_topic_arn"]
    alarms = deployment.client("cloudwatch").describe_alarms()["MetricAlarms"]
    by_metric = {(a["Namespace"], a["MetricName"], a["Dimensions"][0]["Value"]): a for a in alarms}
    expected = [
        res["Properties"]
        for lid, res in template["Resources"].items()
        if res["Type"] == "AWS::CloudWatch::Alarm" and template_r.resource_exists(lid)
    ]
    assert len(alarms) == len(expected) == 4
    for props in expected:
        (dim,) = props["Dimensions"]
        alarm = by_metric[(props["Namespace"], props["MetricName"], str(template_r.render(dim["Value"])))]
        assert alarm["Dimensions"][0]["Name"] == dim["Name"]
        for key in (
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "ComparisonOperator",
            "TreatMissingData",
            "AlarmDescription",
        ):
            assert alarm[key] == props[key], (alarm["AlarmName"], key)
        assert alarm["Threshold"] == float(props["Threshold"])
        assert alarm.get("DatapointsToAlarm") == props.get("DatapointsToAlarm")
        assert alarm["AlarmActions"] == [topic]
        assert alarm.get("OKActions", []) == ([topic] if "OKActions" in props else [])
    events = deployment.client("events")
    (rule,) = events.list_rules(NamePrefix="vgs-rotation-dev-")["Rules"]
    assert json.loads(rule["EventPattern"]) == template["Resources"]["RotationEventsRule"]["Properties"]["EventPattern"]
    assert rule["State"] == "ENABLED"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == topic
    sns = deployment.client("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "oncall@example.com")]
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    expected_policy = template_r.render(template["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"])
    replace = {rule["Arn"]: "<RULE_ARN>", topic: "<TOPIC_ARN>"}
    template_replace = {
        template_r.get_att("RotationEventsRule", "Arn"): "<RULE_ARN>",
        template_r.ref("AlertTopic"): "<TOPIC_ARN>",
    }
    assert canonical(with_placeholders(statements(policy), replace)) == canonical(
        with_placeholders(statements(expected_policy), template_replace)
    )


# ------------------------------------------------------------------------------- policy parity


def _placeholder_values(deployment: Deployment) -> dict[str, str]:
    """This deployment's concrete values -> the placeholders of infra/aws/iam-policy*.json."""
    return {
        deployment.outputs["manager_secret_arn"]: "<MANAGER_SECRET_ARN>",
        deployment.outputs["kms_key_arn"]: "<KMS_KEY_ARN>",
        "vgs-rotation-dev-rotation": "<ROTATION_FUNCTION_NAME>",
        "vgs-rotation-dev-publisher": "<PUBLISHER_FUNCTION_NAME>",
        "secret:vgs/dev/": "secret:<SECRET_NAME_PREFIX>/<ENVIRONMENT>/",
        "arn:aws:": "arn:<PARTITION>:",
        REGION: "<REGION>",
        ACCOUNT: "<ACCOUNT_ID>",
    }


def _json_file_statements(logical_id: str) -> list[dict[str, Any]]:
    return statements(iam_policies.FILES[logical_id].read_text())


def _plan_policy(deployment: Deployment, address: str) -> list[dict[str, Any]]:
    policy = _values(deployment.plan, address)["policy"]
    assert isinstance(policy, str), f"{address}: the plan does not know the policy"
    return statements(policy)


@pytest.mark.parametrize(
    ("logical_id", "address"),
    [("RotationRole", "aws_iam_role_policy.rotation"), ("PublisherRole", "aws_iam_role_policy.publisher")],
)
def test_role_statements_equal_template_and_json(deployment: Deployment, logical_id: str, address: str) -> None:
    """The IAM statements of the Terraform plan, of template.yaml and of the IAM JSON: the
    same actions on the same resources under the same conditions (Sids included), once the
    deployment's values are replaced by the JSON's placeholders."""
    planned = canonical(with_placeholders(_plan_policy(deployment, M + address), _placeholder_values(deployment)))
    rendered = canonical(statements(iam_policies.render_policies()[logical_id]))
    from_json = canonical(_json_file_statements(logical_id))
    assert rendered == from_json, "infra/aws/iam-policy*.json is stale (python -m infra.aws.iam_policies)"
    assert planned == rendered
    assert not re.search(r"123456789012|us-east-1|vgs/dev/", json.dumps(planned)), (
        "a concrete value was not placeholdered"
    )


def test_scheduler_role_equals_the_sam_generated_one(deployment: Deployment) -> None:
    out = transformed()
    sam = [
        s
        for policy in out["Resources"]["PublisherFunctionRefreshRole"]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    sam = with_placeholders(
        json.loads(
            json.dumps(sam)
            .replace(json.dumps({"Fn::GetAtt": ["PublisherFunction", "Arn"]}), '"<PUBLISHER_FUNCTION_ARN>"')
            .replace(json.dumps({"Fn::GetAtt": ["PublisherDeadLetterQueue", "Arn"]}), '"<DLQ_ARN>"')
        ),
        {},
    )
    queue_arn = _values(deployment.plan, M + "aws_sqs_queue.publisher_dlq")["arn"]
    planned = with_placeholders(
        _plan_policy(deployment, M + "aws_iam_role_policy.scheduler"),
        {deployment.outputs["publisher_function_arn"]: "<PUBLISHER_FUNCTION_ARN>", queue_arn: "<DLQ_ARN>"},
    )
    assert canonical(planned, sids=False) == canonical(sam, sids=False)


def test_key_policy_equals_the_template_key_policy(deployment: Deployment) -> None:
    r = Renderer(load_template(), iam_policies.PLACEHOLDER_PARAMS)
    r.params.update(iam_policies.PSEUDO)
    expected = r.render(r.template["Resources"]["SecretsKey"]["Properties"]["KeyPolicy"]["Statement"])
    planned = with_placeholders(_plan_policy(deployment, M + "aws_kms_key.secrets[0]"), _placeholder_values(deployment))
    assert canonical(planned) == canonical(expected)


def test_no_secrets_manager_or_kms_action_on_star_anywhere(deployment: Deployment) -> None:
    """In every role policy of the plan, of the template (after the SAM transform, so the
    generated scheduler role too) and of the IAM JSON."""
    planned = [r for r in _resources(deployment.plan) if r["type"] == "aws_iam_role_policy"]
    assert len(planned) == 3
    found: dict[str, list[str]] = {}
    for res in planned:
        found[res["address"]] = sensitive_on_star(statements(res["values"]["policy"]))
    out = transformed()
    r = Renderer(out, DEPLOYED)
    for logical_id, res in out["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            for policy in res["Properties"].get("Policies", []):
                found[logical_id] = sensitive_on_star(r.render(policy["PolicyDocument"]["Statement"]))
    for logical_id in iam_policies.FILES:
        found[iam_policies.FILES[logical_id].name] = sensitive_on_star(_json_file_statements(logical_id))
    assert len(found) >= 3 + 3 + 2
    assert not {k: v for k, v in found.items() if v}


# ------------------------------------------------------------------------------- inputs refused


def test_invalid_inputs_are_refused_before_anything_is_touched(deployment: Deployment) -> None:
    tf = deployment.tf
    before = len(deployment.moto.requests())
    run = tf.run(
        [
            "terraform",
            "plan",
            "-refresh=false",
            *last_plan_vars(),
            "-var",
            "rotation_schedule_expression=rate(1 hour)",
            "-var",
            "environment=Prod!",
            "-var",
            "alarm_email=oncall",
        ],
        check=False,
    )
    assert run.returncode == 1
    err = re.sub(r"\s+", " ", run.stderr)
    assert "never more often than every 4 hours" in err
    assert "environment: 2 to 12 characters" in err
    assert "alarm_email: an e-mail address" in err
    writes = [r.action for r in deployment.moto.requests()[before:] if r.writes]
    assert writes == [], f"a refused plan called {writes}"


# ------------------------------------------------------------------------------- destroy (last)


def test_destroy_removes_what_was_created(deployment: Deployment) -> None:
    tf = deployment.tf
    tf.run(["terraform", "destroy", "-auto-approve", "-refresh=false", *last_plan_vars()])
    deployment.destroyed = True
    assert tf.run(["terraform", "state", "list"]).stdout.strip() == ""
    c = deployment.client
    assert [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]] == []
    assert [r["RoleName"] for r in c("iam").list_roles()["Roles"] if r["RoleName"].startswith("vgs-rotation-dev")] == []
    assert c("scheduler").list_schedules()["Schedules"] == []
    assert c("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert c("events").list_rules(NamePrefix="vgs-rotation-dev-")["Rules"] == []
    assert c("sns").list_topics()["Topics"] == []
    assert c("sqs").list_queues().get("QueueUrls", []) == []
    assert c("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/vgs-rotation-dev-")["logGroups"] == []
    # The key and the manager secret are recoverable, as the stack retains them.
    key = c("kms").describe_key(KeyId=deployment.outputs["kms_key_arn"])["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    manager = c("secretsmanager").describe_secret(SecretId=deployment.outputs["manager_secret_arn"])
    assert "DeletedDate" in manager
