"""Fault injection (Python API and admin endpoint), admin state/reset and request counts."""

from __future__ import annotations

import time

import httpx
import pytest

from rotation.emulator import Faults
from tests.emulator_fixtures import EmuHTTP, running_emulator


def test_429_with_retry_after_for_count_requests(vgs):
    vgs.emu.faults.inject("token", status=429, count=2, retry_after=3)
    for _ in range(2):
        r = vgs.mint()
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        assert r.json()["error"]
    assert vgs.mint().status_code == 200
    assert vgs.emu.request_counts["token"] == 3


def test_503_is_an_html_page_and_500_is_json(vgs):
    token = vgs.token()
    vgs.emu.faults.inject("cmp.card", status=503)
    r = vgs.cmp(token)
    assert r.status_code == 503
    assert r.headers["content-type"] == "text/html"
    assert "503 Service Unavailable" in r.text
    vgs.emu.faults.inject("accounts.list", status=500)
    r = vgs.http.get(vgs.sa_url(), headers=vgs.bearer(token))
    assert r.status_code == 500
    assert r.json()["errors"][0]["status"] == "500"
    assert vgs.cmp(token).status_code == 404


def test_faults_hit_only_their_route_and_star_hits_any(vgs):
    token = vgs.token()
    vgs.emu.faults.inject("accounts.create", status=500)
    assert vgs.cmp(token).status_code == 404
    assert vgs.create_account(token).status_code == 500
    vgs.emu.faults.inject("*", status=502)
    assert vgs.cmp(token).status_code == 502
    assert vgs.cmp(token).status_code == 404


