"""The rotation schedules' oracle: live, referenced and orphaned credentials, decided from
outside the product.

What is *live* comes from VGS's own state (the emulator's admin view: every service
account and every access credential), minus the manager and minus what existed before the
schedule made anything (the baseline). What is *referenced* comes from the secret store's
raw versions (``Backend.end_state``: moto's backend or ``MemorySecretStore``), parsed here
with ``json`` rather than the product's document parser: AWSCURRENT, AWSPREVIOUS, and
AWSPENDING of a rotation still in progress (AWSPENDING on a version other than AWSCURRENT),
for every rotated secret of the schedule; the schedules run several secrets that share one
organization and one manager, so a credential of one secret is "referenced" when another
secret's clean-up looks at it. Never from annotations (``vgs-rotation/secret``,
``vgs-rotation/version``) or the product's inventory: a bug that forgets a credential in
both product and test would otherwise stay invisible.

Per revoke policy, for a secret at rest (its last rotation completed):

- ``next-rotation``: at most 2 live credentials that any version of the secret ever held;
  AWSPREVIOUS's credential still authenticates (checked by the schedule with ``works()``);
- ``immediate``: at most 1 (AWSCURRENT's);
- ``never``: no credential that a version of the secret ever held is deleted, except the
  credential of an AWSPENDING that ``status --repair`` cleared (the operator's explicit act).

Orphans: live credentials that no version of any secret references. For ``never`` the
credentials its versions hold (labelled or not) are kept by design and are not orphans;
a credential referenced by no version at all is. After the next clean rotation of every
secret there must be none, whatever the annotations say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"

EndState = list[tuple[str, tuple[str, ...], str | None]]


@dataclass
class Subject:
    """One rotated secret of a schedule."""

    arn: str
    kind: str
    revoke: str
    initial: str
    token_arn: str = ""
    ever: set[str] = field(default_factory=set)  # every credential a version of it ever held
    repaired: set[str] = field(default_factory=set)  # pending credentials that a repair cleared


def credential_ref(kind: str, raw: str | None) -> str | None:
    """The VGS id a stored value names, read with ``json`` (not the product's parser)."""
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    value = doc.get("client_id" if kind == "service-account" else "credential_id")
    return value if isinstance(value, str) and value else None


@dataclass
class Versions:
    """What a secret's versions reference, read from the store's raw state."""

    current: str | None = None
    previous: str | None = None
    pending: str | None = None  # only when AWSPENDING is on a version other than AWSCURRENT
    pending_version: str | None = None
    every: set[str] = field(default_factory=set)  # every version's credential, labelled or not

    def labelled(self) -> set[str]:
        return {r for r in (self.current, self.previous, self.pending) if r}


def versions(kind: str, state: EndState) -> Versions:
    out = Versions()
    current_vid = next((vid for vid, stages, _ in state if CURRENT in stages), None)
    for vid, stages, value in state:
        ref = credential_ref(kind, value)
        if ref:
            out.every.add(ref)
        if CURRENT in stages:
            out.current = ref
        if PREVIOUS in stages:
            out.previous = ref
        if PENDING in stages and vid != current_vid:
            out.pending, out.pending_version = ref, vid
    return out


def live_ids(emu: Any) -> set[str]:
    """Every credential VGS has: service accounts (manager excluded) and access credentials."""
    manager = emu.bootstrap["client_id"]
    accounts = {a["client_id"] for a in emu.service_accounts()} - {manager}
    return accounts | {c["id"] for c in emu.access_credentials()}


class Oracle:
    """Kept by a schedule: ``observe`` after every step, ``check`` at rest."""

    def __init__(self, emu: Any, backend: Any) -> None:
        self.emu = emu
        self.backend = backend
        self.baseline = live_ids(emu)
        self.subjects: list[Subject] = []

    def add(self, subject: Subject) -> None:
        subject.ever.add(subject.initial)
        self.subjects.append(subject)

    def read(self, subject: Subject) -> Versions:
        found = versions(subject.kind, self.backend.end_state(subject.arn))
        subject.ever |= found.every
        return found

    def observe(self) -> None:
        for s in self.subjects:
            self.read(s)

    def before_repair(self, subject: Subject) -> None:
        """A repair is about to clear AWSPENDING: its credential may go, by design."""
        found = self.read(subject)
        if found.pending and found.pending not in {found.current, found.previous}:
            subject.repaired.add(found.pending)

    def referenced(self) -> set[str]:
        out: set[str] = set()
        for s in self.subjects:
            found = self.read(s)
            out |= found.labelled()
            if s.revoke == "never":
                out |= found.every
        return out

    def orphans(self) -> set[str]:
        return live_ids(self.emu) - self.baseline - self.referenced()

    def check(self, label: str, *, orphans: bool = True, unfinished: frozenset[str] = frozenset()) -> list[str]:
        """Violations of the per-policy counts for every secret, and (``orphans``) of the
        no-orphan rule for the whole organization and vault. ``unfinished``: secrets whose
        last rotation Secrets Manager gave up after promoting it (its retirement is due at
        their next rotation): their counts are not checked yet."""
        v: list[str] = []
        live = live_ids(self.emu)
        gone = self.baseline - live
        if gone:
            v.append(f"{label}: {len(gone)} credential(s) the schedule did not make were deleted")
        for s in self.subjects:
            found = self.read(s)
            mine = s.ever & live
            name = f"{label} [{s.revoke} {s.arn.rsplit(':', 1)[-1][:20]}]"
            if found.current and found.current not in live:
                v.append(f"{name}: AWSCURRENT's credential does not exist at VGS")
            if s.arn in unfinished and s.revoke != "never":
                continue
            if s.revoke == "next-rotation":
                if found.previous and found.previous not in live:
                    v.append(f"{name}: AWSPREVIOUS's credential is gone under revoke=next-rotation")
                if len(mine) > 2:
                    v.append(f"{name}: {len(mine)} live credentials held by its versions (at most 2)")
            elif s.revoke == "immediate":
                if len(mine) > 1:
                    v.append(f"{name}: {len(mine)} live credentials held by its versions (at most 1)")
            else:
                lost = s.ever - live - s.repaired
                if lost:
                    v.append(f"{name}: {len(lost)} credential(s) a version held were deleted under revoke=never")
        if orphans:
            stray = self.orphans()
            if stray:
                v.append(f"{label}: {len(stray)} live credential(s) that no version of any secret references")
        return v


def end_summary(seed: int, backend: Any) -> tuple[list[tuple[str, tuple[str, ...]]], int, list[str], int]:
    """Schedule ``seed`` on ``backend``, reduced to what must not depend on the store double:
    the labelled versions of the first secret, how many credentials VGS has, each step's
    outcome (ok, crash, or the error's class: messages differ between doubles) and the
    number of violations. The memory store and moto's server must agree on all four."""
    from tests.faults.schedules import Schedule

    backend.emulator.reset()
    schedule = Schedule(seed, backend)
    result = schedule.run()
    state = [(v, stages) for v, stages, _ in backend.end_state(schedule.arn) if stages]
    vgs = len(backend.emulator.service_accounts()) + len(backend.emulator.access_credentials())
    # a step's outcome: ok, crash, or error (classes may differ: moto answers a read naming
    # a version and a label it does not carry with InvalidRequestException, the memory store
    # with "not found"; moto lists versions without labels in DescribeSecret, AWS does not)
    steps = []
    for entry in result.log:
        words = entry.split()
        if words[0].endswith(("ecret", "ecret:")) and len(words) > 1:
            steps.append(words[0].rstrip(":") + " " + ({"ok", "crash"} & {words[1]} or {"error"}).pop())
    return state, vgs, steps, len(result.violations)
