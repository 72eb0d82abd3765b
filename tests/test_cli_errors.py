"""The CLI's one error boundary (rotation/cli/errors.py): each failure class gets one line
naming what to fix, and its documented exit code; no traceback unless -vv; no secret.

These are unit tests of the mapping with constructed exceptions; tests/test_cli_error_corpus.py
runs every command against the real servers."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from rotation.cli import COMMANDS, cli
from rotation.cli.errors import (
    EXIT_BAD,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    classify,
)
from rotation.stores import StoreError
from rotation.vgs import errors as vgs

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/app-AbCdEf"
MANAGER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-XyZ123"
SECRET = "s3cr3t-value-that-must-never-be-printed-0123456789"


def _client_error(code: str, operation: str = "DescribeSecret"):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"message quoting {SECRET}"}}, operation)


def _aws_store_error(code: str, call: str = "describe_secret") -> StoreError:
    """What AwsSecretStore raises for a botocore error (through its own mapping)."""
    from rotation.aws_store import _error

    return _error(call, _client_error(code), ARN)


def _botocore(name: str, **kw):
    import botocore.exceptions as be

    return getattr(be, name)(**kw)


def _vault_store_error(exc: Exception, url: str = "http://127.0.0.1:8201") -> StoreError:
    from rotation.vault_store import _error

    return _error("read", "secret/vgs/app", exc, url)


def _with_subject(exc: vgs.VGSError, subject: str) -> vgs.VGSError:
    with pytest.raises(vgs.VGSError) as info, vgs.concerning(subject):
        raise exc
    return info.value


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8201")
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


# (exception factory, expected exit code, words the line must hold)
CASES = {
    # AWS
    "aws not found": (
        lambda: _aws_store_error("ResourceNotFoundException"),
        EXIT_FAILED,
        [ARN, "not found", "eu-west-1"],
    ),
    "aws access denied": (
        lambda: _aws_store_error("AccessDeniedException"),
        EXIT_REFUSED,
        [ARN, "denied", "permission"],
    ),
    "aws kms denied": (lambda: _aws_store_error("DecryptionFailure", "get_secret_value"), EXIT_REFUSED, [ARN, "KMS"]),
    "aws bad credentials": (
        lambda: _aws_store_error("UnrecognizedClientException"),
        EXIT_REFUSED,
        ["AWS_ACCESS_KEY_ID"],
    ),
    "aws no credentials": (
        lambda: _botocore("NoCredentialsError"),
        EXIT_REFUSED,
        ["no AWS credentials", "AWS_PROFILE"],
    ),
    "aws no region": (lambda: _botocore("NoRegionError"), EXIT_BAD, ["AWS_REGION"]),
    "aws unreachable": (
        lambda: _botocore("EndpointConnectionError", endpoint_url="http://127.0.0.1:9/"),
        EXIT_UNAVAILABLE,
        ["cannot reach Secrets Manager", "127.0.0.1:9"],
    ),
    "aws throttled": (lambda: _aws_store_error("ThrottlingException"), EXIT_UNAVAILABLE, ["throttling", "retry later"]),
    "aws rotate refused": (
        lambda: _aws_store_error("InvalidRequestException", "rotate_secret"),
        EXIT_FAILED,
        [ARN, "refused to rotate"],
    ),
    "aws raw not found": (lambda: _client_error("ResourceNotFoundException"), EXIT_FAILED, ["not found"]),
    # VGS
    "vgs refused manager": (
        lambda: _with_subject(
            vgs.InvalidCredentials("credentials refused (HTTP 401 invalid_client)", operation="mint token"),
            f"the manager credential in {MANAGER}",
        ),
        EXIT_REFUSED,
        [f"the manager credential in {MANAGER}", "refused", "replace"],
    ),
    "vgs forbidden": (
        lambda: vgs.Forbidden("forbidden (HTTP 403)", operation="list service accounts", status=403),
        EXIT_REFUSED,
        ["forbade", "scope"],
    ),
    "vgs limit": (
        lambda: vgs.LimitExceeded("limit reached (HTTP 422: maximum number)", operation="create service account"),
        EXIT_FAILED,
        ["limit", "delete unused"],
    ),
    "vgs unavailable": (
        lambda: vgs.Unavailable("cannot connect to http://127.0.0.1:9/token (ConnectError)", operation="mint token"),
        EXIT_UNAVAILABLE,
        ["VGS unavailable", "127.0.0.1:9"],
    ),
    "vgs rate limited": (lambda: vgs.RateLimited("rate limited (HTTP 429)"), EXIT_UNAVAILABLE, ["rate limiting"]),
    "vgs server error": (lambda: vgs.ServerError("VGS server error (HTTP 500)"), EXIT_UNAVAILABLE, ["VGS"]),
    "vgs bad response": (lambda: vgs.BadResponse("HTTP 200 body is an HTML page"), EXIT_BAD, ["unexpected answer"]),
    "vgs bad token": (lambda: vgs.TokenValidationError("azp mismatch"), EXIT_BAD, ["azp"]),
    "vgs invalid request": (lambda: vgs.InvalidRequest("request refused (HTTP 422)"), EXIT_BAD, ["name, scopes"]),
    "insecure url": (lambda: vgs.InsecureURL("refusing http:// to a non-loopback host"), EXIT_BAD, ["http://"]),
    # rotation
    "bad document": (
        lambda: __import__("rotation.document", fromlist=["x"]).DocumentError("kind", "must be one of x"),
        EXIT_BAD,
        ["field 'kind'", "fix the document"],
    ),
    "bad event": (
        lambda: __import__("rotation.core", fromlist=["x"]).EventError("rotation event is missing 'Step'"),
        EXIT_BAD,
        ["bad rotation event", "'Step'"],
    ),
    "capacity": (
        lambda: __import__("rotation.issuers", fromlist=["x"]).CapacityError("vault tnt1 already has 10 of 10"),
        EXIT_FAILED,
        ["10 of 10"],
    ),
    "rotation error": (
        lambda: __import__("rotation.core", fromlist=["x"]).RotationError(
            f"the manager secret {MANAGER} (manager_secret_arn) has no AWSCURRENT value"
        ),
        EXIT_FAILED,
        [MANAGER],
    ),
    # bad arguments, the command's own failures, the environment
    "usage": (lambda: click.UsageError("Missing option '--client-id'."), EXIT_USAGE, ["--client-id", "--help"]),
    "bad parameter": (lambda: click.BadParameter("must be a number"), EXIT_USAGE, ["must be a number"]),
    "command error": (lambda: CommandError("the token expired", EXIT_FAILED), EXIT_FAILED, ["the token expired"]),
    "interrupted": (lambda: KeyboardInterrupt(), EXIT_INTERRUPTED, ["interrupted"]),
    "missing moto": (
        lambda: ModuleNotFoundError("No module named 'moto'", name="moto"),
        EXIT_BAD,
        ["vgs-rotation[demo]"],
    ),
    "missing file": (
        lambda: FileNotFoundError(2, "No such file or directory", "publish.json"),
        EXIT_USAGE,
        ["publish.json", "No such file"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_class_has_one_line_and_its_exit_code(name):
    make, code, words = CASES[name]
    got_code, line = classify(make())
    assert got_code == code, line
    assert line.startswith("vgs-rotate: error: ")
    assert "\n" not in line
    for word in words:
        assert word in line, (word, line)
    assert SECRET not in line


VAULT_CASES = {
    "Forbidden": (EXIT_REFUSED, ["refused", "secret/vgs/app", "policy"]),
    "Unauthorized": (EXIT_REFUSED, ["refused"]),
    "VaultDown": (EXIT_UNAVAILABLE, ["sealed", "unseal"]),
    "InternalServerError": (EXIT_UNAVAILABLE, ["retry later"]),
    "InvalidPath": (EXIT_FAILED, ["KV version 2 mount"]),
}


@pytest.mark.parametrize("name", sorted(VAULT_CASES))
def test_vault_answers(name):
    import hvac.exceptions as hx

    code, words = VAULT_CASES[name]
    got, line = classify(_vault_store_error(getattr(hx, name)(f"text quoting {SECRET}")))
    assert got == code, line
    assert all(w in line for w in words), line
    assert "127.0.0.1:8201" in line and SECRET not in line


def test_vault_without_token_names_the_variable(monkeypatch):
    import hvac.exceptions as hx

    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.delenv("BAO_TOKEN", raising=False)
    code, line = classify(_vault_store_error(hx.Forbidden("permission denied")))
    assert code == EXIT_REFUSED and "VAULT_TOKEN is not set" in line


def test_vault_unreachable_names_the_address_or_the_missing_variable(monkeypatch):
    import requests

    code, line = classify(_vault_store_error(requests.exceptions.ConnectionError("refused")))
    assert code == EXIT_UNAVAILABLE and "cannot reach Vault at http://127.0.0.1:8201" in line
    monkeypatch.delenv("VAULT_ADDR")
    code, line = classify(_vault_store_error(requests.exceptions.ConnectionError("x"), url="http://127.0.0.1:8200"))
    assert code == EXIT_BAD and "VAULT_ADDR is not set" in line


def test_foreign_exception_texts_are_not_printed():
    """A third-party exception's text may quote a value: only its type is shown."""
    code, line = classify(ValueError(f"invalid literal for int(): {SECRET!r}"))
    assert code == EXIT_FAILED
    assert SECRET not in line and "ValueError" in line and "-vv" in line


