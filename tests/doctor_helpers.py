"""Shared by the doctor and fleet tests: run ``vgs-rotate`` in this process (so logs are
captured) or as a subprocess (so it can be killed), and read its checklist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from rotation.issuers import SECRET_ANNOTATION, VERSION_ANNOTATION, secret_tag
from tests.rotation_harness import manager_stack


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def error_line(self) -> str:
        """The one ``vgs-rotate: error:`` line (retry progress lines may precede it)."""
        errors = [ln for ln in self.stderr.splitlines() if ln.startswith("vgs-rotate: error:")]
        assert len(errors) == 1 and self.stderr.splitlines()[-1] == errors[0], self.stderr
        return errors[0]

    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def statuses(self) -> dict[str, str]:
        return {c["id"]: c["status"] for c in self.report()["checks"]}

    def line(self, title: str) -> str:
        """The checklist line (text output) whose title is ``title``."""
        found = [ln for ln in self.stdout.splitlines() if ln[4:].startswith(title)]
        assert found, f"no line {title!r} in:\n{self.stdout}"
        return found[0]


def vgs_rotate(*args: str, input: str | None = None) -> Ran:
    """``vgs-rotate ARGS`` in this process, through the root group's error boundary."""
    from click.testing import CliRunner

    from rotation.cli import cli

    result = CliRunner().invoke(cli, list(args), input=input, prog_name="vgs-rotate")
    return Ran(result.exit_code, result.stdout, result.stderr)


def popen(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rotation.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
        **kw,
    )


def fill_accounts(emulator: Any, total: int) -> None:
    """Create service accounts through the manager until the organization holds ``total``."""
    accounts, _auth = manager_stack(emulator)
    for i in range(total - len(emulator.service_accounts())):
        accounts.create(name=f"filler-{i}", scopes=["cards:read"])
    accounts.http.close()
    assert len(emulator.service_accounts()) == total


def add_orphan(emulator: Any, secret_arn: str, version: str = "crashed-rotation") -> str:
    """An account annotated as made by a rotation of ``secret_arn`` that never stored it."""
    accounts, _auth = manager_stack(emulator)
    created = accounts.create(
        name="cmp-app-orphan",
        scopes=["cards:read"],
        annotations={SECRET_ANNOTATION: secret_tag(secret_arn), VERSION_ANNOTATION: version},
    )
    accounts.http.close()
    return created.client_id


def annotated_for(emulator: Any, secret_arn: str, kind: str = "service-account") -> dict[str, str]:
    """``{credential id: version annotation}`` of what VGS lists as made for ``secret_arn``."""
    tag = secret_tag(secret_arn)
    listed = emulator.service_accounts() if kind == "service-account" else emulator.access_credentials()
    key = "client_id" if kind == "service-account" else "id"
    return {
        item[key]: item["annotations"].get(VERSION_ANNOTATION, "")
        for item in listed
        if item["annotations"].get(SECRET_ANNOTATION) == tag
    }


def moto_dates_versions(monkeypatch: Any) -> None:
    """AWS's ListSecretVersionIds gives each version's creation date; moto answers "now" for
    every version. Make moto answer the date it recorded, as AWS would."""
    import time

    from moto.secretsmanager.models import SecretsManagerBackend

    def list_secret_version_ids(self: Any, secret_id: str) -> str:
        secret = self.secrets[secret_id]
        versions = [
            {
                "CreatedDate": int(v.get("createdate") or time.time()),
                "VersionId": version_id,
                "VersionStages": v["version_stages"],
            }
            for version_id, v in secret.versions.items()
        ]
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "NextToken": "", "Versions": versions})

    monkeypatch.setattr(SecretsManagerBackend, "list_secret_version_ids", list_secret_version_ids)


def publish_token(world: Any, token_secret: str, clock: Any = None) -> None:
    """One run of the real publisher for ``world``'s secret into ``token_secret``; ``clock``
    set in the past publishes a token that is already old."""
    import time

    from rotation.publish_stores import build_publisher
    from rotation.publisher import PublishConfig

    config = PublishConfig.from_mapping(
        {"targets": [{"credential_secret_id": world.secret_arn, "token_secret_id": token_secret}]}
    )
    result = build_publisher(config, clock=clock or time.time).run(config.targets)
    assert result.ok, result.as_dict()
