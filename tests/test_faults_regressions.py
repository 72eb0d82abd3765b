"""Regression tests for defects the fault schedules found, against moto's server and the emulator."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rotation.core import Rotation
from rotation.issuers import default_issuer_factory
from rotation.stores import StoreError
from tests.rotation_harness import CallBudget, CountingStore, Crash, World, counting_http, make_world, start_rotation
from tests.test_rotation import mints


class HookStore(CountingStore):
    """Runs ``hook`` once, right before (``when="before"``) or after the matching store call."""

    def __init__(self, budget: CallBudget, call: str, match: Callable[[dict[str, Any]], bool],
                 hook: Callable[[], None], when: str = "after") -> None:  # fmt: skip
        super().__init__(budget)
        self.call, self.match, self.hook, self.when = call, match, hook, when

    def _call(self, name: str, **kwargs: Any) -> Any:
        fire = self.hook is not None and name == self.call and self.match(kwargs)
        hook = self.hook
        if fire:
            self.hook = None  # type: ignore[assignment]
            if self.when == "before":
                hook()
        out = super()._call(name, **kwargs)
        if fire and self.when == "after":
            hook()
        return out


def hooked_rotation(world: World, call: str, match: Callable[[dict[str, Any]], bool], hook: Callable[[], None],
                    when: str = "after") -> Rotation:  # fmt: skip
    return Rotation(
        HookStore(world.budget, call, match, hook, when),
        default_issuer_factory(http_factory=counting_http(world.budget, world.clock)),
        clock=world.clock,
        sleep=world.clock.sleep,
    )


def event(world: World, step: str, token: str) -> dict[str, str]:
    return {"Step": step, "SecretId": world.secret_arn, "ClientRequestToken": token}


def test_a_finish_overtaken_by_a_newer_rotation_keeps_the_new_current(emulator, moto_url):
    """finishSecret of rotation A moved the stages; before it retired anything, rotation B ran
    from start to finish. A's retirement used to count only A's credential as live and
    deleted B's, the new AWSCURRENT: an outage for every consumer."""
    world = make_world(emulator, revoke="immediate")
    a = start_rotation(world.secret_arn)
    world.run(a, ("createSecret", "setSecret", "testSecret"))

    def rotation_b() -> None:
        world.rotate()

    moves_current = lambda kw: kw.get("VersionStage") == "AWSCURRENT"  # noqa: E731
    rot = hooked_rotation(world, "update_secret_version_stage", moves_current, rotation_b)
    rot.handle(event(world, "finishSecret", a))
    current = world.document()
    assert current.rotation.version_id != a  # B is current
    mints(world, current)


def test_an_interrupted_retirement_is_finished_by_the_next_rotation(emulator, moto_url):
    """finishSecret moved AWSCURRENT and died before deleting; Secrets Manager gave up. The
    credential it was to delete (the initial one, made outside this system, so without an
    annotation) used to stay live forever: nothing after that rotation knew of it."""
    world = make_world(emulator)
    initial = world.initial_client_id
    world.rotate()
    second = start_rotation(world.secret_arn)
    world.run(second, ("createSecret", "setSecret", "testSecret"))

    def crash() -> None:
        raise Crash("died after promoting")

    moves_current = lambda kw: kw.get("VersionStage") == "AWSCURRENT"  # noqa: E731
    rot = hooked_rotation(world, "update_secret_version_stage", moves_current, crash)
    with contextlib.suppress(Crash):
        rot.handle(event(world, "finishSecret", second))
    assert initial in world.live_for_secret()  # not retired: Secrets Manager gave up
    world.rotate()
    current, previous = world.document(), world.document("AWSPREVIOUS")
    assert world.live_for_secret() == {current.credential_ref, previous.credential_ref}
    assert initial not in world.live_for_secret()


def test_a_rotation_that_read_a_stale_current_still_retires_what_it_replaced(emulator, moto_url):
    """Rotation B started while A's finishSecret ran (after its guards) and created its
    credential reading AWSCURRENT = the initial one; A then completed, and B after it. B's
    ``retire`` (computed at its createSecret, when there was no AWSPREVIOUS) was empty, so
    the initial credential, neither AWSCURRENT nor AWSPREVIOUS any more, used to stay
    live: three credentials at rest, one of them unknown to every later rotation."""
    world = make_world(emulator)
    initial = world.initial_client_id
    a = start_rotation(world.secret_arn)
    world.run(a, ("createSecret", "setSecret", "testSecret"))
    b: list[str] = []

    def start_b() -> None:
        # AWSPENDING moved by a direct API call (RotateSecret would be refused now)
        b.append(start_rotation(world.secret_arn, force=True))
        world.run(b[0], ("createSecret", "setSecret"))

    moves_current = lambda kw: kw.get("VersionStage") == "AWSCURRENT"  # noqa: E731
    rot = hooked_rotation(world, "update_secret_version_stage", moves_current, start_b, when="before")
    try:
        rot.handle(event(world, "finishSecret", a))
    except StoreError:
        # AWSPENDING moved to B under A's feet, so removing it from A is refused after
        # AWSCURRENT moved; Secrets Manager retries A, which then only retires.
        world.run(a, ("finishSecret",))
    assert world.document().rotation.version_id == a
    world.run(b[0], ("testSecret", "finishSecret"))
    current, previous = world.document(), world.document("AWSPREVIOUS")
    assert current.rotation.version_id == b[0]
    assert initial not in world.live_for_secret()
    assert world.live_for_secret() == {current.credential_ref, previous.credential_ref}
    mints(world, current)
    mints(world, previous)


