"""Seeded fault schedules for the Vault plugin's ``config/rotate-root`` and static roles.

The engine (``VGSBackend``) runs in-process over a ``MemoryStorage`` that outlives it, so a
crash (``Crash`` after any external call: a storage operation or a VGS request) is a
process restart: a new ``VGSBackend`` on the same storage. Operations: ``rotate-root``,
``rotate-role/NAME``, ``tidy`` after moving the engine clock (the periodic rollback and the
scheduled static rotation), and two of them at once on one event loop. VGS faults as in
``schedules``. Then the periodic work settles the engine (WAL entries older than the
minimum age finished or undone) and the invariants are checked:

- the manager in ``config`` mints a token and exists at VGS;
- the static role's current credentials mint; its previous account (the overlap) exists;
- accounts this mount made: root ones = the configured manager only; the static role's
  are its current and previous only (at most two); no WAL entry left;
- no secret in any captured log line or error message.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx

from rotation.emulator import Emulator
from rotation.vgs import ClientCredentials, RetryPolicy, Secret, TokenClient, VGSHttp, errors
from tests.faults.inproc import LateTimeouts
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
)
from tests.helpers import VirtualClock
from vault_plugin.backend import A_KIND, A_MOUNT, A_ROLE, VGSBackend
from vault_plugin.engine import new_backend
from vault_plugin.framework import LogicalError, Operation, Request
from vault_plugin.storage import MemoryStorage

MOUNT = "mount-faults-0001"
ROLE = "app1"
PLUGIN_ROUTES = ("token", "accounts.create", "accounts.list", "accounts.delete")


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


class PluginSchedule:
    def __init__(self, seed: int, emulator: Emulator, transport: httpx.BaseTransport) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.emu = emulator
        self.result = Result(seed, kind="vault-plugin")
        self.stats: Counter[str] = self.result.stats
        self.calls = Calls(self.stats)
        self.calls.log = self.result.log
        self.clock = VirtualClock()
        self.emu._app.sleep = self.clock.sleep
        self.late = LateTimeouts(transport, emulator)
        self.client = httpx.Client(transport=self.late, timeout=5.0)
        self.storage = MemoryStorage()
        self.secrets: set[str] = set()
        self.managers: set[str] = set()  # every manager client id the config has held
        self.texts: list[str] = []
        self.backend: VGSBackend | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

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
        b.wal_min_age, b.orphan_min_age = 120.0, 300.0
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(b.setup(CountingStorage(self.storage, self.calls), _System(), {}, MOUNT))
        self.backend = b

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.close()
        self.loop, self.backend = None, None

    def request(self, op: Operation, path: str, data: dict[str, Any] | None = None, who: str = "op") -> bool:
        assert self.loop is not None and self.backend is not None
        self.stats["plugin_requests"] += 1
        try:
            self.loop.run_until_complete(self.backend.router.handle(Request(op, path, dict(data or {}))))
            self.result.log.append(f"{who}:{path} ok")
            return True
        except Crash as exc:
            self.result.log.append(f"{who}:{path} {exc}")
            self.start()  # the host restarts the plugin
            return False
        except LogicalError as exc:
            self.texts.append(str(exc))
            self.stats[f"error:{exc.kind.name}"] += 1
            self.result.log.append(f"{who}:{path} {exc.kind.name}: {str(exc)[:100]}")
            return False
        except Exception as exc:
            self.texts.append(f"{exc} {exc!r}")
            self.result.violations.append(f"unexpected {type(exc).__name__} on {path}: {str(exc)[:200]}")
            self.start()
            return False
        finally:
            self.harvest()

    def both(self, a: str, b: str) -> None:
        """Two requests at once on one event loop (as the host's concurrent gRPC calls)."""
        assert self.loop is not None and self.backend is not None
        router = self.backend.router

        async def run() -> list[Any]:
            return await asyncio.gather(
                router.handle(Request(Operation.UPDATE, a, {})),
                router.handle(Request(Operation.UPDATE, b, {})),
                return_exceptions=True,
            )

        self.stats["plugin_concurrent"] += 1
        try:
            outcomes = self.loop.run_until_complete(run())
        except Crash as exc:
            self.result.log.append(f"both {a}+{b} {exc}")
            self.start()
            return
        for path, out in zip((a, b), outcomes, strict=True):
            if isinstance(out, Crash):
                self.result.log.append(f"both:{path} {out}")
                self.start()
            elif isinstance(out, LogicalError):
                self.texts.append(str(out))
                self.result.log.append(f"both:{path} {out.kind.name}")
            elif isinstance(out, BaseException):
                self.result.violations.append(f"unexpected {type(out).__name__} on {path}: {str(out)[:200]}")
            else:
                self.result.log.append(f"both:{path} ok")
        self.harvest()

    def harvest(self) -> None:
        state = self.emu._state
        with state.lock:
            self.secrets.update(a.client_secret for a in state.accounts.values())
        raw = self.storage.data.get("config")
        if raw is not None:
            import json

            self.managers.add(json.loads(raw)["client_id"])

    # -- faults ------------------------------------------------------------------------

    def inject(self) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            route, kind, count = rng.choice(PLUGIN_ROUTES), rng.choice(FAULT_KINDS), rng.choice((1, 1, 2))
            self.stats["vgs_faults"] += 1
            self.result.log.append(f"fault {route} {kind} x{count}")
            inject_fault(
                self.emu, self.late, route, kind, count,
                delay=rng.choice((0.5, 5.0)), retry_after=rng.choice((None, 1, 60)),
            )  # fmt: skip
        plan = Plan()
        if rng.random() < 0.4:
            plan.crash_after = rng.randint(1, 14)
        self.calls.arm(plan)

    def clear(self) -> None:
        self.emu.faults.clear()
        self.late.clear()
        self.calls.disarm()

    # -- checks ------------------------------------------------------------------------

    def mints(self, client_id: str, secret: str) -> str | None:
        http = VGSHttp(timeout=5.0, retry=RetryPolicy.none(), client=_Unclosable(self.client))  # type: ignore[arg-type]
        try:
            tok = TokenClient(self.emu.bootstrap["token_url"], http=http).mint(
                ClientCredentials(client_id, Secret(secret))
            )
            tok.check(client_id=client_id)
        except errors.VGSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def check(self, label: str, final: bool = False) -> None:
        v = self.result.violations
        data = self.storage.data
        import json

        config = json.loads(data["config"]) if "config" in data else None
        role = json.loads(data[f"static-roles/{ROLE}"]) if f"static-roles/{ROLE}" in data else None
        present = {a["client_id"]: a for a in self.emu.service_accounts()}
        if config is None:
            v.append(f"{label}: config is gone")
            return
        if config["client_id"] not in present:
            v.append(f"{label}: the configured manager does not exist at VGS")
        problem = self.mints(config["client_id"], config["client_secret"])
        if problem:
            v.append(f"{label}: the configured manager does not mint: {problem}")
        if final:
            # after a clean rotate-root and the periodic work, every earlier manager is gone
            stale = (self.managers - {config["client_id"]}) & set(present)
            if stale:
                v.append(f"{label}: {len(stale)} replaced manager account(s) still live")
        mine = {cid: a for cid, a in present.items() if a["annotations"].get(A_MOUNT) == MOUNT}
        roots = {cid for cid, a in mine.items() if a["annotations"].get(A_KIND) == "root"}
        if roots - {config["client_id"]}:
            v.append(f"{label}: {len(roots - {config['client_id']})} orphaned root account(s)")
        if role is None or not role.get("current"):
            v.append(f"{label}: the static role has no current account")
            return
        current = role["current"]
        problem = self.mints(current["client_id"], current["client_secret"])
        if problem:
            v.append(f"{label}: the static role's current account does not mint: {problem}")
        previous = (role.get("previous") or {}).get("client_id")
        if previous and previous not in present:
            v.append(f"{label}: the static role's previous account is gone within its overlap window")
        statics = {cid for cid, a in mine.items() if a["annotations"].get(A_ROLE) == ROLE and
                   a["annotations"].get(A_KIND) == "static"}  # fmt: skip
        extra = statics - {current["client_id"], previous}
        if extra:
            v.append(f"{label}: {len(extra)} orphaned static account(s)")
        if len(statics) > 2:
            v.append(f"{label}: {len(statics)} live static accounts (at most 2)")
        wal = [k for k in data if k.startswith("wal/")]
        if wal:
            v.append(f"{label}: {len(wal)} WAL entr(ies) left after the periodic work")

    def settle(self) -> None:
        self.clear()
        self.start()
        for _ in range(2):
            self.clock.advance(400)
            self.request(Operation.UPDATE, "tidy", who="settle")

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
                self.client.close()
        self.texts.extend(logs.parts)
        for value in self.storage.data.values():
            if "client_secret" in value:
                import json

                doc = json.loads(value)
                for slot in (doc, doc.get("current") or {}, doc.get("previous") or {}):
                    if isinstance(slot, dict) and isinstance(slot.get("client_secret"), str):
                        self.secrets.add(slot["client_secret"])
        leaks = find_leaks("\n".join(self.texts), self.secrets)
        if leaks:
            self.result.violations.append(f"secret in plugin logs or errors: {leaks[:3]}")
        self.stats["late_timeouts"] = self.late.fired
        self.stats["plugin_schedules"] = 1
        self.stats["violations"] = len(self.result.violations)
        return self.result

    def _run(self) -> None:
        boot = self.emu.bootstrap
        self.secrets.add(boot["client_secret"])
        self.start()
        config = {k: boot[k] for k in ("client_id", "client_secret", "organization_id", "token_url", "accounts_url",
                                       "vault_management_url")}  # fmt: skip
        if not self.request(Operation.UPDATE, "config", config, who="setup"):
            self.result.violations.append("config write failed without faults")
            return
        spec = {"scopes": "cards:read,cards:write", "rotation_period": 3600, "token_lifespan": 600}
        if not self.request(Operation.UPDATE, f"static-roles/{ROLE}", spec, who="setup"):
            self.result.violations.append("static role write failed without faults")
            return
        for _ in range(self.rng.randint(2, 7)):
            self.inject()
            op = self.rng.choice(("rotate-root", "rotate-role", "rotate-role", "tidy", "both"))
            if op == "rotate-root":
                self.request(Operation.UPDATE, "config/rotate-root")
            elif op == "rotate-role":
                self.request(Operation.UPDATE, f"rotate-role/{ROLE}")
            elif op == "tidy":
                self.clock.advance(self.rng.choice((30, 200, 3700)))
                self.request(Operation.UPDATE, "tidy")
            else:
                self.both(self.rng.choice(("config/rotate-root", f"rotate-role/{ROLE}")), "tidy")
            self.clear()
        self.settle()
        self.check("after the faults and the periodic work")
        # the next clean rotations
        self.request(Operation.UPDATE, "config/rotate-root", who="final")
        self.request(Operation.UPDATE, f"rotate-role/{ROLE}", who="final")
        self.settle()
        self.check("after clean rotations", final=True)


def run_plugin_schedule(seed: int, emulator: Emulator, transport: httpx.BaseTransport) -> Result:
    emulator.reset()
    return PluginSchedule(seed, emulator, transport).run()
