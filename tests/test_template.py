"""template.yaml: cfn-lint clean, least-privilege IAM, KMS through Secrets Manager only,
timeouts in the right order, the publisher schedule, alarms and events wired."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.aws.cfn import ACCOUNT, REGION, TEMPLATE, Renderer, allows, as_list, load_template, publisher_input

SM_ROTATION_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
EXAMPLE_ON = {"CreateExampleSecret": "true", "VgsOrganizationId": "ACorg123", "VgsVaultId": "tntvault1"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def r(template: dict[str, Any]) -> Renderer:
    return Renderer(template, EXAMPLE_ON)


def cfn_lint_command() -> list[str]:
    """The cfn-lint console script beside this interpreter (same venv), else on PATH."""
    exe = Path(sys.executable).parent / "cfn-lint"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("cfn-lint")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# ------------------------------------------------------------------------------- lint


def test_cfn_lint_is_clean() -> None:
    proc = subprocess.run([*cfn_lint_command(), str(TEMPLATE)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"cfn-lint found problems:\n{proc.stdout}\n{proc.stderr}"


def test_sam_transform_output_is_lint_clean(tmp_path: Path) -> None:
    """When aws-sam-translator is installed, the transformed template is clean too (the
    SAM-generated scheduler role gets sqs:SendMessage on the dead-letter queue)."""
    pytest.importorskip("samtranslator", reason="aws-sam-translator not installed (optional check)")
    import os

    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    tpl = yaml_parse(TEMPLATE.read_text())
    for res in tpl["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://bucket/lambda.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    out = transform(tpl, {}, NoManagedPolicies())
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(out, default=str))
    schedule_roles = [
        v for k, v in out["Resources"].items() if v["Type"] == "AWS::IAM::Role" and k.startswith("PublisherFunction")
    ]
    assert any("sqs:SendMessage" in json.dumps(role) for role in schedule_roles)
    proc = subprocess.run([*cfn_lint_command(), str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("logical_id", "handler"),
    [
        ("RotationFunction", "rotation.lambda_rotation.handler"),
        ("PublisherFunction", "rotation.lambda_publisher.handler"),
    ],
)
def test_functions(template: dict[str, Any], r: Renderer, logical_id: str, handler: str) -> None:
    props = template["Resources"][logical_id]["Properties"]
    assert props["Handler"] == handler
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert "FunctionName" in props, "an explicit FunctionName keeps the role's ARN condition non-circular"
    assert props["CodeUri"] in ("build/lambda.zip", "build/lambda/")
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"]
    assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    # Tracing is opt-in (rotation.lambda_support reads VGS_TRACING) and matches X-Ray's mode.
    assert env["VGS_TRACING"] == {"Ref": "EnableTracing"}
    assert r.render(props["Tracing"]) == "PassThrough"
    assert Renderer(template, {"EnableTracing": "true"}).render(props["Tracing"]) == "Active"
    # The log group is explicit, has a retention, and is the one the function logs to.
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][log_group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert r.render(group["Properties"]["LogGroupName"]) == f"/aws/lambda/{r.render(props['FunctionName'])}"
    # VPC only when subnets are given.
    assert "VpcConfig" not in r.render(props)
    vpc = Renderer(template, {"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"})
    assert vpc.render(props["VpcConfig"]) == {"SubnetIds": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}


def _attempts(env: dict[str, str]) -> list[int]:
    """The retry attempts per VGS call: the configured value and the library's default (in
    case a handler ignores the variable); the check must hold for both."""
    from rotation.vgs.http import RetryPolicy

    counts = [RetryPolicy().max_attempts]
    if "VGS_HTTP_MAX_ATTEMPTS" in env:
        counts.append(int(env["VGS_HTTP_MAX_ATTEMPTS"]))
    return counts


@pytest.mark.parametrize("logical_id", ["RotationFunction", "PublisherFunction"])
def test_http_timeouts_sit_below_the_function_timeout(template: dict[str, Any], logical_id: str) -> None:
    props = template["Resources"][logical_id]["Properties"]
    env = props["Environment"]["Variables"]
    http_timeout = float(env["VGS_HTTP_TIMEOUT_SECONDS"])
    for attempts in _attempts(env):
        assert http_timeout * attempts < props["Timeout"], (logical_id, http_timeout, attempts)
    # and the AWS SDK's own timeout (connect + read per attempt, 4 attempts) as well
    aws_timeout = float(env.get("VGS_AWS_TIMEOUT_SECONDS", "5"))
    assert aws_timeout * 2 * 4 < props["Timeout"]


def test_publisher_runs_never_overlap_and_retries_stay_fresh(template: dict[str, Any], r: Renderer) -> None:
    props = template["Resources"]["PublisherFunction"]["Properties"]
    refresh = template["Parameters"]["TokenRefreshMinutes"]
    min_period = refresh["MinValue"] * 60
    assert props["Timeout"] < min_period, "a run must end before the next one starts"
    event = props["Events"]["Refresh"]["Properties"]
    retry = event["RetryPolicy"]
    assert retry["MaximumRetryAttempts"] >= 0
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= min_period
    threshold = template["Parameters"]["TokenRefreshThresholdSeconds"]
    assert threshold["Default"] > refresh["Default"] * 60, "a published token must outlive the next run"


# ------------------------------------------------------------------------------- IAM


def _all_role_statements(template: dict[str, Any], r: Renderer) -> dict[str, list[dict[str, Any]]]:
    return {rid: r.render(r.role_statements(rid)) for rid in resources_of(template, "AWS::IAM::Role")}


def test_no_secretsmanager_or_kms_action_on_star(template: dict[str, Any]) -> None:
    for overrides in (EXAMPLE_ON, {}, {"KmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd-1234"}):
        r = Renderer(template, overrides)
        for role, statements in _all_role_statements(template, r).items():
            for st in statements:
                actions = [a.lower() for a in as_list(st["Action"])]
                sensitive = [a for a in actions if a.startswith(("secretsmanager:", "kms:")) or a == "*"]
                if not sensitive:
                    continue
                assert "*" not in actions and "secretsmanager:*" not in actions and "kms:*" not in actions, role
                for resource in as_list(st["Resource"]):
                    assert resource != "*", f"{role}: {sensitive} on Resource '*'"
                    assert resource.startswith("arn:aws:"), (role, resource)
    # SAM-style inline policies would bypass the explicit roles: there are none.
    for fn in resources_of(template, "AWS::Serverless::Function").values():
        assert "Policies" not in fn["Properties"]


def test_rotation_role_is_bound_to_its_own_function(template: dict[str, Any], r: Renderer) -> None:
    statements = r.role_statements("RotationRole")
    function_arn = r.get_att("RotationFunction", "Arn")
    conditioned = [st for st in statements if set(SM_ROTATION_ACTIONS) & set(as_list(st["Action"]))]
    rotating = [st for st in conditioned if "secretsmanager:PutSecretValue" in as_list(st["Action"])]
    assert len(rotating) == 1
    (st,) = rotating
    assert set(as_list(st["Action"])) == set(SM_ROTATION_ACTIONS)
    assert st["Condition"] == {"StringEquals": {"secretsmanager:resource/AllowRotationLambdaArn": function_arn}}
    prefix = r.render({"Fn::Sub": "${SecretNamePrefix}/${Environment}/rotated/"})
    assert as_list(st["Resource"]) == [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}*"]
    # The raw template builds that ARN from the FunctionName, not from the function itself.
    raw = next(
        s
        for p in template["Resources"]["RotationRole"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if "secretsmanager:PutSecretValue" in as_list(s["Action"])
    )
    assert "GetAtt" not in json.dumps(raw) and "RotationFunction" not in json.dumps(raw)

    example = r.ref("ExampleSecret")
    manager = r.ref("ManagerSecret")
    token = r.ref("ExampleTokenSecret")
    for action in SM_ROTATION_ACTIONS:
        assert allows(statements, action, example)
        assert not allows(statements, action, token), f"rotation role may {action} a token secret"
    assert allows(statements, "secretsmanager:GetSecretValue", manager)
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"):
        assert not allows(statements, action, manager)
    # Every other Secrets Manager grant is read-only on the manager secret.
    for other in statements:
        if other is st:
            continue
        for action in as_list(other["Action"]):
            if action.startswith("secretsmanager:"):
                assert action == "secretsmanager:GetSecretValue"
                assert as_list(other["Resource"]) == [manager]


def test_publisher_reads_credentials_and_writes_only_tokens(r: Renderer) -> None:
    statements = r.role_statements("PublisherRole")
    example, token, manager = r.ref("ExampleSecret"), r.ref("ExampleTokenSecret"), r.ref("ManagerSecret")
    assert allows(statements, "secretsmanager:GetSecretValue", example)
    assert allows(statements, "secretsmanager:DescribeSecret", example)
    assert allows(statements, "secretsmanager:PutSecretValue", token)
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"):
        assert not allows(statements, action, example), f"publisher may {action} a credential secret"
        assert not allows(statements, action, manager)
    assert not allows(statements, "secretsmanager:UpdateSecretVersionStage", token)
    assert not allows(statements, "secretsmanager:GetSecretValue", manager), "the publisher needs no manager"
    # An unrelated secret in the account is out of reach of both roles.
    other = r.secret_arn("prod/database")
    for role in ("RotationRole", "PublisherRole"):
        for action in SM_ROTATION_ACTIONS:
            assert not allows(r.role_statements(role), action, other)


@pytest.mark.parametrize("overrides", [EXAMPLE_ON, {"KmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd-1234"}])
def test_kms_use_only_through_secrets_manager(template: dict[str, Any], overrides: dict[str, str]) -> None:
    r = Renderer(template, overrides)
    key_arn = r.render(template["Outputs"]["KmsKeyArn"]["Value"])
    via = f"secretsmanager.{REGION}.amazonaws.com"
    for role in ("RotationRole", "PublisherRole"):
        kms = [st for st in r.role_statements(role) if any(a.startswith("kms:") for a in as_list(st["Action"]))]
        granted = {a for st in kms for a in as_list(st["Action"])}
        assert granted == {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}, role
        for st in kms:
            assert as_list(st["Resource"]) == [key_arn]
            assert st["Condition"]["StringEquals"]["kms:ViaService"] == via
            if set(as_list(st["Action"])) & {"kms:Decrypt", "kms:GenerateDataKey"}:
                contexts = as_list(st["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"])
                assert contexts and all(
                    c.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:") for c in contexts
                )


def test_key_policy_allows_use_only_via_secrets_manager_for_these_secrets(
    template: dict[str, Any], r: Renderer
) -> None:
    key = template["Resources"]["SecretsKey"]
    assert key["Condition"] == "CreateKmsKey"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = r.render(key["Properties"]["KeyPolicy"]["Statement"])
    use_actions = {"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:*"}
    users = [st for st in statements if use_actions & set(as_list(st["Action"]))]
    assert users, "someone must be able to use the key"
    prefix = r.render({"Fn::Sub": "${SecretNamePrefix}/${Environment}/"})
    for st in users:
        assert "kms:*" not in as_list(st["Action"])
        cond = st["Condition"]
        assert cond["StringEquals"]["kms:ViaService"] == f"secretsmanager.{REGION}.amazonaws.com"
        assert cond["StringEquals"]["kms:CallerAccount"] == ACCOUNT
        assert cond["StringLike"]["kms:EncryptionContext:SecretARN"] == (
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}*"
        )
    # With an existing key, no key is created and every secret uses the given one.
    existing = Renderer(template, {"KmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd-1234"})
    assert not existing.resource_exists("SecretsKey")
    for sid in ("ManagerSecret",):
        props = template["Resources"][sid]["Properties"]
        assert existing.render(props["KmsKeyId"]) == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd-1234"


def test_secrets_manager_may_invoke_the_rotation_function_for_this_account_only(template: dict[str, Any]) -> None:
    (perm,) = resources_of(template, "AWS::Lambda::Permission").values()
    props = perm["Properties"]
    assert props["Principal"] == "secretsmanager.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert props["FunctionName"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}


# ------------------------------------------------------------------------------- secrets


def test_example_secret_rotation_schedule(template: dict[str, Any], r: Renderer) -> None:
    (schedule,) = resources_of(template, "AWS::SecretsManager::RotationSchedule").values()
    props = schedule["Properties"]
    assert props["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
    assert props["RotationRules"]["ScheduleExpression"] == {"Ref": "RotationScheduleExpression"}
    assert isinstance(props.get("RotateImmediatelyOnUpdate"), bool), "chosen explicitly"
    assert "RotationInvokePermission" in as_list(schedule["DependsOn"])
    assert r.render(props["SecretId"]) == r.ref("ExampleSecret")
    # Off by default: the example needs the manager bootstrapped first.
    assert not Renderer(template).resource_exists("ExampleRotationSchedule")
    assert r.resource_exists("ExampleRotationSchedule")


def test_example_seed_document_is_a_valid_secret_document(template: dict[str, Any], r: Renderer) -> None:
    from rotation.document import parse_document

    raw = r.render(template["Resources"]["ExampleSecret"]["Properties"]["SecretString"])
    doc = parse_document(raw)
    assert doc.kind == "service-account"
    assert doc.manager_secret_arn == r.ref("ManagerSecret")
    assert doc.organization_id == EXAMPLE_ON["VgsOrganizationId"]
    assert doc.vault_ids == (EXAMPLE_ON["VgsVaultId"],)
    assert doc.hosts.token_url == r.params["VgsTokenUrl"]
    assert doc.hosts.cmp_url == r.params["VgsCmpUrl"]
    several = Renderer(template, {**EXAMPLE_ON, "ExampleScopes": "cards:write,cards:read"})
    doc = parse_document(several.render(template["Resources"]["ExampleSecret"]["Properties"]["SecretString"]))
    assert doc.scopes == ("cards:write", "cards:read")


def test_all_secrets_use_the_key_and_live_under_the_prefix(template: dict[str, Any], r: Renderer) -> None:
    prefix = r.render({"Fn::Sub": "${SecretNamePrefix}/${Environment}/"})
    key_arn = r.render(template["Outputs"]["KmsKeyArn"]["Value"])
    for props in (s["Properties"] for s in resources_of(template, "AWS::SecretsManager::Secret").values()):
        assert r.render(props["KmsKeyId"]) == key_arn
        assert r.render(props["Name"]).startswith(prefix)


# ------------------------------------------------------------------------------- publisher schedule


def test_publisher_schedule(template: dict[str, Any], r: Renderer) -> None:
    events = template["Resources"]["PublisherFunction"]["Properties"]["Events"]
    (event,) = [e for e in events.values() if e["Type"] == "ScheduleV2"]
    props = event["Properties"]
    assert set(props["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    dlq = props["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert template["Resources"][dlq]["Type"] == "AWS::SQS::Queue"
    assert r.render(props["ScheduleExpression"]) == "rate(10 minutes)"
    assert "Name" in props, "schedule names are unique per account and region"


CUSTOM_CONFIG = {
    "targets": [
        {
            "credential_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/dev/rotated/app-AbCdEf",
            "token_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/dev/tokens/app-AbCdEf",
            "vault_path": None,
        }
    ],
    "refresh_threshold_seconds": 900,
    "concurrency": 4,
}


@pytest.mark.parametrize("case", ["example", "custom", "none"])
def test_publisher_input_is_the_documented_config(template: dict[str, Any], case: str) -> None:
    overrides = {
        "example": EXAMPLE_ON,
        "custom": {"PublisherConfig": json.dumps(CUSTOM_CONFIG)},
        "none": {},
    }[case]
    r = Renderer(template, overrides)
    config = publisher_input(r)
    assert set(config) == {"targets", "refresh_threshold_seconds", "concurrency"}
    assert isinstance(config["concurrency"], int) and config["concurrency"] >= 1
    event = template["Resources"]["PublisherFunction"]["Properties"]["Events"]["Refresh"]["Properties"]
    state = r.render(event["State"])
    if case == "none":
        # The publisher refuses a config without targets: the schedule stays off, and so
        # does the alarm that expects it to run.
        assert config["targets"] == []
        assert state == "DISABLED"
        assert not r.resource_exists("PublisherNotRunningAlarm")
        return
    assert state == "ENABLED"
    assert r.resource_exists("PublisherNotRunningAlarm")
    if case == "custom":
        assert config == CUSTOM_CONFIG
    else:
        assert config["refresh_threshold_seconds"] == template["Parameters"]["TokenRefreshThresholdSeconds"]["Default"]
        assert config["targets"] == [
            {
                "credential_secret_id": r.ref("ExampleSecret"),
                "token_secret_id": r.ref("ExampleTokenSecret"),
                "vault_path": None,
            }
        ]
    try:
        from rotation.publisher import PublishConfig  # the publisher's own parser, once it is here
    except ImportError:
        return
    PublishConfig.from_mapping(config)


# ------------------------------------------------------------------------------- alerts


def test_rotation_failure_events_reach_the_topic(template: dict[str, Any], r: Renderer) -> None:
    (rule,) = resources_of(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.secretsmanager"]
    # Rotation outcomes are CloudTrail service events, not API calls.
    assert pattern["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["secretsmanager.amazonaws.com"]
    assert {"RotationFailed", "RotationAbandoned"} <= set(pattern["detail"]["eventName"])
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "AlertTopic"}
    (policy,) = resources_of(template, "AWS::SNS::TopicPolicy").values()
    statements = r.render(policy["Properties"]["PolicyDocument"]["Statement"])
    events = [st for st in statements if st["Principal"] == {"Service": "events.amazonaws.com"}]
    assert events and events[0]["Action"] == "sns:Publish"
    assert events[0]["Condition"]["ArnEquals"]["aws:SourceArn"] == r.get_att("RotationEventsRule", "Arn")


def test_alarms(template: dict[str, Any]) -> None:
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["MetricName"], json.dumps(a["Properties"]["Dimensions"][0]["Value"])) for a in alarms}
    assert ("Errors", json.dumps({"Ref": "RotationFunction"})) in watched
    assert ("Errors", json.dumps({"Ref": "PublisherFunction"})) in watched
    assert (
        "ApproximateNumberOfMessagesVisible",
        json.dumps({"Fn::GetAtt": ["PublisherDeadLetterQueue", "QueueName"]}),
    ) in watched
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}]


def test_outputs(template: dict[str, Any]) -> None:
    assert {
        "RotationFunctionArn",
        "PublisherFunctionArn",
        "ManagerSecretArn",
        "KmsKeyArn",
        "AlertTopicArn",
        "ExampleSecretArn",
        "ExampleTokenSecretArn",
        "PublisherDeadLetterQueueUrl",
    } <= set(template["Outputs"])
