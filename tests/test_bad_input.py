"""The bad-input corpus (``tests/faults/corpus.py``) against moto's server and the emulator:
every malformed event, document, manager secret and VGS response fails with a clear error
and writes nothing (moto's versions, stages and values; the emulator's accounts and
credentials and its create/delete request counts)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from rotation.core import EventError, RotationEvent
from rotation.document import DocumentError, parse_document
from rotation.vgs import (
    AccountsClient,
    ClientCredentials,
    RetryPolicy,
    Secret,
    TokenClient,
    VaultCredentialsClient,
    VGSHttp,
    errors,
)
from tests.faults.backends import MemoryBackend, MotoBackend
from tests.faults.corpus import cases, run_case

CASES = cases()
# Every case runs on the in-memory store (checked against moto in test_faults_schedules);
# every sixth, and the first of each kind, also against moto's server over HTTP.
_GROUPS: set[str] = set()
MOTO_CASES = []
for _i, _c in enumerate(CASES):
    _group = _c.name.split()[0]
    if _i % 6 == 0 or _group not in _GROUPS:
        MOTO_CASES.append(_c)
    _GROUPS.add(_group)


def _check(case, backend) -> None:
    outcome = run_case(case, backend)
    assert outcome.ok, f"{case.name}: {outcome.problem} ({outcome.error})"
    assert not outcome.writes, f"{case.name}: {outcome.writes}"


@pytest.mark.parametrize("case", MOTO_CASES, ids=[c.name for c in MOTO_CASES])
def test_bad_input_is_refused_without_writes_at_moto(case, emulator, moto_url):
    _check(case, MotoBackend(emulator))


def test_every_bad_input_is_refused_without_writes_in_memory(emulator):
    backend = MemoryBackend(emulator)
    for case in CASES:
        backend.reset()
        emulator.reset()
        _check(case, backend)


def test_the_corpus_covers_every_kind_of_bad_input():
    names = " ".join(c.name for c in CASES)
    for what in ("event missing", "huge", "unknown step", "another secret's ARN", "wrong token", "document",
                 "http off loopback", "hosts unknown key", "manager", "vgs token", "vgs accounts.create",
                 "vgs credentials.create", "truncated", "html"):  # fmt: skip
        assert what in names, what
    assert len(CASES) > 250


def test_blank_values_are_called_empty():
    """A blank string is reported as empty, not as 'must be a non-empty string, not str'."""
    with pytest.raises(EventError, match="'Step' is empty"):
        RotationEvent.parse({"Step": " ", "SecretId": "a", "ClientRequestToken": "b"})
    with pytest.raises(DocumentError, match="'kind' is empty"):
        parse_document({"kind": "  "})


# -- malformed responses over a real socket ----------------------------------------------------


class RawServer:
    """A loopback server that answers every request with the same raw bytes, then hangs up."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests += 1
                conn.sendall(self.payload)

    def close(self) -> None:
        self.sock.close()


def _response(status: str, body: bytes, ctype: str, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


RAW = {
    "truncated body": (
        _response("200 OK", b'{"access_token": "abc', "application/json", length=200),
        errors.Unavailable,
    ),
    "html page": (_response("200 OK", b"<html><body>maintenance</body></html>", "text/html"), errors.BadResponse),
    "html 500": (_response("500 Internal Server Error", b"<html>oops</html>", "text/html"), errors.ServerError),
    "not json": (_response("200 OK", b"ok", "text/plain"), errors.BadResponse),
    "json array": (_response("200 OK", b"[1]", "application/json"), errors.BadResponse),
    "garbage status line": (b"HTTP/9 what\r\n\r\n", errors.Unavailable),
    "nothing": (b"", errors.Unavailable),
}


@pytest.fixture(params=sorted(RAW))
def raw(request) -> Iterator[tuple[RawServer, type[Exception]]]:
    payload, expected = RAW[request.param]
    server = RawServer(payload)
    yield server, expected
    server.close()


def _http() -> VGSHttp:
    return VGSHttp(timeout=2.0, retry=RetryPolicy(max_attempts=2, sleep=lambda s: None))


def test_token_client_on_malformed_responses(raw):
    server, expected = raw
    creds = ClientCredentials("client", Secret("very-secret-value-0123456789abcdef"))
    with pytest.raises(expected) as info:
        TokenClient(server.url + "/token", http=_http()).mint(creds)
    assert "very-secret" not in str(info.value) and "very-secret" not in repr(info.value)


def test_accounts_and_credentials_clients_on_malformed_responses(raw):
    import httpx

    server, expected = raw

    class Auth(httpx.Auth):
        def auth_flow(self, request):
            request.headers["Authorization"] = "Bearer x"
            yield request

    accounts = AccountsClient(server.url, "ACorg", auth=Auth(), http=_http())
    vault = VaultCredentialsClient(server.url, "tnt1", auth=Auth(), http=_http())
    calls = [accounts.list, lambda: accounts.create(name="n", scopes=["cards:read"]), vault.list, vault.create]
    for call in calls:
        with pytest.raises(errors.VGSError) as info:
            call()
        assert isinstance(info.value, expected | errors.BadResponse | errors.Unavailable), info.value
