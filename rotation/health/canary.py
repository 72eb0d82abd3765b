"""``doctor --canary``: the one write doctor makes, with consent. A throwaway credential of
the secret's kind is created exactly as a rotation would (same issuer, name and
annotations, under a version id starting ``doctor-canary-``), listed, tested as
testSecret tests, deleted, and its deletion confirmed.

What VGS's public docs leave open is answered by what VGS did, and reported with what the
project does in each case (:class:`Observation`).

Killed midway, the canary leaves a credential annotated as this secret's: plain doctor and
``vgs-rotate status`` report it as an orphan, ``doctor --canary`` and ``vgs-rotate
cleanup`` delete it, and so does the next rotation's finishSecret (it retires every
credential made for the secret that no version uses). Interrupted (Ctrl-C) or failing, it
deletes what it made before it returns.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rotation.document import RotationMetadata, SecretDocument
from rotation.health import checks
from rotation.health.leftovers import CANARY_VERSION_PREFIX, canary_leftovers
from rotation.health.manager import Inventory
from rotation.issuers import CapacityError, Issuer
from rotation.vgs import errors

_RETRYABLE = (errors.InvalidCredentials, errors.Unavailable, errors.RateLimited)


@dataclass(frozen=True)
class Observation:
    """A question VGS's docs leave open, what VGS answered here, and what the project does."""

    id: str
    question: str
    answer: str | None  # None: not seen (the canary did not get that far)
    project: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answer": self.answer, "project": self.project}


@dataclass
class CanaryResult:
    checks: list[checks.Check] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    created: bool | None = None  # True: VGS let the manager create; False: it refused; None: not known
    left_behind: str | None = None


