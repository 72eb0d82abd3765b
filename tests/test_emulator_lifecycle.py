"""Starting, stopping and concurrency of the emulator."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rotation.emulator import Emulator
from tests.emulator_fixtures import EmuHTTP, running_emulator


def test_serve_forever_in_the_foreground_stops_from_another_thread():
    emu = Emulator(port=0).bind()
    url = emu.url
    thread = threading.Thread(target=emu.serve_forever, daemon=True)
    thread.start()
    client = EmuHTTP(emu)
    assert client.mint().status_code == 200
    emu.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert emu.url == url  # still readable after stop
    with pytest.raises(httpx.TransportError):
        client.http.get(emu.bootstrap["jwks_url"])
    client.close()
    emu.stop()  # twice is fine


def test_url_before_binding_port_zero_is_an_error():
    with pytest.raises(RuntimeError):
        _ = Emulator(port=0).url


def test_concurrent_clients_share_one_consistent_state():
    with running_emulator() as (emu, _):
        client = EmuHTTP(emu)  # httpx.Client is thread-safe; its pool opens parallel connections
        token = client.token()

        def work(i: int) -> tuple[int, int, int]:
            minted = client.mint().status_code
            created = client.create_account(token, name=f"c-{i}").status_code
            return minted, created, client.cmp(token).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(work, range(24)))
        client.close()
        assert results == [(200, 201, 404)] * 24
        assert len({a["client_id"] for a in emu.service_accounts()}) == 25
        assert emu.request_counts["accounts.create"] == 24


def test_reset_undoes_a_patched_manager():
    with running_emulator() as (emu, _):
        client = EmuHTTP(emu)
        url = client.sa_url("/" + emu.bootstrap["client_id"])
        body = {"data": {"attributes": {"name": "renamed", "annotations": {}}}}
        assert client.http.patch(url, headers=client.bearer(client.token()), json=body).status_code == 200
        assert emu.service_accounts()[0]["name"] == "renamed"
        emu.reset()
        (manager,) = emu.service_accounts()
        assert manager["name"] == "rotation-manager"
        assert manager["annotations"] == {"vgs-emulator/role": "manager"}
        client.close()