def test_a_refused_pending_write_deletes_the_new_credential_at_once(emulator, moto_url):
    """PutSecretValue was refused (throttled) and the read-back that decides whether it
    landed failed too: the new credential used to stay at VGS, tagged but unreferenced,
    until some later rotation found it. A refusal surely did not land: delete at once."""
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    store = CountingStore(world.budget)
    real = store._call
    failing = {"put_secret_value": 1, "get_secret_value": 0}

    def call(name: str, **kwargs: Any) -> Any:
        if name == "put_secret_value" and failing["put_secret_value"]:
            failing["put_secret_value"] -= 1
            failing["get_secret_value"] = 5
            raise StoreError("Secrets Manager put_secret_value failed (ThrottlingException)",
                             code="ThrottlingException", retryable=True)  # fmt: skip
        if name == "get_secret_value" and failing["get_secret_value"]:
            raise StoreError("Secrets Manager get_secret_value failed (ThrottlingException)",
                             code="ThrottlingException", retryable=True)  # fmt: skip
        return real(name, **kwargs)

    store._call = call  # type: ignore[method-assign]
    rot = Rotation(store, default_issuer_factory(http_factory=counting_http(world.budget, world.clock)),
                   clock=world.clock, sleep=world.clock.sleep)  # fmt: skip
    try:
        rot.handle(event(world, "createSecret", token))
    except StoreError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the refused write must fail the step")
    assert world.tagged_at_vgs() == set()


