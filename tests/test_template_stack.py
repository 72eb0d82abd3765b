"""template.yaml, after the SAM transform, created as a CloudFormation stack in moto's server
and checked as tests/test_terraform.py checks the Terraform deployment; and the template's
Serverless Application Repository metadata.

moto (5.x) has no CloudFormation support for some of the template's resource types
(MOTO_LACKS below): it creates the stack without them, so what they hold is checked here
only where it shows in the rest (the rotation role's statement on the manager secret has no
Resource in moto, for instance). The same resources are created for real by Terraform in
tests/test_terraform.py, and their template properties are checked by tests/test_template.py.

moto quirks adjusted for, and only these: its AWS::KMS::Key reads Tags in KMS's API form
(TagKey/TagValue; the copy sent to moto is rewritten); its Fn::GetAtt Arn of an
AWS::Logs::LogGroup lacks the ``:*`` that CloudFormation appends (the expected statement drops
it too); it returns the inline policies of a role it created from a template as a Python repr
and a key policy as an object, not as JSON text (both are read as such). moto's CloudFormation
also ignores a function's Architectures, which is not compared.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.aws.cfn import Renderer, load_template
from tests.deploy_support import ACCOUNT, REGION, ROOT, MotoServer, canonical, stand_in_zip, statements, transformed

MOTO_LACKS = {
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::CloudWatch::Alarm",
    "AWS::Scheduler::Schedule",
}
PARAMETERS = {
    "CreateExampleSecret": "true",
    "VgsOrganizationId": "ACorgxxxx",
    "VgsVaultId": "tntxxxx",
    "AlarmEmail": "oncall@example.com",
}
STACK = "vgs-rotation-dev"
BUCKET = "artifacts"


# ------------------------------------------------------------------------------- SAR metadata


def test_serverless_repo_metadata() -> None:
    """What `sam publish` needs, within the Serverless Application Repository's limits, with
    the version of the package it ships."""
    meta = load_template()["Metadata"]["AWS::ServerlessRepo::Application"]
    assert {"Name", "Description", "Author", "SemanticVersion", "ReadmeUrl", "Labels", "SpdxLicenseId"} <= set(meta)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,139}", meta["Name"])
    assert 1 <= len(meta["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]", meta["Author"]) and len(meta["Author"]) <= 127
    assert 1 <= len(meta["Labels"]) <= 10
    for label in meta["Labels"]:
        assert re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label), label
    assert (ROOT / meta["ReadmeUrl"]).is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M)
    license_id = re.search(r'^license = "([^"]+)"', pyproject, re.M)
    assert version and meta["SemanticVersion"] == version.group(1), "bump SemanticVersion with the package"
    assert license_id and meta["SpdxLicenseId"] == license_id.group(1)


# ------------------------------------------------------------------------------- the stack


def _document(value: Any) -> dict[str, Any]:
    """A policy document as moto's CloudFormation stores it: an object, JSON, or a Python repr."""
    if isinstance(value, dict):
        return value
    try:
        doc: dict[str, Any] = json.loads(value)
    except ValueError:
        doc = ast.literal_eval(value)
    return doc


def _inline_statements(stack: Stack, role_id: str) -> list[dict[str, Any]]:
    iam = stack.client("iam")
    name = stack.physical[role_id]
    found = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        found.extend(statements(_document(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])))
    assert found, f"{role_id} has no inline policy"
    return found


@dataclass
class Stack:
    moto: MotoServer
    template: dict[str, Any]
    physical: dict[str, str]
    outputs: dict[str, str]
    code_sha256: str
    r: Renderer

    def client(self, service: str) -> Any:
        return self.moto.client(service)


