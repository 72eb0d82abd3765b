"""Security checks: TLS verification on by default, plain http:// refused off loopback
wherever a URL enters, and no secret in the repr/str of any credential or token type.

Also covered elsewhere (not duplicated here): the plugin refuses to run without the magic
cookie and refuses a host without the mTLS client certificate, or with a foreign one
(``tests/test_vault_plugin_unit.py``); the IAM checks of the deployment template live in
the deployment suite (``tests/test_template*.py``); the two tests at the end check they are there.
"""

from __future__ import annotations

import datetime
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rotation.core import RotationEvent
from rotation.document import ManagerCredentials, RotationMetadata, parse_document, parse_manager
from rotation.vgs import (
    AccessToken,
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    CMPProbe,
    CreatedAccessCredential,
    CreatedServiceAccount,
    Secret,
    TokenClient,
    VaultApiProbe,
    VaultCredentialsClient,
    VGSEndpoints,
    VGSHttp,
    check_url,
    errors,
)
from tests.helpers import assert_no_secret

SECRET = "s3cr3t-VALUE-that-must-never-show-0123456789"
PASSWORD = "p4ssw0rd-VALUE-that-must-never-show-987654"
ROTATION_TOKEN = "rotation-token-VALUE-never-shown-24681357"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhenAiOiJjbGllbnQtMSJ9.c2lnbmF0dXJlLXZhbHVlLW5ldmVyLXNob3du"

# -- TLS ------------------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def self_signed_server(tmp_path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTPS server on loopback with a self-signed certificate that would hand out a token."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            body = json.dumps({"access_token": JWT, "expires_in": 300, "token_type": "Bearer"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            return None

    cert, key = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert, seen
    server.shutdown()
    server.server_close()


def _creds() -> ClientCredentials:
    return ClientCredentials("client-1", Secret(SECRET))


def test_vgs_http_verifies_tls_by_default():
    http = VGSHttp()
    pool = http._client._transport._pool  # type: ignore[attr-defined]
    ctx = pool._ssl_context
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    http.close()


def test_a_self_signed_server_is_refused(self_signed_server):
    url, _cert, seen = self_signed_server
    with pytest.raises(errors.Unavailable) as info:
        TokenClient(url + "/token", http=VGSHttp(timeout=5)).mint(_creds())
    assert seen == [], "the request must not be sent over an unverified connection"
    assert_no_secret(f"{info.value} {info.value!r}", SECRET)


def test_the_same_server_is_accepted_with_its_certificate_as_ca(self_signed_server):
    """The refusal above is the verification, not a broken server: trusting its CA works."""
    url, cert, seen = self_signed_server
    tok = TokenClient(url + "/token", http=VGSHttp(timeout=5, verify=str(cert))).mint(_creds())
    assert tok.client_id == "client-1" and seen == ["/token"]


def test_every_vgs_client_the_project_builds_verifies_tls(self_signed_server):
    """The rotation Lambda's issuers, the CLI's, and the Vault plugin's transport."""
    from rotation.issuers import default_issuer_factory
    from vault_plugin.backend import VGSBackend

    url, _cert, seen = self_signed_server
    made: list[VGSHttp] = []
    factory = default_issuer_factory(http_factory=None)
    doc = parse_document(_doc("service-account", hosts={"token_url": url + "/token", "accounts_url": url,
                                                       "vault_management_url": url, "cmp_url": url}))  # fmt: skip
    issuer = factory(
        doc, ManagerCredentials("manager-1", Secret(SECRET)), "arn:aws:secretsmanager:us-east-1:1:secret:x"
    )
    made.append(issuer.http)  # type: ignore[attr-defined]
    made.append(VGSBackend().http)
    for client in made:
        with pytest.raises(errors.Unavailable):
            TokenClient(url + "/token", http=client).mint(_creds())
        client.close()
    assert seen == []


