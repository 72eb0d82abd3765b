"""The four rotation steps, store-agnostic, top to bottom.

Secrets Manager calls the rotation once per step, may call any step more than once, and
the process may die between any two external calls. Each step therefore starts from what
the store and VGS say now, never from memory, and each is safe to run again:

- createSecret makes a new VGS credential and stores it as AWSPENDING under the token;
- setSecret has nothing to push (VGS generates the secret);
- testSecret proves the pending credential mints a token with the right client and scopes;
- finishSecret promotes it to AWSCURRENT, then deletes what leaves the overlap window.

Every credential a rotation creates is annotated with the secret and the token, so a
crash between "create at VGS" and "store at AWS" is found and cleaned on the next try.

Secrets Manager calls are counted (``bench/rotation_bench.py``): each step reads what it
decides on and nothing twice. Two facts let it skip reads without trusting memory: a
version's value never changes (so a document may name the version it replaced and that
version's credential), and AWSPENDING may stay on the AWSCURRENT version after a
rotation (AWS documents this as complete; only AWSPENDING elsewhere is a rotation under
way). The only thing kept between invocations is the manager's access token, keyed by the
manager secret's version (``rotation.vgs.TokenCache``); stages are read fresh every time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rotation.document import (
    DocumentError,
    ManagerCredentials,
    RotationMetadata,
    SecretDocument,
    parse_document,
    parse_manager,
)
from rotation.issuers import CapacityError, Issuer, IssuerFactory, Owned
from rotation.stores import CURRENT, PENDING, PREVIOUS, SecretDescription, SecretStore, StoreError
from rotation.vgs import errors
from rotation.vgs.secret import Secret

log = logging.getLogger("rotation.core")

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# Secrets Manager error codes after which a PutSecretValue surely did not happen.
_WRITE_REFUSED = frozenset(
    {
        "ThrottlingException",
        "ResourceExistsException",
        "InvalidRequestException",
        "InvalidParameterException",
        "LimitExceededException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "EncryptionFailure",
    }
)
_MAX_ID = 2048


class EventError(ValueError):
    """The rotation event is malformed. Nothing was read or written."""


class RotationError(Exception):
    """A step cannot complete; Secrets Manager will retry the rotation or mark it failed."""


class _Previous(NamedTuple):
    """AWSPREVIOUS's credential, and what its rotation was due to retire."""

    credential_ref: str
    due: frozenset[str]


@dataclass(frozen=True)
class RotationEvent:
    step: str
    secret_id: str
    token: str
    rotation_token: Secret | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, event: Any) -> RotationEvent:
        """Validate the event Secrets Manager sends. Errors name the key, never a value."""
        if not isinstance(event, Mapping):
            raise EventError(f"rotation event must be a JSON object, not {type(event).__name__}")
        values: dict[str, str] = {}
        for key in ("Step", "SecretId", "ClientRequestToken"):
            value = event.get(key)
            if value is None:
                raise EventError(f"rotation event is missing '{key}'")
            if not isinstance(value, str):
                raise EventError(f"rotation event '{key}' must be a non-empty string, not {type(value).__name__}")
            if not value.strip():
                raise EventError(f"rotation event '{key}' is empty")
            if len(value) > _MAX_ID:
                raise EventError(f"rotation event '{key}' is too long ({len(value)} characters)")
            values[key] = value
        if values["Step"] not in STEPS:
            raise EventError(f"rotation event has an unknown 'Step' (expected one of {', '.join(STEPS)})")
        rotation_token = event.get("RotationToken")
        if rotation_token is not None and (not isinstance(rotation_token, str) or len(rotation_token) > _MAX_ID):
            raise EventError("rotation event 'RotationToken' must be a string")
        return cls(
            step=values["Step"],
            secret_id=values["SecretId"],
            token=values["ClientRequestToken"],
            rotation_token=Secret(rotation_token) if rotation_token else None,
        )


