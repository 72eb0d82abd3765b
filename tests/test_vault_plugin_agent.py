# ruff: noqa: F811 - pytest fixtures imported from tests.vault_fixtures are used as parameters
"""A real Vault client: ``bao agent`` (OpenBao's agent, the same binary) renders
``vgs/token/NAME`` into a file with a consumer-policy token. The role's tokens live 60 s, so
the engine serves a fresh one after 30 s (its refresh margin is a quarter of the life, at
least 30 s); the token read carries no lease but ``ttl`` and ``rotation_period``, which the
agent's template engine treats like Vault's rotating static credentials: it reads again
``ttl`` + 1 s later. The test waits (bounded) for the file to change and checks every
render: a different token each time, never expired (by its ``expires_at`` and by VGS's own
verdict: the emulator's CMP probe accepts it), and no lease left in OpenBao."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from rotation.vgs import AccessToken, CMPProbe, Secret
from tests.vault_fixtures import BAO, Bao, bao_registered, bao_server, manager_config, mount  # noqa: F401
from tests.vault_load import count_leases

pytestmark = pytest.mark.bao

RENDER_BOUND = 90.0  # seconds: the second render is due ~31 s after the first


def _agent_config(bao: Bao, work: Path, mount: str) -> Path:
    (work / "token.tpl").write_text(
        f'{{{{ with secret "{mount}/token/agent" }}}}{{{{ .Data.access_token }}}} {{{{ .Data.expires_at }}}}{{{{ end }}}}'
    )
    config = work / "agent.hcl"
    config.write_text(
        f"""
vault {{
  address = "{bao.addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{work / "vault-token"}"
    }}
  }}
}}
template_config {{
  exit_on_retry_failure = true
}}
template {{
  source      = "{work / "token.tpl"}"
  destination = "{work / "vgs-token.txt"}"
}}
"""
    )
    return config


def _until(predicate: Any, bound: float, what: str) -> None:
    """Poll ``predicate`` (it raises on a violation: that fails the test at once) within ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {bound:.0f} s")
        time.sleep(0.05)  # polling interval of a bounded wait for a file change, not a timing assumption


def test_bao_agent_renders_fresh_tokens_and_never_an_expired_one(
    bao_registered: Bao, mount: str, emulator: Any, tmp_path: Path
):
    root = bao_registered.hvac()
    root.write_data(f"{mount}/config", data=manager_config(emulator))
    root.write_data(f"{mount}/roles/agent", data={"scopes": "cards:read", "token_lifespan": "60s"})
    policy = (Path(__file__).resolve().parents[1] / "infra/vault/policies/consumer.hcl").read_text()
    root.sys.create_or_update_policy(name=f"{mount}-consumer", policy=policy.replace('"vgs/', f'"{mount}/'))
    consumer = root.auth.token.create(policies=[f"{mount}-consumer"], ttl="10m")["auth"]["client_token"]
    (tmp_path / "vault-token").write_text(consumer)
    config = _agent_config(bao_registered, tmp_path, mount)
    out = tmp_path / "vgs-token.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    log = open(tmp_path / "agent.log", "wb")  # noqa: SIM115 - closed in finally
    agent = subprocess.Popen([BAO, "agent", f"-config={config}"], stdout=log, stderr=subprocess.STDOUT, env=env)
    renders: list[tuple[str, int, float]] = []
    probe = CMPProbe(emulator.bootstrap["cmp_url"])

    def observe() -> int:
        """Record the file's content when it changed; check it is not expired as it is seen."""
        assert agent.poll() is None, "the agent exited:\n" + (tmp_path / "agent.log").read_text()[-2000:]
        text = out.read_text().strip() if out.exists() else ""
        if text and (not renders or text.split()[0] != renders[-1][0]):
            token, expires_at = text.split()
            now = time.time()
            assert int(expires_at) > now, "an expired token was rendered"
            probe.check(AccessToken(Secret(token), "Bearer", int(expires_at) - now, now))  # VGS accepts it
            renders.append((token, int(expires_at), now))
        return len(renders)

    try:
        _until(lambda: observe() >= 1, 60, "first render by the agent")
        _until(lambda: observe() >= 2, RENDER_BOUND, "second render by the agent")
    finally:
        agent.terminate()
        agent.wait(20)
        log.close()
    (t1, exp1, seen1), (t2, exp2, seen2) = renders[:2]
    assert t1 != t2 and exp2 > exp1
    assert seen2 < exp1, "the fresh token was rendered while the first one was still valid"
    assert seen2 - seen1 >= 20, "the agent followed the engine's ttl, it did not poll"
    assert count_leases(bao_registered.addr, bao_registered.token, f"{mount}/") == 0, "the agent's reads left no lease"
    assert consumer not in (tmp_path / "agent.log").read_text()