@dataclass
class Canary:
    """Runs the canary with ``issuer`` (the manager's) for the AWSCURRENT document ``doc``."""

    issuer: Issuer
    doc: SecretDocument
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    result: CanaryResult = field(default_factory=CanaryResult)

    @property
    def noun(self) -> str:
        return "service account" if self.doc.kind == "service-account" else "access credential"

    def add(self, check: checks.Check) -> None:
        self.result.checks.append(check)

    def run(self, listed: Inventory, used: Iterable[str]) -> CanaryResult:
        self._remove_leftovers(listed, set(used))
        version = f"{CANARY_VERSION_PREFIX}{uuid.uuid4().hex}"
        created = self._create(version)
        if created is None:
            return self.result
        ref = created.credential_ref
        try:
            self._annotations(ref, version)
            self._mint(created)
        finally:  # also on Ctrl-C: what the canary made, it deletes
            self._delete(ref)
        if self.result.left_behind is None:
            self._confirm(ref)
            self._revoked(created)
        return self.result

    # -- steps -------------------------------------------------------------------------

    def _remove_leftovers(self, listed: Inventory, used: set[str]) -> None:
        leftovers = sorted(canary_leftovers(listed) - used)
        if not leftovers:
            return
        try:
            for ref in leftovers:
                self.issuer.delete(ref)
        except checks.LOOK_ERRORS as exc:
            self.add(
                checks.from_error(
                    "canary-leftovers",
                    "earlier canaries removed",
                    exc,
                    "remove them with `vgs-rotate cleanup SECRET_ID`",
                )
            )
            return
        removed = f"deleted {len(leftovers)} left by an interrupted canary: {', '.join(leftovers)}"
        self.add(checks.ok("canary-leftovers", "earlier canaries removed", removed))

    def _create(self, version: str) -> SecretDocument | None:
        cid, title = "canary-create", f"canary {self.noun} created"
        rotation = RotationMetadata(version_id=version, created_at=int(self.clock()))
        try:
            created = self.issuer.create(self.doc, rotation)
        except CapacityError as exc:
            self.result.created = None
            self.add(checks.failed(cid, title, str(exc), "make room first (see the capacity check)"))
            return None
        except checks.LOOK_ERRORS as exc:
            if isinstance(exc, errors.Forbidden | errors.InvalidCredentials | errors.InvalidRequest):
                self.result.created = False
            fix = "give the manager the scope to create " + self.noun + "s (see 'manager may create')"
            unknown_fix = (
                "if VGS created it before the failure, the next `vgs-rotate doctor --canary` (or `vgs-rotate cleanup`) "
                "removes it"
            )
            self.add(checks.from_error(cid, title, exc, fix, unknown_fix=unknown_fix))
            return None
        self.result.created = True
        self.result.left_behind = created.credential_ref  # until deleted
        detail = f"{created.credential_ref}, named and annotated by the rotation's own issuer (version {version})"
        self.add(checks.ok(cid, title, detail, credential=created.credential_ref, version=version))
        return created

    def _annotations(self, ref: str, version: str) -> None:
        cid, title = "canary-annotations", "annotations come back on list"
        question = f"Does VGS keep annotations on {self.noun}s?"
        try:
            owned, present = self.issuer.inventory()
        except checks.LOOK_ERRORS as exc:
            self.add(checks.from_error(cid, title, exc, "retry the canary"))
            self._observe("annotations", question, None)
            return
        if any(o.ref == ref and o.version_id == version for o in owned):
            self.add(checks.ok(cid, title, f"VGS lists {ref} with this secret's and the rotation's annotations"))
            self._observe("annotations", question, "yes: both annotations came back on list")
            return
        if ref not in present:
            self.add(
                checks.unknown(
                    cid, title, f"VGS does not list {ref} yet (created a moment ago)", "run the canary again"
                )
            )
            self._observe("annotations", question, None)
            return
        self._observe("annotations", question, "no: the credential is listed without them")
        detail = f"VGS lists {ref} without the annotations it was created with"
        if self.doc.kind == "service-account":
            self.add(
                checks.failed(
                    cid,
                    title,
                    detail,
                    "a rotation that crashes between creating and storing could "
                    "not find its account again: report this to VGS support",
                )
            )
        else:
            self.add(checks.ok(cid, title, detail + " (see the observation: crash leftovers need a manual look)"))

    def _mint(self, created: SecretDocument) -> None:
        cid, title = "canary-works", "canary passes testSecret's test"
        attempts = self.doc.test.attempts
        began = self.clock()
        for attempt in range(1, attempts + 1):
            try:
                self.issuer.test(created)
            except _RETRYABLE as exc:
                if attempt == attempts:
                    fix = "VGS does not accept a new credential within testSecret's attempts: raise `test.attempts`"
                    self.add(checks.from_error(cid, title, exc, fix))
                    self._observe("propagation", "How soon does a new credential work?", None)
                    return
                self.sleep(min(16.0, 2.0 ** (attempt - 1)))
                continue
            except checks.TEST_ERRORS as exc:
                self.add(
                    checks.from_error(
                        cid, title, exc, "the rotation's testSecret would fail the same way: fix what the line names"
                    )
                )
                return
            waited = self.clock() - began
            self.add(checks.ok(cid, title, f"accepted at attempt {attempt} of {attempts}", attempts=attempt))
            self._observe(
                "propagation",
                "How soon does a new credential work?",
                f"accepted at attempt {attempt} ({waited:.0f} s after creation)",
            )
            return

    def _delete(self, ref: str) -> None:
        cid, title = "canary-delete", "canary deleted"
        try:
            self.issuer.delete(ref)
        except checks.LOOK_ERRORS as exc:
            left = f"{ref} was left behind: `vgs-rotate doctor --canary` or `vgs-rotate cleanup SECRET_ID` removes it"
            self.add(checks.from_error(cid, title, exc, left, unknown_fix=left))
            return
        self.result.left_behind = None

    def _confirm(self, ref: str) -> None:
        cid, title = "canary-delete", "canary deleted"
        try:
            _owned, present = self.issuer.inventory()
        except checks.LOOK_ERRORS as exc:
            self.add(checks.from_error(cid, title, exc, f"check that {ref} is gone: `vgs-rotate status SECRET_ID`"))
            return
        if ref in present:
            self.add(
                checks.failed(
                    cid, title, f"deleted, yet VGS still lists {ref}", "`vgs-rotate cleanup SECRET_ID` deletes it again"
                )
            )
            return
        self.add(checks.ok(cid, title, f"{ref} deleted; VGS no longer lists it"))

    def _revoked(self, created: SecretDocument) -> None:
        question = "Does deleting a credential revoke it at once?"
        try:
            self.issuer.test(created)
        except errors.InvalidCredentials:
            self._observe("revocation", question, "yes: the deleted credential was refused at once")
            return
        except checks.TEST_ERRORS:
            self._observe("revocation", question, None)
            return
        self._observe("revocation", question, "no: the deleted credential still worked right after deletion")

    # -- observations ------------------------------------------------------------------

    def _observe(self, key: str, question: str, answer: str | None) -> None:
        project = {
            "annotations": (
                "with annotations, a rotation's crash leftovers are found by them (status, cleanup, the next "
                "rotation); without them, a credential created by a rotation that crashed before storing it cannot "
                "be told from others: it shows only as one more credential in VGS's list, to delete by hand"
            ),
            "propagation": (
                "testSecret retries a refused new credential up to `test.attempts` times (default 5) with 1, 2, "
                "4, 8 s between attempts"
            ),
            "revocation": (
                "the revoke policy deletes credentials at VGS; tokens minted before stay valid until they expire, "
                "so the overlap window (revoke next-rotation) must outlast the consumers' caches"
            ),
        }[key]
        self.result.observations.append(Observation(key, question, answer, project))


def scopes_observation(kind: str, granted: list[str] | None, created: bool | None) -> Observation:
    """What the manager's token carries and whether that sufficed to create (the scope
    names a manager needs are not in VGS's docs)."""
    noun = "service account" if kind == "service-account" else "access credential"
    answer = None
    if granted is not None:
        verdict = {
            True: f"enough to create a {noun}",
            False: f"not enough to create a {noun}",
            None: "creation not tried",
        }
        answer = f"{' '.join(granted) or '(none)'}: {verdict[created]}"
    return Observation(
        "manager-scopes",
        "Which scopes does a manager need? (VGS's docs do not name them)",
        answer,
        "doctor's 'manager may create' line expects service-accounts:write (service accounts) or credentials:write "
        "(access credentials) unless the canary proved creation",
    )
