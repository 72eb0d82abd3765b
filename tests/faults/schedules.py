"""Seeded fault schedules for the rotation core, and the invariants checked after each.

A schedule is a pure function of its seed: ``run_schedule(seed, backend)``. It creates two
or three rotated secrets sharing one organization, vault and manager (each a service
account or an access credential, each with a random revoke policy), then runs 1-3
rotations through ``Rotation.handle`` as Secrets Manager drives them, each under:

- step retries (any step repeated) and whole-rotation retries with the same token;
- a crash (``Crash``, a BaseException) right after any external call, AWS or VGS;
- VGS faults: 429 with Retry-After, 500, 502/503/504, dropped connections, delays
  (emulator faults; most outlast the VGS client's read timeout, ``CLIENT_TIMEOUT``, so the
  client times out while VGS does the work) and late timeouts (served, answer lost:
  ``inproc.LateTimeouts``). Over HTTP (``backend.real_delays``) the emulator sleeps for real
  and the client's socket times out; in memory the delay moves the virtual clock and the
  in-process transport times the client out the same way;
- Secrets Manager throttling (``StoreError(code="ThrottlingException", retryable=True)``
  before a chosen store call) and lost answers (the call landed, the caller sees an error);
- between two external calls of a rotation, what can really run beside it (AWS refuses
  RotateSecret while AWSPENDING is on another version): a duplicate invocation with the
  same token, a manual invocation of any step (same token, or a token that is no version),
  ``status --repair`` followed by a new rotation, or a rotation of another secret;
- token publisher runs (``rotation.publisher``) between two external calls of a rotation
  (under the faults: it may fail, it must never write the rotated secret) and between
  rotations (at rest: it must publish a token of AWSCURRENT's credential that VGS accepts).

Then it drives the secret to a completed rotation (finishing the pending token, as Secrets
Manager's retries would, or ``rotation.status.repair`` and a fresh rotation) and checks the
invariants (``check_at_rest``): live and orphaned credentials are counted by
``tests/faults/oracle.py`` from VGS's own state and the store's raw versions, never from the
product's annotations; every PutSecretValue of a rotation must carry the RotationToken its
events carried. Every violation names the seed and the action log, so
``run_schedule(seed, ...)`` replays it. Faults are counted as planned and as fired, by kind
(``tests/faults/firing.py``): ``stats["fired:<kind>"]`` is what happened.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from rotation.core import STEPS, EventError, Rotation, RotationError, RotationEvent
from rotation.document import DocumentError, parse_document
from rotation.emulator import Emulator
from rotation.issuers import CapacityError, default_issuer_factory
from rotation.status import repair
from rotation.stores import CURRENT, PENDING, PREVIOUS, SecretStore, StoreError
from rotation.vgs import ClientCredentials, RetryPolicy, Secret, TokenClient, VaultApiProbe, VGSHttp, errors
from tests.faults import firing, leaks
from tests.faults.inproc import LateTimeouts
from tests.faults.leaks import PRODUCT_LOGGERS, THIRD_PARTY_LEVEL, Item, issued_by
from tests.faults.oracle import Oracle, Subject
from tests.helpers import VirtualClock

VGS_ROUTES = (
    "token",
    "accounts.create",
    "accounts.list",
    "accounts.delete",
    "credentials.create",
    "credentials.list",
    "credentials.delete",
    "cmp.card",
    "vault_api",
)
FAULT_KINDS = ("429", "500", "502", "503", "504", "drop", "delay", "late")
CLIENT_TIMEOUT = 0.25  # the VGS client's timeout in the schedules (seconds)
DELAYS = (0.05, 0.6, 1.0)  # delay faults: far under, or far over, CLIENT_TIMEOUT
EXPECTED = (RotationError, EventError, StoreError, errors.VGSError, CapacityError)


class Crash(BaseException):
    """The process died: no ``except Exception`` in the code under test sees it."""


# -- where the secret lives -------------------------------------------------------------


class Backend(Protocol):
    """A secret store plus a VGS emulator reachable through ``transport()``."""

    emulator: Emulator
    store: SecretStore

    def transport(self) -> httpx.BaseTransport: ...
    def create_secret(self, name: str, value: str) -> str: ...
    def enable_rotation(self, arn: str) -> None: ...
    def start_rotation(self, arn: str, token: str) -> None: ...
    def puts(self) -> list[tuple[str, str | None, str | None]]: ...
    def all_values(self, arn: str) -> dict[str, str]: ...
    def end_state(self, arn: str) -> list[tuple[str, tuple[str, ...], str | None]]: ...


# -- counting and failing external calls --------------------------------------------------


@dataclass
class Plan:
    """What happens at which external call of one attempt (all numbers are 1-based)."""

    crash_after: int | None = None
    throttle_store_calls: set[int] = field(default_factory=set)
    lost_store_calls: set[int] = field(default_factory=set)
    interleave_after: dict[int, tuple[str, Callable[[], None]]] = field(default_factory=dict)  # call: (kind, run)


class Calls:
    """Counts external calls and fires the plan's crash, throttles and interleavings (each
    counted as ``fired:<kind>`` when it happens)."""

    def __init__(self, stats: Counter[str]) -> None:
        self.stats = stats
        self.plan = Plan()
        self.count = 0
        self.store_count = 0
        self.log: list[str] = []
        self.paused = 0

    def arm(self, plan: Plan) -> None:
        self.plan, self.count, self.store_count = plan, 0, 0

    def disarm(self) -> None:
        self.plan = Plan()

    def before_store(self, name: str) -> None:
        if self.paused:
            return
        self.store_count += 1
        if self.store_count in self.plan.throttle_store_calls:
            firing.fired(self.stats, "store_throttle")
            self.log.append(f"throttle aws:{name}")
            raise StoreError(f"Secrets Manager {name} failed (ThrottlingException)", code="ThrottlingException",
                             retryable=True)  # fmt: skip

    def after(self, what: str, *, store: bool = False) -> None:
        if self.paused:
            return
        self.count += 1
        self.log.append(what)
        interleave = self.plan.interleave_after.pop(self.count, None)
        if interleave is not None:
            kind, hook = interleave
            firing.fired(self.stats, kind)
            self.paused += 1
            try:
                hook()
            finally:
                self.paused -= 1
        if self.plan.crash_after == self.count:
            self.plan.crash_after = None
            firing.fired(self.stats, "crash")
            raise Crash(f"crash after call {self.count}: {what}")
        if store and self.store_count in self.plan.lost_store_calls:
            firing.fired(self.stats, "store_lost")
            raise StoreError(f"Secrets Manager {what} failed (RequestTimeout)", code="RequestTimeout", retryable=True)


class FaultyStore:
    """A SecretStore wrapper that counts calls and fails them as ``Calls`` says."""

    def __init__(self, inner: SecretStore, calls: Calls) -> None:
        self.inner = inner
        self.calls = calls

    def _do(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.calls.before_store(name)
        result = fn(*args, **kwargs)
        self.calls.after(f"aws:{name}", store=True)
        return result

    def describe(self, secret_id: str) -> Any:
        return self._do("describe_secret", self.inner.describe, secret_id)

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        value: str | None = self._do("get_secret_value", self.inner.get_value, secret_id, version_id=version_id,
                                     stage=stage)  # fmt: skip
        return value

    def get_version(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> Any:
        return self._do("get_secret_value", self.inner.get_version, secret_id, version_id=version_id, stage=stage)

    def put_pending(self, secret_id: str, version_id: str, value: str, *, rotation_token: str | None = None) -> None:
        self._do("put_secret_value", self.inner.put_pending, secret_id, version_id, value,
                 rotation_token=rotation_token)  # fmt: skip

    def move_stage(self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        self._do("update_secret_version_stage", self.inner.move_stage, secret_id, stage, to_version=to_version,
                 from_version=from_version)  # fmt: skip

    def put_value(self, secret_id: str, value: str) -> None:
        self._do("put_secret_value", self.inner.put_value, secret_id, value)


def http_factory(backend: Backend, calls: Calls, late: LateTimeouts, clock: VirtualClock,
                 rng: random.Random, timeout: float = 5.0) -> Callable[[], VGSHttp]:  # fmt: skip
    class CountingHttp(VGSHttp):
        def _send_once(self, operation: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return super()._send_once(operation, *args, **kwargs)
            finally:
                calls.after(f"vgs:{operation}")

    client = httpx.Client(transport=late, timeout=timeout)

    def make() -> VGSHttp:
        policy = RetryPolicy(max_attempts=4, max_total=30.0, sleep=clock.sleep, clock=clock,
                             rng=random.Random(rng.random()))  # fmt: skip
        return CountingHttp(timeout=timeout, retry=policy, client=_Unclosable(client))  # type: ignore[arg-type]

    return make


class _Unclosable:
    """The shared client survives the issuer's ``close()`` (one pool per schedule, not per step)."""

    def __init__(self, inner: httpx.Client) -> None:
        self.inner = inner

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:
        return self.inner.request(*args, **kwargs)

    def close(self) -> None:
        return None


