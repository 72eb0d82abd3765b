"""Read template.yaml and evaluate the intrinsic functions the checks need.

``load_template`` parses CloudFormation YAML, short tags (``!Sub``, ``!Ref``, ``!GetAtt``,
``!If`` ...) included, through cfn-lint's decoder. ``Renderer`` resolves ``Ref``,
``Fn::Sub``, ``Fn::Join``, ``Fn::If``, ``Fn::Select`` and conditions for one set of
parameter values, so tests can compare concrete ARNs (the rotation role's
``AllowRotationLambdaArn`` against the function's own ARN, say) instead of strings of
template syntax. ``Fn::GetAtt`` renders as a plausible ARN for the attributes the
template uses. It is a test aid, not a CloudFormation implementation.

``allows(statements, action, resource)`` is a small policy check: does any Allow
statement match the action and the resource (IAM wildcards), ignoring conditions? Ignoring
conditions makes "cannot" assertions conservative.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
SECRET_SUFFIX = "AbCdEf"


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def to_plain(value: Any) -> Any:
    """cfn-lint's node types as plain dicts, lists and strings."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def load_template(path: Path | str = TEMPLATE) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches or template is None:
        raise ValueError(f"cannot parse {path}: {[str(m) for m in matches]}")
    plain: dict[str, Any] = to_plain(template)
    return plain


class Renderer:
    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> None:
        self.template = template
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = (overrides or {}).get(name, spec.get("Default"))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",") if value else [""]
            self.params[name] = value
        self.params.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": PARTITION,
                "AWS::StackName": "vgs-rotation-test",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        self._conditions: dict[str, bool] = {}

    # -- conditions -------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self._cond(self.template["Conditions"][name])
        return self._conditions[name]

    def _cond(self, expr: Any) -> bool:
        if isinstance(expr, Mapping) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Fn::Equals":
                a, b = (self.render(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self._cond(arg[0])
            if fn == "Fn::And":
                return all(self._cond(x) for x in arg)
            if fn == "Fn::Or":
                return any(self._cond(x) for x in arg)
            if fn == "Condition":
                return self.condition(arg)
        raise ValueError(f"unsupported condition {expr!r}")

    def resource_exists(self, logical_id: str) -> bool:
        resource = self.template["Resources"][logical_id]
        cond = resource.get("Condition")
        return cond is None or self.condition(cond)

    # -- values -----------------------------------------------------------------------

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        resources = self.template["Resources"]
        if name not in resources:
            raise KeyError(f"Ref to unknown {name}")
        resource = resources[name]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::SecretsManager::Secret":
            return self.secret_arn(self.render(props["Name"]))
        if kind == "AWS::Serverless::Function":
            return self.render(props["FunctionName"])
        if kind == "AWS::SNS::Topic":
            return f"arn:{self.partition}:sns:{self.region}:{self.account}:{self.render(props['TopicName'])}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.render(props['QueueName'])}"
        if kind == "AWS::Logs::LogGroup":
            return self.render(props["LogGroupName"])
        return f"<{name}>"

    def get_att(self, name: str, attr: str) -> str:
        resource = self.template["Resources"][name]
        kind, props = resource["Type"], resource.get("Properties", {})
        where = f"{self.partition}:{{}}:{self.region}:{self.account}"
        if kind == "AWS::Serverless::Function" and attr == "Arn":
            return f"arn:{where.format('lambda')}:function:{self.render(props['FunctionName'])}"
        if kind == "AWS::KMS::Key" and attr == "Arn":
            return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/11111111-2222-3333-4444-555555555555"
        if kind == "AWS::SQS::Queue":
            queue = self.render(props["QueueName"])
            return queue if attr == "QueueName" else f"arn:{self.partition}:sqs:{self.region}:{self.account}:{queue}"
        if kind == "AWS::Logs::LogGroup" and attr == "Arn":
            return f"arn:{where.format('logs')}:log-group:{self.render(props['LogGroupName'])}:*"
        if kind == "AWS::IAM::Role" and attr == "Arn":
            return f"arn:{self.partition}:iam::{self.account}:role/{name}"
        if kind == "AWS::Events::Rule" and attr == "Arn":
            return f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{name}"
        return f"<{name}.{attr}>"

    @property
    def partition(self) -> str:
        return str(self.params["AWS::Partition"])

    @property
    def region(self) -> str:
        return str(self.params["AWS::Region"])

    @property
    def account(self) -> str:
        return str(self.params["AWS::AccountId"])

    def secret_arn(self, name: str) -> str:
        return f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:{name}-{SECRET_SUFFIX}"

    def _sub(self, text: str, extra: Mapping[str, Any]) -> str:
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.index("}", start)
            key = text[start + 2 : end]
            if key.startswith("!"):
                out.append("${" + key[1:] + "}")
            elif key in extra:
                out.append(str(extra[key]))
            elif "." in key:
                res, attr = key.split(".", 1)
                out.append(self.get_att(res, attr))
            else:
                value = self.ref(key)
                out.append(",".join(value) if isinstance(value, list) else str(value))
            i = end + 1
        return "".join(out)

    def render(self, value: Any) -> Any:
        if isinstance(value, list):
            return [x for x in (self.render(v) for v in value) if x is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                res, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(res, attr)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self._sub(text, {k: self.render(v) for k, v in variables.items()})
                return self._sub(arg, {})
            if key == "Fn::Join":
                sep, items = arg
                items = self.render(items)
                return sep.join(str(x) for x in (items if isinstance(items, list) else [items]))
            if key == "Fn::If":
                cond, yes, no = arg
                return self.render(yes if self.condition(cond) else no)
            if key == "Fn::Select":
                index, items = arg
                return self.render(items)[int(self.render(index))]
        rendered = {k: self.render(v) for k, v in value.items()}
        return {k: v for k, v in rendered.items() if v is not NO_VALUE}

    # -- IAM ----------------------------------------------------------------------------

    def role_statements(self, role_id: str) -> list[dict[str, Any]]:
        """Every policy statement of an AWS::IAM::Role, rendered."""
        props = self.template["Resources"][role_id]["Properties"]
        statements: list[dict[str, Any]] = []
        for policy in props.get("Policies", []):
            statements.extend(self.render(policy["PolicyDocument"]["Statement"]))
        return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _iam_match(pattern: str, value: str) -> bool:
    # IAM wildcards: * any run of characters, ? one character (fnmatch's [] is not IAM).
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def allows(statements: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Does an Allow statement grant ``action`` on ``resource``? (Conditions ignored.)"""
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        if not any(_iam_match(a.lower(), action.lower()) for a in as_list(st.get("Action", []))):
            continue
        if any(_iam_match(r, resource) for r in as_list(st.get("Resource", []))):
            return True
    return False


def publisher_input(renderer: Renderer) -> dict[str, Any]:
    """The publisher schedule's Input, rendered and parsed."""
    fn = renderer.template["Resources"]["PublisherFunction"]["Properties"]
    (event,) = [e for e in fn["Events"].values() if e["Type"] == "ScheduleV2"]
    result: dict[str, Any] = json.loads(renderer.render(event["Properties"]["Input"]))
    return result
