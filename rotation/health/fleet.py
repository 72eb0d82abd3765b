"""``vgs-rotate status --all``: every secret this project rotates, one row each, then the
capacity used in each organization and vault.

A secret is this project's when it carries the tag ``vgs-rotation:kind`` or its rotation
function is this project's (its name holds ``vgs-rotation``, as the SAM template names it,
or it is one of ``functions``). Secrets are found with ListSecrets (all pages) and
surveyed ``concurrency`` at a time; each organization or vault is listed once for its
capacity, through the manager of one of its secrets. What could not be seen is ``None``
plus an entry in ``errors``, never "nothing found".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from rotation.document import DocumentError, SecretDocument, parse_document, parse_manager
from rotation.health import checks
from rotation.health.capacity import Capacity
from rotation.health.catalog import KIND_TAG, SecretCatalog, SecretInfo
from rotation.health.configuration import FUNCTION_MARK
from rotation.health.credentials import is_placeholder
from rotation.health.history import History, derive
from rotation.health.publication import DEFAULT_MIN_REMAINING, Published, from_config, read
from rotation.health.secret_view import SecretView, look
from rotation.health.snapshot import SnapshotStore
from rotation.issuers import IssuerFactory
from rotation.publisher import PublishConfig
from rotation.stores import CURRENT, PENDING, KVStore, SecretStore

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64


@dataclass(frozen=True)
class FleetOptions:
    functions: tuple[str, ...] = ()  # more rotation functions (names or ARNs) that are this project's
    concurrency: int = DEFAULT_CONCURRENCY
    check_vgs: bool = True
    publish: PublishConfig | None = None
    min_remaining: float = DEFAULT_MIN_REMAINING

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be from 1 to {MAX_CONCURRENCY}")


def is_ours(info: SecretInfo, functions: Iterable[str] = ()) -> bool:
    """Decision 3: tagged with its kind, or rotated by this project's function."""
    if info.kind_tag is not None:
        return True
    name = info.function_name
    if not name:
        return False
    named = set(functions)
    return FUNCTION_MARK in name or name in named or (info.rotation_function or "") in named


@dataclass
class Row:
    """One secret. ``None`` means not known (see ``errors``), except ``published`` ``None``:
    no publisher destination is known for it."""

    info: SecretInfo
    kind: str | None = None
    history: History | None = None
    stuck_pending: str | None = None
    orphans: tuple[str, ...] | None = None
    published: list[Published] | None = None
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    capacity_key: tuple[str, str, str] | None = None  # (kind, API base URL, organization or vault id)
    doc: SecretDocument | None = field(default=None, repr=False)

    @property
    def verdict(self) -> checks.Status:
        return checks.FAILED if self.problems else checks.UNKNOWN if self.errors else checks.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "arn": self.info.arn,
            "kind": self.kind,
            "rotation": {
                "enabled": self.info.rotation_enabled,
                "function": self.info.rotation_function,
                "schedule": self.info.schedule,
            },
            "last_rotation": self.history.as_dict() if self.history else None,
            "stuck_pending": self.stuck_pending,
            "orphans": None if self.orphans is None else list(self.orphans),
            "published_tokens": None if self.published is None else [p.as_dict() for p in self.published],
            "verdict": self.verdict,
            "problems": self.problems,
            "errors": self.errors,
        }


@dataclass
class FleetReport:
    rows: list[Row]
    capacity: list[Capacity]
    errors: list[str] = field(default_factory=list)  # capacity listings that failed
    seconds: float = 0.0

    @property
    def verdict(self) -> checks.Status:
        if any(r.problems for r in self.rows) or any(c.enough is False for c in self.capacity):
            return checks.FAILED
        if self.errors or any(r.errors for r in self.rows):
            return checks.UNKNOWN
        return checks.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "counts": {
                "secrets": len(self.rows),
                **{s: sum(1 for r in self.rows if r.verdict == s) for s in (checks.OK, checks.FAILED, checks.UNKNOWN)},
            },
            "secrets": [r.as_dict() for r in self.rows],
            "capacity": [c.as_dict() for c in self.capacity],
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class FleetTools:
    store: SecretStore
    catalog: SecretCatalog
    issuers: IssuerFactory
    kv: Callable[[], KVStore] | None = None
    clock: Callable[[], float] = time.time