def inject_fault(
    emu: Any,
    late: Any,
    route: str,
    kind: str,
    count: int,
    *,
    delay: float,
    retry_after: int | None,
    stats: Counter[str] | None = None,
    timeout: float | None = None,
) -> None:
    """One VGS fault of ``kind`` (a FAULT_KINDS entry) on ``route`` for the next ``count`` calls,
    counted in ``stats`` as planned (a delay past the client's ``timeout`` also plans a client timeout)."""
    if stats is not None:
        firing.planned(stats, kind, count)
        if kind == "delay" and timeout is not None and delay > timeout:
            firing.planned(stats, "client_timeout", count)
    if kind == "late":
        late.inject(route, count)
    elif kind == "drop":
        emu.faults.inject(route, drop=True, count=count)
    elif kind == "delay":
        emu.faults.inject(route, delay=delay, count=count)
    elif kind == "429":
        emu.faults.inject(route, status=429, count=count, retry_after=retry_after)
    else:
        emu.faults.inject(route, status=int(kind), count=count)


# -- leak capture -----------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.parts: list[str] = []
        self.names: list[str] = []  # the loggers of the captured records, in order
        self._seen: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self._seen:  # on a product logger and again on the root
            return
        self._seen.add(id(record))
        self.names.append(record.name)
        self.parts.append(f"{record.getMessage()} {record.__dict__}")


