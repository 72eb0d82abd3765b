"""Mutation score: break the product on purpose, one semantic mutant at a time, and check
that the fault suite (plus the tests guarding the area) notices.

    python bench/mutation_bench.py [--only NAME ...] [--list] [--jobs N] [--no-baseline]

Each mutant is an exact text replacement anchored on a snippet of the current source; an
anchor that is not found exactly once fails the bench (and ``tests/test_mutation_anchors.py``
in CI), so a refactor cannot silently disable a mutant. For each mutant the repository's
files (tracked and new, as they are in the work tree) are copied into a temporary directory, the
mutant is applied there, the mutated module must still import (a mutant that does not
import is a syntax error, not a semantic mutant: rejected), and then

    python -m pytest -x -q -p no:cacheprovider <the mutant's tests>

runs in the copy with this interpreter. Killed = the tests fail (the first failing test is
named); survived = they pass. Before the mutants, the union of all selections runs once on
the unmutated copy (``--no-baseline`` skips it): a test failing there would "kill" anything.

Prints a table (mutant, where, what it breaks, killed by / SURVIVED, seconds) and exits 1
when any mutant survives, is rejected, or its anchor no longer matches; 2 when the baseline
fails. ``--jobs N`` runs N mutants at once, each in its own copy.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 1800.0

# The fault suite and the tests guarding each area. Mutants list the fastest killers first:
# pytest runs -x in the order given, so the first failure names the killer and stops.
FAULTS_MEMORY = "tests/test_faults_schedules.py"
FAULTS_REGRESSIONS = "tests/test_faults_regressions.py"
FAULTS_PLUGIN = "tests/test_faults_plugin.py"
ROTATION = (FAULTS_MEMORY, FAULTS_REGRESSIONS, "tests/test_rotation.py")
PLUGIN = (FAULTS_PLUGIN, "tests/test_vault_plugin_unit.py", "tests/test_vault_plugin_cache.py")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the current source
    new: str
    breaks: str  # what a user would see go wrong
    tests: tuple[str, ...]
    expected_survivor: str = ""  # why it may survive today (a killer under way elsewhere)

    @property
    def module(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "no-annotations",
        "rotation/issuers.py",
        "return {SECRET_ANNOTATION: self.tag, VERSION_ANNOTATION: rotation.version_id}",
        "return {}",
        "created credentials carry no secret/version tag: crash leftovers can never be found",
        ROTATION,
        expected_survivor="killed after i11-oracle merges (independent VGS-list oracle)",
    ),
    Mutant(
        "rotation-token-dropped",
        "rotation/core.py",
        "rotation_token=ev.rotation_token.reveal() if ev.rotation_token else None,",
        "rotation_token=None,",
        "PutSecretValue without the event's RotationToken (AWS refuses it for a Lambda without the permission)",
        (*ROTATION, "tests/test_lambda_rotation.py"),
        expected_survivor="killed after i11-oracle merges (memory store records RotationToken)",
    ),
    Mutant(
        "no-remove-from-version",
        "rotation/core.py",
        "self.store.move_stage(ev.secret_id, CURRENT, to_version=ev.token, from_version=current_version)",
        "self.store.move_stage(ev.secret_id, CURRENT, to_version=ev.token, from_version=None)",
        "finishSecret moves AWSCURRENT without RemoveFromVersionId: AWS refuses, no rotation completes",
        ROTATION,
    ),
    Mutant(
        "store-drops-remove-from",
        "rotation/aws_store.py",
        'kwargs["RemoveFromVersionId"] = from_version',
        "pass",
        "the boto3 store never sends RemoveFromVersionId: every finishSecret fails at AWS",
        (FAULTS_MEMORY, FAULTS_REGRESSIONS),
    ),
    Mutant(
        "retirement-skipped",
        "rotation/core.py",
        "return {ref for ref in due if ref in present and ref not in live}",
        "return set()",
        "finishSecret never deletes the replaced credential: old credentials stay live forever",
        ROTATION,
    ),
    Mutant(
        "retire-current-not-previous",
        "rotation/core.py",
        '        live = {new.credential_ref}\n        if new.revoke != "immediate" and previous is not None:',
        "        live = {previous.credential_ref} if previous is not None else set()\n"
        '        if new.revoke != "immediate" and previous is not None:',
        "finishSecret keeps AWSPREVIOUS's credential and deletes the new AWSCURRENT one",
        ROTATION,
    ),
    Mutant(
        "leftovers-not-cleaned",
        "rotation/core.py",
        "            for ref in leftovers:\n                issuer.delete(ref)",
        "            for ref in ():\n                issuer.delete(ref)",
        "a credential made by a createSecret that crashed before storing it is never deleted on retry",
        ROTATION,
    ),
    Mutant(
        "create-not-idempotent",
        "rotation/core.py",
        "if ev.token in desc.versions and (\n"
        "            self.store.get_value(ev.secret_id, version_id=ev.token, stage=PENDING) is not None\n"
        "        ):",
        "if False:",
        "a retried createSecret whose value is already stored lists VGS and reads again (the leftover"
        " re-read then stops it: a cost, not a second credential)",
        (*ROTATION, "tests/test_economy.py"),
    ),
    Mutant(
        "stale-pending-kept",
        "rotation/core.py",
        "if stale_doc and stale_doc.credential_ref not in live:\n"
        "                    issuer.delete(stale_doc.credential_ref)",
        "if stale_doc and stale_doc.credential_ref not in live:\n                    pass",
        "an abandoned rotation's AWSPENDING credential is not deleted when a new rotation takes the label",
        ROTATION,
    ),
    Mutant(
        "refused-write-keeps-credential",
        "rotation/core.py",
        "        if refused:\n            issuer.delete(ref)\n            return",
        "        if refused:\n            return",
        "a PutSecretValue AWS refused leaves the just-created credential live at VGS",
        ROTATION,
    ),
    Mutant(
        "finish-stage-guard-removed",
        "rotation/core.py",
        "    def finish_secret(self, ev: RotationEvent) -> None:\n        desc, _ = self._guard(ev)",
        "    def finish_secret(self, ev: RotationEvent) -> None:\n        desc = self.store.describe(ev.secret_id)",
        "finishSecret promotes a version that is not AWSPENDING (a late retry of a replaced rotation)",
        ROTATION,
    ),
    Mutant(
        "pending-guard-removed",
        "rotation/core.py",
        "        if PENDING not in stages:\n            raise EventError(",
        "        if False:\n            raise EventError(",
        "every step accepts a token that lost AWSPENDING to another rotation",
        ROTATION,
    ),
    Mutant(
        "test-secret-no-client-check",
        "rotation/issuers.py",
        "token.check(client_id=doc.client_id, scopes=doc.scopes)",
        "pass",
        "testSecret accepts a credential whose token has another client id or lacks scopes",
        (*ROTATION, "tests/test_vgs_client.py"),
    ),
    Mutant(
        "token-check-ignores-client",
        "rotation/vgs/tokens.py",
        "if client_id is not None and self.client_id != client_id:",
        "if False:",
        "a token issued to another client (azp) passes validation (testSecret, the publisher)",
        ("tests/test_vgs_edge_cases.py", "tests/test_emulator_clients.py", *ROTATION),
    ),
    Mutant(
        "repair-deletes-referenced",
        "rotation/status.py",
        "if doc is not None and doc.credential_ref not in keep:",
        "if doc is not None:",
        "status --repair deletes the credential AWSCURRENT/AWSPREVIOUS still use",
        ("tests/test_cli_rotate.py", "tests/test_rotation.py", FAULTS_MEMORY),
    ),
    Mutant(
        "token-cache-past-expiry",
        "rotation/vgs/token_cache.py",
        "if cached.remaining(self.clock()) > self.margin + max(0.0, min_life):",
        "if True:",
        "the manager's cached token is served after it expired: rotations fail with 401s",
        ("tests/test_token_cache.py", FAULTS_MEMORY),
    ),
    Mutant(
        "token-cache-keeps-refused",
        "rotation/vgs/token_cache.py",
        "self.cache.drop(self.key, used)",
        "pass",
        "a token VGS refused (401: account rotated, token revoked) is served again from the cache",
        ("tests/test_token_cache.py", FAULTS_MEMORY),
    ),
    Mutant(
        "token-cache-ignores-version",
        "rotation/vgs/token_cache.py",
        "return TokenKey(tokens.token_url, credentials.client_id, version, _scope(scope))",
        'return TokenKey(tokens.token_url, credentials.client_id, "", _scope(scope))',
        "a new version of the manager secret reuses the token minted with the old one",
        ("tests/test_token_cache.py", FAULTS_MEMORY),
    ),
    Mutant(
        "consumer-reserves-rejected",
        "rotation/consumer.py",
        "if rejected is not None and token.access_token == rejected.access_token:",
        "if False:",
        "the consumer hands back the token the server just refused instead of minting",
        ("tests/test_consumer_unit.py", "tests/test_consumer_simulated_day.py"),
    ),
    Mutant(
        "consumer-ignores-expiry",
        "rotation/consumer.py",
        "        if not token.is_fresh(now, self.skew):\n            return False",
        "        if False:\n            return False",
        "the consumer keeps serving its cached token past expiry",
        ("tests/test_consumer_unit.py", "tests/test_consumer_simulated_day.py"),
    ),
    Mutant(
        "publisher-writes-rotated-secret",
        "rotation/publisher.py",
        'out.append(("sm", target.token_secret_id))',
        'out.append(("sm", target.credential_secret_id or target.token_secret_id))',
        "the publisher overwrites the rotated credential secret with a token",
        ("tests/test_publisher_unit.py", "tests/test_publisher_stores.py", FAULTS_MEMORY),
    ),
    Mutant(
        "publisher-ignores-client-change",
        "rotation/publisher.py",
        '    if current.client_id != client_id:\n        return "client-changed"',
        '    if False:\n        return "client-changed"',
        "after a rotation the published token of the old client stays until it nears expiry",
        ("tests/test_publisher_unit.py", "tests/test_publisher_stores.py", FAULTS_MEMORY),
    ),
    Mutant(
        "plugin-root-wal-not-written",
        "vault_plugin/paths/config.py",
        "            await b.storage.put(\n"
        '                f"wal/{wal_id}", {"kind": "rotate-root", "created_at": b.clock(), "old_client_id": cfg.client_id}\n'
        "            )",
        "            pass",
        "rotate-root creates an account with no WAL entry: a crash leaves it live forever",
        PLUGIN,
    ),
    Mutant(
        "plugin-static-wal-not-written",
        "vault_plugin/paths/static.py",
        "        await b.storage.put(\n"
        '            f"wal/{wal_id}", {"kind": "static-rotate", "created_at": b.clock(), "role": name, "retire": retired}\n'
        "        )",
        "        pass",
        "a static rotation creates an account with no WAL entry: a crash leaves it live forever",
        PLUGIN,
    ),
    Mutant(
        "plugin-static-retire-skipped",
        "vault_plugin/paths/static.py",
        "        if retired:\n            await b.delete_account(retired)",
        "        if False:\n            await b.delete_account(retired)",
        "a static role keeps every account it ever rotated to",
        PLUGIN,
    ),
    Mutant(
        "plugin-wal-rollback-skipped",
        "vault_plugin/paths/__init__.py",
        '("wal rollback", lambda: wal.rollback_all(b)),',
        '("wal rollback", lambda: creds.tidy(b)),',
        "the periodic WAL rollback never runs: accounts of crashed rotations stay live",
        PLUGIN,
    ),
    Mutant(
        "plugin-creds-revoke-noop",
        "vault_plugin/paths/creds.py",
        "await b.delete_account(client_id)  # already gone counts as deleted",
        "pass",
        "revoking a creds/ lease leaves its VGS service account live",
        (*PLUGIN, "tests/test_vault_plugin_framework.py"),
    ),
    Mutant(
        "plugin-renew-past-max-ttl",
        "vault_plugin/paths/creds.py",
        "            if left <= 0:\n                raise bad_request(",
        "            if False:\n                raise bad_request(",
        "a creds/ lease renews past its max_ttl",
        (*PLUGIN, "tests/test_vault_plugin_framework.py"),
    ),
    Mutant(
        "plugin-tidy-ignores-in-flight",
        "vault_plugin/paths/creds.py",
        '        if ann.get("vgs-rotation/issue") in b.in_flight:\n            return True',
        "        if False:\n            return True",
        "tidy deletes a creds/ account being issued right now (the lease's account is gone)",
        PLUGIN,
    ),
    Mutant(
        "plugin-token-past-expiry",
        "vault_plugin/paths/token.py",
        "\n        now = b.clock()\n        hit = cached is not None and now < refresh_at(cached)\n",
        "\n        now = b.clock()\n        hit = cached is not None\n",
        "token/ serves its cached token past its refresh time (and past expiry)",
        (*PLUGIN, "tests/test_vault_plugin_framework.py"),
    ),
)


class AnchorError(Exception):
    pass


def apply(mutant: Mutant, root: Path) -> None:
    """Apply ``mutant`` to the tree at ``root`` in place; the anchor must match exactly once."""
    target = root / mutant.path
    if not target.is_file():
        raise AnchorError(f"{mutant.name}: {mutant.path} does not exist")
    source = target.read_text()
    found = source.count(mutant.old)
    if found != 1:
        raise AnchorError(f"{mutant.name}: anchor found {found} times in {mutant.path} (must be exactly once)")
    target.write_text(source.replace(mutant.old, mutant.new))


def line_of(mutant: Mutant, root: Path = ROOT) -> int:
    source = (root / mutant.path).read_text()
    at = source.find(mutant.old)
    return source.count("\n", 0, at) + 1 if at >= 0 else 0


def copy_tree(dest: Path) -> None:
    """The repository's files as they are in the work tree: tracked ones (uncommitted edits
    included) and new ones git does not ignore (a test not yet added still runs)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    for rel in filter(None, listed.decode().split("\0")):
        src = ROOT / rel
        if not src.is_file():  # deleted in the work tree
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def pytest(root: Path, tests: tuple[str, ...], *, stop_first: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["-x"] if stop_first else []), *tests]
    return subprocess.run(argv, cwd=root, env=_env(root), capture_output=True, text=True, timeout=TIMEOUT)


