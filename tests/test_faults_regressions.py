"""Regression tests for defects the fault schedules found, against moto's server and the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rotation.core import Rotation
from rotation.issuers import default_issuer_factory
from tests.rotation_harness import CallBudget, CountingStore, World, counting_http, make_world, start_rotation
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

    removes_pending = lambda kw: kw.get("VersionStage") == "AWSPENDING" and "MoveToVersionId" not in kw  # noqa: E731
    rot = hooked_rotation(world, "update_secret_version_stage", removes_pending, rotation_b)
    rot.handle(event(world, "finishSecret", a))
    current = world.document()
    assert current.rotation.version_id != a  # B is current
    mints(world, current)