def test_verbose_debug_logs_no_secret_of_the_libraries(emulator, moto_url):
    """``vgs-rotate -vv`` turned every logger to DEBUG: botocore's request bodies (the new
    SecretString of PutSecretValue) and httpcore's reached stderr. The leak scan over the
    CLI's stderr (with everything the emulator issued) found it; -vv now turns only our own
    loggers to DEBUG."""
    import os
    import subprocess
    import sys

    from tests.helpers import assert_no_secret

    world = make_world(emulator, enabled=False)
    first = world.document()
    proc = subprocess.run(
        [sys.executable, "-m", "rotation.cli", "-vv", "rotate", world.secret_arn, "--local"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert " DEBUG rotation." in proc.stderr, "-vv shows our DEBUG records"
    assert emulator.issued_tokens(), "the scan must have minted tokens to look for"
    assert_no_secret(proc.stdout + proc.stderr, *first.secret_values(), *world.document().secret_values(),
                     emulator=emulator)  # fmt: skip


def test_a_duplicate_create_invocation_keeps_the_stored_pending_credential(emulator, moto_url):
    """Two invocations of createSecret for the same token (Secrets Manager delivers an event
    twice, or retries while the first still runs). The second created and stored a credential
    while the first was between reading AWSPENDING and listing VGS; the first then took it
    for its own crash leftover (same token annotation, not AWSCURRENT or AWSPREVIOUS) and
    deleted it: AWSPENDING named a credential VGS no longer had, testSecret failed on every
    retry and the secret stayed stuck. Found by the schedules' oracle (duplicate invocation)."""
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)

    def duplicate() -> None:
        world.run(token, ("createSecret",))

    reads_current = lambda kw: kw.get("SecretId") == world.secret_arn and kw.get("VersionStage") == "AWSCURRENT"  # noqa: E731
    rot = hooked_rotation(world, "get_secret_value", reads_current, duplicate)
    rot.handle(event(world, "createSecret", token))
    world.run(token, ("setSecret", "testSecret", "finishSecret"))
    current = world.document()
    assert current.rotation.version_id == token
    mints(world, current)


def test_revoke_never_deletes_a_credential_that_no_version_ever_stored(emulator, moto_url):
    """revoke=never: createSecret made a credential and died before storing it; an operator
    then cleared the stuck rotation (``status --repair``: nothing stored, nothing to delete)
    and the next rotation completed. Under ``never`` finishSecret used to retire nothing at
    all, so the credential nobody ever saw stayed live for good (the oracle's orphan count,
    which does not read annotations, found it); the credentials versions hold stay."""
    from rotation.status import repair

    world = make_world(emulator, revoke="never")
    manager = emulator.bootstrap["client_id"]
    a = start_rotation(world.secret_arn)

    def die() -> None:
        raise Crash("died before storing the new credential")

    rot = hooked_rotation(world, "put_secret_value", lambda kw: True, die, when="before")
    with contextlib.suppress(Crash):
        rot.handle(event(world, "createSecret", a))
    live = {x["client_id"] for x in emulator.service_accounts()} - {manager}
    (leftover,) = live - {world.initial_client_id}
    repair(CountingStore(world.budget), default_issuer_factory(), world.secret_arn)
    world.rotate()
    live = {x["client_id"] for x in emulator.service_accounts()} - {manager}
    current = world.document()
    assert leftover not in live
    assert live == {world.initial_client_id, current.credential_ref}
    mints(world, current)


def test_finish_before_create_never_promotes_a_version_without_a_value(emulator, moto_url):
    """finishSecret invoked (by hand, or a replayed event) for the rotation in progress before
    createSecret stored anything: it used to move AWSCURRENT onto the version without a value
    and only then read it and fail; every consumer then read an empty AWSCURRENT. It now reads
    the version first and refuses without writing; the rotation then completes normally."""
    import pytest

    from rotation.core import RotationError

    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    before = world.stages()
    with pytest.raises(RotationError):
        world.run(token, ("finishSecret",))
    assert world.stages() == before
    world.run(token)
    mints(world, world.document())


def test_a_retried_create_deletes_what_its_crashed_attempt_made_before_creating_again(emulator, moto_url):
    """createSecret made an account and died before storing it (VGS shows a secret once, so it
    can never be stored). The retry must delete it before creating the next one: the README
    promises never two live accounts for one rotation, and at VGS's 50-account limit a kept
    leftover is what makes the next rotation fail. Counted from VGS's list, not annotations
    (the rotation's final sweep would hide a missed delete by the end)."""
    world = make_world(emulator)
    manager = emulator.bootstrap["client_id"]
    token = start_rotation(world.secret_arn)

    def die() -> None:
        raise Crash("died before storing the new credential")

    rot = hooked_rotation(world, "put_secret_value", lambda kw: True, die, when="before")
    with contextlib.suppress(Crash):
        rot.handle(event(world, "createSecret", token))
    (leftover,) = {x["client_id"] for x in emulator.service_accounts()} - {manager, world.initial_client_id}
    world.run(token, ("createSecret",))
    live = {x["client_id"] for x in emulator.service_accounts()} - {manager}
    pending = world.document("AWSPENDING")
    assert leftover not in live
    assert live == {world.initial_client_id, pending.credential_ref}
    world.run(token, ("setSecret", "testSecret", "finishSecret"))
    mints(world, world.document())


def test_revoke_never_sweeps_a_duplicate_creates_credential_it_could_not_delete(emulator, moto_url):
    """revoke=never: two createSecret invocations for one token; the second stored its
    credential first, so the first's write was refused and it tried to delete what it had
    made, but VGS failed the delete (500s past the retries). finishSecret's sweep looked only
    at versions without a label, and this credential's version is the new AWSCURRENT: it
    stayed live for good (the oracle, counting from VGS's list, found it in the 10,000-run)."""
    import pytest

    world = make_world(emulator, revoke="never")
    manager = emulator.bootstrap["client_id"]
    token = start_rotation(world.secret_arn)

    def duplicate_then_failing_deletes() -> None:
        world.run(token, ("createSecret",))
        emulator.faults.inject("accounts.delete", status=500, count=50)

    class AfterListing(CallBudget):  # the duplicate runs between the first's listing and its create
        def tick(self, what: str) -> None:
            super().tick(what)
            if what == "vgs:list service accounts" and not self.log[:-1].count(what):
                duplicate_then_failing_deletes()

    rot = Rotation(CountingStore(world.budget), default_issuer_factory(http_factory=counting_http(AfterListing(),
                   world.clock)), clock=world.clock, sleep=world.clock.sleep)  # fmt: skip
    with pytest.raises(Exception, match="500"):
        rot.handle(event(world, "createSecret", token))
    emulator.faults.clear()
    assert len({x["client_id"] for x in emulator.service_accounts()} - {manager}) == 3  # initial, stored, stray
    world.run(token)
    live = {x["client_id"] for x in emulator.service_accounts()} - {manager}
    assert live == {world.initial_client_id, world.document().credential_ref}