_FAILED = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed | SURVIVED | REJECTED | ANCHOR | TIMEOUT
    detail: str
    seconds: float
    line: int


def run_one(mutant: Mutant) -> Outcome:
    began = time.monotonic()
    line = line_of(mutant)

    def done(verdict: str, detail: str) -> Outcome:
        return Outcome(mutant, verdict, detail, time.monotonic() - began, line)

    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        root = Path(tmp)
        copy_tree(root)
        try:
            apply(mutant, root)
        except AnchorError as exc:
            return done("ANCHOR", str(exc))
        imported = subprocess.run(
            [sys.executable, "-c", f"import {mutant.module}"], cwd=root, env=_env(root), capture_output=True, text=True
        )
        if imported.returncode != 0:
            last = (imported.stderr.strip().splitlines() or ["?"])[-1]
            return done("REJECTED", f"does not import: {last}")
        try:
            result = pytest(root, mutant.tests)
        except subprocess.TimeoutExpired:
            return done("TIMEOUT", f"tests still running after {TIMEOUT:g} s")
        output = result.stdout + result.stderr
        if result.returncode == 0:
            return done("SURVIVED", "")
        if result.returncode == 1:
            failed = _FAILED.search(output)
            return done("killed", failed.group(2) if failed else "(failure without a test name)")
        # 2 interrupted (collection error), 3 internal error, 4 usage error, 5 no tests
        tail = " | ".join(output.strip().splitlines()[-3:])
        return done("REJECTED", f"pytest exit {result.returncode}: {tail[:200]}")