@contextmanager
def captured_logs(names: tuple[str, ...] = PRODUCT_LOGGERS) -> Iterator[_Capture]:
    """Every log record, for the leak scan: the product's loggers (``names``) at DEBUG, and
    every other logger (httpx, httpcore, botocore, urllib3, ...) through the root at
    ``THIRD_PARTY_LEVEL``, the most any entry point of the product enables for them (see
    ``tests.faults.leaks``). The handler sits on the root and on each product logger (the
    Lambda's Powertools set-up stops ``rotation`` from propagating)."""
    capture = _Capture()
    root = logging.getLogger()
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    root_level = root.level
    root.addHandler(capture)
    root.setLevel(THIRD_PARTY_LEVEL)
    for lg in loggers:
        lg.addHandler(capture)
        lg.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(root_level)
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(capture)
            lg.setLevel(level)


def find_leaks(text: str, secrets: Iterable[Item], *, tokens: Iterable[str] = ()) -> list[str]:
    """Which secrets ((id, secret) pairs too) and access tokens appear in ``text``, raw,
    URL-encoded, base64 or as Basic auth, whole or in part: described, not shown."""
    return leaks.find_leaks(text, secrets, tokens=tokens)


# -- the schedule -----------------------------------------------------------------------


@dataclass
class Result:
    seed: int
    kind: str = ""
    revoke: str = ""
    violations: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    def describe(self, limit: int = 80) -> str:
        head = f"schedule seed={self.seed} kind={self.kind} revoke={self.revoke}"
        return head + "\n  " + "\n  ".join(self.violations) + "\n  actions: " + " | ".join(self.log[-limit:])


