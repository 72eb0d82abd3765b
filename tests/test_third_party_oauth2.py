"""``vgs-rotate token`` against a third-party, standards-compliant OAuth2 server (Authlib's
RFC 6749 client_credentials implementation on Flask), not only against our emulator."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest

from tests.helpers import assert_no_secret
from tests.test_cli_token import run_cli

flask = pytest.importorskip("flask")
oauth2 = pytest.importorskip("authlib.integrations.flask_oauth2")

CLIENT_ID = "third-party-client"
CLIENT_SECRET = "tp-" + secrets.token_urlsafe(24)


class Client:
    client_id = CLIENT_ID

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"read", "write"}
        return " ".join(s for s in (scope or "").split() if s in allowed)


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[str]:
    from authlib.oauth2.rfc6749 import grants
    from werkzeug.serving import make_server

    app = flask.Flask("third-party-oauth2")
    server = oauth2.AuthorizationServer(
        app, query_client=lambda cid: Client() if cid == CLIENT_ID else None, save_token=lambda token, request: None
    )
    server.register_grant(grants.ClientCredentialsGrant)
    grants.ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @app.route("/oauth/token", methods=["POST"])
    def issue_token():  # type: ignore[no-untyped-def]
        return server.create_token_response()

    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}/oauth/token"
    http.shutdown()


@pytest.mark.parametrize("extra", [(), ("--basic",)])
def test_token_command_against_authlib(oauth_server, extra):
    proc = run_cli(
        "token", "--client-id", CLIENT_ID, "--token-url", oauth_server, *extra, env={"VGS_CLIENT_SECRET": CLIENT_SECRET}
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert len(token) >= 20 and "\n" not in token
    assert_no_secret(proc.stdout + proc.stderr, CLIENT_SECRET)


def test_json_with_scope_against_authlib(oauth_server):
    import json

    proc = run_cli(
        "token", "--client-id", CLIENT_ID, "--token-url", oauth_server, "--scope", "read", "--json",
        env={"VGS_CLIENT_SECRET": CLIENT_SECRET},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["access_token"] == "***"
    assert body["scope"] == "read"
    assert body["expires_in"] > 0


def test_wrong_secret_against_authlib(oauth_server):
    proc = run_cli(
        "token", "--client-id", CLIENT_ID, "--token-url", oauth_server, env={"VGS_CLIENT_SECRET": "nope-" + "x" * 20}
    )
    assert proc.returncode == 3
    assert "invalid_client" in proc.stderr
    assert_no_secret(proc.stderr, CLIENT_SECRET, "nope-" + "x" * 20)
