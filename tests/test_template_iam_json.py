"""infra/aws/iam-policy*.json: the standalone policies for teams without SAM parse, are in
sync with template.yaml, and keep its scoping once the placeholders are filled in."""

from __future__ import annotations

import json
import re

import pytest

from infra.aws import iam_policies
from infra.aws.cfn import ACCOUNT, REGION, Renderer, allows, as_list, load_template


@pytest.fixture(scope="module")
def r() -> Renderer:
    return Renderer(load_template())


def _filled(role: str, r: Renderer) -> dict:
    text = iam_policies.FILES[role].read_text()
    values = {
        "<PARTITION>": "aws",
        "<REGION>": REGION,
        "<ACCOUNT_ID>": ACCOUNT,
        "<SECRET_NAME_PREFIX>": r.params["SecretNamePrefix"],
        "<ENVIRONMENT>": r.params["Environment"],
        "<ROTATION_FUNCTION_NAME>": r.render(r.template["Resources"]["RotationFunction"]["Properties"]["FunctionName"]),
        "<PUBLISHER_FUNCTION_NAME>": r.render(
            r.template["Resources"]["PublisherFunction"]["Properties"]["FunctionName"]
        ),
        "<MANAGER_SECRET_ARN>": r.ref("ManagerSecret"),
        "<KMS_KEY_ARN>": r.get_att("SecretsKey", "Arn"),
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    assert not re.search(r"<[A-Z_]+>", text), "an undocumented placeholder is left"
    return json.loads(text)


def test_in_sync_with_the_template():
    assert iam_policies.main(["--check"]) == 0


@pytest.mark.parametrize("role", ["RotationRole", "PublisherRole"])
def test_filled_in_equals_the_template_role(role, r):
    policy = _filled(role, r)
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"] == r.role_statements(role)


def test_rotation_policy_scoping(r):
    statements = _filled("RotationRole", r)["Statement"]
    for st in statements:
        if any(a.startswith(("secretsmanager:", "kms:")) for a in as_list(st["Action"])):
            assert "*" not in as_list(st["Resource"])
            if "secretsmanager:PutSecretValue" in as_list(st["Action"]):
                assert st["Condition"]["StringEquals"]["secretsmanager:resource/AllowRotationLambdaArn"] == r.get_att(
                    "RotationFunction", "Arn"
                )
            if any(a.startswith("kms:") for a in as_list(st["Action"])):
                assert st["Condition"]["StringEquals"]["kms:ViaService"] == f"secretsmanager.{REGION}.amazonaws.com"
    publisher = _filled("PublisherRole", r)["Statement"]
    assert not allows(publisher, "secretsmanager:PutSecretValue", r.secret_arn("vgs/dev/rotated/app"))
    assert allows(publisher, "secretsmanager:PutSecretValue", r.secret_arn("vgs/dev/tokens/app"))
