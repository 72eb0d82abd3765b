#!/usr/bin/env python3
"""``python -m infra.aws.schedule_check EXPR...``: is a rotation schedule at least 4 hours apart?

The rule lives in :mod:`rotation.onboarding.schedule` (installed with the package, used by
``vgs-rotate adopt --schedule``); this module keeps the command and the names it always had.
"""

from __future__ import annotations

from rotation.onboarding.schedule import (
    MAX_RATE_DAYS,
    MIN_INTERVAL_HOURS,
    Verdict,
    check_schedule,
    is_at_least_4_hours,
    main,
    min_gap_hours,
)

__all__ = [
    "MAX_RATE_DAYS",
    "MIN_INTERVAL_HOURS",
    "Verdict",
    "check_schedule",
    "is_at_least_4_hours",
    "main",
    "min_gap_hours",
]

if __name__ == "__main__":
    raise SystemExit(main())