def test_cli_token_refuses_a_self_signed_server(self_signed_server, monkeypatch):
    from rotation.cli import cli

    url, _cert, seen = self_signed_server
    monkeypatch.setenv("VGS_CLIENT_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["token", "--client-id", "client-1", "--token-url", url + "/token"])
    assert result.exit_code == 4, result.output
    assert seen == []
    assert_no_secret(result.output, SECRET)


# -- http:// off loopback -----------------------------------------------------------------------

REFUSED = [
    "http://auth.verygoodsecurity.com/token",
    "http://10.0.0.5/token",
    "http://192.168.1.1:8080",
    "http://127.0.0.1.evil.example.com/x",
    "http://localhost.evil.example.com/x",
    "http://127.0.0.1@evil.example.com/x",
    "HTTP://evil.example.com/x",
    "http://[2001:db8::1]/x",
    "ftp://127.0.0.1/x",
    "https://",
    "http://",
    "127.0.0.1:8080/x",
    "",
]
ACCEPTED = ["http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x", "http://api.localhost/x",
            "https://auth.verygoodsecurity.com/x"]  # fmt: skip


@pytest.mark.parametrize("url", REFUSED)
def test_http_off_loopback_is_refused_by_every_entry_point(url):
    auth = CachedTokenAuth(TokenClient("https://auth.example.com/token"), _creds())
    entries = [
        lambda: check_url(url),
        lambda: TokenClient(url),
        lambda: TokenClient("https://auth.example.com/t", jwks_url=url or "http://x.example.com"),
        lambda: AccountsClient(url, "ACorg", auth=auth),
        lambda: VaultCredentialsClient(url, "tnt1", auth=auth),
        lambda: CMPProbe(url),
        lambda: VaultApiProbe(url),
        lambda: VGSEndpoints(
            token_url=url, accounts_url="https://a.example.com", vault_management_url="https://b.example.com"
        ),
        lambda: VGSEndpoints.from_mapping(
            {"token_url": "https://a.example.com", "accounts_url": url, "vault_management_url": "https://b.example.com"}
        ),
    ]
    for i, entry in enumerate(entries):
        with pytest.raises(errors.InsecureURL):
            entry()
            pytest.fail(f"entry {i} accepted {url!r}")


@pytest.mark.parametrize("url", ACCEPTED)
def test_loopback_and_https_are_accepted(url):
    assert check_url(url) == url


@pytest.mark.parametrize("host", ["token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url",
                                  "jwks_url"])  # fmt: skip
def test_documents_refuse_http_off_loopback(host):
    from rotation.document import DocumentError

    with pytest.raises(DocumentError) as info:
        parse_document(_doc("service-account", hosts={host: "http://vgs.example.com/x"}))
    assert info.value.field == f"hosts.{host}"
    # ... unless the document says so explicitly
    parse_document(_doc("service-account", hosts={host: "http://vgs.example.com/x", "allow_insecure_http": True}))


def test_cli_refuses_http_off_loopback(monkeypatch):
    from rotation.cli import cli

    monkeypatch.setenv("VGS_CLIENT_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["token", "--client-id", "c", "--token-url", "http://auth.example.com/t"])
    assert result.exit_code == 5, result.output
    assert "http://" in result.output and "loopback" in result.output
    assert_no_secret(result.output, SECRET)


def test_plugin_config_refuses_http_off_loopback():
    """Covered with zero writes in tests/test_faults_plugin.py (bad Vault requests); here the
    engine's own VGS client settings are checked: no insecure default."""
    from vault_plugin.paths.config import CONFIG_FIELDS

    assert CONFIG_FIELDS["allow_insecure_http"].default is False
    for name in ("token_url", "accounts_url", "vault_management_url"):
        assert str(CONFIG_FIELDS[name].default).startswith("https://")


# -- no secret in repr / str ---------------------------------------------------------------------


def _doc(kind: str, hosts: dict | None = None) -> dict:
    base = {
        "kind": kind,
        "manager_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf",
        "vault_ids": ["tnt1"],
        "rotation": {"version_id": "v1", "created_at": 1, "retire": ["old"], "replaces": "older"},
        "hosts": hosts or {},
    }
    if kind == "service-account":
        base.update(client_id="client-1", client_secret=SECRET, organization_id="ACorg", scopes=["cards:read"])
    else:
        base.update(credential_id="cred-1", username="US1", password=PASSWORD)
    return base


def _objects() -> list[object]:
    from rotation.consumer import CredentialsTokenSource
    from rotation.published import PublishedToken
    from vault_plugin.backend import EngineConfig

    token = AccessToken(Secret(JWT), "Bearer", 300, 0.0, ("cards:read",), {"azp": "client-1"})
    tokens = TokenClient("https://auth.example.com/token")
    auth = CachedTokenAuth(tokens, _creds())
    auth._token = token
    return [
        Secret(SECRET),
        _creds(),
        token,
        auth,
        CreatedServiceAccount(client_id="client-1", name="n", client_secret=Secret(SECRET)),
        CreatedAccessCredential(id="c1", username="US1", password=Secret(PASSWORD)),
        parse_document(_doc("service-account")),
        parse_document(_doc("access-credentials")),
        parse_manager(json.dumps({"client_id": "m", "client_secret": SECRET})),
        ManagerCredentials("m", Secret(SECRET)),
        RotationMetadata("v1", 1, ("old",)),
        RotationEvent.parse(
            {"Step": "createSecret", "SecretId": "arn", "ClientRequestToken": "t", "RotationToken": ROTATION_TOKEN}
        ),
        EngineConfig("m", Secret(SECRET), "ACorg", "https://a/t", "https://a", "https://b"),
        PublishedToken.from_access_token(token, "client-1"),
        CredentialsTokenSource(parse_document(_doc("service-account"))),
        CredentialsTokenSource.from_credentials(_creds(), token_url="https://auth.example.com/token"),
    ]


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: type(o).__name__)
def test_no_secret_in_repr_or_str(obj):
    text = f"{obj!r} {obj!s} {obj} {[obj]!r} { ({'k': obj})!r} {format(obj, '')}"
    assert_no_secret(text, SECRET, PASSWORD, ROTATION_TOKEN, JWT)


def test_secrets_refuse_pickling_and_compare_in_constant_time():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(SECRET))
    assert Secret(SECRET) == Secret(SECRET) and Secret(SECRET) != Secret(PASSWORD)


