"""Seeded fault schedules for the Vault plugin in-process: ``config/rotate-root``, a static
role, ``creds/`` leases (issue, renew, revoke, expiry) and ``token/``.

The engine (``VGSBackend``) runs over a ``MemoryStorage`` that outlives it, so a crash
(``Crash`` after any external call: a storage operation or a VGS request) is a process
restart: a new ``VGSBackend`` on the same storage. The schedule plays the host too: its
lease table (``HostLeases``) registers a ``creds/`` lease only when the read answered,
renews and revokes through the engine's lease callbacks, and revokes leases whose time is
up when the clock moves (keeping, and retrying later, those whose revocation failed), as
OpenBao's expiration manager does. Operations: rotate-root, rotate-role, tidy after moving
the clock (the periodic rollback and scheduled rotations), token and creds reads, lease
renew/revoke/expiry, a role change that replaces the token account, and two of them at once
on one event loop. VGS faults as in ``schedules``. VGS and the engine share one virtual
clock (the emulator's), so a token served past its expiry is refused by VGS. A second mount
(``Bystander``) with its own manager in the same VGS organization holds a token account, a
running lease and a static role and is left alone: its accounts must all survive.

Checked, from outside the engine (``plugin_oracle``):

- after every step: every unexpired lease's account exists at VGS; a revocation the engine
  reported done left no live account; a token it served is accepted by VGS;
- at rest (after the periodic work): the manager exists and mints; the static role's
  current account mints and its previous exists; ``token/`` serves a token VGS accepts;
- no unreferenced account (VGS's list minus what config, static-creds, token and the
  host's live leases reference, on both mounts), after the periodic work and after the
  next clean run;
- no WAL entry left; no exception from a request or from periodic work
  (``PERIODIC_UNEXPECTED`` in the logs); no secret in any log line or error message.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from rotation.emulator import Emulator
from rotation.vgs import (
    AccessToken,
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    CMPProbe,
    RetryPolicy,
    Secret,
    TokenClient,
    VGSHttp,
    errors,
)
from tests.faults import firing
from tests.faults.inproc import LateTimeouts
from tests.faults.plugin_oracle import Referenced, missing, token_owner, unreferenced
from tests.faults.schedules import (
    FAULT_KINDS,
    Calls,
    Crash,
    Plan,
    Result,
    _Unclosable,
    captured_logs,
    find_leaks,
    inject_fault,
    issued_by,
)
from tests.helpers import VirtualClock
from vault_plugin.backend import VGSBackend
from vault_plugin.engine import new_backend
from vault_plugin.framework import LeaseInfo, LogicalError, Operation, Request, Response
from vault_plugin.periodic import PERIODIC_UNEXPECTED
from vault_plugin.storage import MemoryStorage

MOUNT = "mount-faults-0001"
MOUNT_B = "mount-faults-0002"  # a bystander mount in the same VGS organization
ROLE = "app1"  # the static role
TOKEN_ROLE = "tok1"
CREDS_ROLE = "dyn1"
CREDS_TTL, CREDS_MAX_TTL = 60, 240  # short: the settle's clock moves past max_ttl + the engine's grace
PLUGIN_ROUTES = ("token", "accounts.create", "accounts.list", "accounts.delete")
OPS = ("rotate-root", "rotate-role", "rotate-role", "tidy", "both", "token", "token", "creds", "creds", "revoke",
       "renew", "expire", "role-change")  # fmt: skip


class _System:
    async def default_lease_ttl(self) -> int:
        return 3600

    async def max_lease_ttl(self) -> int:
        return 86400


class CountingStorage:
    """The host's storage as the plugin sees it: every operation is an external call."""

    def __init__(self, inner: MemoryStorage, calls: Calls) -> None:
        self.inner, self.calls = inner, calls

    async def get(self, key: str) -> dict[str, Any] | None:
        value = await self.inner.get(key)
        self.calls.after(f"storage:get {key.split('/')[0]}")
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        await self.inner.put(key, value)
        self.calls.after(f"storage:put {key.split('/')[0]}")

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)
        self.calls.after(f"storage:delete {key.split('/')[0]}")

    async def list(self, prefix: str) -> list[str]:
        value = await self.inner.list(prefix)
        self.calls.after(f"storage:list {prefix}")
        return value


