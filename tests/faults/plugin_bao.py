"""Seeded fault schedules for the plugin on a real OpenBao (HTTP API, the built plugin binary,
persistent raft storage) against the VGS emulator over loopback.

Each schedule enables two mounts of the plugin on one server, each with its own manager in
the same VGS organization (so one mount's cleanup touching the other's accounts is seen),
and runs 4-10 random steps on them: ``token/`` reads, ``creds/`` reads on a short-lived role
(OpenBao expires those leases during the schedule) and a long one, lease renewals and
revocations through ``sys/leases``, waits for expiry, rotate-root, rotate-role, tidy with
the plugin's test-hook clock moved (scheduled rotations, token expiry), two steps at once.
Before a step, VGS faults: the emulator's 429/5xx/drops/delays (a delay past the plugin's
10 s client timeout now and then) and lost answers (served, connection dropped). At random,
the plugin processes are killed with SIGKILL between steps or in the middle of one (the
step's n-th VGS call held at the emulator, ``vgs_gate``, while the kill lands), and OpenBao
itself is stopped (SIGTERM or SIGKILL) and started again on its storage. OpenBao restarts
the plugin; the schedule puts its test-hook clock back in step with the emulator's
(``OffsetClock``: VGS is always at least as far ahead as the plugin, so a served token VGS
refuses is the engine's fault).

Checked from outside (VGS's account list, the mounts' API, OpenBao's ``sys/leases``):

- every step: a token ``token/`` served is accepted by VGS; a ``creds/`` account exists at
  VGS while its lease runs; a revocation OpenBao reported done, or a lease OpenBao dropped
  at expiry, left no live account; no plugin process died unless killed;
- at rest after the faults (periodic work run): the managers, static roles' current and
  previous accounts, token owners and live leases' accounts exist and work; nothing else
  is live (accounts of leases OpenBao lists but never answered are the only allowance);
- after revoking every lease (``revoke-prefix``) their accounts are gone; after the engine's
  lease grace, and after a clean rotate-root, rotate-role, creds and token run, no account
  is unreferenced and no replaced manager is live;
- the server log (the plugin's stderr included) has no unexpected periodic-work exception,
  no failed request of the plugin's own, and no secret or access token (``find_leaks``).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from rotation.emulator import Emulator
from rotation.vgs import (
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    RetryPolicy,
    Secret,
    TokenClient,
    VGSHttp,
    errors,
)
from tests.bao_persistent import PersistentBao, wait_mount
from tests.faults import firing
from tests.faults.bao_view import MountSpec, OffsetClock, checker_http, lease_ids, probe, view
from tests.faults.plugin_oracle import Referenced, missing, token_owner, unreferenced
from tests.faults.schedules import Result, find_leaks, issued_by
from tests.faults.vgs_gate import Gate, run_held
from tests.vault_fixtures import PLUGIN_NAME, manager_config, wait_until
from vault_plugin import __version__
from vault_plugin.periodic import PERIODIC_UNEXPECTED

TOKEN_ROLE, SHORT, LONG, STATIC = "tok", "dyn", "long", "st"
SHORT_TTL, SHORT_MAX = 2, 4  # real seconds: OpenBao expires these leases within the schedule
LONG_TTL, LONG_MAX = 3600, 3600
TOKEN_LIFESPAN, ROTATION_PERIOD = 60, 120  # the least VGS and the engine allow; the clock moves past them
MAX_ADVANCE = 240  # clock moves while leases run stay under the engine's lease grace (300 s)
SETTLE_ADVANCE = LONG_MAX + 301  # past every lease's max TTL plus that grace
ROUTES = ("token", "accounts.create", "accounts.list", "accounts.delete")
FAULT_KINDS = ("429", "500", "502", "503", "504", "drop", "delay", "lost_answer")
STEPS = ("token", "token", "creds", "creds", "creds-long", "revoke", "renew", "expire", "rotate-root", "rotate-role",
         "tidy", "tidy", "both", "kill", "kill-during", "kill-during")  # fmt: skip
# The VGS calls a step makes that a kill may land on: (route, n-th call of the route).
KILL_POINTS: dict[str, tuple[tuple[str, int], ...]] = {
    "token": (("accounts.create", 1), ("token", 1), ("token", 2)),
    "creds": (("accounts.create", 1), ("token", 1)),
    "rotate-root": (("accounts.list", 1), ("accounts.create", 1), ("token", 1), ("token", 2), ("accounts.delete", 1)),
    "rotate-role": (("accounts.create", 1), ("accounts.delete", 1), ("token", 1)),
    "tidy": (("accounts.list", 1), ("accounts.create", 1), ("accounts.delete", 1)),
    "revoke": (("accounts.delete", 1), ("token", 1)),
}
PLUGIN_EXIT = re.compile(r'plugin process exited: .*?error="([^"]*)"')  # OpenBao's view of a plugin's end
FAILED_REQUEST = "vgs-secrets-plugin: request failed:"  # backend_service: a request raised a non-LogicalError

Step = tuple[Callable[[], Any], Callable[[Any], None]]  # (the HTTP request, what to check on its answer)


@dataclass
class Lease:
    lease_id: str
    client_id: str
    client_secret: str
    mount: str
    short: bool
    expires: float  # real epoch seconds, from the latest answer
    revoking: bool = False  # a revocation failed: the account may be gone while OpenBao keeps the lease


class BaoPluginSchedule:
    def __init__(self, seed: int, bao: PersistentBao, emulator: Emulator, clock: OffsetClock, gate: Gate,
                 *, mounts: int = 2, restart_chance: float = 0.3) -> None:  # fmt: skip
        self.seed = seed
        self.rng = random.Random(seed)
        self.bao, self.emu, self.clock, self.gate = bao, emulator, clock, gate
        self.result = Result(seed, kind="vault-plugin-openbao")
        self.stats: Counter[str] = self.result.stats
        self.v = self.result.violations
        self.log = self.result.log
        self.specs = [MountSpec(f"f{seed}x{i}", (TOKEN_ROLE,), (SHORT, LONG), (STATIC,)) for i in range(mounts)]
        self.restart_chance = restart_chance
        self.leases: dict[str, Lease] = {}
        self.managers: set[str] = set()
        self.secrets: set[str] = set()
        self.texts: list[str] = []
        self.mount_offsets: dict[str, float] = {}  # how far each mount's plugin has moved its clock
        self.dirty = False  # a kill or a restart happened: the plugins' clocks start from zero again
        self.pids: set[int] = set()
        self.lock = threading.Lock()
        self.log_start = 0

    # -- HTTP ---------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response | None:
        self.stats["bao_requests"] += 1
        try:
            r = self.bao.api(method, path, body)
        except httpx.HTTPError as exc:
            with self.lock:
                self.log.append(f"{method} {path}: {type(exc).__name__}")
            return None
        with self.lock:
            self.log.append(f"{method} {path}: {r.status_code}")
            if r.status_code >= 400:
                self.texts.append(r.text)
                self.stats[f"http_{r.status_code}"] += 1
        return r

    def ok(self, method: str, path: str, body: Any = None, *, what: str = "") -> dict[str, Any] | None:
        """A request that must succeed (no faults armed): its data, or a violation."""
        r = self.api(method, path, body)
        if r is None or r.status_code not in (200, 204):
            self.v.append(f"{what or path} failed without faults: {None if r is None else r.text[:200]}")
            return None
        return dict(r.json().get("data") or {}) if r.status_code == 200 else {}

    # -- set-up -------------------------------------------------------------------------------

    def second_manager(self) -> dict[str, Any]:
        """A manager account of its own for another mount, in the same organization."""
        boot = self.emu.bootstrap
        http = VGSHttp(timeout=10.0, retry=RetryPolicy.none())
        auth = CachedTokenAuth(TokenClient(boot["token_url"], http=http),
                               ClientCredentials(boot["client_id"], Secret(boot["client_secret"])))  # fmt: skip
        scopes = next(a["scopes"] for a in self.emu.service_accounts() if a["client_id"] == boot["client_id"])
        made = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http).create(
            name="mgr-2", scopes=[s["name"] for s in scopes]
        )
        return manager_config(self.emu) | {"client_id": made.client_id, "client_secret": made.client_secret.reveal()}

    def setup(self) -> bool:
        self.emu.reset()
        self.gate.clear()
        self.gate.issued.clear()  # the leak scan looks for what VGS issued in this schedule
        self.clock.offset = 0.0
        self.log_start = self.bao.log_path.stat().st_size
        self.secrets.add(self.emu.bootstrap["client_secret"])
        for i, spec in enumerate(self.specs):
            mount = {"type": PLUGIN_NAME, "config": {"plugin_version": __version__}}
            if self.ok("POST", f"sys/mounts/{spec.path}", mount, what="enable the mount") is None:
                return False
            config = manager_config(self.emu) if i == 0 else self.second_manager()
            self.secrets.add(config["client_secret"])
            self.managers.add(config["client_id"])
            m = spec.path
            steps = [
                (f"{m}/config", config),
                (f"{m}/roles/{TOKEN_ROLE}", {"scopes": "cards:read,cards:write", "token_lifespan": TOKEN_LIFESPAN}),
                (f"{m}/roles/{SHORT}", {"scopes": "cards:read", "ttl": SHORT_TTL, "max_ttl": SHORT_MAX}),
                (f"{m}/roles/{LONG}", {"scopes": "cards:read", "ttl": LONG_TTL, "max_ttl": LONG_MAX}),
                (f"{m}/static-roles/{STATIC}", {"scopes": "cards:read", "rotation_period": ROTATION_PERIOD}),
            ]
            for path, body in steps:
                if self.ok("PUT", path, body) is None:
                    return False
        self.pids = set(self.bao.plugin_pids())
        return True

    def teardown(self) -> None:
        self.gate.clear()
        self.emu.faults.clear()
        if not self.bao.running:
            self.bao.start()
        for spec in self.specs:
            self.bao.api("DELETE", f"sys/mounts/{spec.path}")

    # -- steps --------------------------------------------------------------------------------

    def mount(self) -> MountSpec:
        return self.rng.choice(self.specs)

    def step_token(self, m: MountSpec) -> Step:
        def after(r: Any) -> None:
            if isinstance(r, httpx.Response) and r.status_code == 200:
                self.check_token(r.json()["data"], f"token read on {m.path}")

        return lambda: self.api("GET", f"{m.path}/token/{TOKEN_ROLE}"), after

    def step_creds(self, m: MountSpec, role: str) -> Step:
        def after(r: Any) -> None:
            if not (isinstance(r, httpx.Response) and r.status_code == 200):
                return
            body = r.json()
            lease = Lease(body["lease_id"], body["data"]["client_id"], body["data"]["client_secret"], m.path,
                          role == SHORT, time.time() + body["lease_duration"])  # fmt: skip
            self.secrets.add(lease.client_secret)
            self.leases[lease.lease_id] = lease
            self.stats["leases_issued"] += 1

        return lambda: self.api("GET", f"{m.path}/creds/{role}"), after

    def live_leases(self) -> list[Lease]:
        return sorted((x for x in self.leases.values() if not x.revoking), key=lambda x: x.lease_id)

    def step_revoke(self) -> Step | None:
        live = self.live_leases()
        if not live:
            return None
        lease = self.rng.choice(live)
        lease.revoking = True  # from now on its account may go at any moment

        def after(r: Any) -> None:
            if isinstance(r, httpx.Response) and r.status_code == 204:
                self.leases.pop(lease.lease_id, None)
                self.stats["revocations"] += 1
                if lease.client_id in self.present():
                    self.v.append("a revoked creds/ lease's account is still live at VGS")
            else:
                self.stats["revocations_failed"] += 1

        return lambda: self.api("PUT", "sys/leases/revoke", {"lease_id": lease.lease_id}), after

    def step_renew(self) -> Step | None:
        live = [x for x in self.live_leases() if not x.short]
        if not live:
            return None
        lease = self.rng.choice(live)

        def after(r: Any) -> None:
            if isinstance(r, httpx.Response) and r.status_code == 200:
                self.stats["renewals"] += 1
                lease.expires = time.time() + r.json()["lease_duration"]

        return lambda: self.api("PUT", "sys/leases/renew", {"lease_id": lease.lease_id, "increment": 600}), after

    def step_update(self, path: str) -> Step:
        def after(r: Any) -> None:
            if isinstance(r, httpx.Response) and r.status_code == 200 and path.endswith("rotate-root"):
                self.managers.add(r.json()["data"]["client_id"])

        return lambda: self.api("PUT", path, {}), after

    def step_tidy(self, m: MountSpec, *, move_clock: bool = True) -> Step:
        room = MAX_ADVANCE - self.clock.offset if self.leases else 400.0
        advance = self.rng.choice([x for x in (0, 30, 70, 130) if x <= room] or [0]) if move_clock else 0
        self.clock.advance(advance)  # VGS first: it is never behind the plugin

        def after(r: Any) -> None:
            if isinstance(r, httpx.Response) and r.status_code == 200:
                self.plugin_offset_seen(m, advance)
            elif not self.dirty:  # unknown whether the plugin moved its clock: start it again from zero
                self.stats["kills_to_reset_clock"] += self.bao.kill_plugins()
                self.dirty = True

        return lambda: self.api("PUT", f"{m.path}/tidy", {"advance_clock": advance} if advance else {}), after

    def plugin_offset_seen(self, m: MountSpec, advance: float) -> None:
        self.mount_offsets[m.path] = self.mount_offsets.get(m.path, 0.0) + advance

    def expire(self) -> None:
        """Wait for OpenBao to expire the short leases (real time, bounded); each one it drops
        must have had its account deleted (OpenBao drops a lease only after the engine revoked it)."""
        short = [x for x in self.leases.values() if x.short]
        if not short:
            return
        deadline = max(x.expires for x in short) + 8.0
        for lease in short:
            try:
                wait_until(lambda lease=lease: lease.lease_id not in self.listed(lease.mount, SHORT),
                           timeout=max(0.5, deadline - time.time()), interval=0.2, what="expiry")  # fmt: skip
            except AssertionError:
                self.stats["expiries_pending"] += 1  # a failed revocation: OpenBao retries it later
                continue
            self.leases.pop(lease.lease_id, None)
            self.stats["expirations"] += 1
            if lease.client_id in self.present():
                self.v.append("OpenBao expired a creds/ lease but its account is still live at VGS")

    def listed(self, mount: str, role: str) -> list[str]:
        try:
            return lease_ids(self.bao, mount, role)
        except AssertionError:
            return []

    def step(self, name: str, *, move_clock: bool = True) -> Step | None:
        m = self.mount()
        if name == "token":
            return self.step_token(m)
        if name == "creds":
            return self.step_creds(m, SHORT)
        if name == "creds-long":
            return self.step_creds(m, LONG)
        if name == "revoke":
            return self.step_revoke()
        if name == "renew":
            return self.step_renew()
        if name == "rotate-root":
            return self.step_update(f"{m.path}/config/rotate-root")
        if name == "rotate-role":
            return self.step_update(f"{m.path}/rotate-role/{STATIC}")
        if name == "tidy":
            return self.step_tidy(m, move_clock=move_clock)
        return None

    def run_step(self, name: str) -> None:
        if name == "expire":
            self.expire()
        elif name == "kill":
            self.kill()
        elif name == "kill-during":
            self.kill_during()
        elif name == "both":
            # no clock move here: a plugin whose clock lags VGS's would rightly serve a token VGS
            # already counts as expired
            names = ("token", "creds", "creds-long", "rotate-root", "rotate-role", "tidy")
            picks = [self.step(self.rng.choice(names), move_clock=False) for _ in range(2)]
            steps = [s for s in picks if s is not None]
            outcomes: list[Any] = [None] * len(steps)

            def go(i: int) -> None:
                outcomes[i] = steps[i][0]()

            threads = [threading.Thread(target=go, args=(i,)) for i in range(len(steps))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            self.stats["concurrent_steps"] += 1
            for (_, after), out in zip(steps, outcomes, strict=True):
                after(out)
        else:
            step = self.step(name)
            if step is not None:
                step[1](step[0]())

    def kill(self) -> None:
        firing.planned(self.stats, "plugin_kill")
        killed = self.bao.kill_plugins()
        self.stats["kills"] += killed
        firing.fired(self.stats, "plugin_kill", 1 if killed else 0)  # events, as planned (processes: "kills")
        self.stats["kills_between_steps"] += 1
        self.dirty = True

    def kill_during(self) -> None:
        name = self.rng.choice(sorted(KILL_POINTS))
        step = self.step_revoke() if name == "revoke" else self.step(name)
        if step is None:
            return
        route, nth = self.rng.choice(KILL_POINTS[name])
        when = self.rng.choice(("before", "after"))
        hold = self.gate.hold(route, nth, when)
        firing.planned(self.stats, "plugin_kill")
        killed = [0]
        fired, outcome = run_held(self.gate, hold, step[0], lambda: killed.__setitem__(0, self.bao.kill_plugins()))
        self.log.append(f"kill during {name} at {route}#{nth} {when}: {'fired' if fired else 'not reached'}")
        if fired:
            self.stats["kills"] += killed[0]
            firing.fired(self.stats, "plugin_kill", 1 if killed[0] else 0)
            self.stats["kills_mid_request"] += 1
            self.dirty = True
        step[1](outcome)

    def restart_bao(self) -> None:
        kill = self.rng.random() < 0.5
        self.log.append(f"restart OpenBao ({'SIGKILL' if kill else 'SIGTERM'})")
        self.bao.restart(kill=kill)
        self.stats["bao_restarts"] += 1
        self.dirty = True

    # -- faults -------------------------------------------------------------------------------

    def inject(self) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            route, kind, count = rng.choice(ROUTES), rng.choice(FAULT_KINDS), rng.choice((1, 1, 2))
            firing.planned(self.stats, kind, 1 if kind == "delay" else count)
            self.log.append(f"fault {route} {kind} x{count}")
            if kind == "lost_answer":
                self.gate.lose(route, count)
            elif kind == "drop":
                self.emu.faults.inject(route, drop=True, count=count)
            elif kind == "delay":
                # now and then past the plugin's 10 s client timeout (a real timeout, then a retry)
                self.emu.faults.inject(route, delay=rng.choice((0.2, 0.2, 1.0, 1.0, 10.5)), count=1)
            elif kind == "429":
                self.emu.faults.inject(route, status=429, count=count, retry_after=rng.choice((None, 1, 60)))
            else:
                self.emu.faults.inject(route, status=int(kind), count=count)

    def clear(self) -> None:
        self.emu.faults.clear()
        self.gate.clear()

    # -- keeping the plugins' clocks in step ----------------------------------------------------

    def resync(self) -> None:
        """Move every plugin's clock to where VGS's is. After a kill or a restart they start
        from zero (each mount's first request also restarts its plugin)."""
        if self.dirty:
            self.mount_offsets = {}
        for spec in self.specs:
            wait_mount(self.bao, spec.path)
        for spec in self.specs:
            delta = self.clock.offset - self.mount_offsets.get(spec.path, 0.0)
            body = {"advance_clock": delta} if delta else {}
            if self.ok("PUT", f"{spec.path}/tidy", body, what="the clock resync") is not None:
                self.mount_offsets[spec.path] = self.clock.offset
        self.pids = set(self.bao.plugin_pids())
        self.dirty = False

    def after_step(self) -> None:
        self.clear()
        if not self.dirty and not self.pids <= set(self.bao.plugin_pids()):
            self.v.append("a plugin process exited without being killed")
            self.dirty = True
        if self.dirty or any(self.mount_offsets.get(s.path, 0.0) != self.clock.offset for s in self.specs):
            self.resync()
        self.harvest()
        self.check_live()

    # -- checks -------------------------------------------------------------------------------

    def present(self) -> set[str]:
        return {a["client_id"] for a in self.emu.service_accounts()}

    def harvest(self) -> None:
        state = self.emu._state
        with state.lock:
            self.secrets.update(a.client_secret for a in state.accounts.values())

    def check_token(self, body: dict[str, Any], label: str) -> str | None:
        raw = str(body.get("access_token", ""))
        self.secrets.add(raw)
        self.stats["tokens_served"] += 1
        problem = probe(self.emu.bootstrap["cmp_url"], raw)
        if problem:
            self.v.append(f"{label}: VGS refuses the token token/ served ({problem[:80]})")
        return token_owner(raw)

    def check_live(self) -> None:
        now, present = time.time(), self.present()
        gone = [x for x in self.live_leases() if x.expires > now + 1 and x.client_id not in present]
        if gone:
            self.v.append(f"{len(gone)} running creds/ lease(s) whose account is gone at VGS")

    def mints(self, client_id: str, secret: str) -> str | None:
        try:
            TokenClient(self.emu.bootstrap["token_url"], http=checker_http()).mint(
                ClientCredentials(client_id, Secret(secret))
            )
        except errors.VGSError as exc:
            return type(exc).__name__
        return None

    def at_rest(self, label: str, *, strict: bool) -> list[Referenced]:
        """Check every mount from outside; ``strict``: no unreferenced account at all."""
        known = {x.lease_id: x.client_id for x in self.leases.values()}
        refs, expired, unknown = [], set(), 0
        for spec in self.specs:
            try:
                seen = view(self.bao, spec, known, self.emu.bootstrap["cmp_url"])
            except AssertionError as exc:
                self.v.append(f"{label}: {spec.path} not readable: {str(exc)[:200]}")
                continue
            for lease in self.leases.values():  # a failed revocation may have taken the account
                if lease.revoking and seen.ref.leases.pop(lease.lease_id, None):
                    expired.add(lease.client_id)
            self.secrets |= seen.secrets
            self.v.extend(f"{label}: {p}" for p in seen.problems)
            refs.append(seen.ref)
            expired |= seen.expired
            unknown += seen.unknown_leases
        present = self.present()
        secrets = {a.client_id: a.client_secret for a in self.emu._state.list_accounts()}
        for ref in refs:
            self.v.extend(missing(present, ref, label))
            for cid in [ref.manager, *(pair[0] for pair in ref.static.values()), *ref.leases.values()]:
                if cid in secrets and (problem := self.mints(cid, secrets[cid])):
                    self.v.append(f"{label}: a referenced account does not mint ({problem})")
        others = expired | {x.client_id for x in self.leases.values() if x.revoking}
        orphans = unreferenced(present, refs, others=() if strict else others)
        self.stats["unknown_leases"] += unknown
        if len(orphans) > (0 if strict else unknown):
            self.v.append(f"{label}: {len(orphans)} live account(s) nothing references (VGS minus managers, "
                          f"static-creds, token owners and OpenBao's leases; {unknown} unknown lease(s))")  # fmt: skip
        return refs

    def revoke_all(self, label: str) -> None:
        for spec in self.specs:
            self.ok("PUT", f"sys/leases/revoke-prefix/{spec.path}/creds", what=f"{label}: revoke-prefix")
            for role in spec.creds_roles:
                if self.listed(spec.path, role):
                    self.v.append(
                        f"{label}: OpenBao still lists leases of {spec.path}/creds/{role} after revoke-prefix"
                    )
        present = self.present()
        left = [x for x in self.leases.values() if x.client_id in present]
        if left:
            self.v.append(f"{label}: {len(left)} revoked lease(s)' account(s) still live at VGS")
        self.stats["revocations"] += len(self.leases)
        self.leases.clear()

    def settle(self, label: str) -> None:
        """Faults off; the periodic work; at rest; every lease revoked; past the lease grace; strict."""
        self.clear()
        if self.dirty:
            self.resync()
        for spec in self.specs:
            self.ok("PUT", f"{spec.path}/tidy", what=f"{label}: tidy")
        self.at_rest(f"{label}, leases running", strict=False)
        self.revoke_all(label)
        self.clock.advance(SETTLE_ADVANCE)
        for spec in self.specs:
            if (
                self.ok("PUT", f"{spec.path}/tidy", {"advance_clock": SETTLE_ADVANCE}, what=f"{label}: tidy")
                is not None
            ):
                self.plugin_offset_seen(spec, SETTLE_ADVANCE)
        self.at_rest(f"{label}, after the lease grace", strict=True)

    def final_run(self) -> None:
        """A clean rotate-root, rotate-role, creds read and token read on every mount, then strict."""
        for spec in self.specs:
            out = self.ok("PUT", f"{spec.path}/config/rotate-root", what="clean rotate-root")
            if out:
                self.managers.add(out["client_id"])
            self.ok("PUT", f"{spec.path}/rotate-role/{STATIC}", what="clean rotate-role")
            step = self.step_creds(spec, LONG)
            step[1](step[0]())
            token = self.ok("GET", f"{spec.path}/token/{TOKEN_ROLE}", what="clean token read")
            if token:
                self.check_token(token, "clean token read")
        refs = self.at_rest("after a clean run, a lease running", strict=True)
        current = {ref.manager for ref in refs}
        stale = (self.managers - current) & self.present()
        if stale:
            self.v.append(f"after a clean run: {len(stale)} replaced manager account(s) still live")
        self.settle("after a clean run")

    def scan_logs(self) -> None:
        with open(self.bao.log_path, errors="replace") as f:
            f.seek(self.log_start)
            text = f.read()
        unexpected = text.count(PERIODIC_UNEXPECTED)
        if unexpected:
            self.v.append(f"{unexpected} unexpected exception(s) in the plugin's periodic work (server log)")
        failed = text.count(FAILED_REQUEST)
        exits = PLUGIN_EXIT.findall(text)
        self.stats["plugin_exits_seen_by_openbao"] += len(exits)
        odd = [e for e in exits if e != "signal: killed"]
        if odd:
            self.v.append(f"plugin process(es) exited on their own: {sorted(set(odd))[:3]}")
        if failed:
            self.v.append(f"{failed} plugin request(s) failed with an unexpected exception (server log)")
        self.stats["periodic_unexpected"] += unexpected
        # what VGS's own record says it issued (pairs and tokens), and what the gate saw pass
        secrets: list[Any] = [*self.secrets, *self.gate.issued, *issued_by(self.emu)]
        leaks = find_leaks(text + "\n".join(self.texts), secrets)
        if leaks:
            self.v.append(f"secret or token in the server log or an error answer: {leaks[:3]}")
        self.stats["log_bytes_scanned"] += len(text)
        self.stats["secrets_scanned"] += len(secrets)

    # -- the schedule ---------------------------------------------------------------------------

    def run(self) -> Result:
        began = time.monotonic()
        fired_before = Counter(self.gate.fired) + self.emu.faults.fired()
        try:
            if self.setup():
                self._run()
        except Exception as exc:
            self.v.append(f"schedule aborted: {type(exc).__name__}: {str(exc)[:300]}")
        finally:
            try:
                self.teardown()
            except Exception as exc:
                self.v.append(f"teardown failed: {type(exc).__name__}: {str(exc)[:200]}")
        self.scan_logs()
        firing.fired_since(self.stats, fired_before, Counter(self.gate.fired) + self.emu.faults.fired())
        self.stats["plugin_schedules_openbao"] = 1
        self.stats["violations"] = len(self.v)
        self.stats["seconds"] = round(time.monotonic() - began)
        return self.result

    def _run(self) -> None:
        steps = self.rng.randint(4, 10)
        restart_at = self.rng.randrange(steps) if self.rng.random() < self.restart_chance else None
        for i in range(steps):
            if i == restart_at:
                self.restart_bao()
                self.after_step()
            self.inject()
            self.run_step(self.rng.choice(STEPS))
            self.after_step()
        self.settle("after the faults")
        self.final_run()
