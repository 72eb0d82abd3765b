"""``vgs-rotate status --all`` over moto's server and the emulator: it finds exactly the
secrets this project rotates (by tag or rotation function, across ListSecrets pages), one
row each with what AWS's state says, then the capacity of each organization; unknown is
``null`` plus an error, and exits 4."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rotation.document import example_document
from tests.doctor_helpers import add_orphan, moto_dates_versions, publish_token, vgs_rotate
from tests.helpers import assert_no_secret
from tests.rotation_harness import backend, make_world, sm, start_rotation

MANAGER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def _seed(name: str, *, tags: list[dict[str, str]] | None = None, function: str | None = None) -> str:
    doc = example_document(
        manager_secret_arn=MANAGER, hosts=None, client_id=f"ACorg-{name[-6:]}", client_secret="s" * 40,
        organization_id="ACorg", vault_ids=["tntabc"], scopes=["cards:read"],
    )  # fmt: skip
    arn: str = sm().create_secret(Name=name, SecretString=json.dumps(doc), **({"Tags": tags} if tags else {}))["ARN"]
    if function:
        secret = backend().secrets[arn]
        secret.rotation_requested, secret.rotation_enabled = True, True
        secret.rotation_lambda_arn, secret.auto_rotate_after_days = FN + function, 7
    return arn


def test_status_all_pages_through_hundreds_and_finds_exactly_ours(moto_url):
    run = uuid.uuid4().hex[:6]
    kind_tag = [{"Key": "vgs-rotation:kind", "Value": "service-account"}]
    jobs: list[tuple[str, dict[str, Any]]] = [(f"vgs/rotated/{run}-{i:03d}", {"tags": kind_tag}) for i in range(200)]
    jobs += [(f"vgs/by-fn/{run}-{i}", {"function": "vgs-rotation-prod-rotation"}) for i in range(5)]
    jobs += [(f"other/{run}-{i}", {}) for i in range(10)]  # not ours: no tag, no function
    jobs += [(f"rds/{run}-{i}", {"function": "rds-rotator"}) for i in range(3)]  # someone else's rotation
    jobs += [(f"vgs/mistagged/{run}", {"tags": [{"Key": "vgs-rotation:kind", "Value": "access-credentials"}]})]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: _seed(job[0], **job[1]), jobs))
    ours = {name for name, kw in jobs if kw.get("tags") or kw.get("function") == "vgs-rotation-prod-rotation"}
    assert len(ours) == 206

    ran = vgs_rotate("status", "--all", "--no-vgs", "--json", "--concurrency", "16")
    report = ran.report()
    rows = {r["name"]: r for r in report["secrets"]}
    assert set(rows) == ours  # more than one ListSecrets page (100 each), nothing else
    assert report["counts"]["secrets"] == 206
    assert {r["kind"] for r in rows.values()} == {"service-account"}
    assert {r["last_rotation"]["outcome"] for r in rows.values()} == {"never"}
    assert all(r["orphans"] is None and r["errors"] == [] for r in rows.values())  # not asked (--no-vgs), not unknown
    mistagged = rows[f"vgs/mistagged/{run}"]
    assert mistagged["verdict"] == "failed" and "tag vgs-rotation:kind=access-credentials" in mistagged["problems"][0]
    assert ran.code == 1 and ran.error_line
    assert report["capacity"] == [
        {"kind": "service-account", "scope": "organization", "id": "ACorg", "used": None, "limit": 50, "free": None,
         "enough": None}
    ]  # fmt: skip
    with_fn = vgs_rotate("status", "--all", "--no-vgs", "--json", "--function", "rds-rotator")
    assert len(with_fn.report()["secrets"]) == 209
    text = vgs_rotate("status", "--all", "--no-vgs")
    assert len([ln for ln in text.stdout.splitlines() if ln.startswith("vgs/")]) == 206
    assert "s" * 40 not in ran.output + text.output


def test_status_all_rows_say_what_aws_and_vgs_say(emulator, moto_url, monkeypatch, tmp_path, leak_check):
    moto_dates_versions(monkeypatch)
    healthy = make_world(emulator)
    healthy.rotate()
    stuck = make_world(emulator)
    pending = start_rotation(stuck.secret_arn)
    stuck.run(pending, ("createSecret",))
    backend().secrets[stuck.secret_arn].versions[pending]["createdate"] = int(time.time()) - 7200
    orphaned = make_world(emulator)
    orphan = add_orphan(emulator, orphaned.secret_arn)
    published = make_world(emulator)
    token_secret = sm().create_secret(Name=f"vgs/tokens/{uuid.uuid4().hex[:6]}")["ARN"]
    publish_token(published, token_secret, clock=lambda: time.time() - 1150)  # 50 s of life left: stale
    config = tmp_path / "publish.json"
    config.write_text(json.dumps({"targets": [
        {"credential_secret_id": published.secret_arn, "token_secret_id": token_secret},
        {"credential_secret_id": healthy.secret_arn, "token_secret_id": token_secret + "-absent"},
    ]}))  # fmt: skip

    start = emulator.request_counts
    ran = vgs_rotate("status", "--all", "--json", "--publish-config", str(config))
    assert ran.code == 1, ran.output
    asked = emulator.request_counts - start
    assert asked["accounts.list"] == 1 and asked["token"] == 1  # one manager, one organization: asked once
    report = ran.report()
    rows = {r["arn"]: r for r in report["secrets"]}
    assert set(rows) == {w.secret_arn for w in (healthy, stuck, orphaned, published)}

    ok = rows[healthy.secret_arn]
    assert ok["last_rotation"]["outcome"] == "succeeded"
    assert ok["last_rotation"]["previous_retired_days"] is not None and ok["last_rotation"]["previous_retired_days"] < 1
    assert ok["orphans"] == [] and ok["stuck_pending"] is None
    assert ok["published_tokens"] == [
        {"destination": f"sm:{token_secret}-absent", "state": "missing", "client_id": None, "expires_in": None}
    ]
    assert rows[stuck.secret_arn]["stuck_pending"] == pending
    assert rows[stuck.secret_arn]["last_rotation"]["outcome"] == "failed"
    assert rows[stuck.secret_arn]["last_rotation"]["previous_retired_days"] is None
    assert rows[orphaned.secret_arn]["orphans"] == [orphan] and rows[orphaned.secret_arn]["verdict"] == "failed"
    assert rows[published.secret_arn]["published_tokens"][0]["state"] == "stale"
    assert all(r["errors"] == [] for r in rows.values())
    (capacity,) = report["capacity"]
    assert capacity["used"] == len(emulator.service_accounts()) and capacity["id"] == emulator.organization_id

    text = vgs_rotate("status", "--all", "--publish-config", str(config))
    assert text.code == 1 and "capacity:" in text.stdout
    assert f"orphan(s): {orphan}" in text.stdout and "--repair" in text.stdout
    token = json.loads(sm().get_secret_value(SecretId=token_secret)["SecretString"])["access_token"]
    secrets = [token, emulator.bootstrap["client_secret"]]
    for world in (healthy, stuck, orphaned, published):
        secrets += world.document().secret_values()
    assert_no_secret(ran.output + text.output, *secrets, emulator=emulator)
    leak_check(*secrets)


def test_a_shared_answer_never_hides_a_wrong_manager(emulator, moto_url):
    good, bad = make_world(emulator), make_world(emulator)
    sm().put_secret_value(
        SecretId=bad.manager_arn,
        SecretString=json.dumps({"client_id": emulator.bootstrap["client_id"], "client_secret": "wrong" * 8}),
    )
    ran = vgs_rotate("status", "--all", "--json")
    rows = {r["arn"]: r for r in ran.report()["secrets"]}
    assert rows[good.secret_arn]["orphans"] == [] and rows[good.secret_arn]["errors"] == []
    assert rows[bad.secret_arn]["orphans"] is None and "refused" in rows[bad.secret_arn]["errors"][0]
    assert ran.code == 4 and "wrong" * 8 not in ran.output


def test_status_all_says_unknown_when_vgs_cannot_be_listed(emulator, moto_url):
    world = make_world(emulator)
    emulator.faults.inject("*", status=503, count=100_000)
    ran = vgs_rotate("status", "--all", "--json")
    assert ran.code == 4, ran.output
    (row,) = ran.report()["secrets"]
    assert row["arn"] == world.secret_arn
    assert row["orphans"] is None and row["errors"] and row["verdict"] == "unknown"
    assert ran.report()["capacity"][0]["used"] is None and ran.report()["errors"]
    assert ran.error_line.startswith("vgs-rotate: error: status --all: could not see")


def test_status_needs_a_secret_or_all(moto_url):
    assert vgs_rotate("status").code == 2
    assert vgs_rotate("status", "some-secret", "--all").code == 2
    empty = vgs_rotate("status", "--all", "--json")
    assert empty.code == 0 and empty.report()["secrets"] == []
