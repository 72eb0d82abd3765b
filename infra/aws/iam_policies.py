"""The function roles' policies as standalone IAM documents, for teams that deploy without SAM.

    python -m infra.aws.iam_policies          # rewrite infra/aws/iam-policy*.json from template.yaml
    python -m infra.aws.iam_policies --check  # fail if they differ (tests/test_template_iam_json.py)

The documents are rendered from the template's roles with placeholders in angle brackets:
<PARTITION> <REGION> <ACCOUNT_ID> <SECRET_NAME_PREFIX> <ENVIRONMENT> <ROTATION_FUNCTION_NAME>
<PUBLISHER_FUNCTION_NAME> <MANAGER_SECRET_ARN> <KMS_KEY_ARN>. Replace them all, then attach
the policy to the function's execution role.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from infra.aws.cfn import Renderer, load_template

HERE = Path(__file__).resolve().parent
FILES = {"RotationRole": HERE / "iam-policy.json", "PublisherRole": HERE / "iam-policy-publisher.json"}
PLACEHOLDER_PARAMS = {
    "SecretNamePrefix": "<SECRET_NAME_PREFIX>",
    "Environment": "<ENVIRONMENT>",
    "FunctionNamePrefix": "<FUNCTION_NAME_PREFIX>",
}
PSEUDO = {"AWS::Region": "<REGION>", "AWS::AccountId": "<ACCOUNT_ID>", "AWS::Partition": "<PARTITION>"}


def render_policies() -> dict[str, str]:
    r = Renderer(load_template(), PLACEHOLDER_PARAMS)
    r.params.update(PSEUDO)
    replacements = {
        "<FUNCTION_NAME_PREFIX>-<ENVIRONMENT>-rotation": "<ROTATION_FUNCTION_NAME>",
        "<FUNCTION_NAME_PREFIX>-<ENVIRONMENT>-publisher": "<PUBLISHER_FUNCTION_NAME>",
        str(r.ref("ManagerSecret")): "<MANAGER_SECRET_ARN>",
        r.get_att("SecretsKey", "Arn"): "<KMS_KEY_ARN>",
    }
    out: dict[str, str] = {}
    for role in FILES:
        text = json.dumps({"Version": "2012-10-17", "Statement": r.role_statements(role)}, indent=2) + "\n"
        for old, new in replacements.items():
            text = text.replace(old, new)
        out[role] = text
    return out


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for role, text in render_policies().items():
        path = FILES[role]
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date with template.yaml: {', '.join(stale)} (run python -m infra.aws.iam_policies)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
