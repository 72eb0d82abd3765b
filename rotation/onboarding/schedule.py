"""Is a Secrets Manager rotation schedule at least 4 hours apart?

(Part of the installed package so that ``vgs-rotate adopt --schedule`` checks it as the
template's tests do; ``python -m infra.aws.schedule_check`` is the same code.)

Secrets Manager refuses to rotate more often than every 4 hours, but a template with a
too-frequent ``ScheduleExpression`` still passes ``cfn-lint`` and only fails at deploy
time (or, with a cron whose hours are unevenly spread, rotates faster than intended in
places). This module decides it offline, and the tests hold the template's
``AllowedPattern`` to it: anything the pattern accepts, this accepts.

Accepted forms (UTC, as Secrets Manager reads them):

- ``rate(N hours)`` with N >= 4, ``rate(1 day)``, ``rate(N days)`` with 1 <= N <= 1000;
- ``cron(0 H DOM MON DOW YEAR)``: minutes must be ``0``; the hours ``H`` fires on, taken
  around the clock (the gap from the last hour of one day to the first of the next
  counts), must all be at least 4 hours apart; exactly one of DOM and DOW is ``?``.

Rejected: minute rates, ``rate(N hours)`` with N < 4, any cron with minutes other than
``0`` or with two firing hours closer than 4 hours, and anything malformed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

MIN_INTERVAL_HOURS = 4
MAX_RATE_DAYS = 1000

_RATE = re.compile(r"^rate\((\d+) (hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]*)\)$")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def _hours_of(field: str) -> set[int] | None:
    """The hours of the day an hour field fires on, or None if the field is malformed."""
    hours: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            base, _, step_text = part.partition("/")
            if not step_text.isdigit() or int(step_text) == 0:
                return None
            step = int(step_text)
        else:
            base = part
        if base == "*":
            start, end = 0, 23
        elif "-" in base:
            lo, _, hi = base.partition("-")
            if not (lo.isdigit() and hi.isdigit()):
                return None
            start, end = int(lo), int(hi)
            if start > end:
                return None
        elif base.isdigit():
            start = int(base)
            end = 23 if "/" in part else start
        else:
            return None
        if not (0 <= start <= 23 and 0 <= end <= 23):
            return None
        hours.update(range(start, end + 1, step))
    return hours or None


def min_gap_hours(hours: set[int]) -> int:
    """The smallest gap between consecutive firing hours, around the clock (24 for one hour)."""
    ordered = sorted(hours)
    if len(ordered) == 1:
        return 24
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    gaps.append(ordered[0] + 24 - ordered[-1])
    return min(gaps)


def check_schedule(expression: str) -> Verdict:
    """Whether ``expression`` is a Secrets Manager schedule at least 4 hours apart."""
    expr = expression.strip() if isinstance(expression, str) else ""
    if expr != expression:
        return Verdict(False, "leading or trailing whitespace")
    m = _RATE.match(expr)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value == 0:
            return Verdict(False, "a rate must be positive")
        if (value == 1) != (unit in ("hour", "day")):
            return Verdict(False, "use the singular unit for 1 and the plural otherwise")
        if unit.startswith("hour"):
            if value < MIN_INTERVAL_HOURS:
                return Verdict(False, f"every {value} hour(s) is more often than every {MIN_INTERVAL_HOURS} hours")
            return Verdict(True, f"every {value} hours")
        if value > MAX_RATE_DAYS:
            return Verdict(False, f"at most {MAX_RATE_DAYS} days")
        return Verdict(True, f"every {value} day(s)")
    m = _CRON.match(expr)
    if not m:
        return Verdict(False, "not a rate() or cron() expression")
    fields = m.group(1).split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        return Verdict(False, "a cron expression has 6 fields: minutes hours day-of-month month day-of-week year")
    minutes, hour_field, dom, _month, dow, _year = fields
    if minutes != "0":
        return Verdict(False, "Secrets Manager cron schedules must use 0 for minutes")
    if (dom == "?") == (dow == "?"):
        return Verdict(False, "exactly one of day-of-month and day-of-week must be '?'")
    hours = _hours_of(hour_field)
    if hours is None:
        return Verdict(False, f"cannot read the hours field {hour_field!r}")
    gap = min_gap_hours(hours)
    if gap < MIN_INTERVAL_HOURS:
        return Verdict(False, f"two rotations only {gap} hour(s) apart (the minimum is {MIN_INTERVAL_HOURS})")
    return Verdict(True, f"at hours {sorted(hours)}, at least {gap} hours apart")


def is_at_least_4_hours(expression: str) -> bool:
    return bool(check_schedule(expression))


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    code = 0
    for expression in args:
        verdict = check_schedule(expression)
        print(f"{'ok ' if verdict else 'BAD'} {expression}: {verdict.reason}")
        code |= 0 if verdict else 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