def test_our_own_value_errors_are_shown():
    from rotation.stores import split_kv_path

    with pytest.raises(ValueError) as info:
        split_kv_path("nomount")
    code, line = classify(info.value)
    assert code == EXIT_BAD and "MOUNT/PATH" in line


def test_store_errors_from_aws_keep_the_code_for_other_callers():
    error = _aws_store_error("ResourceNotFoundException")
    assert error.code == "ResourceNotFoundException" and error.resource == ARN
    assert SECRET not in str(error)


def test_concerning_keeps_the_innermost_subject():
    with pytest.raises(vgs.VGSError) as info, vgs.concerning("outer"), vgs.concerning("inner"):
        raise vgs.InvalidCredentials("refused")
    assert info.value.subject == "inner"


# -- the boundary around every command ---------------------------------------------------------


@click.command("explode")
@click.option("--kind", default="store")
def _explode(kind: str) -> None:
    click.echo("started")
    if kind == "store":
        raise _aws_store_error("ResourceNotFoundException")
    if kind == "bug":
        raise KeyError(SECRET)
    if kind == "fail":
        from rotation.cli.common import fail

        fail("the thing is broken: fix it", EXIT_UNAVAILABLE)
    raise vgs.Unavailable("cannot connect")


@pytest.fixture
def explode(monkeypatch):
    """A command added the way every command is (an entry in COMMANDS): no decorator."""
    monkeypatch.setitem(COMMANDS, "explode", f"{__name__}:_explode")
    monkeypatch.setitem(globals(), "_explode", _explode)
    return CliRunner()


@pytest.mark.parametrize(("kind", "code"), [("store", 1), ("bug", 1), ("fail", 4), ("vgs", 4)])
def test_any_command_is_covered_by_the_boundary(explode, kind, code):
    result = explode.invoke(cli, ["explode", "--kind", kind])
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vgs-rotate: error: "), result.stderr
    assert "Traceback" not in result.output and SECRET not in result.output
    assert result.stdout == "started\n"


def test_minus_vv_shows_the_traceback(explode):
    result = explode.invoke(cli, ["-vv", "explode", "--kind", "store"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("vgs-rotate: error: ")


def test_usage_errors_are_one_line(explode):
    for args in (["explode", "--nope"], ["nope"], ["status"], ["token", "--timeout", "abc"]):
        result = explode.invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("vgs-rotate: error: ") and "--help" in result.stderr


def test_help_and_version_still_exit_zero(explode):
    assert explode.invoke(cli, ["--help"]).exit_code == 0
    assert explode.invoke(cli, ["--version"]).exit_code == 0
    assert explode.invoke(cli, ["status", "--help"]).exit_code == 0