class Schedule:
    def __init__(self, seed: int, backend: Backend, *, publish: Callable[[Schedule], None] | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.backend = backend
        self.emu = backend.emulator
        self.clock = VirtualClock()
        self.result = Result(seed)
        self.stats = self.result.stats
        self.calls = Calls(self.stats)
        self.calls.log = self.result.log
        self.late = LateTimeouts(backend.transport(), self.emu)
        # Over HTTP delay faults are real (the client's socket times out); in memory they
        # advance the virtual clock (the in-process transport times the client out).
        self.emu._app.sleep = time.sleep if getattr(backend, "real_delays", False) else self.clock.sleep
        self.fired_before = self.emu.faults.fired()
        self.store = FaultyStore(backend.store, self.calls)
        self.http = http_factory(backend, self.calls, self.late, self.clock, self.rng, CLIENT_TIMEOUT)
        self.secrets: set[str] = set()
        self.texts: list[str] = []
        self.publish = publish
        self.arn = ""
        self.token_arn = ""
        self.initial = ""
        self.kind = ""
        self.revoke = ""
        self.oracle = Oracle(self.emu, backend)
        self.subject: Subject | None = None
        self.rt_of: dict[str, str | None] = {}  # rotation version -> the RotationToken its events carry
        self.unsettled: dict[str, str] = {}  # secret -> token of a sibling rotation that failed

    # -- set-up -------------------------------------------------------------------------

    def setup(self) -> None:
        """Two or three rotated secrets sharing one organization, vault and manager (at most
        one of access credentials: a vault holds 10), each with its own kind and revoke policy."""
        rng, emu = self.rng, self.emu
        boot = emu.bootstrap
        self.secrets.add(boot["client_secret"])
        self.manager_arn = self.backend.create_secret(
            f"vgs/manager-{self.seed}-{rng.randrange(1 << 30)}",
            json.dumps({"client_id": boot["client_id"], "client_secret": boot["client_secret"]}),
        )
        self.oracle = Oracle(emu, self.backend)
        kinds: list[str] = []
        for _ in range(rng.randint(2, 3)):
            kind = rng.choice(("service-account", "service-account", "access-credentials"))
            if kind == "access-credentials" and "access-credentials" in kinds:
                kind = "service-account"
            kinds.append(kind)
            revoke = rng.choice(("next-rotation", "next-rotation", "immediate", "never"))
            self.oracle.add(self.make_subject(kind, revoke))
        self.result.kind = ",".join(kinds)
        self.result.revoke = ",".join(s.revoke for s in self.oracle.subjects)
        self.focus(self.oracle.subjects[0])
        self.harvest()

    def make_subject(self, kind: str, revoke: str) -> Subject:
        rng, emu = self.rng, self.emu
        boot = emu.bootstrap
        hosts = {k: boot[k] for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url",
                                      "vault_api_url", "jwks_url")}  # fmt: skip
        state = emu._state
        doc: dict[str, Any]
        if kind == "service-account":
            scopes = rng.choice((["cards:read", "cards:write"], ["cards:write"], ["cards:read"]))
            acct = state.create_account({"name": "cmp-app", "scopes": scopes, "vaults": [boot["vault_id"]],
                                         "access_token_lifespan": 1200})  # fmt: skip
            initial = acct.client_id
            doc = {"kind": kind, "client_id": acct.client_id, "client_secret": acct.client_secret,
                   "organization_id": boot["organization_id"], "vault_ids": [boot["vault_id"]], "scopes": scopes,
                   "token_lifespan": 1200, "name": "cmp-app"}  # fmt: skip
        else:
            cred = state.create_credential(boot["vault_id"], None)
            initial = cred.id
            doc = {"kind": kind, "credential_id": cred.id, "username": cred.username, "password": cred.password,
                   "vault_ids": [boot["vault_id"]]}  # fmt: skip
        doc.update({"manager_secret_arn": self.manager_arn, "hosts": hosts, "revoke": revoke,
                    "test": {"cmp_probe": rng.random() < 0.7, "attempts": rng.randint(1, 5)}})  # fmt: skip
        arn = self.backend.create_secret(f"vgs/app-{self.seed}-{rng.randrange(1 << 30)}", json.dumps(doc))
        self.backend.enable_rotation(arn)
        token_arn = ""
        if kind == "service-account":  # where the publisher puts access tokens minted with AWSCURRENT
            token_arn = self.backend.create_secret(f"vgs/tokens-{self.seed}-{rng.randrange(1 << 30)}", "{}")
        return Subject(arn, kind, revoke, initial, token_arn)

    def focus(self, subject: Subject) -> Subject | None:
        """Make ``subject`` the secret the schedule's steps act on; returns the one before."""
        before = self.subject
        self.subject = subject
        self.arn, self.token_arn, self.initial = subject.arn, subject.token_arn, subject.initial
        self.kind, self.revoke = subject.kind, subject.revoke
        return before

    @contextmanager
    def focused(self, subject: Subject) -> Iterator[None]:
        before = self.focus(subject)
        try:
            yield
        finally:
            if before is not None:
                self.focus(before)

    def start_rotation(self, token: str) -> bool:
        """RotateSecret: False when the double refused it (AWSPENDING on another version)."""
        try:
            self.backend.start_rotation(self.arn, token)
        except StoreError as exc:
            self.result.log.append(f"RotateSecret {token[:8]} refused ({exc.code})")
            return False
        if token not in self.rt_of:
            self.new_rotation_token(token)
        return True

    def rotation(self) -> Rotation:
        return Rotation(self.store, default_issuer_factory(http_factory=self.http), clock=self.clock,
                        sleep=self.clock.sleep)  # fmt: skip

    def token(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def harvest(self) -> None:
        """Remember every secret value that exists now (VGS shows a secret once; keep them all)."""
        state = self.emu._state
        with state.lock:
            self.secrets.update(a.client_secret for a in state.accounts.values())
            self.secrets.update(c.password for c in state.credentials.values())
        self.oracle.observe()

    # -- running steps ------------------------------------------------------------------

    def event(self, step: str, token: str, rotation_token: str | None) -> dict[str, Any]:
        ev: dict[str, Any] = {"Step": step, "SecretId": self.arn, "ClientRequestToken": token}
        if rotation_token:
            ev["RotationToken"] = rotation_token
        return ev

    def step(self, rot: Rotation, step: str, token: str, rotation_token: str | None, who: str) -> bool:
        """One invocation of the Lambda. True when it returned, False when it raised as expected.
        Every invocation for a rotation carries that rotation's RotationToken (``rt_of``)."""
        ev = self.event(step, token, rotation_token or self.rt_of.get(token))
        self.texts.append(repr(RotationEvent.parse(ev)))
        self.stats["steps"] += 1
        try:
            rot.handle(ev)
            self.result.log.append(f"{who}:{step} ok")
            return True
        except Crash as exc:
            self.result.log.append(f"{who}:{step} {exc}")
            return False
        except EXPECTED as exc:
            self.stats[f"error:{type(exc).__name__}"] += 1
            self.texts.append(f"{exc} {exc!r}")
            self.result.log.append(f"{who}:{step} {type(exc).__name__}: {str(exc)[:120]}")
            return False
        except Exception as exc:  # a bug: the step failed in a way nobody planned for
            self.texts.append(f"{exc} {exc!r}")
            self.result.violations.append(f"unexpected {type(exc).__name__} in {step}: {str(exc)[:200]}")
            return False
        finally:
            self.harvest()

    def inject_vgs_faults(self) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            route = rng.choice(VGS_ROUTES)
            kind = rng.choice(FAULT_KINDS)
            count = rng.choice((1, 1, 1, 2, 3))
            self.result.log.append(f"fault {route} {kind} x{count}")
            inject_fault(
                self.emu, self.late, route, kind, count,
                delay=rng.choice(DELAYS), retry_after=rng.choice((None, 1, 5, 60)),
                stats=self.stats, timeout=CLIENT_TIMEOUT,
            )  # fmt: skip

    def count_fired(self) -> None:
        """The VGS faults that fired in this schedule: the emulator's and the client side's."""
        firing.fired_since(self.stats, self.fired_before, self.emu.faults.fired())
        firing.fired(self.stats, "late", self.late.fired)
        firing.fired(self.stats, "client_timeout", self.late.client_timeouts)

    def clear_faults(self) -> None:
        self.emu.faults.clear()
        self.late.clear()
        self.calls.disarm()

    def plan(self, token: str) -> Plan:
        rng = self.rng
        plan = Plan()
        if rng.random() < 0.5:
            plan.crash_after = rng.randint(1, 45)
            firing.planned(self.stats, "crash")
        for _ in range(rng.choice((0, 0, 1, 2))):
            throttle = rng.random() < 0.7
            firing.planned(self.stats, "store_throttle" if throttle else "store_lost")
            (plan.throttle_store_calls if throttle else plan.lost_store_calls).add(rng.randint(1, 20))
        if rng.random() < 0.15:
            plan.interleave_after[rng.randint(1, 30)] = ("concurrent_rotation", lambda: self.concurrent_rotation(token))
        if len(self.oracle.subjects) > 1 and rng.random() < 0.15:
            at = rng.randint(1, 30)
            if at not in plan.interleave_after:
                plan.interleave_after[at] = ("sibling_rotation", self.sibling_rotation)
        if self.token_arn and rng.random() < 0.25:
            at = rng.randint(1, 30)
            if at not in plan.interleave_after:
                plan.interleave_after[at] = (
                    "publisher_interleave",
                    lambda: self.publisher_run("between two calls of a rotation", faulty=True),
                )
        for kind, _ in plan.interleave_after.values():
            firing.planned(self.stats, kind)
        return plan

    def concurrent_rotation(self, token: str) -> None:
        """What can really run beside a rotation in progress (AWS refuses RotateSecret while
        AWSPENDING is on a version other than AWSCURRENT, so a second rotation cannot simply
        start): one of
        - a duplicate invocation of the Lambda for the same rotation (same token: Secrets
          Manager retries, or a second delivery of the same event);
        - a manual invocation of any step for the rotation in progress (same token);
        - a manual invocation with another token: no version of the secret, so every step is
          refused by the guard and nothing changes; and RotateSecret now is refused;
        - an operator's ``vgs-rotate status --repair`` that clears the pending rotation, and a
          new rotation started right after it, while the first one's Lambda still runs."""
        self.stats["concurrent_rotations"] += 1
        choice = self.rng.random()
        if choice < 0.5:
            self.stats["duplicate_invocations"] += 1
            self.result.log.append(f"duplicate invocation {token[:8]}")
            rot = self.rotation()
            for step in STEPS[: self.rng.randint(1, 4)]:
                if not self.step(rot, step, token, None, f"D{token[:4]}"):
                    break
            return
        other = self.token()
        if choice < 0.6:
            # an operator invokes the Lambda by hand for the rotation in progress, any step
            step = self.rng.choice(STEPS)
            self.stats["manual_invocations"] += 1
            self.result.log.append(f"manual {step} {token[:8]}")
            self.step(self.rotation(), step, token, None, f"M{token[:4]}")
            return
        if choice < 0.7:
            self.stats["manual_invocations"] += 1
            self.result.log.append(f"manual invocation {other[:8]}")
            before = self.backend.end_state(self.arn)
            self.step(self.rotation(), self.rng.choice(STEPS), other, None, f"M{other[:4]}")
            if self.backend.end_state(self.arn) != before:
                self.result.violations.append("a step invoked with a token that is no version changed the secret")
            desc = self.backend.store.describe(self.arn)
            if desc.version_with(PENDING) not in (None, desc.version_with(CURRENT)) and self.start_rotation(other):
                self.result.violations.append("RotateSecret accepted while AWSPENDING is on another version")
            return
        self.stats["repair_then_rotation"] += 1
        self.result.log.append(f"repair and rotation {other[:8]} while {token[:8]} runs")
        if not self.repair_now():
            return
        if not self.start_rotation(other):
            self.result.violations.append("RotateSecret refused right after a repair")
            return
        self.unsettled[self.arn] = other  # until it completes, Secrets Manager retries it
        rot = self.rotation()
        for step in STEPS[: self.rng.randint(1, 4)]:
            if not self.step(rot, step, other, None, f"B{other[:4]}"):
                break

    def repair_now(self) -> bool:
        """``vgs-rotate status --repair`` (``rotation.status.repair``) on the focused secret."""
        self.stats["repairs"] += 1
        assert self.subject is not None
        self.oracle.before_repair(self.subject)
        try:
            for line in repair(self.backend.store, default_issuer_factory(http_factory=self.http), self.arn):
                self.texts.append(line)
        except EXPECTED as exc:
            self.result.log.append(f"repair failed: {type(exc).__name__}")
            return False
        except Exception as exc:
            self.result.violations.append(f"repair failed: {type(exc).__name__}: {str(exc)[:200]}")
            return False
        return True

    def sibling_rotation(self) -> None:
        """Another secret of the same organization rotates between two calls of this rotation
        (its own faults aside: the VGS faults armed now apply to it too)."""
        me = self.subject
        others = [x for x in self.oracle.subjects if x is not me]
        sibling = self.rng.choice(others)
        self.stats["sibling_rotations"] += 1
        with self.focused(sibling):
            token = self.token()
            self.result.log.append(f"sibling rotation {token[:8]}")
            if not self.start_rotation(token):
                return
            rot = self.rotation()
            for step in STEPS:
                if not self.step(rot, step, token, None, f"S{token[:4]}"):
                    self.unsettled[sibling.arn] = token  # Secrets Manager retries it later
                    break

    def attempt(self, token: str, rotation_token: str | None) -> bool:
        """One whole-rotation attempt by Secrets Manager, with this attempt's faults armed."""
        self.inject_vgs_faults()
        self.calls.arm(self.plan(token))
        rot = self.rotation()
        try:
            for step in STEPS:
                repeats = 2 if self.rng.random() < 0.2 else 1
                for _ in range(repeats):
                    if not self.step(rot, step, token, rotation_token, f"A{token[:4]}"):
                        return False
            return True
        finally:
            self.calls.disarm()

    # -- the token publisher ------------------------------------------------------------

    def publisher_run(self, label: str, *, faulty: bool) -> None:
        """One publisher run for the secret (issue 4): under the schedule's faults it may fail,
        but it never writes the rotated secret; at rest it publishes a token of AWSCURRENT's
        credential that VGS accepts."""
        if not self.token_arn:
            return
        from rotation.published import PublishedToken
        from rotation.publisher import FAILED, Publisher, PublishTarget
        from rotation.vgs import AccessToken, CMPProbe

        self.stats["publisher_runs"] += 1
        transport = self.late if faulty else self.backend.transport()
        client = httpx.Client(transport=transport, timeout=5.0)
        policy = RetryPolicy(max_attempts=3, max_total=20.0, sleep=self.clock.sleep, clock=self.clock,
                             rng=random.Random(self.rng.random()))  # fmt: skip
        http = VGSHttp(timeout=5.0, retry=policy, client=_Unclosable(client))  # type: ignore[arg-type]
        before = self.backend.end_state(self.arn)
        store = self.store if faulty else self.backend.store
        outcome = Publisher(secrets=store, http=http, clock=self.clock).publish_target(
            PublishTarget(credential_secret_id=self.arn, token_secret_id=self.token_arn)
        )
        client.close()
        self.texts.append(f"{outcome!r} {outcome.error}")
        self.result.log.append(f"publisher {label}: {outcome.outcome} {outcome.reason}")
        v = self.result.violations
        if self.backend.end_state(self.arn) != before:
            v.append(f"{label}: the publisher wrote to the rotated secret")
        if faulty:
            return
        if outcome.outcome == FAILED:
            v.append(f"{label}: the publisher failed without faults: {outcome.error}")
            return
        raw = self.backend.store.get_value(self.token_arn, stage=CURRENT)
        current = self.document(CURRENT)
        token = PublishedToken.parse(raw or "{}")
        self.secrets.add(token.access_token.reveal())
        if token.client_id != current.client_id:
            v.append(f"{label}: the published token is not of AWSCURRENT's credential")
        probe_http = VGSHttp(timeout=5.0, retry=RetryPolicy.none(),
                             client=httpx.Client(transport=self.backend.transport(), timeout=5.0))  # fmt: skip
        access = AccessToken(token.access_token, token.token_type, 300, float(token.issued_at))
        try:
            CMPProbe(self.emu.bootstrap["cmp_url"], http=probe_http).check(access)
        except errors.Forbidden:
            pass  # authenticated; the account only lacks cards:read
        except errors.VGSError as exc:
            v.append(f"{label}: the published token is refused by VGS: {type(exc).__name__}")
        finally:
            probe_http.close()

    # -- settling and checking ----------------------------------------------------------

    def settle(self, token: str, succeeded: bool) -> bool:
        """Drive the secret to a completed rotation, as Secrets Manager's retries (or an operator
        with ``vgs-rotate status --repair`` and a new rotation) would. False if that failed."""
        self.clear_faults()
        if not succeeded:
            # Secrets Manager retries a failed rotation with the same token, even when
            # finishSecret failed after AWSCURRENT moved (its retirement is then redone).
            desc = self.backend.store.describe(self.arn)
            if PENDING in desc.stages_of(token) or CURRENT in desc.stages_of(token):
                self.result.log.append(f"retry {token[:8]}")
                rot = self.rotation()
                for step in STEPS:
                    if not self.step(rot, step, token, None, "retry"):
                        break
        for _ in range(4):
            desc = self.backend.store.describe(self.arn)
            pending, current = desc.version_with(PENDING), desc.version_with(CURRENT)
            if pending is None or pending == current:  # AWSPENDING on AWSCURRENT: completed
                break
            fresh = self.token()
            if self.start_rotation(fresh):  # AWS's rule: refused while AWSPENDING is elsewhere
                self.result.violations.append("RotateSecret accepted while AWSPENDING is on another version")
            rot = self.rotation()
            if self.rng.random() < 0.3:
                self.result.log.append(f"repair {pending[:8]}")
                if not self.repair_now():
                    self.result.violations.append("repair failed without faults")
                    return False
                if not self.start_rotation(fresh):
                    self.result.violations.append("RotateSecret refused after a repair")
                    return False
                pending = fresh
            self.result.log.append(f"complete {pending[:8]}")
            for step in STEPS:
                if not self.step(rot, step, pending, None, "settle"):
                    break
        desc = self.backend.store.describe(self.arn)
        if desc.version_with(PENDING) not in (None, desc.version_with(CURRENT)):
            self.result.violations.append("could not drive the secret to a completed rotation without faults")
            return False
        if desc.version_with(CURRENT) != token:
            # A repair and another rotation took over; what the first left behind is for
            # the next successful rotation to clean: run it, then check.
            return self.clean_rotation("next")
        return True

    def settle_all(self, token: str, succeeded: bool) -> bool:
        """Settle the focused secret, then any sibling a sibling rotation left in progress."""
        if not self.settle(token, succeeded):
            return False
        self.unsettled.pop(self.arn, None)
        return self.settle_unsettled()

    def settle_unsettled(self) -> bool:
        """Secrets Manager's retries of rotations left in progress (a sibling rotation that
        failed, a rotation started after a repair when the first was then given up)."""
        for other in self.oracle.subjects:
            token = self.unsettled.pop(other.arn, None)
            if token is None:
                continue
            with self.focused(other):
                desc = self.backend.store.describe(self.arn)
                if not (PENDING in desc.stages_of(token) or CURRENT in desc.stages_of(token)):
                    continue
                self.result.log.append(f"settle sibling {token[:8]}")
                if not self.settle(token, False):
                    return False
        return True

    def clean_rotation(self, who: str) -> bool:
        token = self.token()
        if not self.start_rotation(token):
            self.result.violations.append(f"{who} clean rotation: RotateSecret refused")
            return False
        self.result.log.append(f"{who} rotation {token[:8]}")
        rot = self.rotation()
        for step in STEPS:
            if not self.step(rot, step, token, None, who):
                self.result.violations.append(f"{who} clean rotation failed at {step}")
                return False
        return True

    def document(self, stage: str) -> Any:
        raw = self.backend.store.get_value(self.arn, stage=stage)
        return None if raw is None else parse_document(raw)

    def present(self) -> dict[str, dict[str, Any]]:
        if self.kind == "service-account":
            return {a["client_id"]: a for a in self.emu.service_accounts()}
        return {c["id"]: c for c in self.emu.access_credentials()}

    def works(self, doc: Any) -> str | None:
        """None if the document's credential authenticates at VGS, else why not."""
        client = httpx.Client(transport=self.backend.transport(), timeout=5.0)
        http = VGSHttp(timeout=5.0, retry=RetryPolicy.none(), client=client)
        boot = self.emu.bootstrap
        try:
            if doc.kind == "service-account":
                tok = TokenClient(boot["token_url"], http=http).mint(
                    ClientCredentials(doc.client_id, doc.client_secret)
                )
                tok.check(client_id=doc.client_id, scopes=doc.scopes)
            else:
                VaultApiProbe(boot["vault_api_url"], http=http).check(doc.username, doc.password)
        except errors.VGSError as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            http.close()
        return None

    def check_at_rest(self, label: str, *, unfinished: frozenset[str] = frozenset()) -> None:
        """The invariants, every secret of the schedule at rest. Counts come from the oracle
        (VGS's own state and the store's raw versions), never from annotations."""
        v = self.result.violations
        for subject in self.oracle.subjects:
            with self.focused(subject):
                self.check_secret(f"{label} [{subject.revoke}]")
        v.extend(self.oracle.check(label, orphans=not unfinished, unfinished=unfinished))
        self.check_rotation_tokens(label)

    def check_secret(self, label: str) -> None:
        v = self.result.violations
        desc = self.backend.store.describe(self.arn)
        if desc.version_with(PENDING) not in (None, desc.version_with(CURRENT)):
            v.append(f"{label}: AWSPENDING left on a version other than AWSCURRENT after a completed rotation")
        current = self.document(CURRENT)
        previous = self.document(PREVIOUS)
        self.texts.append(repr(current))
        self.texts.append(repr(previous))
        if current is None:
            v.append(f"{label}: no AWSCURRENT value")
            return
        problem = self.works(current)
        if problem:
            v.append(f"{label}: AWSCURRENT does not authenticate: {problem}")
        stale = previous is not None and previous.credential_ref != current.credential_ref
        if self.revoke == "next-rotation" and stale:
            problem = self.works(previous)
            if problem:
                v.append(f"{label}: AWSPREVIOUS no longer authenticates under revoke=next-rotation: {problem}")

    def check_rotation_tokens(self, label: str) -> None:
        """Every PutSecretValue of a rotation passed exactly the RotationToken its events carried."""
        wrong = 0
        for arn, version_id, passed in self.backend.puts():
            if version_id in self.rt_of and arn in {s.arn for s in self.oracle.subjects}:
                wrong += passed != self.rt_of[version_id]
        if wrong:
            self.result.violations.append(f"{label}: {wrong} PutSecretValue call(s) without the event's RotationToken")

    def check_leaks(self) -> None:
        for subject in self.oracle.subjects:
            for value in self.backend.all_values(subject.arn).values():
                with suppress(DocumentError):
                    self.secrets.update(parse_document(value).secret_values())
        # and everything VGS issued in this schedule: (id, secret) pairs and access tokens
        found = find_leaks("\n".join(self.texts), [*self.secrets, *issued_by(self.emu)])
        if found:
            self.result.violations.append(f"secret or token in logs, errors or reprs: {found[:3]}")

    # -- the whole schedule -------------------------------------------------------------

    def run(self) -> Result:
        with captured_logs() as logs:
            try:
                self._run()
            except Exception as exc:  # the harness itself or an invariant read failed
                self.result.violations.append(f"schedule aborted: {type(exc).__name__}: {str(exc)[:300]}")
            finally:
                self.clear_faults()
        self.texts.extend(logs.parts)
        self.check_leaks()
        self.count_fired()
        self.stats["schedules"] = 1
        self.stats["violations"] = len(self.result.violations)
        return self.result

    def new_rotation_token(self, token: str) -> str | None:
        rotation_token = Secret(uuid.uuid4().hex + uuid.uuid4().hex).reveal() if self.rng.random() < 0.3 else None
        if rotation_token:
            self.secrets.add(rotation_token)
        self.rt_of[token] = rotation_token
        return rotation_token

    def _run(self) -> None:
        self.setup()
        subjects = self.oracle.subjects
        first = subjects[0]
        dirty: set[str] = set()  # secrets whose last rotation was given up after promotion
        for n in range(self.rng.randint(1, 3)):
            subject = subjects[0] if n == 0 else self.rng.choice(subjects)
            if not self.settle_unsettled():
                return
            self.focus(subject)
            token = self.token()
            rotation_token = self.new_rotation_token(token)
            if not self.start_rotation(token):
                self.result.violations.append(f"rotation {n}: RotateSecret refused at rest")
                return
            self.result.log.append(f"rotation {n} of {subject.arn[-12:]} token {token[:8]}")
            succeeded = False
            for _ in range(self.rng.randint(1, 4)):
                self.stats["attempts"] += 1
                if self.attempt(token, rotation_token):
                    succeeded = True
                    break
            desc = self.backend.store.describe(self.arn)
            if not succeeded and CURRENT in desc.stages_of(token) and self.rng.random() < 0.5:
                # Secrets Manager gave up after AWSCURRENT moved (finishSecret failed while
                # retiring): not a completed rotation; the next one must clean up after it.
                self.result.log.append("gave up after promotion")
                self.stats["given_up_after_promotion"] += 1
                self.clear_faults()
                dirty.add(subject.arn)
                continue
            if not self.settle_all(token, succeeded):
                return
            dirty.discard(subject.arn)
            # What a given-up rotation of another secret left is for that secret's next
            # rotation: no orphan count until every secret's last rotation completed.
            self.check_at_rest(f"after rotation {n}", unfinished=frozenset(dirty))
            if self.rng.random() < 0.7:
                self.publisher_run(f"after rotation {n}", faulty=False)
            if self.publish is not None and self.rng.random() < 0.5:
                self.publish(self)
        # the next successful rotation of every secret, clean: nothing may be orphaned after it
        if not self.settle_unsettled():
            return
        for subject in subjects:
            self.focus(subject)
            if not self.clean_rotation("final"):
                return
        self.check_at_rest("after the final clean rotation of every secret")
        for subject in subjects:
            self.focus(subject)
            self.publisher_run("after the final clean rotation", faulty=False)
        self.focus(first)


def run_schedule(seed: int, backend: Backend, **kw: Any) -> Result:
    """Run schedule ``seed`` against ``backend`` (reset its emulator first)."""
    backend.emulator.reset()
    return Schedule(seed, backend, **kw).run()
