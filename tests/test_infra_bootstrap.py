"""``vgs-rotate bootstrap-manager``'s code, through its checkout shim infra/aws/bootstrap_manager.py,
against moto's server: credentials from the environment or stdin (never argv), idempotent
writes, the stack's empty secret filled in, nothing leaked."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest

from infra.aws import bootstrap_manager as bm

SECRET = "mgr-secret-" + "s" * 40


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def _value(name: str) -> dict:
    sm = boto3.client("secretsmanager")
    return json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])


def test_from_environment_creates_then_is_idempotent(moto_url, monkeypatch, capsys):
    monkeypatch.setenv(bm.ENV_CLIENT_ID, "ACmanager-1")
    monkeypatch.setenv(bm.ENV_CLIENT_SECRET, SECRET)
    monkeypatch.setenv(bm.ENV_ORGANIZATION, "ACorg1")
    assert bm.main(["--secret-id", "vgs/dev/manager", "--create"], stdin=_Stdin("")) == 0
    assert "created" in capsys.readouterr().out
    assert _value("vgs/dev/manager") == {
        "client_id": "ACmanager-1",
        "client_secret": SECRET,
        "organization_id": "ACorg1",
    }
    assert bm.main(["--secret-id", "vgs/dev/manager"], stdin=_Stdin("")) == 0
    out = capsys.readouterr()
    assert "unchanged" in out.out
    versions = boto3.client("secretsmanager").list_secret_version_ids(SecretId="vgs/dev/manager")["Versions"]
    assert len(versions) == 1, "an unchanged value writes no new version"
    assert SECRET not in out.out + out.err


def test_from_stdin_fills_the_stacks_empty_secret(moto_url, capsys):
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(Name="vgs/dev/manager")["ARN"]  # as the stack creates it: no value
    doc = {"client_id": "ACmanager-2", "client_secret": SECRET, "organization_id": "ACorg2"}
    assert bm.main(["--secret-id", arn, "--stdin"], stdin=_Stdin(json.dumps(doc))) == 0
    out = capsys.readouterr()
    assert "updated" in out.out and SECRET not in out.out + out.err
    assert _value(arn) == doc
    # a new value is a new AWSCURRENT version
    doc2 = {**doc, "client_secret": SECRET + "2"}
    assert bm.main(["--secret-id", "vgs/dev/manager", "--stdin"], stdin=_Stdin(json.dumps(doc2))) == 0
    assert _value(arn)["client_secret"] == SECRET + "2"


def test_refuses_without_credentials_or_secret(moto_url, monkeypatch, capsys):
    monkeypatch.delenv(bm.ENV_CLIENT_ID, raising=False)
    monkeypatch.delenv(bm.ENV_CLIENT_SECRET, raising=False)
    assert bm.main(["--secret-id", "vgs/dev/manager"], stdin=_Stdin("")) == 1
    assert bm.ENV_CLIENT_SECRET in capsys.readouterr().err
    monkeypatch.setenv(bm.ENV_CLIENT_ID, "ACmanager-1")
    monkeypatch.setenv(bm.ENV_CLIENT_SECRET, SECRET)
    assert bm.main(["--secret-id", "vgs/dev/nothing-here"], stdin=_Stdin("")) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "--create" in err and SECRET not in err


def test_secret_values_are_never_arguments():
    with pytest.raises(SystemExit):
        bm.main(["--secret-id", "x", "--client-secret", SECRET])
    with pytest.raises(SystemExit):
        bm.main(["--secret-id", "x", "--client-id", "ACmanager-1"])


def test_bad_document_names_the_field(moto_url, capsys):
    doc = {"client_id": "", "client_secret": SECRET}
    assert bm.main(["--secret-id", "vgs/dev/manager", "--create", "--stdin"], stdin=_Stdin(json.dumps(doc))) == 1
    err = capsys.readouterr().err
    assert "client_id" in err and SECRET not in err
    assert bm.main(["--secret-id", "vgs/dev/manager", "--stdin"], stdin=_Stdin("not json")) == 1


def test_verify_refuses_credentials_the_token_server_rejects(moto_url, capsys):
    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"error": "invalid_client", "error_description": "Invalid client credentials"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/token"
        doc = {"client_id": "ACmanager-1", "client_secret": SECRET}
        rc = bm.main(
            ["--secret-id", "vgs/dev/manager", "--create", "--stdin", "--verify-token-url", url],
            stdin=_Stdin(json.dumps(doc)),
        )
    finally:
        server.shutdown()
    assert rc == 1
    err = capsys.readouterr().err
    assert "do not mint a token" in err and SECRET not in err
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert "vgs/dev/manager" not in names, "nothing is stored when verification fails"
