"""The bad-input corpus: malformed rotation events, secret documents, manager secrets and VGS
responses. Each case must fail with a clear error and write nothing, at the store or at VGS.

``cases()`` lists every case; ``run_case(case, backend)`` sets up a fresh secret with a
rotation started, runs the case, and returns a :class:`Outcome` (the error, whether it was
the expected one, and the writes seen). Used by ``tests/test_bad_input*.py`` and
``bench/fault_bench.py``.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from rotation.core import EventError, Rotation, RotationError
from rotation.document import DocumentError
from rotation.issuers import default_issuer_factory
from rotation.stores import StoreError
from rotation.vgs import RetryPolicy, VGSHttp, errors
from tests.faults.schedules import Backend, find_leaks
from tests.helpers import VirtualClock

WRITE_ROUTES = ("accounts.create", "accounts.delete", "accounts.update", "credentials.create", "credentials.delete")
TOKEN = "TOKEN"  # placeholders replaced by the real values when the case runs
ARN = "ARN"
OTHER_ARN = "OTHER_ARN"
MISSING_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/nowhere-AbCdEf"


@dataclass(frozen=True)
class Case:
    name: str
    kind: str = "service-account"
    event: Any = None  # a rotation event (placeholders allowed); default: a good createSecret
    document: Callable[[dict[str, Any]], Any] | None = None  # mutate the current document
    manager: Callable[[dict[str, Any]], Any] | None = None  # mutate the manager secret
    response: tuple[str, httpx.Response] | None = None  # (route, what VGS answers instead)
    expect: tuple[type[BaseException], ...] = (EventError,)
    field_name: str | None = None  # for DocumentError: the field the error must name
    match: str = ""  # a piece of the message


@dataclass
class Outcome:
    case: str
    error: str = ""
    ok: bool = False
    problem: str = ""
    writes: list[str] = field(default_factory=list)


# -- events -------------------------------------------------------------------------------


def _event_cases() -> list[Case]:
    good = {"Step": "createSecret", "SecretId": ARN, "ClientRequestToken": TOKEN}
    out: list[Case] = []
    for key in good:
        out.append(Case(f"event missing {key}", event={k: v for k, v in good.items() if k != key}, match=key))
        for bad in (42, 4.2, True, None, [], {}, ["createSecret"], {"a": 1}):
            if bad is None:
                continue
            out.append(Case(f"event {key}={type(bad).__name__}", event={**good, key: bad}, match=key))
        out.append(Case(f"event {key} empty", event={**good, key: ""}, match=key))
        out.append(Case(f"event {key} blank", event={**good, key: "   "}, match=key))
        out.append(Case(f"event {key} huge", event={**good, key: "x" * 100_000}, match="too long"))
    for step in ("rotateSecret", "CreateSecret", "createSecret ", "create_secret", "finish", "\u0000", "💥"):
        out.append(Case(f"event unknown step {step!r}", event={**good, "Step": step}, match="unknown 'Step'"))
    for token in (str(uuid.UUID(int=7)), "not-a-version", "AWSCURRENT", "../" * 10):
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            out.append(
                Case(
                    f"event wrong token {token[:12]!r} {step}",
                    event={**good, "Step": step, "ClientRequestToken": token},
                    match="not a version",
                )
            )
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        out.append(
            Case(
                f"event another secret's ARN {step}",
                event={**good, "Step": step, "SecretId": OTHER_ARN},
                match="not a version",
            )
        )
        out.append(
            Case(
                f"event unknown secret {step}",
                event={**good, "Step": step, "SecretId": MISSING_ARN},
                expect=(StoreError,),
                match="ResourceNotFoundException",
            )
        )
    for bad in (5, [], {"x": 1}, "x" * 5000):
        out.append(
            Case(
                f"event RotationToken {type(bad).__name__}", event={**good, "RotationToken": bad}, match="RotationToken"
            )
        )
    for ev in (None, [], "createSecret", 42, ["Step", "createSecret"], b"{}"):
        out.append(Case(f"event is {type(ev).__name__}", event=ev if ev is not None else "NONE", match="JSON object"))
    return out


# -- documents ----------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    def mutate(doc: dict[str, Any]) -> Any:
        target = doc
        *parents, last = path.split(".")
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value
        return doc

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], Any]:
    def mutate(doc: dict[str, Any]) -> Any:
        target = doc
        *parents, last = path.split(".")
        for p in parents:
            target = target[p]
        target.pop(last, None)
        return doc

    return mutate


def _document_cases() -> list[Case]:
    out: list[Case] = []

    def doc_case(name: str, mutate: Callable[[dict[str, Any]], Any], fld: str, kind: str = "service-account") -> None:
        out.append(Case(f"document {name}", kind=kind, document=mutate, expect=(DocumentError,), field_name=fld))

    for kind in ("service-account", "access-credentials"):
        k = "sa" if kind == "service-account" else "ac"
        for fld in ("kind", "manager_secret_arn"):
            doc_case(f"{k} {fld} missing", _drop(fld), fld, kind)
            doc_case(f"{k} {fld} int", _set(fld, 5), fld, kind)
            doc_case(f"{k} {fld} empty", _set(fld, ""), fld, kind)
        doc_case(f"{k} kind unknown", _set("kind", "oauth"), "kind", kind)
        doc_case(f"{k} manager not an ARN", _set("manager_secret_arn", "vgs/manager"), "manager_secret_arn", kind)
        doc_case(f"{k} manager an IAM ARN", _set("manager_secret_arn", "arn:aws:iam::123456789012:role/x"),
                 "manager_secret_arn", kind)  # fmt: skip
        doc_case(f"{k} hosts a string", _set("hosts", "https://x"), "hosts", kind)
        doc_case(f"{k} hosts a list", _set("hosts", []), "hosts", kind)
        for host in ("token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url", "jwks_url"):
            doc_case(f"{k} {host} http off loopback", _set(f"hosts.{host}", "http://vgs.example.com/x"),
                     f"hosts.{host}", kind)  # fmt: skip
            doc_case(f"{k} {host} int", _set(f"hosts.{host}", 5), f"hosts.{host}", kind)
            doc_case(f"{k} {host} empty", _set(f"hosts.{host}", ""), f"hosts.{host}", kind)
            doc_case(f"{k} {host} ftp", _set(f"hosts.{host}", "ftp://vgs.example.com/x"), f"hosts.{host}", kind)
            doc_case(f"{k} {host} no host", _set(f"hosts.{host}", "https://"), f"hosts.{host}", kind)
        doc_case(f"{k} hosts unknown key", _set("hosts.tokn_url", "https://x.example.com"), "hosts.tokn_url", kind)
        doc_case(f"{k} allow_insecure_http string", _set("hosts.allow_insecure_http", "yes"),
                 "hosts.allow_insecure_http", kind)  # fmt: skip
        doc_case(f"{k} revoke unknown", _set("revoke", "sometimes"), "revoke", kind)
        doc_case(f"{k} revoke int", _set("revoke", 1), "revoke", kind)
        doc_case(f"{k} test not object", _set("test", True), "test", kind)
        doc_case(f"{k} test.cmp_probe string", _set("test.cmp_probe", "yes"), "test.cmp_probe", kind)
        for bad in (0, 21, -1, "5", True, 2.5):
            doc_case(f"{k} test.attempts {bad!r}", _set("test.attempts", bad), "test.attempts", kind)
        doc_case(f"{k} vault_ids string", _set("vault_ids", "tnt1"), "vault_ids", kind)
        doc_case(f"{k} vault_ids ints", _set("vault_ids", [5]), "vault_ids", kind)
        doc_case(f"{k} vault_ids blank", _set("vault_ids", [" "]), "vault_ids", kind)
        doc_case(f"{k} rotation not object", _set("rotation", "x"), "rotation", kind)
        doc_case(f"{k} rotation no version", _set("rotation", {"created_at": 1}), "rotation", kind)
        doc_case(f"{k} rotation.retire string", _set("rotation", {"version_id": "v", "created_at": 1, "retire": "x"}),
                 "rotation.retire", kind)  # fmt: skip
        doc_case(f"{k} rotation.replaces int",
                 _set("rotation", {"version_id": "v", "created_at": 1, "replaces": 5}), "rotation.replaces", kind)  # fmt: skip
    for fld in ("client_id", "client_secret", "organization_id"):
        doc_case(f"sa {fld} missing", _drop(fld), fld)
        doc_case(f"sa {fld} int", _set(fld, 5), fld)
        doc_case(f"sa {fld} list", _set(fld, ["x"]), fld)
        doc_case(f"sa {fld} blank", _set(fld, "  "), fld)
        doc_case(f"sa {fld} huge", _set(fld, "x" * 5000), fld)
    for bad in ([], "cards:read", [5], [""], ["cards:read"] * 101):
        doc_case(f"sa scopes {str(bad)[:20]}", _set("scopes", bad), "scopes")
    for bad in (10, 59, 0, -60, "1200", True, 1200.5):
        doc_case(f"sa token_lifespan {bad!r}", _set("token_lifespan", bad), "token_lifespan")
    for bad in ("a-name-far-too-long", "", "bad name", "-lead", "ünï", 5, None):
        if bad is None:
            continue
        doc_case(f"sa name {bad!r}", _set("name", bad), "name")
    for fld in ("credential_id", "username", "password"):
        doc_case(f"ac {fld} missing", _drop(fld), fld, "access-credentials")
        doc_case(f"ac {fld} int", _set(fld, 5), fld, "access-credentials")
    doc_case("ac two vaults", _set("vault_ids", ["tnt1", "tnt2"]), "vault_ids", "access-credentials")
    doc_case("ac no vault", _set("vault_ids", []), "vault_ids", "access-credentials")
    doc_case("not JSON", lambda d: "{not json", "(document)")
    doc_case("JSON array", lambda d: "[1, 2]", "(document)")
    doc_case("JSON string", lambda d: '"kind"', "(document)")
    doc_case("truncated JSON", lambda d: json.dumps(d)[:40], "(document)")
    return out


def _manager_cases() -> list[Case]:
    out: list[Case] = []

    def m(name: str, mutate: Callable[[dict[str, Any]], Any], fld: str | None, expect: Any = (DocumentError,)) -> None:
        out.append(Case(f"manager {name}", manager=mutate, expect=expect, field_name=fld))

    m("not JSON", lambda d: "nope", "(document)")
    m("a list", lambda d: "[]", "(document)")
    m("client_id missing", _drop("client_id"), "client_id")
    m("client_secret missing", _drop("client_secret"), "client_secret")
    m("client_id int", _set("client_id", 7), "client_id")
    m("client_secret list", _set("client_secret", ["s"]), "client_secret")
    m("client_secret empty", _set("client_secret", ""), "client_secret")
    m("organization_id int", _set("organization_id", 7), "organization_id")
    out.append(
        Case(
            "manager secret does not exist",
            document=_set("manager_secret_arn", MISSING_ARN),
            expect=(RotationError,),
            match="manager",
        )
    )
    return out


# -- VGS responses --------------------------------------------------------------------------


def _html(status: int = 200) -> httpx.Response:
    page = b"<html><head><title>Oops</title></head><body><h1>Something went wrong</h1></body></html>"
    return httpx.Response(status, content=page, headers={"Content-Type": "text/html"})


def _body(content: bytes, ctype: str = "application/vnd.api+json", status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=content, headers={"Content-Type": ctype})


def _response_cases() -> list[Case]:
    out: list[Case] = []
    shapes: dict[str, list[tuple[str, httpx.Response]]] = {
        "token": [
            ("html 200", _html()),
            ("not JSON", _body(b"access_token=abc", "text/plain")),
            ("JSON array", _body(b"[]", "application/json")),
            ("no access_token", _body(b'{"expires_in": 300, "token_type": "Bearer"}', "application/json")),
            ("negative expires_in", _body(b'{"access_token": "a.b.c", "expires_in": -5}', "application/json")),
            ("string expires_in", _body(b'{"access_token": "a.b.c", "expires_in": "300"}', "application/json")),
            ("truncated", _body(b'{"access_token": "eyJhbGciOi', "application/json")),
            ("empty", _body(b"", "application/json")),
            ("html 418", _html(418)),
        ],
        "accounts.list": [
            ("html 200", _html()),
            ("no data", _body(b"{}")),
            ("data a string", _body(b'{"data": "x"}')),
            ("accounts not a list", _body(b'{"data": {"attributes": {"service_accounts": 5}}}')),
            ("account without client_id", _body(b'{"data": {"attributes": {"service_accounts": [{"name": "x"}]}}}')),
            ("truncated", _body(b'{"data": {"attributes": {"service_acc')),
        ],
        "accounts.create": [
            ("html 201", _html(201)),
            ("no attributes", _body(b'{"data": {}}', status=201)),
            ("no client_secret", _body(b'{"data": {"attributes": {"client_id": "AC1-x-1"}}}', status=201)),
            (
                "no client_id",
                _body(b'{"data": {"attributes": {"client_secret": "s3cr3t-value-0123456789"}}}', status=201),
            ),
            ("truncated", _body(b'{"data": {"attributes": {"client_id": "AC', status=201)),
            ("JSON null", _body(b"null", status=201)),
        ],
        "credentials.list": [
            ("html 200", _html()),
            ("data an object", _body(b'{"data": {}}')),
            ("credential without id", _body(b'{"data": [{"attributes": {"key": "US1"}}]}')),
            ("truncated", _body(b'{"data": [{"id": "1", "attri')),
        ],
        "credentials.create": [
            ("html 201", _html(201)),
            ("no secret", _body(b'{"data": {"id": "c1", "attributes": {"key": "US1"}}}', status=201)),
            ("no key", _body(b'{"data": {"id": "c1", "attributes": {"secret": "p4ss-w0rd-value-0123"}}}', status=201)),
            ("truncated", _body(b'{"data": {"id": "c1"', status=201)),
        ],
    }
    for route, items in shapes.items():
        kind = "access-credentials" if route.startswith("credentials") else "service-account"
        for name, response in items:
            out.append(Case(f"vgs {route} {name}", kind=kind, response=(route, response), expect=(errors.VGSError,)))
    return out


def cases() -> list[Case]:
    return [*_event_cases(), *_document_cases(), *_manager_cases(), *_response_cases()]


# -- running a case -----------------------------------------------------------------------


class Mangle(httpx.BaseTransport):
    """Answers requests to one route with a fixed response, without forwarding them."""

    def __init__(self, inner: httpx.BaseTransport, app: Any, route: str, response: httpx.Response) -> None:
        self.inner, self.app, self.route, self.response = inner, app, route, response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        matched = self.app.match(request.method, request.url.path)
        if isinstance(matched, tuple) and matched[0].name == self.route:
            r = self.response
            return httpx.Response(r.status_code, headers=r.headers, content=r.content, request=request)
        return self.inner.handle_request(request)


def _setup(backend: Backend, kind: str) -> tuple[str, str, str, dict[str, Any], dict[str, Any], set[str]]:
    """Two rotation-enabled secrets (the second is "another secret"), a rotation started on the first."""
    emu = backend.emulator
    boot = emu.bootstrap
    state = emu._state
    manager = {"client_id": boot["client_id"], "client_secret": boot["client_secret"]}
    hosts = {k: boot[k] for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url",
                                  "jwks_url")}  # fmt: skip
    suffix = uuid.uuid4().hex[:6]
    manager_arn = backend.create_secret(f"vgs/manager-{suffix}", json.dumps(manager))
    secrets = {boot["client_secret"]}
    docs = []
    for _ in range(2):
        if kind == "service-account":
            a = state.create_account({"name": "cmp-app", "scopes": ["cards:read"], "vaults": [boot["vault_id"]]})
            secrets.add(a.client_secret)
            doc: dict[str, Any] = {"kind": kind, "client_id": a.client_id, "client_secret": a.client_secret,
                                   "organization_id": boot["organization_id"], "vault_ids": [boot["vault_id"]],
                                   "scopes": ["cards:read"], "token_lifespan": 1200, "name": "cmp-app"}  # fmt: skip
        else:
            c = state.create_credential(boot["vault_id"], None)
            secrets.add(c.password)
            doc = {"kind": kind, "credential_id": c.id, "username": c.username, "password": c.password,
                   "vault_ids": [boot["vault_id"]]}  # fmt: skip
        doc.update({"manager_secret_arn": manager_arn, "hosts": hosts})
        docs.append(doc)
    arn = backend.create_secret(f"vgs/app-{suffix}", json.dumps(docs[0]))
    other = backend.create_secret(f"vgs/other-{suffix}", json.dumps(docs[1]))
    for a in (arn, other):
        backend.enable_rotation(a)
    return arn, other, manager_arn, docs[0], manager, secrets


def _state(backend: Backend, arns: list[str]) -> Any:
    emu = backend.emulator
    return (
        [backend.end_state(a) for a in arns],
        sorted(a["client_id"] for a in emu.service_accounts()),
        sorted(c["id"] for c in emu.access_credentials()),
    )


def run_case(case: Case, backend: Backend) -> Outcome:
    """Set up, run the case's createSecret (or its event), and compare state before and after."""
    out = Outcome(case.name)
    emu = backend.emulator
    arn, other, manager_arn, doc, manager, secrets = _setup(backend, case.kind)
    token = str(uuid.uuid4())
    if case.document is not None:
        mutated = case.document(copy.deepcopy(doc))
        value = mutated if isinstance(mutated, str) else json.dumps(mutated)
        _put_current(backend, arn, value)
    if case.manager is not None:
        mutated = case.manager(copy.deepcopy(manager))
        _put_current(backend, manager_arn, mutated if isinstance(mutated, str) else json.dumps(mutated))
    backend.start_rotation(arn, token)
    event: Any = case.event if case.event is not None else {"Step": "createSecret", "SecretId": ARN,
                                                             "ClientRequestToken": TOKEN}  # fmt: skip
    event = _fill(event, {ARN: arn, OTHER_ARN: other, TOKEN: token})
    transport = backend.transport()
    if case.response is not None:
        transport = Mangle(transport, emu._app, *case.response)
    clock = VirtualClock()
    client = httpx.Client(transport=transport, timeout=5.0)

    def http() -> VGSHttp:
        return VGSHttp(timeout=5.0, retry=RetryPolicy(sleep=clock.sleep, clock=clock), client=client)

    rotation = Rotation(backend.store, default_issuer_factory(http_factory=http), clock=clock, sleep=clock.sleep)
    before = _state(backend, [arn, other, manager_arn])
    counts = emu.request_counts
    try:
        rotation.handle(event)
        out.problem = "accepted"
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"
        out.ok = isinstance(exc, case.expect)
        if not out.ok:
            out.problem = f"expected {[e.__name__ for e in case.expect]}, got {type(exc).__name__}"
        elif case.field_name is not None and (
            getattr(exc, "field", None) != case.field_name or f"'{case.field_name}'" not in str(exc)
        ):
            out.ok, out.problem = False, f"the error does not name field {case.field_name!r}"
        elif case.match and case.match not in str(exc):
            out.ok, out.problem = False, f"the error does not say {case.match!r}"
        leaks = find_leaks(f"{exc} {exc!r}", secrets | {doc.get("client_secret", ""), doc.get("password", "")})
        if leaks:
            out.ok, out.problem = False, "the error holds a secret"
    finally:
        client.close()
    after = _state(backend, [arn, other, manager_arn])
    if after != before:
        out.writes.append("store or VGS state changed")
    delta = emu.request_counts
    for route in WRITE_ROUTES:
        if delta[route] != counts[route]:
            out.writes.append(f"{delta[route] - counts[route]} request(s) to {route}")
    return out


def _put_current(backend: Backend, arn: str, value: str) -> None:
    backend.store.put_value(arn, value)


def _fill(value: Any, names: dict[str, str]) -> Any:
    if value == "NONE":
        return None
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, str):
        return names.get(value, value)
    return value