def test_drop_closes_the_connection_without_answering(vgs):
    vgs.emu.faults.inject("token", drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        vgs.mint()
    assert vgs.mint().status_code == 200  # the client reconnects; the fault is used up


def test_delay_then_normal_handling(vgs):
    vgs.emu.faults.inject("jwks", delay=0.2)
    started = time.monotonic()
    r = vgs.http.get(vgs.b["jwks_url"])
    assert r.status_code == 200
    assert time.monotonic() - started >= 0.2
    assert vgs.emu.faults.describe()["scripted"] == []  # used up: the next call is not delayed


def test_delay_makes_a_client_time_out(vgs):
    vgs.emu.faults.inject("jwks", delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        vgs.http.get(vgs.b["jwks_url"], timeout=0.05)


def test_clear_removes_pending_faults(vgs):
    vgs.emu.faults.inject("token", status=500, count=5)
    vgs.emu.faults.set_random(rate=1.0, seed=1)
    vgs.emu.faults.clear()
    assert vgs.mint().status_code == 200


def test_random_faults_are_seeded_and_reproducible(vgs):
    def run() -> list[int]:
        vgs.emu.faults.set_random(rate=0.5, statuses=(503, 429), seed=7, routes=["jwks"])
        statuses = [vgs.http.get(vgs.b["jwks_url"]).status_code for _ in range(30)]
        vgs.emu.faults.clear()
        return statuses

    first = run()
    assert first == run()
    assert {200, 503, 429} == set(first)
    assert vgs.mint().status_code == 200  # routes= limits the random failures


def test_invalid_fault_plans_are_refused():
    faults = Faults()
    with pytest.raises(ValueError):
        faults.inject("no-such-route", status=500)
    with pytest.raises(ValueError):
        faults.inject("token")
    with pytest.raises(ValueError):
        faults.inject("token", status=200)
    with pytest.raises(ValueError):
        faults.inject("token", status=500, count=0)
    with pytest.raises(ValueError):
        faults.set_random(rate=2)


# -- admin API -------------------------------------------------------------------------------


def test_admin_faults_endpoint(vgs):
    admin = vgs.emu.url + "/__admin/faults"
    r = vgs.http.post(admin, json={"route": "token", "status": 429, "count": 1, "retry_after": 1})
    assert r.status_code == 204
    limited = vgs.mint()
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    assert vgs.http.post(admin, json={"route": "token", "drop": True}).status_code == 204
    with pytest.raises(httpx.RemoteProtocolError):
        vgs.mint()
    assert vgs.http.post(admin, json={"route": "token", "status": 503, "count": 3}).status_code == 204
    assert vgs.http.delete(admin).status_code == 204
    assert vgs.mint().status_code == 200


def test_admin_faults_random_endpoint(vgs):
    r = vgs.http.post(vgs.emu.url + "/__admin/faults/random", json={"rate": 1.0, "statuses": [503], "seed": 1})
    assert r.status_code == 204
    assert vgs.mint().status_code == 503
    vgs.emu.faults.clear()


@pytest.mark.parametrize(
    "body", [{"route": "nope", "status": 500}, {"route": "token"}, {"route": "token", "status": 500, "oops": 1}, []]
)
def test_admin_faults_refuses_bad_plans(vgs, body):
    r = vgs.http.post(vgs.emu.url + "/__admin/faults", json=body)
    assert r.status_code == 400
    assert r.json()["error"]


def test_admin_routes_are_never_faulted(vgs):
    vgs.emu.faults.inject("*", status=500, count=10)
    vgs.emu.faults.set_random(rate=1.0, seed=3)
    assert vgs.http.get(vgs.emu.url + "/__admin/state").status_code == 200
    assert vgs.http.delete(vgs.emu.url + "/__admin/faults").status_code == 204
    assert vgs.mint().status_code == 200


def test_admin_state_has_no_secrets(vgs):
    token = vgs.token()
    acct = vgs.new_account(name="seen")
    cred = vgs.creds("POST", token).json()["data"]["attributes"]
    vgs.emu.faults.inject("token", status=429, retry_after=2)
    r = vgs.http.get(vgs.emu.url + "/__admin/state")
    state = r.json()
    assert state["organization_id"] == vgs.b["organization_id"]
    assert [a["client_id"] for a in state["service_accounts"]] == [vgs.b["client_id"], acct["client_id"]]
    assert [c["key"] for c in state["access_credentials"]] == [cred["key"]]
    assert state["request_counts"] == {"token": 2, "accounts.create": 1, "credentials.create": 1}
    assert state["faults"]["scripted"][0]["route"] == "token"
    for secret in (vgs.b["client_secret"], acct["client_secret"], cred["secret"], token):
        assert secret not in r.text


def test_admin_reset(vgs):
    vgs.new_account(name="temp")
    vgs.emu.faults.inject("token", status=500)
    assert vgs.http.post(vgs.emu.url + "/__admin/reset").status_code == 204
    assert len(vgs.emu.service_accounts()) == 1
    assert vgs.mint().status_code == 200


def test_stop_ends_keep_alive_connections():
    with running_emulator() as (emu, _):
        client = EmuHTTP(emu)
        assert client.mint().status_code == 200
        url = emu.url
    with pytest.raises(httpx.TransportError):
        client.http.get(url + "/auth/realms/vgs/protocol/openid-connect/certs")
    client.close()


def test_admin_faults_accepts_nulls_as_defaults(vgs):
    body = {"route": "token", "status": 503, "count": None, "retry_after": None, "delay": None, "drop": None}
    assert vgs.http.post(vgs.emu.url + "/__admin/faults", json=body).status_code == 204
    assert vgs.mint().status_code == 503
    assert vgs.mint().status_code == 200


def test_faults_that_fire_are_counted_by_kind(vgs):
    """The emulator counts each fault it applies, by kind; a planned fault never reached is not counted."""
    before = vgs.emu.faults.fired()
    vgs.emu.faults.inject("token", status=429, count=2, retry_after=1)
    vgs.emu.faults.inject("jwks", drop=True)
    vgs.emu.faults.inject("jwks", delay=0.01)
    vgs.emu.faults.inject("accounts.delete", status=503)  # never called: planned, never fired
    assert vgs.mint().status_code == 429
    with pytest.raises(httpx.RemoteProtocolError):
        vgs.http.get(vgs.b["jwks_url"])
    assert vgs.http.get(vgs.b["jwks_url"]).status_code == 200
    assert vgs.emu.faults.fired() - before == {"429": 1, "drop": 1, "delay": 1}
    assert vgs.emu.describe()["faults"]["fired"]["429"] == before["429"] + 1


def test_in_process_delay_past_the_read_timeout_times_the_client_out_after_serving():
    """In-process, a delay fault past the request's read timeout is a client timeout after the
    work was done (as over a socket); ``LateTimeouts`` counts it as a client timeout."""
    from rotation.emulator import Emulator
    from tests.faults.inproc import InProcTransport, LateTimeouts
    from tests.helpers import VirtualClock

    clock = VirtualClock()
    emu = Emulator(port=9, clock=clock)
    emu._app.sleep = clock.sleep
    late = LateTimeouts(InProcTransport(emu), emu)
    client = httpx.Client(transport=late, base_url=emu.bootstrap["jwks_url"])
    emu.faults.inject("jwks", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        client.get("", timeout=0.25)
    emu.faults.inject("jwks", delay=0.1)
    assert client.get("", timeout=0.25).status_code == 200
    assert (late.client_timeouts, late.fired, emu.faults.fired()["delay"]) == (1, 0, 2)
    assert emu.request_counts["jwks"] == 2


def test_a_client_timeout_waits_for_its_own_request_not_an_older_one(vgs):
    """``LateTimeouts`` waits for the request its client gave up on to be served, not for an
    older delayed request still sleeping (another test's long delay on a shared emulator)."""
    import threading

    from tests.faults.inproc import LateTimeouts

    vgs.emu.faults.inject("cmp.card", delay=3.0)
    stale = threading.Thread(target=lambda: httpx.get(vgs.b["cmp_url"] + "/cards/x", timeout=10), daemon=True)
    stale.start()
    while vgs.emu.request_counts["cmp.card"] < 1:
        time.sleep(0.01)  # the stale request is in the emulator, sleeping
    vgs.emu.faults.inject("jwks", delay=0.3)
    client = httpx.Client(transport=LateTimeouts(httpx.HTTPTransport(), vgs.emu))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.get(vgs.b["jwks_url"], timeout=0.05)
    assert 0.3 <= time.monotonic() - started < 2.0  # waited for its own request, not the stale one
    stale.join(10)
