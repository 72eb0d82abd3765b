"""Edge cases of the health checks that real VGS might show and the emulator does not:
annotations dropped, a deletion that fails, the history rules at their boundaries.
(Every capability also runs over moto and the emulator in test_doctor*.py / test_fleet.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from rotation.document import RotationMetadata, SecretDocument, parse_document
from rotation.health import checks
from rotation.health.canary import Canary
from rotation.health.capacity import Capacity
from rotation.health.catalog import SecretInfo
from rotation.health.fleet import is_ours
from rotation.health.history import derive
from rotation.health.manager import Inventory
from rotation.issuers import Owned
from rotation.vgs import Secret, errors

NOW = 1_800_000_000.0
MANAGER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf"


def document(kind: str = "service-account", **extra: object) -> SecretDocument:
    common = {"manager_secret_arn": MANAGER, "vault_ids": ["tntabc"], **extra}
    if kind == "service-account":
        return parse_document({
            "kind": kind, "client_id": "AC-app-1", "client_secret": "s" * 30, "organization_id": "ACorg",
            "scopes": ["cards:read"], **common,
        })  # fmt: skip
    return parse_document({"kind": kind, "credential_id": "c-1", "username": "US1", "password": "p" * 30, **common})


@dataclass
class FakeIssuer:
    """VGS as a dict; ``keep_annotations`` False drops them, as VGS might for credentials."""

    keep_annotations: bool = True
    fail_delete: bool = False
    listed: dict[str, str] = field(default_factory=dict)  # ref -> version annotation
    deleted: list[str] = field(default_factory=list)

    def inventory(self) -> tuple[list[Owned], set[str]]:
        owned = [Owned(r, v) for r, v in self.listed.items() if self.keep_annotations]
        return owned, set(self.listed)

    def owned(self) -> list[Owned]:
        return self.inventory()[0]

    def present(self) -> set[str]:
        return self.inventory()[1]

    def ensure_capacity(self, keep: set[str]) -> None:
        return None

    def create(self, base: SecretDocument, rotation: RotationMetadata) -> SecretDocument:
        ref = f"new-{len(self.listed)}"
        self.listed[ref] = rotation.version_id
        if base.kind == "service-account":
            return base.with_service_account(ref, Secret("n" * 30), rotation)
        return base.with_access_credential(ref, "US2", Secret("n" * 30), rotation)

    def test(self, doc: SecretDocument) -> None:
        if doc.credential_ref not in self.listed:
            raise errors.InvalidCredentials("credentials refused (HTTP 401)", operation="mint token", status=401)

    def delete(self, ref: str) -> bool:
        if self.fail_delete:
            raise errors.Unavailable("cannot connect to https://vgs (ConnectError)", operation="delete")
        self.deleted.append(ref)
        return self.listed.pop(ref, None) is not None

    def close(self) -> None:
        return None


def run_canary(issuer: FakeIssuer, kind: str) -> tuple[dict[str, checks.Check], dict[str, str | None]]:
    result = Canary(issuer, document(kind), clock=lambda: NOW, sleep=lambda s: None).run(Inventory((), frozenset()), ())
    return {c.id: c for c in result.checks}, {o.id: o.answer for o in result.observations}


def test_access_credentials_without_annotations_are_reported_not_failed():
    issuer = FakeIssuer(keep_annotations=False)
    found, observed = run_canary(issuer, "access-credentials")
    assert found["canary-annotations"].status == "ok"
    assert "without the annotations" in found["canary-annotations"].detail
    assert observed["annotations"] is not None and observed["annotations"].startswith("no")
    assert found["canary-delete"].status == "ok" and issuer.listed == {}


def test_service_accounts_without_annotations_fail():
    found, _ = run_canary(FakeIssuer(keep_annotations=False), "service-account")
    assert found["canary-annotations"].status == "failed"


def test_a_failed_delete_says_what_was_left_and_what_removes_it():
    issuer = FakeIssuer(fail_delete=True)
    result = Canary(issuer, document(), clock=lambda: NOW, sleep=lambda s: None).run(Inventory((), frozenset()), ())
    delete = next(c for c in result.checks if c.id == "canary-delete")
    assert delete.status == "unknown" and result.left_behind in delete.fix
    assert "cleanup" in delete.fix


def test_the_canary_removes_only_its_own_leftovers():
    issuer = FakeIssuer(listed={"old-canary": "doctor-canary-1", "crash": "some-rotation"})
    listed = Inventory((Owned("old-canary", "doctor-canary-1"), Owned("crash", "some-rotation")), frozenset())
    result = Canary(issuer, document(), clock=lambda: NOW, sleep=lambda s: None).run(listed, ())
    assert "old-canary" in issuer.deleted and "crash" not in issuer.deleted
    assert next(c for c in result.checks if c.id == "canary-leftovers").status == "ok"


def test_a_failure_wins_over_an_unknown():
    ok, bad, unsure = (checks.ok("a", "a", "x"), checks.failed("b", "b", "x", "fix"), checks.unknown("c", "c", "x"))
    assert checks.verdict([ok, unsure]) == "unknown"
    assert checks.verdict([ok, unsure, bad]) == "failed"
    assert checks.verdict([ok, checks.skipped("d", "d", "x")]) == "ok"


@pytest.mark.parametrize(
    ("kind", "used", "enough"),
    [("service-account", 48, True), ("service-account", 49, False), ("access-credentials", 8, True),
     ("access-credentials", 9, False), ("service-account", None, None)],
)  # fmt: skip
def test_capacity_headroom(kind, used, enough):
    assert Capacity(kind, "x", used).enough is enough


def _at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC)


def _info(**kw: object) -> SecretInfo:
    return SecretInfo(arn="arn", name="n", **kw)  # type: ignore[arg-type]


def test_history_outcomes():
    rotated = document(rotation={"version_id": "v2", "created_at": int(NOW - 3 * 86_400)})
    never = document()
    stages = {"v1": ("AWSPREVIOUS",), "v2": ("AWSCURRENT",)}
    ok = derive(_info(versions=stages, last_rotated=_at(2 * 86_400)), rotated, None, NOW)
    assert ok.outcome == "succeeded" and ok.source == "LastRotatedDate" and ok.previous_retired_days == pytest.approx(2)
    by_version = derive(_info(versions=stages), rotated, {"v2": _at(86_400)}, NOW)
    assert by_version.source == "AWSCURRENT version CreatedDate" and by_version.previous_retired_days == pytest.approx(
        1
    )
    assert derive(_info(versions=stages), rotated, None, NOW).source == "rotation.created_at"
    assert derive(_info(versions={"v1": ("AWSCURRENT",)}), never, None, NOW).outcome == "never"
    pending = {"v1": ("AWSCURRENT",), "v3": ("AWSPENDING",)}
    assert derive(_info(versions=pending), never, {"v3": _at(600)}, NOW).outcome == "in-progress"
    assert derive(_info(versions=pending), never, {"v3": _at(7200)}, NOW).outcome == "failed"
    assert derive(_info(versions=pending), never, None, NOW).outcome == "failed"
    same = {"v1": ("AWSCURRENT", "AWSPENDING")}  # decision 1: a finished rotation
    assert derive(_info(versions=same), never, None, NOW).outcome == "never"
    overdue = _info(versions=stages, rotation_enabled=True, next_rotation=_at(2 * 86_400), last_rotated=_at(9 * 86_400))
    assert derive(overdue, rotated, None, NOW).outcome == "overdue"


def test_which_secrets_are_ours():
    fn = "arn:aws:lambda:us-east-1:123456789012:function:"
    assert is_ours(_info(tags={"vgs-rotation:kind": "service-account"}))
    assert is_ours(_info(rotation_function=fn + "vgs-rotation-prod-rotation"))
    assert not is_ours(_info(rotation_function=fn + "rds-rotator"))
    assert is_ours(_info(rotation_function=fn + "rds-rotator"), ["rds-rotator"])
    assert is_ours(_info(rotation_function=fn + "custom"), [fn + "custom"])
    assert not is_ours(_info())
