"""Shared fixtures: the VGS emulator, moto's Secrets Manager server, a virtual clock,
and a check that no secret reached the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import VirtualClock


@pytest.fixture(scope="session")
def _emulator_server() -> Iterator[Any]:
    from rotation.emulator import Emulator

    with Emulator(port=0) as emu:
        yield emu


@pytest.fixture
def emulator(_emulator_server: Any) -> Iterator[Any]:
    """The VGS emulator over real loopback HTTP, reset to its bootstrap state for each test."""
    _emulator_server.reset()
    yield _emulator_server
    _emulator_server.faults.clear()


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's Secrets Manager over real HTTP, reset for each test; boto3 is pointed at it
    through the standard AWS environment variables."""
    import httpx

    httpx.post(f"{_moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return _moto_server


@pytest.fixture(autouse=True)
def _product_loggers_put_back() -> Iterator[None]:
    """Put the product's loggers back after each test: importing a Lambda module hands the
    ``rotation`` loggers to Powertools (its handler on a captured stdout that is closed
    afterwards, no propagation), which would hide later tests' records from their captures."""
    from tests.faults.leaks import PRODUCT_LOGGERS

    saved = []
    for name in PRODUCT_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, list(lg.handlers), lg.propagate, lg.level))
    yield
    for lg, handlers, propagate, level in saved:
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.setLevel(level)


@pytest.fixture
def leak_check(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Capture every log record (the product's loggers at DEBUG, third-party libraries at
    INFO: ``tests.faults.leaks`` says why); call ``leak_check(secret, ...)`` to assert that
    none of the given values (or ``(id, secret)`` pairs), nor anything the test's emulator
    issued (secrets and access tokens), appears in any form in any captured record
    (message or extra fields) or in ``extra_text``."""
    from tests.faults.leaks import PRODUCT_LOGGERS
    from tests.faults.schedules import captured_logs

    def emulators() -> list[Any]:
        found: dict[int, Any] = {}
        for name in ("emulator", "vemu", "running"):
            if name in request.fixturenames:
                value = request.getfixturevalue(name)
                value = value[0] if isinstance(value, tuple) else value
                if hasattr(value, "issued_tokens"):
                    found[id(value)] = value
        return list(found.values())

    with captured_logs() as logs:

        def check(*secrets: str | tuple[str, str], extra_text: str = "") -> None:
            from tests.helpers import assert_no_secret

            assert any(name.startswith(PRODUCT_LOGGERS) for name in logs.names), (
                "no log record of ours was captured: the check would pass vacuously"
            )
            text = "\n".join(logs.parts) + "\n" + extra_text
            assert_no_secret(text, *secrets)
            for emu in emulators():
                assert_no_secret(text, emulator=emu)

        yield check


@pytest.fixture(scope="module")
def running() -> Iterator[Any]:
    """An emulator on a virtual clock, for one test module: (emulator, clock)."""
    from tests.emulator_fixtures import running_emulator

    with running_emulator() as pair:
        yield pair


@pytest.fixture
def vgs(running: Any) -> Iterator[Any]:
    """A raw HTTP client to a freshly reset emulator (for the emulator's own tests)."""
    from tests.emulator_fixtures import EmuHTTP

    emu, clock = running
    emu.reset()
    clock.reset()
    client = EmuHTTP(emu)
    yield client
    client.close()