@dataclass
class HostLease:
    lease_id: str
    client_id: str
    client_secret: str
    internal: dict[str, Any]
    issued: float
    expires: float
    max_expires: float
    revoking: bool = False  # a revocation failed half-way: the account may be gone, the lease stays

    def info(self, increment: float = 0.0) -> LeaseInfo:
        return LeaseInfo(dict(self.internal), ttl=self.expires - self.issued, increment=increment,
                         issue_time=self.issued, lease_id=self.lease_id)  # fmt: skip


class Bystander:
    """A second mount of the engine in the same VGS organization, with its own manager, a
    token account, a running lease and a static role, left alone by the schedule: none of
    its accounts may go, whatever the faulted mount's rollbacks and cleanups do."""

    def __init__(self, s: PluginSchedule) -> None:
        self.s = s
        self.loop = asyncio.new_event_loop()
        self.backend = new_backend(clock=s.clock)
        self.backend.http.close()
        policy = RetryPolicy(max_attempts=3, max_total=20, sleep=s.clock.sleep, clock=s.clock)
        self.backend.http = VGSHttp(timeout=5.0, retry=policy, client=_Unclosable(s.client))  # type: ignore[arg-type]
        self.loop.run_until_complete(self.backend.setup(MemoryStorage(), _System(), {}, MOUNT_B))
        self.lease: tuple[str, str] | None = None  # (lease id, account)

    def call(self, op: Operation, path: str, data: dict[str, Any] | None = None) -> Response | None:
        return self.loop.run_until_complete(self.backend.router.handle(Request(op, path, dict(data or {}))))

    def setup(self) -> None:
        boot = self.s.emu.bootstrap
        http = self.s._http()
        auth = CachedTokenAuth(TokenClient(boot["token_url"], http=http, clock=self.s.clock),
                               ClientCredentials(boot["client_id"], Secret(boot["client_secret"])), clock=self.s.clock)  # fmt: skip
        scopes = next(a["scopes"] for a in self.s.emu.service_accounts() if a["client_id"] == boot["client_id"])
        manager = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http).create(
            name="mgr-b", scopes=[x["name"] for x in scopes]
        )
        self.s.secrets.add(manager.client_secret.reveal())
        config = {k: boot[k] for k in ("organization_id", "token_url", "accounts_url", "vault_management_url")}
        self.call(Operation.UPDATE, "config",
                  config | {"client_id": manager.client_id, "client_secret": manager.client_secret.reveal()})  # fmt: skip
        self.call(Operation.UPDATE, f"roles/{TOKEN_ROLE}", {"scopes": "cards:read", "token_lifespan": 600})
        self.call(Operation.UPDATE, f"roles/{CREDS_ROLE}", {"scopes": "cards:read", "ttl": 86400, "max_ttl": 86400})
        self.call(Operation.UPDATE, f"static-roles/{ROLE}", {"scopes": "cards:read", "rotation_period": 3600})
        self.call(Operation.READ, f"token/{TOKEN_ROLE}")
        creds = self.call(Operation.READ, f"creds/{CREDS_ROLE}")
        assert creds is not None
        self.lease = (f"{MOUNT_B}/creds/{CREDS_ROLE}/1", creds.data["client_id"])
        self.s.secrets.add(creds.data["client_secret"])

    def referenced(self, label: str) -> Referenced:
        ref = Referenced(leases=dict([self.lease]) if self.lease else {})
        ref.manager = (self.call(Operation.READ, "config") or Response()).data.get("client_id")
        static = (self.call(Operation.READ, f"static-creds/{ROLE}") or Response()).data
        ref.static[ROLE] = (static.get("client_id"), static.get("previous_client_id"))
        owner = self.s.check_token(self.call(Operation.READ, f"token/{TOKEN_ROLE}"), f"{label} (bystander mount)")
        if owner:
            ref.tokens[TOKEN_ROLE] = owner
        return ref

    def close(self) -> None:
        self.loop.close()


