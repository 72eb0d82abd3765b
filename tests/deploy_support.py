"""What the deployment tests share: moto's server in its own process (with moto's request
recorder on), Terraform run offline against it, boto3 clients for it, and IAM policy
documents in a canonical, placeholder form so three deployments can be compared.

Terraform never reaches the internet here: providers come only from the local filesystem
mirror (a CLI configuration with a ``filesystem_mirror`` and nothing else), the version
check is off (``CHECKPOINT_DISABLE``), every AWS endpoint the module uses points at moto,
and the proxy variables point at a closed port, so a call to anything but 127.0.0.1 fails
instead of leaving the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parents[1]
MODULE_DIR = ROOT / "infra" / "terraform"
EXAMPLE = Path("infra/terraform/examples/complete")
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"
TERRAFORM = shutil.which("terraform")
PLUGIN_DIR = Path(os.environ.get("VGS_TF_PLUGIN_DIR", "/opt/tf-plugins"))
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Every service the module calls; the provider override points each at moto.
TF_SERVICES = (
    "cloudwatch",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "scheduler",
    "secretsmanager",
    "sns",
    "sqs",
    "sts",
)
NO_TERRAFORM = "no terraform binary on PATH: the Terraform module (infra/terraform) is not checked here"

_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()  # serve until the test closes stdin (or goes away)
server.stop()
"""


# ------------------------------------------------------------------------------- moto