def _for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The one rewrite moto needs: its AWS::KMS::Key takes Tags as TagKey/TagValue."""
    copy: dict[str, Any] = json.loads(json.dumps(template))
    key = copy["Resources"]["SecretsKey"]["Properties"]
    key["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in key["Tags"]]
    return copy


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work: Path = tmp_path_factory.mktemp("stack")
    moto = MotoServer(work / "moto-recording.jsonl")
    try:
        zip_path = work / "lambda.zip"
        code_sha = stand_in_zip(zip_path)
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="lambda.zip", Body=zip_path.read_bytes())
        template = transformed(f"s3://{BUCKET}/lambda.zip")
        cfn = moto.client("cloudformation")
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(_for_moto(template)),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        (described,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
        summaries = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        physical = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s["LogicalResourceId"]}
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        yield Stack(moto, template, physical, outputs, code_sha, Renderer(load_template(), PARAMETERS))
    finally:
        moto.stop()


def test_stack_holds_every_resource_moto_supports(stack: Stack) -> None:
    r = Renderer(stack.template, PARAMETERS)
    wanted = {lid: res["Type"] for lid, res in stack.template["Resources"].items() if r.resource_exists(lid)}
    assert set(wanted.values()) >= MOTO_LACKS, "MOTO_LACKS names a type the template does not use"
    # (moto lists a Lambda permission with an empty physical id: it is checked below.)
    missing = {lid for lid, kind in wanted.items() if kind not in MOTO_LACKS and lid not in stack.physical}
    assert not missing, f"moto did not create {sorted(missing)}"
    for key in (
        "RotationFunctionArn",
        "PublisherFunctionArn",
        "KmsKeyArn",
        "AlertTopicArn",
        "PublisherDeadLetterQueueUrl",
    ):
        assert stack.outputs.get(key), key
    assert (
        stack.outputs["RotationFunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vgs-rotation-dev-rotation"
    )


@pytest.mark.parametrize(
    ("logical_id", "role_id"), [("RotationFunction", "RotationRole"), ("PublisherFunction", "PublisherRole")]
)
def test_functions(stack: Stack, logical_id: str, role_id: str) -> None:
    props = stack.r.template["Resources"][logical_id]["Properties"]
    lam = stack.client("lambda")
    conf = lam.get_function_configuration(FunctionName=stack.physical[logical_id])
    assert conf["FunctionName"] == stack.r.render(props["FunctionName"])
    for key in ("Runtime", "Handler", "MemorySize", "Timeout", "Description"):
        assert conf[key] == props[key], key
    assert conf["Role"] == stack.client("iam").get_role(RoleName=stack.physical[role_id])["Role"]["Arn"]
    assert conf["TracingConfig"]["Mode"] == "PassThrough"
    assert conf["Environment"]["Variables"] == {
        k: str(stack.r.render(v)) for k, v in props["Environment"]["Variables"].items()
    }
    assert conf["CodeSha256"] == stack.code_sha256
    log_group = stack.r.render(stack.r.template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"])
    (group,) = stack.client("logs").describe_log_groups(logGroupNamePrefix=log_group["LogGroupName"])["logGroups"]
    assert group["retentionInDays"] == 90


def _template_statements(stack: Stack, role_id: str) -> list[dict[str, Any]]:
    """The role's statements in template.yaml, for this stack's values, as moto can hold them."""
    fake_key, real_key = stack.r.get_att("SecretsKey", "Arn"), stack.outputs["KmsKeyArn"]
    out = []
    for st in json.loads(json.dumps(stack.r.role_statements(role_id)).replace(fake_key, real_key)):
        if st.get("Sid") == "ReadManagerAccount":
            del st["Resource"]  # a Ref to an AWS::SecretsManager::Secret, which moto cannot create
        if st.get("Sid") == "WriteOwnLogs":
            st["Resource"] = st["Resource"].removesuffix(":*")  # moto's log group Arn has no ":*"
        out.append(st)
    return out


@pytest.mark.parametrize("role_id", ["RotationRole", "PublisherRole"])
def test_roles_hold_the_template_statements(stack: Stack, role_id: str) -> None:
    iam = stack.client("iam")
    name = stack.physical[role_id]
    found = _inline_statements(stack, role_id)
    assert canonical(found) == canonical(_template_statements(stack, role_id))
    (trust,) = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert not iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]


def test_sam_scheduler_role(stack: Stack) -> None:
    found = _inline_statements(stack, "PublisherFunctionRefreshRole")
    queue_url = stack.outputs["PublisherDeadLetterQueueUrl"]
    queue_arn = stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert canonical(found, sids=False) == canonical(
        [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": stack.outputs["PublisherFunctionArn"]},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
        ],
        sids=False,
    )


def test_key(stack: Stack) -> None:
    kms = stack.client("kms")
    key_arn = stack.outputs["KmsKeyArn"]
    policy = _document(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    expected = stack.r.render(stack.r.template["Resources"]["SecretsKey"]["Properties"]["KeyPolicy"])
    assert canonical(statements(policy)) == canonical(statements(expected))
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    key_id = key_arn.rsplit("/", 1)[1]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases(KeyId=key_id)["Aliases"]}
    assert aliases == {"alias/vgs-rotation-dev-secrets": key_id}


def test_permission_queue_topic_and_rule(stack: Stack) -> None:
    policy = json.loads(stack.client("lambda").get_policy(FunctionName=stack.physical["RotationFunction"])["Policy"])
    (st,) = policy["Statement"]
    assert st["Principal"] == {"Service": "secretsmanager.amazonaws.com"}
    assert st["Condition"] == {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["PublisherDeadLetterQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert (attrs["MessageRetentionPeriod"], attrs["SqsManagedSseEnabled"]) == ("1209600", "true")
    topic = stack.outputs["AlertTopicArn"]
    assert topic in [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]]
    events = stack.client("events")
    rule = events.describe_rule(Name=stack.physical["RotationEventsRule"])
    assert (
        json.loads(rule["EventPattern"])
        == stack.r.template["Resources"]["RotationEventsRule"]["Properties"]["EventPattern"]
    )
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == topic


def test_delete_stack_removes_functions_and_roles(stack: Stack) -> None:
    cfn = stack.client("cloudformation")
    cfn.delete_stack(StackName=STACK)
    assert [f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]] == []
    roles = {stack.physical[r] for r in ("RotationRole", "PublisherRole", "PublisherFunctionRefreshRole")}
    assert not roles & {r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]}