class PluginSchedule:
    def __init__(self, seed: int, emulator: Emulator, transport: httpx.BaseTransport) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.emu = emulator
        self.result = Result(seed, kind="vault-plugin")
        self.stats: Counter[str] = self.result.stats
        self.calls = Calls(self.stats)
        self.calls.log = self.result.log
        # One timeline for VGS and the engine: the emulator's virtual clock when it has one.
        clock = emulator.clock
        self.clock: VirtualClock = clock if isinstance(clock, VirtualClock) else VirtualClock(start=None)
        self.shared_clock = isinstance(clock, VirtualClock)
        self.emu._app.sleep = self.clock.sleep
        self.late = LateTimeouts(transport, emulator)
        self.fired_before = emulator.faults.fired()
        self.client = httpx.Client(transport=self.late, timeout=5.0)
        self.storage = MemoryStorage()
        self.leases: dict[str, HostLease] = {}
        self.secrets: set[str] = set()
        self.managers: set[str] = set()  # every manager client id the config has held
        self.texts: list[str] = []
        self.backend: VGSBackend | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bystander: Bystander | None = None
        # The engine's default minimum ages, or none: VGS need not report when an account was
        # created, so no cleanup may rely on the orphan age to be correct.
        self.min_ages = self.rng.choice(((120.0, 300.0), (0.0, 0.0)))

    # -- the engine process ------------------------------------------------------------

    def start(self) -> None:
        """(Re)start the plugin process: a new engine over the same storage."""
        self.stop()
        calls = self.calls

        class CountingHttp(VGSHttp):
            def _send_once(self, operation: str, *args: Any, **kwargs: Any) -> Any:
                try:
                    return super()._send_once(operation, *args, **kwargs)
                finally:
                    calls.after(f"vgs:{operation}")

        b = new_backend(clock=self.clock)
        b.http.close()
        policy = RetryPolicy(max_attempts=3, max_total=20, sleep=self.clock.sleep, clock=self.clock,
                             rng=random.Random(self.rng.random()))  # fmt: skip
        b.http = CountingHttp(timeout=5.0, retry=policy, client=_Unclosable(self.client))  # type: ignore[arg-type]
        b.wal_min_age, b.orphan_min_age = self.min_ages
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(b.setup(CountingStorage(self.storage, self.calls), _System(), {}, MOUNT))
        self.backend = b

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.close()
        self.loop, self.backend = None, None

    def _outcome(self, path: str, out: Any, who: str) -> Response | bool | None:
        """Log one outcome; ``False`` when it failed (the engine restarted after a crash)."""
        if isinstance(out, Crash):
            self.result.log.append(f"{who}:{path} {out}")
            self.start()  # the host restarts the plugin
            return False
        if isinstance(out, LogicalError):
            self.texts.append(str(out))
            self.stats[f"error:{out.kind.name}"] += 1
            self.result.log.append(f"{who}:{path} {out.kind.name}: {str(out)[:100]}")
            return False
        if isinstance(out, BaseException):
            self.texts.append(f"{out} {out!r}")
            self.result.violations.append(f"unexpected {type(out).__name__} on {path}: {str(out)[:200]}")
            self.start()
            return False
        self.result.log.append(f"{who}:{path} ok")
        return out if isinstance(out, Response) else None

    def call(self, req: Request, who: str = "op") -> Response | bool | None:
        """One host request; the response (or None), or ``False`` when it failed."""
        assert self.loop is not None and self.backend is not None
        self.stats["plugin_requests"] += 1
        try:
            out: Any = self.loop.run_until_complete(self.backend.router.handle(req))
        except (Crash, Exception) as exc:  # a crash or a bug, both judged in _outcome
            out = exc
        try:
            return self._outcome(req.path, out, who)
        finally:
            self.harvest()

    def request(self, op: Operation, path: str, data: dict[str, Any] | None = None, who: str = "op") -> bool:
        return self.call(Request(op, path, dict(data or {})), who) is not False

    def both(self, a: Request, b: Request) -> None:
        """Two requests at once on one event loop (as the host's concurrent gRPC calls)."""
        assert self.loop is not None and self.backend is not None
        router = self.backend.router

        async def run() -> list[Any]:
            return await asyncio.gather(router.handle(a), router.handle(b), return_exceptions=True)

        self.stats["plugin_concurrent"] += 1
        try:
            outcomes = self.loop.run_until_complete(run())
        except Crash as exc:
            self.result.log.append(f"both {a.path}+{b.path} {exc}")
            self.start()
            return
        crashed = False
        for req, out in zip((a, b), outcomes, strict=True):
            if isinstance(out, Crash):
                self.result.log.append(f"both:{req.path} {out}")
                crashed = True
                continue
            got = self._outcome(req.path, out, "both")
            if got is not False and req.path.startswith("creds/"):
                self.register_lease(got)
            if got is not False and req.path.startswith("token/"):
                self.check_token(got, "concurrent token read")
        if crashed:
            self.start()
        self.harvest()

    def harvest(self) -> None:
        state = self.emu._state
        with state.lock:
            self.secrets.update(a.client_secret for a in state.accounts.values())
        raw = self.storage.data.get("config")
        if raw is not None:
            self.managers.add(json.loads(raw)["client_id"])
        self.check_leases_live("after a step")

    # -- the host's lease table -----------------------------------------------------------

    def register_lease(self, resp: Response | None) -> None:
        if resp is None or resp.secret is None:
            self.result.violations.append("creds/ answered without a lease")
            return
        s = resp.secret
        now = self.clock()
        lease_id = f"{MOUNT}/creds/{CREDS_ROLE}/{self.rng.getrandbits(64):016x}"
        max_ttl = min(s.max_ttl or 86400, 86400)
        self.leases[lease_id] = HostLease(
            lease_id, resp.data["client_id"], resp.data["client_secret"], dict(s.internal_data, secret_type=s.secret_type),
            issued=s.issue_time, expires=now + min(s.ttl, max_ttl), max_expires=s.issue_time + max_ttl,
        )  # fmt: skip
        self.stats["leases_issued"] += 1

    def revoke(self, lease: HostLease, who: str) -> None:
        """The host's revocation: the lease stays (retried later) unless the engine answered."""
        del self.leases[lease.lease_id]  # being revoked: its account may go at any moment
        out = self.call(Request(Operation.REVOKE, f"creds/{CREDS_ROLE}", secret=lease.info()), who)
        if out is False:
            self.stats["revocations_failed"] += 1
            lease.revoking = True
            self.leases[lease.lease_id] = lease
            return
        self.stats["revocations"] += 1
        if lease.client_id in self.present():
            self.result.violations.append(f"{who}: a revoked creds/ lease's account is still live at VGS")

    def renew(self, lease: HostLease) -> None:
        increment = self.rng.choice((30, 120, 3600))
        out = self.call(Request(Operation.RENEW, f"creds/{CREDS_ROLE}", secret=lease.info(increment)), "renew")
        if out is False:
            return
        if not isinstance(out, Response) or out.secret is None:
            self.result.violations.append("renew answered without a lease")
            return
        self.stats["renewals"] += 1
        lease.expires = min(self.clock() + out.secret.ttl, lease.max_expires)

    def expire(self, who: str = "expiry") -> None:
        """Revoke every lease whose time is up, as the host's expiration manager does."""
        now = self.clock()
        for lease in sorted(self.leases.values(), key=lambda x: x.lease_id):
            if lease.expires <= now:
                self.stats["expirations"] += 1
                self.revoke(lease, who)

    # -- faults ------------------------------------------------------------------------

    def inject(self) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            route, kind, count = rng.choice(PLUGIN_ROUTES), rng.choice(FAULT_KINDS), rng.choice((1, 1, 2))
            self.result.log.append(f"fault {route} {kind} x{count}")
            inject_fault(
                self.emu, self.late, route, kind, count,
                delay=rng.choice((0.5, 5.0)), retry_after=rng.choice((None, 1, 60)), stats=self.stats,
            )  # fmt: skip
        plan = Plan()
        if rng.random() < 0.4:
            plan.crash_after = rng.randint(1, 14)
            firing.planned(self.stats, "crash")
        self.calls.arm(plan)

    def clear(self) -> None:
        self.emu.faults.clear()
        self.late.clear()
        self.calls.disarm()

    # -- checks ------------------------------------------------------------------------

    def present(self) -> set[str]:
        return {a["client_id"] for a in self.emu.service_accounts()}

    def check_leases_live(self, label: str) -> None:
        now, present = self.clock(), self.present()
        gone = [x for x in self.leases.values() if x.expires > now and not x.revoking and x.client_id not in present]
        if gone:
            self.result.violations.append(f"{label}: {len(gone)} unexpired creds/ lease(s) whose account is gone")

    def _http(self) -> VGSHttp:
        return VGSHttp(timeout=5.0, retry=RetryPolicy.none(), client=_Unclosable(self.client))  # type: ignore[arg-type]

    def mints(self, client_id: str, secret: str) -> str | None:
        try:
            tok = TokenClient(self.emu.bootstrap["token_url"], http=self._http()).mint(
                ClientCredentials(client_id, Secret(secret))
            )
            tok.check(client_id=client_id)
        except errors.VGSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def check_token(self, resp: Response | bool | None, label: str) -> str | None:
        """A served token must be one VGS accepts now; returns the account it was issued to."""
        if not isinstance(resp, Response) or "access_token" not in resp.data:
            self.result.violations.append(f"{label}: token/ answered without a token")
            return None
        raw = str(resp.data["access_token"])
        self.secrets.add(raw)
        self.stats["tokens_served"] += 1
        if self.shared_clock and float(resp.data.get("expires_at", 0)) <= self.clock():
            self.result.violations.append(f"{label}: token/ served a token past its expires_at")
        tok = AccessToken(access_token=Secret(raw), token_type="Bearer", expires_in=60, issued_at=self.clock())
        try:
            CMPProbe(self.emu.bootstrap["cmp_url"], http=self._http()).check(tok)
        except errors.VGSError as exc:
            self.result.violations.append(f"{label}: VGS refuses the token token/ served ({type(exc).__name__})")
        return token_owner(raw)

    def referenced(self, label: str) -> Referenced:
        """What the engine's API and the host reference now (faults cleared)."""
        v = self.result.violations
        ref = Referenced(leases={x.lease_id: x.client_id for x in self.leases.values() if not x.revoking})
        config = self.call(Request(Operation.READ, "config"), "check")
        if isinstance(config, Response):
            ref.manager = config.data.get("client_id")
        else:
            v.append(f"{label}: config is not readable")
        static = self.call(Request(Operation.READ, f"static-creds/{ROLE}"), "check")
        if isinstance(static, Response):
            ref.static[ROLE] = (static.data.get("client_id"), static.data.get("previous_client_id"))
            problem = self.mints(static.data["client_id"], static.data["client_secret"])
            if problem:
                v.append(f"{label}: the static role's current account does not mint: {problem}")
        else:
            v.append(f"{label}: static-creds/{ROLE} is not readable")
        owner = self.check_token(self.call(Request(Operation.READ, f"token/{TOKEN_ROLE}"), "check"), label)
        if owner:
            ref.tokens[TOKEN_ROLE] = owner
        return ref

    def check(self, label: str, final: bool = False) -> None:
        v = self.result.violations
        ref = self.referenced(label)
        refs = [ref]
        if self.bystander is not None:
            try:
                refs.append(self.bystander.referenced(label))
            except LogicalError as exc:
                v.append(f"{label}: the bystander mount does not answer: {exc}")
        present = self.present()
        for one in refs:
            v.extend(missing(present, one, label))
        raw = self.storage.data.get("config")
        if raw is not None and ref.manager:
            problem = self.mints(ref.manager, json.loads(raw)["client_secret"])
            if problem:
                v.append(f"{label}: the configured manager does not mint: {problem}")
        for lease in (x for x in self.leases.values() if not x.revoking):
            problem = self.mints(lease.client_id, lease.client_secret)
            if problem:
                v.append(f"{label}: a live creds/ lease's account does not mint: {problem}")
        if final:
            # after a clean rotate-root and the periodic work, every earlier manager is gone
            stale = (self.managers - {ref.manager}) & present
            if stale:
                v.append(f"{label}: {len(stale)} replaced manager account(s) still live")
        orphans = unreferenced(present, refs, others=(x.client_id for x in self.leases.values()))
        if orphans:
            v.append(f"{label}: {len(orphans)} live account(s) nothing references (VGS minus manager, static, "
                     "token and live leases)")  # fmt: skip
        wal = [k for k in self.storage.data if k.startswith("wal/")]
        if wal:
            v.append(f"{label}: {len(wal)} WAL entr(ies) left after the periodic work")

    def settle(self) -> None:
        """Faults off, a fresh process, then the clock past every lease's max TTL and the
        engine's minimum ages: the host revokes what expired, the periodic work cleans up."""
        self.clear()
        self.start()
        for _ in range(2):
            self.clock.advance(400)
            self.expire("settle expiry")
            self.request(Operation.UPDATE, "tidy", who="settle")
        self.expire("settle expiry")

    # -- the schedule ------------------------------------------------------------------

    def run(self) -> Result:
        with captured_logs(("rotation", "vault_plugin")) as logs:
            try:
                self._run()
            except Exception as exc:
                self.result.violations.append(f"schedule aborted: {type(exc).__name__}: {str(exc)[:300]}")
            finally:
                self.clear()
                self.stop()
                if self.bystander is not None:
                    self.bystander.close()
                self.client.close()
        self.texts.extend(logs.parts)
        unexpected = sum(PERIODIC_UNEXPECTED in part for part in logs.parts)
        if unexpected:
            self.result.violations.append(f"{unexpected} unexpected exception(s) in periodic work (see the log)")
        self.stats["periodic_unexpected"] += unexpected
        for value in self.storage.data.values():
            if "client_secret" in value:
                doc = json.loads(value)
                for slot in (doc, doc.get("current") or {}, doc.get("previous") or {}):
                    if isinstance(slot, dict) and isinstance(slot.get("client_secret"), str):
                        self.secrets.add(slot["client_secret"])
        # and everything VGS issued in this schedule: (id, secret) pairs and access tokens
        leaks = find_leaks("\n".join(self.texts), [*self.secrets, *issued_by(self.emu)])
        if leaks:
            self.result.violations.append(f"secret or token in plugin logs or errors: {leaks[:3]}")
        firing.fired_since(self.stats, self.fired_before, self.emu.faults.fired())
        firing.fired(self.stats, "late", self.late.fired)
        self.stats["plugin_schedules"] = 1
        self.stats["violations"] = len(self.result.violations)
        return self.result

    def setup(self) -> bool:
        boot = self.emu.bootstrap
        self.secrets.add(boot["client_secret"])
        self.start()
        config = {k: boot[k] for k in ("client_id", "client_secret", "organization_id", "token_url", "accounts_url",
                                       "vault_management_url")}  # fmt: skip
        steps = [
            ("config", config),
            (f"static-roles/{ROLE}", {"scopes": "cards:read,cards:write", "rotation_period": 3600, "token_lifespan": 600}),
            (f"roles/{TOKEN_ROLE}", {"scopes": "cards:read,cards:write", "token_lifespan": 600}),
            (f"roles/{CREDS_ROLE}", {"scopes": "cards:read", "ttl": CREDS_TTL, "max_ttl": CREDS_MAX_TTL}),
        ]  # fmt: skip
        for path, data in steps:
            if not self.request(Operation.UPDATE, path, data, who="setup"):
                self.result.violations.append(f"{path} write failed without faults")
                return False
        self.bystander = Bystander(self)
        self.bystander.setup()
        return True

    def step(self, op: str) -> None:
        rng = self.rng
        if op == "rotate-root":
            self.request(Operation.UPDATE, "config/rotate-root")
        elif op == "rotate-role":
            self.request(Operation.UPDATE, f"rotate-role/{ROLE}")
        elif op == "tidy":
            self.clock.advance(rng.choice((30, 200, 3700)))
            self.request(Operation.UPDATE, "tidy")
        elif op == "token":
            out = self.call(Request(Operation.READ, f"token/{TOKEN_ROLE}"))
            if out is not False:
                self.check_token(out, "token read")
        elif op == "creds":
            out = self.call(Request(Operation.READ, f"creds/{CREDS_ROLE}"))
            if out is not False:
                self.register_lease(out)
        elif op == "revoke" and self.leases:
            self.revoke(self.leases[rng.choice(sorted(self.leases))], "revoke")
        elif op == "renew" and self.leases:
            self.renew(self.leases[rng.choice(sorted(self.leases))])
        elif op == "expire":
            self.clock.advance(rng.choice((30, 90, 300)))
            self.expire()
        elif op == "role-change":
            scopes = rng.choice(("cards:read,cards:write", "cards:read"))
            self.request(Operation.UPDATE, f"roles/{TOKEN_ROLE}", {"scopes": scopes})
        elif op == "both":
            first = rng.choice((Request(Operation.UPDATE, "config/rotate-root"),
                                Request(Operation.UPDATE, f"rotate-role/{ROLE}"),
                                Request(Operation.READ, f"creds/{CREDS_ROLE}"),
                                Request(Operation.READ, f"token/{TOKEN_ROLE}")))  # fmt: skip
            self.both(first, Request(Operation.UPDATE, "tidy"))

    def _run(self) -> None:
        if not self.setup():
            return
        for _ in range(self.rng.randint(3, 9)):
            self.inject()
            self.step(self.rng.choice(OPS))
            self.clear()
        self.settle()
        self.check("after the faults and the periodic work")
        # the next clean run: rotations, a token, a lease that is checked live, then cleaned up
        self.request(Operation.UPDATE, "config/rotate-root", who="final")
        self.request(Operation.UPDATE, f"rotate-role/{ROLE}", who="final")
        out = self.call(Request(Operation.READ, f"creds/{CREDS_ROLE}"), "final")
        if out is False:
            self.result.violations.append("creds/ read failed without faults")
        else:
            self.register_lease(out)
        self.check("with a live lease after clean rotations")
        self.settle()
        self.check("after clean rotations", final=True)


def run_plugin_schedule(seed: int, emulator: Emulator, transport: httpx.BaseTransport) -> Result:
    emulator.reset()
    return PluginSchedule(seed, emulator, transport).run()
