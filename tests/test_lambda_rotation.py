"""The Lambda adapter: the same rotation, driven through the Powertools handler."""

from __future__ import annotations

import json

import pytest

from rotation.core import EventError
from tests.helpers import LambdaContext as Context
from tests.helpers import assert_no_secret, emf_records
from tests.rotation_harness import make_world, start_rotation


def _log_to_captured_stdout() -> None:
    """Powertools binds its handler to the sys.stdout of import time; rebind it to this test's."""
    import sys

    from rotation.lambda_rotation import logger

    logger.registered_handler.stream = sys.stdout  # type: ignore[attr-defined]


def test_handler_rotates_logs_no_secret_and_emits_metrics(emulator, moto_url, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "VGSRotationTest")
    from rotation.lambda_rotation import handler

    _log_to_captured_stdout()

    world = make_world(emulator)
    first = world.document()
    token = start_rotation(world.secret_arn)
    rotation_token = "rotation-token-" + "z" * 40
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        handler(
            {"Step": step, "SecretId": world.secret_arn, "ClientRequestToken": token, "RotationToken": rotation_token},
            Context(),
        )
    out = capsys.readouterr()
    current = world.document()
    assert current.credential_ref != first.credential_ref
    assert_no_secret(
        out.out + out.err,
        rotation_token,
        *current.secret_values(),
        *first.secret_values(),
        emulator.bootstrap["client_secret"],
    )
    metrics = emf_records(out.out)
    seen = {(m.get("step"), m.get("outcome")) for m in metrics if "StepInvocations" in m}
    assert seen == {(s, "success") for s in ("createSecret", "setSecret", "testSecret", "finishSecret")}
    durations = [m["StepDuration"] for m in metrics if "StepDuration" in m]
    assert len(durations) == 4
    assert all(d >= 0 for d in durations)
    logs = [json.loads(line) for line in out.out.splitlines() if line.startswith("{") and '"level"' in line]
    assert any(r.get("message") == "rotation step finished" and r.get("step") == "finishSecret" for r in logs)


def test_handler_refuses_a_bad_event_with_a_metric(emulator, moto_url, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "VGSRotationTest")
    from rotation.lambda_rotation import handler

    _log_to_captured_stdout()
    with pytest.raises(EventError, match="unknown 'Step'"):
        handler(
            {
                "Step": "dropTables",
                "SecretId": "x",
                "ClientRequestToken": "y",
                "RotationToken": "rt-secret-value-123456",
            },
            Context(),
        )
    out = capsys.readouterr().out
    assert "rt-secret-value-123456" not in out
    assert any(m.get("outcome") == "bad_input" and m.get("step") == "invalid" for m in emf_records(out))