@dataclass
class Recorded:
    method: str
    url: str
    target: str
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def action(self) -> str:
        """The API action: from X-Amz-Target (JSON protocols) or Action= (query protocols);
        for REST protocols (Lambda, Scheduler) the method and path."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        found = re.search(r"(?:^|&)Action=([A-Za-z]+)", self.body)
        return found.group(1) if found else f"{self.method} {self.url.split('?', 1)[0]}"

    @property
    def writes(self) -> bool:
        if not self.target and "Action=" not in self.body:
            return self.method != "GET"
        return not self.action.startswith(("Get", "Describe", "List"))


class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1, port 0, in a child process: its state is
    its own (not the in-process backends other tests reset), and its request recorder
    writes to ``recording`` (moto's documented MOTO_RECORDER_FILEPATH). The child exits when
    its stdin closes, so it cannot outlive the test run."""

    def __init__(self, recording: Path) -> None:
        self.recording = recording
        env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(recording)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"moto's server did not start (said {line!r})")
        self.url = line
        # Lambda without Docker: functions are created and stored; invocations (the
        # RotateSecret that configuring a rotation starts) get a stub answer.
        httpx.post(f"{self.url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10).raise_for_status()
        httpx.post(f"{self.url}/moto-api/recorder/start-recording", timeout=10).raise_for_status()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def requests(self) -> list[Recorded]:
        """Every request moto received since recording started, in order."""
        out = []
        if not self.recording.exists():
            return out
        for line in self.recording.read_text().splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
            out.append(Recorded(entry["method"], entry["url"], headers.get("x-amz-target", ""), body))
        return out

    def stop(self) -> None:
        end_by_stdin(self.proc)


def end_by_stdin(proc: subprocess.Popen[Any]) -> None:
    """Close a helper process's stdin (its signal to exit) and wait; kill it after 30 s."""
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------- terraform


def provider_override(url: str) -> str:
    """An override file (``*_override.tf``) merged into the example's provider block: moto's
    endpoints and fake credentials, nothing else changed."""
    endpoints = "\n".join(f'    {name:<14} = "{url}"' for name in TF_SERVICES)
    return f"""provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {{
{endpoints}
  }}
}}
"""


def cli_config(path: Path) -> Path:
    """A Terraform CLI configuration that installs providers from the local mirror only."""
    path.write_text(
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{PLUGIN_DIR}"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }}\n'
        "}\n"
    )
    return path


def stand_in_zip(path: Path) -> str:
    """A small zip in place of build/lambda.zip (moto stores code, it never runs it; the
    artifact itself is tested by tests/test_artifact.py). Returns its base64 sha256, the
    form of Lambda's CodeSha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for module in ("lambda_rotation", "lambda_publisher"):
            info = zipfile.ZipInfo(f"rotation/{module}.py", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, "def handler(event, context):\n    raise NotImplementedError('stand-in')\n")
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Terraform:
    """``terraform`` in one working directory with a controlled environment (nothing of the
    caller's AWS configuration, no colour, no prompts, no internet)."""

    cwd: Path
    home: Path
    config: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        closed = "http://127.0.0.1:9"  # discard port: nothing listens, any proxied call fails
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TF_CLI_CONFIG_FILE": str(self.config),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_ARGS": "-no-color",
            "HTTPS_PROXY": closed,
            "HTTP_PROXY": closed,
            "NO_PROXY": "127.0.0.1,localhost",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **self.extra_env,
        }

    def run(self, args: Iterable[str], *, check: bool = True, timeout: float = 600) -> Run:
        argv = list(args)
        assert argv and argv[0] == "terraform", argv
        assert TERRAFORM is not None, NO_TERRAFORM
        started = time.monotonic()
        proc = subprocess.run(
            [TERRAFORM, *argv[1:]], cwd=self.cwd, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        run = Run(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        self.runs.append(run)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return run

    def json(self, *args: str) -> Any:
        return json.loads(self.run(list(args)).stdout)


# ------------------------------------------------------------------------------- the doc


def doc_section(heading_prefix: str, path: Path = DEPLOY_DOC) -> str:
    """The text of the section of DEPLOY.md whose ``## `` heading starts with the prefix."""
    text = path.read_text()
    start = text.index(f"\n## {heading_prefix}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def fenced_blocks(text: str, lang: str) -> list[str]:
    blocks, inside, current = [], False, []
    for line in text.splitlines():
        if not inside and line.strip() == f"```{lang}":
            inside, current = True, []
        elif inside and line.strip() == "```":
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


def shell_commands(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    commands, pending = [], ""
    for raw in block.splitlines():
        line = raw.split("  #", 1)[0].rstrip() if "  #" in raw else raw.rstrip()
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line:
            commands.append(line)
    return commands


# ------------------------------------------------------------------------------- policies


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def canonical(statements: Iterable[Mapping[str, Any]], *, sids: bool = True) -> list[dict[str, Any]]:
    """Statements in one comparable form: lists for Action/Resource and condition values
    (sorted; a single string and a one-element list are the same thing to IAM), sorted by
    Sid (or by content without Sids)."""
    out = []
    for st in statements:
        norm: dict[str, Any] = {"Effect": st.get("Effect")}
        if sids and st.get("Sid"):
            norm["Sid"] = st["Sid"]
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in st:
                norm[key] = sorted(as_list(st[key]))
        if "Principal" in st:
            principal = st["Principal"]
            norm["Principal"] = (
                {k: sorted(as_list(v)) for k, v in principal.items()} if isinstance(principal, Mapping) else principal
            )
        if st.get("Condition"):
            norm["Condition"] = {
                op: {k: sorted(as_list(v)) for k, v in cond.items()} for op, cond in st["Condition"].items()
            }
        out.append(norm)
    return sorted(out, key=lambda s: json.dumps(s, sort_keys=True))


def with_placeholders(value: Any, replacements: Mapping[str, str]) -> Any:
    """Replace concrete values (ARNs, names, account, region) by placeholders, longest first."""
    if isinstance(value, str):
        for old in sorted(replacements, key=len, reverse=True):
            value = value.replace(old, replacements[old])
        return value
    if isinstance(value, list):
        return [with_placeholders(v, replacements) for v in value]
    if isinstance(value, Mapping):
        return {k: with_placeholders(v, replacements) for k, v in value.items()}
    return value


def statements(document: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    return [dict(s) for s in as_list(doc["Statement"])]


def sensitive_on_star(stmts: Iterable[Mapping[str, Any]]) -> list[str]:
    """Secrets Manager or KMS actions (or ``*``) granted on Resource ``*``: none allowed."""
    bad = []
    for st in stmts:
        actions = [a.lower() for a in as_list(st.get("Action"))]
        sensitive = [a for a in actions if a == "*" or a.startswith(("secretsmanager:", "kms:"))]
        if sensitive and "*" in as_list(st.get("Resource")):
            bad.append(f"{sensitive} on '*' ({st.get('Sid', 'no Sid')})")
    return bad


# ------------------------------------------------------------------------------- SAM


def transformed(code_uri: str = "s3://artifacts/lambda.zip") -> dict[str, Any]:
    """template.yaml after the SAM transform (aws-sam-translator, a test extra), as
    CloudFormation receives it from `sam deploy`, with the functions' code at ``code_uri``."""
    import os as _os

    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = code_uri

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    _os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    out: dict[str, Any] = json.loads(json.dumps(transform(template, {}, NoManagedPolicies()), default=str))
    return out