def test_the_token_view_masks_the_token():
    token = AccessToken(Secret(JWT), "Bearer", 300, 0.0)
    assert_no_secret(json.dumps(token.public_dict()), JWT)


def test_error_messages_scrub_tokens_from_bodies():
    """A server echoing a bearer token in its error detail does not get it into the message."""
    from rotation.vgs.http import error_for_response

    body = {"errors": [{"detail": f"token {JWT} is not valid"}]}
    err = error_for_response(httpx.Response(400, json=body), "op")
    assert_no_secret(f"{err} {err!r}", JWT)


@pytest.mark.parametrize("auth", ["form", "basic", "bearer"])
def test_error_messages_scrub_what_the_request_carried(auth):
    """A server echoing the client secret (raw, URL-encoded, or the Basic credentials) or the
    bearer token of the request in its error does not get it into the message."""
    import base64
    from urllib.parse import quote

    from rotation.vgs.http import error_for_response

    secret = "s3cr3t/with+odd=chars-0123456789"
    basic = base64.b64encode(f"client-x:{secret}".encode()).decode()
    if auth == "form":
        request = httpx.Request(
            "POST", "https://auth.example/token", data={"client_id": "client-x", "client_secret": secret}
        )
        echoed = [secret, quote(secret, safe="")]
    elif auth == "basic":
        request = httpx.Request("POST", "https://auth.example/token", headers={"Authorization": f"Basic {basic}"})
        echoed = [secret, basic]
    else:
        request = httpx.Request("GET", "https://accounts.example/x", headers={"Authorization": f"Bearer {secret}"})
        echoed = [secret]
    for echo in echoed:
        body = {"error": f"bad_{echo}", "error_description": f"client secret {echo} refused"}
        err = error_for_response(httpx.Response(401, json=body, request=request), "op")
        for form in {secret, quote(secret, safe=""), basic}:
            assert_no_secret(f"{err} {err!r} {err.error_code}", form)
        assert "client-x" not in echo


def test_plugin_refusals_are_tested_in_the_plugin_suite():
    from tests import test_vault_plugin_unit as unit

    for name in ("test_refuses_to_run_without_the_magic_cookie", "test_client_without_certificate_is_refused",
                 "test_client_with_a_foreign_certificate_is_refused"):  # fmt: skip
        assert callable(getattr(unit, name)), name


def test_iam_checks_are_in_the_deployment_suite():
    from tests import test_template as deployment

    for name in ("test_no_secretsmanager_or_kms_action_on_star", "test_rotation_role_is_bound_to_its_own_function",
                 "test_publisher_reads_credentials_and_writes_only_tokens", "test_kms_use_only_through_secrets_manager",
                 "test_secrets_manager_may_invoke_the_rotation_function_for_this_account_only"):  # fmt: skip
        assert callable(getattr(deployment, name)), name
