"""The Lambda adapter: the same rotation, driven through the Powertools handler."""

from __future__ import annotations

import json
import logging

import pytest

from rotation.core import EventError
from tests.helpers import LambdaContext as Context
from tests.helpers import assert_no_secret, emf_records, powertools_logs_to_captured_stdout
from tests.rotation_harness import make_world, start_rotation


def _log_to_captured_stdout() -> None:
    from rotation.lambda_rotation import logger

    powertools_logs_to_captured_stdout(logger)


def test_handler_rotates_logs_no_secret_and_emits_metrics(emulator, moto_url, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "VGSRotationTest")
    from rotation.lambda_rotation import handler

    _log_to_captured_stdout()
    ours = logging.getLogger("rotation")  # Powertools set it to INFO: scan what DEBUG would write too
    level = ours.level
    ours.setLevel(logging.DEBUG)

    world = make_world(emulator)
    first = world.document()
    token = start_rotation(world.secret_arn)
    rotation_token = "rotation-token-" + "z" * 40
    returned = []
    try:
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            returned.append(handler(
                {"Step": step, "SecretId": world.secret_arn, "ClientRequestToken": token,
                 "RotationToken": rotation_token},
                Context(),
            ))  # fmt: skip
    finally:
        ours.setLevel(level)
    out = capsys.readouterr()
    current = world.document()
    assert current.credential_ref != first.credential_ref
    assert '"level":"DEBUG"' in out.out.replace(" ", ""), "the product's DEBUG records are in the scanned output"
    assert emulator.issued_tokens(), "tokens were minted (the manager's, testSecret's): the scan looks for them"
    # the handler's output (Powertools' JSON logs and metrics on stdout, stderr) and what it
    # returned: no secret, RotationToken, issued secret or minted access token, in any form
    assert_no_secret(
        out.out + out.err + repr(returned),
        rotation_token,
        *current.secret_values(),
        *first.secret_values(),
        emulator=emulator,
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