def survey(tools: FleetTools, options: FleetOptions = FleetOptions()) -> FleetReport:
    """Find this project's secrets and survey each; then the capacity of each organization and vault."""
    began = time.perf_counter()
    found = sorted((i for i in tools.catalog.list_all() if is_ours(i, options.functions)), key=lambda i: i.name)
    snapshot = replace(tools, store=SnapshotStore(tools.store, found))
    workers = max(1, min(options.concurrency, len(found)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vgs-fleet") as pool:
        rows = list(pool.map(lambda info: _survey_one(snapshot, options, info), found))
        capacity, errors = _capacity(snapshot, options, rows, pool)
    return FleetReport(rows, capacity, errors, time.perf_counter() - began)


# --------------------------------------------------------------------------- one secret


def _survey_one(tools: FleetTools, options: FleetOptions, info: SecretInfo) -> Row:
    row = Row(info, kind=info.kind_tag)
    now = tools.clock()
    pending, current = info.version_with(PENDING), info.version_with(CURRENT)
    try:  # by version id, as inspect reads it: one read for both
        raw = tools.store.get_value(info.arn, version_id=current) if current else None
        row.doc = parse_document(raw) if raw is not None else None
        if raw is None:
            row.problems.append("AWSCURRENT has no value")
    except DocumentError as exc:
        row.problems.append(f"{exc}: fix the document")
    except checks.LOOK_ERRORS as exc:
        row.errors.append(f"cannot read AWSCURRENT: {exc}")
    doc = row.doc
    if doc is not None:
        if row.kind is not None and row.kind != doc.kind:
            row.problems.append(f"tag {KIND_TAG}={row.kind} but the document's kind is {doc.kind}")
        row.kind = doc.kind
        row.capacity_key = _capacity_key(doc)
    view = _view(tools, options, info, row)
    row.stuck_pending = pending if pending and pending != current else None
    needs_dates = (pending and pending != current) or (info.last_rotated is None and doc and doc.rotation)
    dates = None
    if needs_dates:
        try:
            dates = tools.catalog.version_dates(info.arn)
        except checks.LOOK_ERRORS as exc:
            row.errors.append(f"cannot list versions: {exc}")
    row.history = derive(info, doc, dates, now)
    if row.history.outcome in ("failed", "overdue"):
        fix = (
            "`vgs-rotate status SECRET_ID --repair`"
            if row.history.outcome == "failed"
            else "`vgs-rotate doctor SECRET_ID`"
        )
        row.problems.append(f"last rotation {row.history.outcome}: {row.history.detail} ({fix})")
    if view is not None:
        row.orphans = view.orphans
        if view.orphans:
            row.problems.append(
                f"{len(view.orphans)} orphan(s): {', '.join(view.orphans)} (`vgs-rotate cleanup SECRET_ID`)"
            )
        current_view = view.current
        seed = doc is not None and is_placeholder(doc)  # the first rotation creates its credential
        if current_view is not None and current_view.at_vgs == "absent" and not seed:
            row.problems.append(
                f"the AWSCURRENT credential {current_view.credential} no longer exists at VGS: rotate now"
            )
        row.errors += list(view.errors)
    _published(tools, options, row, now)
    row.problems = [p.replace("SECRET_ID", info.name) for p in row.problems]
    return row


def _view(tools: FleetTools, options: FleetOptions, info: SecretInfo, row: Row) -> SecretView | None:
    """What inspect says (orphans, the credentials at VGS); without VGS there is nothing to add."""
    if not options.check_vgs or row.doc is None:
        return None
    try:
        return look(tools.store, tools.issuers, info.arn)
    except checks.LOOK_ERRORS as exc:
        row.errors.append(f"cannot inspect: {exc}")
        return None


def _published(tools: FleetTools, options: FleetOptions, row: Row, now: float) -> None:
    if options.publish is None or row.doc is None or row.doc.kind != "service-account" or not row.doc.client_id:
        return
    destinations = from_config(options.publish, (row.info.arn, row.info.name))
    if not destinations:
        return
    row.published = []
    for dest in destinations:
        try:
            seen = read(
                dest, row.doc.client_id, secrets=tools.store, kv=tools.kv, min_remaining=options.min_remaining, now=now
            )
        except checks.TEST_ERRORS as exc:
            row.errors.append(f"cannot read the published token in {dest.label}: {exc}")
            row.published = None
            return
        row.published.append(seen)
        if not seen.ok:
            row.problems.append(f"published token: {seen.describe(row.doc.client_id)}")


# --------------------------------------------------------------------------- capacity


def _capacity_key(doc: SecretDocument) -> tuple[str, str, str]:
    if doc.kind == "service-account":
        return (doc.kind, doc.hosts.accounts_url, doc.organization_id or "")
    return (doc.kind, doc.hosts.vault_management_url, doc.vault_id)


def _capacity(
    tools: FleetTools, options: FleetOptions, rows: list[Row], pool: ThreadPoolExecutor
) -> tuple[list[Capacity], list[str]]:
    groups: dict[tuple[str, str, str], Row] = {}
    for row in rows:
        if row.capacity_key is not None and row.capacity_key not in groups:
            groups[row.capacity_key] = row
    if not options.check_vgs:
        return [Capacity(k[0], k[2], None) for k in groups], []
    results = list(pool.map(lambda item: _count(tools, *item), groups.items()))
    return [c for c, _ in results], [e for _, e in results if e]


def _count(tools: FleetTools, key: tuple[str, str, str], row: Row) -> tuple[Capacity, str | None]:
    kind, _url, scope_id = key
    doc = row.doc
    assert doc is not None
    try:
        raw = tools.store.get_value(doc.manager_secret_arn, stage=CURRENT)
        if raw is None:
            raise DocumentError("manager_secret_arn", "points to a secret with no AWSCURRENT value")
        issuer = tools.issuers(doc, parse_manager(raw), row.info.arn)
        try:
            used = len(issuer.present())
        finally:
            issuer.close()
    except checks.LOOK_ERRORS as exc:
        cap = Capacity(kind, scope_id, None)
        return cap, f"{cap.noun} of {cap.where} not counted (through {row.info.name}'s manager): {exc}"
    return Capacity(kind, scope_id, used), None