class Rotation:
    """Runs rotation steps against a secret store and VGS.

    ``allow_new_version`` lets createSecret run for a token that is not yet a version of
    the secret: Secrets Manager creates that version before calling the Lambda, but the
    local driver (``vgs-rotate rotate --local``) has no way to, so createSecret's write
    creates it. ``require_rotation_enabled`` is relaxed by the same driver, for secrets
    that are rotated by hand only.
    """

    def __init__(
        self,
        store: SecretStore,
        issuers: IssuerFactory,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        allow_new_version: bool = False,
        require_rotation_enabled: bool = True,
    ) -> None:
        self.store = store
        self.issuers = issuers
        self.clock = clock
        self.sleep = sleep
        self.allow_new_version = allow_new_version
        self.require_rotation_enabled = require_rotation_enabled

    def handle(self, event: Any) -> None:
        """Validate ``event`` and run its step."""
        ev = RotationEvent.parse(event)
        step: Callable[[RotationEvent], None] = {
            "createSecret": self.create_secret,
            "setSecret": self.set_secret,
            "testSecret": self.test_secret,
            "finishSecret": self.finish_secret,
        }[ev.step]
        step(ev)

    # -- createSecret ---------------------------------------------------------------

    def create_secret(self, ev: RotationEvent) -> None:
        desc, already_current = self._guard(ev)
        if already_current:
            return
        # A token that is not a version yet (the local driver) surely holds no value.
        if ev.token in desc.versions and (
            self.store.get_value(ev.secret_id, version_id=ev.token, stage=PENDING) is not None
        ):
            log.info("createSecret: AWSPENDING already holds a value for this token; nothing to do")
            return
        current_version, current = self._versioned_document(ev.secret_id, stage=CURRENT)
        previous = self._previous(ev.secret_id, desc, current_version, current)
        live = {current.credential_ref} | ({previous.credential_ref} if previous else set())

        with self._issuer(current, desc) as issuer:
            # An abandoned rotation left AWSPENDING on another version: its credential was
            # never promoted, and our write is about to take the label from it. (AWSPENDING
            # on the AWSCURRENT version is a completed rotation, not an abandoned one.)
            stale = desc.version_with(PENDING)
            if stale and stale != ev.token and CURRENT not in desc.stages_of(stale):
                stale_doc = self._document_or_none(ev.secret_id, version_id=stale)
                if stale_doc and stale_doc.credential_ref not in live:
                    issuer.delete(stale_doc.credential_ref)
            # A crash between creating at VGS and storing at AWS leaves a credential
            # annotated with this token and no stored value: it cannot be recovered (VGS
            # shows a secret only once), so delete it and create anew.
            owned, present = issuer.inventory()
            leftovers = [o.ref for o in owned if o.version_id == ev.token and o.ref not in live]
            # A duplicate invocation of this step (same token) may have created one of
            # them and stored it since this one read AWSPENDING: read again, after the
            # listing, before deleting anything (only when there is something to delete).
            if leftovers and self.store.get_value(ev.secret_id, version_id=ev.token, stage=PENDING) is not None:
                log.info("createSecret: another invocation stored AWSPENDING for this token; nothing to do")
                return
            for ref in leftovers:
                issuer.delete(ref)
                present.discard(ref)
            issuer.ensure_capacity(keep=live, present=present)

            retire: set[str] = set()
            if current.revoke == "next-rotation" and previous and previous.credential_ref != current.credential_ref:
                retire.add(previous.credential_ref)
            elif current.revoke == "immediate":
                retire.add(current.credential_ref)
            if current.revoke != "never":
                # Still due from earlier rotations whose finishSecret never got to delete it
                # (Secrets Manager gave up after the promotion): carried forward while it
                # exists, since a credential made outside this system has no annotation
                # by which a later rotation could find it.
                if current.rotation is not None:
                    retire |= current.rotation.due()
                if previous is not None:
                    retire |= previous.due
            keep_current = current.revoke != "immediate"
            retire = {r for r in retire if r in present and not (keep_current and r == current.credential_ref)}
            rotation = RotationMetadata(
                version_id=ev.token,
                created_at=int(self.clock()),
                retire=tuple(sorted(retire)),
                replaces=current.credential_ref,
                replaces_version=current_version,
            )
            pending = issuer.create(current, rotation)
            try:
                self.store.put_pending(
                    ev.secret_id,
                    ev.token,
                    pending.to_json(),
                    rotation_token=ev.rotation_token.reveal() if ev.rotation_token else None,
                )
            except StoreError as exc:
                self._undo_create(ev, issuer, pending.credential_ref, refused=exc.code in _WRITE_REFUSED)
                raise
        log.info("createSecret: new credential stored as AWSPENDING", extra={"credential": pending.credential_ref})

    def _undo_create(self, ev: RotationEvent, issuer: Issuer, ref: str, *, refused: bool) -> None:
        """The write failed: delete the new credential unless the write in fact landed.

        A refusal (throttled, another value under this token, a version that lost
        AWSPENDING to another rotation) surely did not land: no read-back, which could
        itself fail and leave the credential to the next rotation to clean."""
        if refused:
            issuer.delete(ref)
            return
        try:
            stored = self.store.get_value(ev.secret_id, version_id=ev.token)
        except StoreError:
            return  # unknown: the next attempt finds the credential by its annotation
        if stored is None:
            issuer.delete(ref)

    # -- setSecret ------------------------------------------------------------------

    def set_secret(self, ev: RotationEvent) -> None:
        # VGS generates the client secret (or password) when createSecret creates the
        # credential; there is no "set password" call to push it anywhere. The guards still
        # run, so a bad event fails here as it would in any other step; the pending
        # document is read and validated by testSecret, which needs it anyway.
        self._guard(ev)

    # -- testSecret -----------------------------------------------------------------

    def test_secret(self, ev: RotationEvent) -> None:
        desc, already_current = self._guard(ev)
        if already_current:
            return
        pending = self._document(ev.secret_id, version_id=ev.token, stage=PENDING)
        attempts = pending.test.attempts
        # Testing needs the pending credential only: no manager secret read, no manager token.
        with _IssuerScope(self.issuers(pending, None, desc.arn)) as issuer:
            for attempt in range(1, attempts + 1):
                try:
                    issuer.test(pending)
                    log.info("testSecret: pending credential works", extra={"attempt": attempt})
                    return
                except (errors.InvalidCredentials, errors.Unavailable, errors.RateLimited) as exc:
                    # A credential just created may take a moment to reach every VGS node.
                    if attempt == attempts:
                        raise RotationError(
                            f"testSecret: pending credential failed after {attempts} attempts: {exc}"
                        ) from None
                    delay = min(16.0, 2.0 ** (attempt - 1))
                    log.warning(
                        "testSecret: not accepted yet, retrying",
                        extra={"attempt": attempt, "wait_seconds": delay, "max_attempts": attempts, "detail": str(exc)},
                    )
                    self.sleep(delay)
                except (errors.VGSError, ValueError) as exc:
                    raise RotationError(f"testSecret: pending credential failed: {exc}") from None

    # -- finishSecret ---------------------------------------------------------------

    def finish_secret(self, ev: RotationEvent) -> None:
        desc, _ = self._guard(ev)
        # Read (and validate) the new version before promoting it: a version without a value
        # (a finishSecret invoked by hand before createSecret stored one) or with an invalid
        # document must never become AWSCURRENT. By version id, without a stage: a retry
        # after the promotion reads the same value (it never changes) even when a newer
        # rotation has AWSPENDING by then.
        new = self._document(ev.secret_id, version_id=ev.token)
        current_version = desc.version_with(CURRENT)
        if current_version != ev.token:
            # An explicit RemoveFromVersionId: AWS refuses to move AWSCURRENT without it,
            # and moves AWSPREVIOUS onto the version we take AWSCURRENT from.
            self.store.move_stage(ev.secret_id, CURRENT, to_version=ev.token, from_version=current_version)
            log.info("finishSecret: AWSCURRENT moved to the new version")
        # AWSPENDING stays on the new AWSCURRENT version: AWS documents that as a completed
        # rotation (RotateSecret starts the next one and moves it), and removing it would
        # cost a write. Everything that reads stages treats only AWSPENDING on *another*
        # version as a rotation under way.
        # Retiring runs again when finishSecret is retried after the stage move, so a crash
        # between promoting and deleting leaves nothing behind.
        self._retire(ev, desc, new)

    def _retire(self, ev: RotationEvent, desc: SecretDescription, new: SecretDocument) -> None:
        with self._issuer(new, desc) as issuer:
            # List first, then read what is live: a credential created after the listing
            # is not a candidate, and one created before it is kept if the store (read
            # after the listing) references it. Another rotation may run at any time.
            owned, present = issuer.inventory()
            fresh = self.store.describe(ev.secret_id)
            if fresh.version_with(CURRENT) != ev.token:
                # A newer rotation completed while this one finished: what is due is its
                # to retire, and its credential is AWSCURRENT now. Delete nothing.
                log.info("finishSecret: a newer rotation is current; leaving retirement to it")
                return
            # A newer rotation under way (AWSPENDING on another version) may be creating
            # its credential right now: a retried finishSecret must not take it.
            newer = fresh.version_with(PENDING)
            newer = newer if newer != ev.token else None
            if new.revoke == "never":
                doomed = self._never_stored(ev, new, owned, present, newer)
            else:
                doomed = self._due(ev, fresh, new, owned, present, newer)
            for ref in sorted(doomed):
                issuer.delete(ref)
        if doomed:
            what = "deleted credentials no version ever stored" if new.revoke == "never" else "retired credentials"
            log.info("finishSecret: %s", what, extra={"credentials": sorted(doomed)})

    def _due(
        self,
        ev: RotationEvent,
        fresh: SecretDescription,
        new: SecretDocument,
        owned: list[Owned],
        present: set[str],
        newer: str | None,
    ) -> set[str]:
        """What leaves the overlap window under ``next-rotation`` or ``immediate``."""
        previous = self._previous(ev.secret_id, fresh, ev.token, new)
        live = {new.credential_ref}
        if new.revoke != "immediate" and previous is not None:
            live.add(previous.credential_ref)
        if newer:
            # stored as AWSPENDING, or created and not yet stored
            pending = self._document_or_none(ev.secret_id, version_id=newer)
            if pending is not None:
                live.add(pending.credential_ref)
            live |= {o.ref for o in owned if o.version_id == newer}
        # Candidates: what this rotation and the previous one were due to retire and the
        # credentials they replaced (a finishSecret may have died before deleting; another
        # rotation completing in between makes ``retire`` stale; a credential made outside
        # this system carries no annotation to be found by), and credentials this system
        # made for this secret that no version uses any more: the result of crashes,
        # abandoned or concurrent rotations. Live ones are never deleted.
        due: set[str] = set(new.rotation.due()) if new.rotation is not None else set()
        if previous is not None:
            due |= previous.due
        due |= {o.ref for o in owned}
        return {ref for ref in due if ref in present and ref not in live}

    def _never_stored(
        self, ev: RotationEvent, new: SecretDocument, owned: list[Owned], present: set[str], newer: str | None
    ) -> set[str]:
        """revoke=never keeps every credential a version of the secret holds; one that no
        version ever stored (created by a rotation that was then cleared, e.g. by
        ``status --repair`` while its createSecret still ran, and whose write was lost) was
        never handed to anyone, and no later rotation finds it otherwise. Those only: a
        credential whose rotation version holds no value or another credential. Costs one
        read per earlier version that owns a credential other than the new one."""
        candidates: dict[str, list[str]] = {}
        for o in owned:
            if o.ref in present and o.version_id and o.version_id != newer and o.ref != new.credential_ref:
                candidates.setdefault(o.version_id, []).append(o.ref)
        doomed: set[str] = set()
        for version_id, refs in sorted(candidates.items()):
            # This rotation's own version holds ``new``: a second credential made under
            # its token (a duplicate createSecret whose refused write could not delete
            # what it made) was never stored either.
            held = new if version_id == ev.token else self._document_or_none(ev.secret_id, version_id=version_id)
            doomed |= {ref for ref in refs if held is None or held.credential_ref != ref}
        return doomed

    # -- shared ---------------------------------------------------------------------

    def _guard(self, ev: RotationEvent) -> tuple[SecretDescription, bool]:
        """The checks of AWS's rotation template. Returns (description, already current)."""
        desc = self.store.describe(ev.secret_id)
        if self.require_rotation_enabled and not desc.rotation_enabled:
            raise RotationError(f"rotation is not enabled for secret {desc.name}")
        stages = desc.stages_of(ev.token)
        if ev.token not in desc.versions:
            if ev.step == "createSecret" and self.allow_new_version:
                return desc, False
            raise EventError(f"ClientRequestToken is not a version of secret {desc.name}")
        if CURRENT in stages:
            log.info("%s: version is already AWSCURRENT", ev.step)
            return desc, True
        if PENDING not in stages:
            raise EventError(f"version is not AWSPENDING for secret {desc.name}: another rotation may have replaced it")
        return desc, False

    def _document(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> SecretDocument:
        raw = self.store.get_value(secret_id, version_id=version_id, stage=stage)
        return self._parse(secret_id, raw, stage or "the version")

    def _versioned_document(self, secret_id: str, *, stage: str) -> tuple[str, SecretDocument]:
        """The document at ``stage`` and the id of the version it was read from."""
        found = self.store.get_version(secret_id, stage=stage)
        return (found.version_id if found else ""), self._parse(secret_id, found.value if found else None, stage)

    @staticmethod
    def _parse(secret_id: str, raw: str | None, what: str) -> SecretDocument:
        if raw is None:
            raise RotationError(f"secret {secret_id} has no value at {what}")
        try:
            return parse_document(raw)
        except DocumentError as exc:
            raise DocumentError(
                exc.field, str(exc).split(f"'{exc.field}' ", 1)[-1], document=f"secret document of {secret_id} ({what})"
            ) from None

    def _previous(
        self, secret_id: str, desc: SecretDescription, current_version: str, current: SecretDocument
    ) -> _Previous | None:
        """AWSPREVIOUS's credential and what it was due to retire, as ``desc`` shows it.

        Read only when needed: none when the description shows no AWSPREVIOUS; and when
        AWSPREVIOUS is the version ``current`` says it replaced, its credential is the one
        ``current`` records (a version's value never changes) and what it was due to retire
        was carried into ``current``'s ``retire`` by the createSecret that made ``current``.
        """
        if desc.version_with(CURRENT) != current_version:
            # AWSCURRENT moved since the description was read: read AWSPREVIOUS as it is now.
            doc = self._document_or_none(secret_id, stage=PREVIOUS)
        else:
            previous_id = desc.version_with(PREVIOUS)
            if previous_id is None:
                return None
            made = current.rotation
            if made is not None and made.replaces and made.replaces_version == previous_id:
                return _Previous(made.replaces, frozenset())
            doc = self._document_or_none(secret_id, version_id=previous_id)
        if doc is None:
            return None
        return _Previous(doc.credential_ref, frozenset(doc.rotation.due() if doc.rotation else ()))

    def _document_or_none(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> SecretDocument | None:
        raw = self.store.get_value(secret_id, version_id=version_id, stage=stage)
        if raw is None:
            return None
        try:
            return parse_document(raw)
        except DocumentError as exc:
            log.warning("ignoring an older version that is not a valid document", extra={"field": exc.field})
            return None

    def _manager(self, doc: SecretDocument) -> ManagerCredentials:
        """The manager's credentials, with the version they came from: a warm Lambda reuses
        the manager's token for that version only (``rotation.vgs.TokenCache``)."""
        found = self.store.get_version(doc.manager_secret_arn, stage=CURRENT)
        if found is None:
            raise RotationError(
                f"the manager secret {doc.manager_secret_arn} (manager_secret_arn) has no AWSCURRENT value: "
                "store the manager credential there"
            )
        version = f"{doc.manager_secret_arn}@{found.version_id}" if found.version_id else None
        return parse_manager(found.value, version=version)

    def _issuer(self, doc: SecretDocument, desc: SecretDescription) -> _IssuerScope:
        return _IssuerScope(self.issuers(doc, self._manager(doc), desc.arn))


class _IssuerScope:
    """Closes the issuer's HTTP pool when a step ends, whatever happened."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    def __enter__(self) -> Issuer:
        return self.issuer

    def __exit__(self, *exc: object) -> None:
        self.issuer.close()


__all__ = ["STEPS", "CapacityError", "EventError", "Rotation", "RotationError", "RotationEvent"]
