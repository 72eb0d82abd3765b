"""The rotation schedule limit: nothing more frequent than every 4 hours.

cfn-lint does not catch a too-frequent ScheduleExpression; infra.aws.schedule_check does,
and the template's AllowedPattern may only accept what it accepts."""

from __future__ import annotations

import itertools
import re

import pytest

from infra.aws.cfn import load_template
from infra.aws.schedule_check import check_schedule, main, min_gap_hours

REJECTED = [
    "rate(1 hour)",
    "rate(3 hours)",
    "rate(2 hours)",
    "rate(0 days)",
    "rate(30 minutes)",
    "rate(240 minutes)",
    "rate(4 hour)",
    "rate(1 days)",
    "cron(0 */2 * * ? *)",
    "cron(0 * * * ? *)",
    "cron(15 */4 * * ? *)",
    "cron(0/30 */4 * * ? *)",
    "cron(0 */7 * * ? *)",  # 0,7,14,21 then 21 -> 0 is 3 hours
    "cron(0 1,22 * * ? *)",  # 22 -> 1 next day is 3 hours
    "cron(0 8-11 * * ? *)",
    "cron(0 */4 * * * *)",  # neither day field is '?'
    "cron(0 */4 ? * ? *)",  # both are
    "cron(0 */4 * *)",
    "cron(0 25 * * ? *)",
    "rate(4 hours) ",
    "every 4 hours",
    "",
]
ACCEPTED = [
    "rate(4 hours)",
    "rate(23 hours)",
    "rate(1 day)",
    "rate(30 days)",
    "rate(1000 days)",
    "cron(0 */4 * * ? *)",
    "cron(0 */5 * * ? *)",  # 0,5,10,15,20 then 20 -> 0 is 4 hours
    "cron(0 */12 * * ? *)",
    "cron(0 3 * * ? *)",
    "cron(0 9 ? * MON-FRI *)",
    "cron(0 0,6,12,18 * * ? *)",
    "cron(0 2-22/4 * * ? *)",
]


@pytest.mark.parametrize("expression", REJECTED)
def test_rejected(expression: str) -> None:
    assert not check_schedule(expression), expression


@pytest.mark.parametrize("expression", ACCEPTED)
def test_accepted(expression: str) -> None:
    assert check_schedule(expression), (expression, check_schedule(expression).reason)


def test_gap_wraps_around_midnight() -> None:
    assert min_gap_hours({0}) == 24
    assert min_gap_hours({0, 12}) == 12
    assert min_gap_hours({2, 23}) == 3


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rate(4 hours)"]) == 0
    assert main(["rate(4 hours)", "rate(1 hour)"]) == 1
    assert "BAD rate(1 hour)" in capsys.readouterr().out


# ------------------------------------------------------------------- the template parameter


@pytest.fixture(scope="module")
def parameter() -> dict[str, str]:
    return load_template()["Parameters"]["RotationScheduleExpression"]


def _corpus() -> list[str]:
    """Many candidate expressions, good and bad, to hold the AllowedPattern against the check."""
    out: list[str] = []
    for n in range(0, 60):
        for unit in ("hour", "hours", "day", "days", "minute", "minutes"):
            out.append(f"rate({n} {unit})")
    out += [f"rate({n} days)" for n in (99, 100, 365, 999, 1000, 1001, 5000)]
    hour_fields = ["*", "?", "24", "1-3", "8-20/4", "0,4", "0,3", "1,22", "0,12", "2-22/4", "1/5", "0/7"]
    hour_fields += [str(h) for h in range(24)] + [f"*/{n}" for n in range(1, 25)]
    days = [("*", "?"), ("?", "*"), ("?", "MON-FRI"), ("1", "?"), ("*", "*"), ("?", "?"), ("L", "?")]
    for minute, hours, (dom, dow) in itertools.product(["0", "5", "*", "0/30"], hour_fields, days):
        out.append(f"cron({minute} {hours} {dom} * {dow} *)")
    out += ["cron(0 */4 * * ? 2030)", "cron(0 4 * JAN ? *)", "cron(0 */4 * * ?)", "cron( 0 */4 * * ? *)"]
    return out


def test_allowed_pattern_accepts_only_what_the_check_accepts(parameter: dict[str, str]) -> None:
    # CloudFormation matches AllowedPattern against the whole value (Java regex); the
    # pattern uses only constructs that mean the same in Python.
    pattern = re.compile(parameter["AllowedPattern"])
    matched = 0
    for expression in _corpus():
        if pattern.fullmatch(expression):
            matched += 1
            assert check_schedule(expression), f"AllowedPattern lets through {expression!r}"
    assert matched > 50, "the pattern should still accept the common schedules"


def test_allowed_pattern_on_the_issue_examples(parameter: dict[str, str]) -> None:
    pattern = re.compile(parameter["AllowedPattern"])
    for bad in ("rate(1 hour)", "rate(3 hours)", "cron(0 */2 * * ? *)", "cron(15 */4 * * ? *)"):
        assert not pattern.fullmatch(bad), bad
    for good in ("rate(4 hours)", "rate(1 day)", "cron(0 */4 * * ? *)", "rate(7 days)", "cron(0 3 ? * SUN *)"):
        assert pattern.fullmatch(good), good


def test_default_passes(parameter: dict[str, str]) -> None:
    assert check_schedule(parameter["Default"])
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