def baseline(mutants: list[Mutant]) -> tuple[bool, str, float]:
    began = time.monotonic()
    tests = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
        copy_tree(Path(tmp))
        result = pytest(Path(tmp), tests, stop_first=False)
    tail = (result.stdout.strip().splitlines() or [""])[-1]
    return result.returncode == 0, tail, time.monotonic() - began


def print_table(outcomes: list[Outcome]) -> None:
    rows = [("mutant", "where", "what it breaks", "result", "s")]
    for o in outcomes:
        m = o.mutant
        if o.verdict == "killed":
            result = f"killed by {o.detail}"
        elif o.verdict == "SURVIVED" and m.expected_survivor:
            result = f"SURVIVED (expected: {m.expected_survivor})"
        else:
            result = f"{o.verdict} {o.detail}".strip()
        rows.append((m.name, f"{m.path}:{o.line}", m.breaks, result, f"{o.seconds:.0f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(f"{c:<{widths[i]}}" for i, c in enumerate(r[:4])) + f"  {r[4]:>4}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run this mutant (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once, each in its own copy")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the selections")
    args = parser.parse_args(argv)

    names = {m.name for m in MUTANTS}
    unknown = [n for n in args.only if n not in names]
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(unknown)}; see --list")
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]

    if args.list:
        for m in chosen:
            print(f"{m.name:<34} {m.path}:{line_of(m)}  {m.breaks}")
            print(f"{'':<34} tests: {' '.join(m.tests)}")
        return 0

    began = time.monotonic()
    if not args.no_baseline:
        ok, tail, seconds = baseline(chosen)
        print(f"baseline (unmutated, union of selections): {tail} [{seconds:.0f} s]", flush=True)
        if not ok:
            print("the baseline fails: a failing test would kill every mutant; fix it first", file=sys.stderr)
            return 2

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = []
        for outcome in pool.map(run_one, chosen):
            print(f"  {outcome.mutant.name}: {outcome.verdict} {outcome.detail} [{outcome.seconds:.0f} s]", flush=True)
            outcomes.append(outcome)

    print()
    print_table(outcomes)
    killed = sum(o.verdict == "killed" for o in outcomes)
    print(f"\nmutation score: {killed}/{len(outcomes)} killed, wall {time.monotonic() - began:.0f} s, jobs {args.jobs}")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
