"""``vgs-rotate doctor --canary`` over moto's server and the emulator: it asks first, makes
one throwaway credential exactly as a rotation would, reports what VGS did, and leaves
nothing behind: not when it succeeds, not on Ctrl-C, and when killed, the next doctor run
finds its leftover and ``doctor --canary`` removes it."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from rotation.health.leftovers import CANARY_VERSION_PREFIX
from rotation.vgs import AccountsClient, VaultCredentialsClient
from tests.doctor_helpers import annotated_for, fill_accounts, popen, vgs_rotate
from tests.rotation_harness import make_world

DEADLINE = 90.0


def canaries(emulator: Any, world: Any) -> dict[str, str]:
    return {
        k: v
        for k, v in annotated_for(emulator, world.secret_arn, world.kind).items()
        if v.startswith(CANARY_VERSION_PREFIX)
    }


def wait_for(predicate: Any, what: str) -> None:
    """Wait (bounded) for something another process does; not a timing assumption."""
    pause = threading.Event()
    for _ in range(int(DEADLINE / 0.05)):
        if predicate():
            return
        pause.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def created_secrets(monkeypatch):
    """Every secret VGS hands out at creation in this process (to check none leaks)."""
    seen: list[str] = []
    for cls, attr in ((AccountsClient, "client_secret"), (VaultCredentialsClient, "password")):
        original = cls.create

        def create(self, *a, __original=original, __attr=attr, **kw):
            created = __original(self, *a, **kw)
            seen.append(getattr(created, __attr).reveal())
            return created

        monkeypatch.setattr(cls, "create", create)
    return seen


@pytest.mark.parametrize("kind", ["service-account", "access-credentials"])
def test_canary_creates_tests_deletes_and_reports(emulator, moto_url, leak_check, created_secrets, kind):
    world = make_world(emulator, kind=kind)
    world.rotate()
    before = {c for c in annotated_for(emulator, world.secret_arn, kind)}
    created_secrets.clear()
    start = emulator.request_counts
    ran = vgs_rotate("doctor", world.secret_arn, "--canary", "--yes", "--json")
    assert ran.code == 0, ran.output
    statuses = ran.statuses()
    for step in ("canary-create", "canary-annotations", "canary-works", "canary-delete"):
        assert statuses[step] == "ok", step
    assert statuses["manager-scopes"] == "ok"
    assert next(c for c in ran.report()["checks"] if c["id"] == "manager-scopes")["data"].get("proven") is True
    observed = {o["id"]: o["answer"] for o in ran.report()["observations"]}
    assert observed["annotations"].startswith("yes")
    assert observed["revocation"].startswith("yes")
    assert observed["manager-scopes"] and "enough to create" in observed["manager-scopes"]
    # the outside world: one create, one delete, and nothing of the canary left
    counts = emulator.request_counts - start
    route = "accounts" if kind == "service-account" else "credentials"
    assert counts[f"{route}.create"] == 1 and counts[f"{route}.delete"] == 1
    assert canaries(emulator, world) == {}
    assert set(annotated_for(emulator, world.secret_arn, kind)) == before
    assert len(created_secrets) == 1
    text = vgs_rotate("doctor", world.secret_arn, "--canary", "--yes")
    assert text.code == 0 and "what VGS did where its docs are silent" in text.stdout
    leak_check(*created_secrets, *world.document().secret_values(), emulator.bootstrap["client_secret"],
               extra_text=ran.output + text.output)  # fmt: skip


def test_canary_asks_first_and_a_no_writes_nothing(emulator, moto_url):
    world = make_world(emulator)
    start = emulator.request_counts["accounts.create"]
    ran = vgs_rotate("doctor", world.secret_arn, "--canary", input="n\n")
    assert ran.code == 1 and "aborted" in ran.stderr
    assert emulator.request_counts["accounts.create"] == start
    assert emulator.request_counts["accounts.list"] == 0  # asked before anything ran
    yes = vgs_rotate("doctor", world.secret_arn, "--canary", "--json", input="y\n")
    assert yes.code == 0 and emulator.request_counts["accounts.create"] == start + 1
    assert yes.report()["verdict"] == "ok"  # the prompt went to stderr: stdout is the JSON alone


def test_no_canary_without_headroom(emulator, moto_url):
    world = make_world(emulator)
    fill_accounts(emulator, 49)
    start = emulator.request_counts["accounts.create"]
    ran = vgs_rotate("doctor", world.secret_arn, "--canary", "--yes", "--json")
    assert ran.statuses()["canary"] == "skipped" and ran.statuses()["capacity"] == "failed"
    assert emulator.request_counts["accounts.create"] == start


@pytest.mark.parametrize("remover", ["doctor --canary", "cleanup"])
def test_a_canary_killed_midway_is_found_and_removed(emulator, moto_url, remover):
    world = make_world(emulator)
    world.rotate()
    # VGS holds the canary's DELETE (then hangs up without deleting): the process is killed there.
    emulator.faults.inject("accounts.delete", delay=DEADLINE, drop=True)
    proc = popen("doctor", world.secret_arn, "--canary", "--yes")
    try:
        wait_for(lambda: emulator.request_counts["accounts.delete"] >= 1, "the canary's delete")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    emulator.faults.clear()
    left = canaries(emulator, world)
    assert len(left) == 1, "the kill should have left the canary's account"
    leftover = next(iter(left))
    # plain doctor (read-only) reports it, and says what removes it
    plain = vgs_rotate("doctor", world.secret_arn, "--json")
    assert plain.code == 1
    orphans = next(c for c in plain.report()["checks"] if c["id"] == "orphans")
    assert orphans["status"] == "failed" and orphans["data"]["canary_leftovers"] == [leftover]
    assert "--canary" in orphans["fix"] and "cleanup" in orphans["fix"]
    assert canaries(emulator, world) == left  # read-only: still there
    if remover == "cleanup":
        cleaned = vgs_rotate("cleanup", world.secret_arn, "--yes")
        assert cleaned.code == 0, cleaned.output
        assert canaries(emulator, world) == {}
    # doctor --canary removes what is left of earlier canaries, runs its own and leaves nothing
    again = vgs_rotate("doctor", world.secret_arn, "--canary", "--yes", "--json")
    assert again.code == 0, again.output
    removed = "ok" if remover == "doctor --canary" else None
    assert again.statuses().get("canary-leftovers") == removed and again.statuses()["orphans"] == "ok"
    assert canaries(emulator, world) == {}


def test_ctrl_c_during_the_canary_still_deletes_it(emulator, moto_url):
    world = make_world(emulator)  # not rotated: the CMP probe runs once for AWSCURRENT, then for the canary
    emulator.faults.inject("cmp.card", delay=0.001)
    emulator.faults.inject("cmp.card", delay=DEADLINE, drop=True)
    proc = popen("doctor", world.secret_arn, "--canary", "--yes")
    try:
        wait_for(lambda: emulator.request_counts["cmp.card"] >= 2, "the canary's CMP probe")
        assert canaries(emulator, world), "the canary should exist while it is being tested"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["vgs-rotate: error: interrupted"]
    assert canaries(emulator, world) == {}
