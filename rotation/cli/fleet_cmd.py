"""``vgs-rotate status --all``: the fleet view. ``status`` branches here when ``--all`` is
given; this module holds its options (:func:`fleet_options`), its run and its rendering.

Exit codes as for every check: 0 all good, 1 a secret or a capacity has a problem, 4
something could not be seen (a failure wins over an unknown).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rotation.cli.common import EXIT_FAILED, EXIT_UNAVAILABLE, fail

if TYPE_CHECKING:
    from rotation.health.fleet import FleetReport, Row

F = TypeVar("F", bound=Callable[..., Any])


def fleet_options(func: F) -> F:
    """The options ``status`` takes for the fleet view (passed on as ``**fleet``)."""
    options = [
        click.option("--all", "all_secrets", is_flag=True, help="Every secret this project rotates, one row each."),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="With --all: secrets surveyed at once.",
        ),
        click.option(
            "--function",
            "functions",
            multiple=True,
            metavar="NAME|ARN",
            help="With --all: also count secrets rotated by this function (default: names holding 'vgs-rotation').",
        ),
        click.option(
            "--publish-config",
            type=click.Path(dir_okay=False),
            help="With --all: the publisher's config, to check each secret's published token.",
        ),
        click.option("--vault-addr", help="With --publish-config: Vault/OpenBao address (default: VAULT_ADDR)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_fleet(
    *,
    as_json: bool,
    no_vgs: bool,
    http_timeout: float,
    concurrency: int,
    functions: tuple[str, ...],
    publish_config: str | None,
    vault_addr: str | None,
) -> None:
    from rotation.cli.doctor_cmd import build_tools, doctor_retry, read_publish_config
    from rotation.health.fleet import FleetOptions, FleetTools, survey
    from rotation.issuers import default_issuer_factory
    from rotation.vgs.shared_reads import SharedReads

    tools = build_tools(http_timeout, vault_addr, pool=concurrency)
    options = FleetOptions(
        functions=functions,
        concurrency=concurrency,
        check_vgs=not no_vgs,
        publish=read_publish_config(publish_config) if publish_config else None,
    )
    # one listing per organization or vault and one token per manager, however many secrets
    reads = SharedReads(timeout=http_timeout, retry=doctor_retry(http_timeout))
    issuers = default_issuer_factory(http_timeout=http_timeout, http_factory=reads.http)
    try:
        report = survey(FleetTools(tools.store, tools.catalog, issuers, tools.kv), options)
    finally:
        reads.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        render(report)
    if report.verdict == "failed":
        bad = [r.info.name for r in report.rows if r.problems] + [c.where for c in report.capacity if c.enough is False]
        fail(f"status --all: problems in {len(bad)} place(s): {', '.join(bad[:10])}", EXIT_FAILED)
    if report.verdict == "unknown":
        unseen = [r for r in report.rows if r.errors]
        first = f"{unseen[0].info.name}: {unseen[0].errors[0]}" if unseen else report.errors[0]
        fail(
            f"status --all: could not see everything ({len(unseen)} secret(s), {len(report.errors)} capacity "
            f"listing(s)); first: {first}",
            EXIT_UNAVAILABLE,
        )


# --------------------------------------------------------------------------- rendering


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    days = (now - value).total_seconds() / 86_400
    ago = f"{days:.0f}d ago" if days >= 1 else ("in " + f"{-days:.0f}d" if days <= -1 else "today")
    return f"{value.astimezone(UTC):%Y-%m-%d} ({ago})"


def _token(row: Row) -> str:
    if row.published is None:
        return "?" if any("published token" in e for e in row.errors) else "-"
    states = []
    for p in row.published:
        states.append(f"fresh {p.expires_in // 60}m" if p.ok and p.expires_in is not None else p.state)
    return ",".join(states) or "-"


def _cells(row: Row, now: datetime) -> list[str]:
    h = row.history
    kind = {"service-account": "sa", "access-credentials": "ac"}.get(row.kind or "", row.kind or "?")
    return [
        row.info.name,
        kind,
        _when(h.last_rotated, now) if h else "?",
        h.outcome if h else "?",
        _when(h.next_rotation, now) if h else "?",
        row.stuck_pending[:8] if row.stuck_pending else "-",
        "?" if row.orphans is None else str(len(row.orphans)),
        "-" if h is None or h.previous_retired_days is None else f"{h.previous_retired_days:.1f}d",
        _token(row),
        {"ok": "ok", "failed": "FAILED", "unknown": "UNKNOWN"}.get(row.verdict, row.verdict),
    ]


def render(report: FleetReport) -> None:
    now = datetime.now(UTC)
    head = [
        "SECRET",
        "KIND",
        "LAST ROTATION",
        "OUTCOME",
        "NEXT ROTATION",
        "STUCK",
        "ORPHANS",
        "PREV RETIRED",
        "TOKEN",
        "VERDICT",
    ]
    rows = [_cells(r, now) for r in report.rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for cells in [head, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if report.capacity:
        click.echo("capacity:")
        for cap in report.capacity:
            flag = "" if cap.enough is not False else "  TOO FULL: " + cap.fix()
            click.echo(f"  {cap.describe()}{flag}")
    for row in report.rows:
        for problem in row.problems:
            click.echo(f"problem  {row.info.name}: {problem}")
        for error in row.errors:
            click.echo(f"unknown  {row.info.name}: {error}")
    for error in report.errors:
        click.echo(f"unknown  {error}")
    counts = report.as_dict()["counts"]
    click.echo(
        f"{counts['secrets']} secret(s): {counts['ok']} ok, {counts['failed']} with problems, "
        f"{counts['unknown']} not fully seen ({report.seconds:.1f} s)"
    )
