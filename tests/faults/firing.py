"""One key scheme for fault counts, shared by every schedule and bench.

``planned:<kind>`` counts what a schedule armed (a fault planned for ``count`` requests
counts ``count``); ``fired:<kind>`` counts what happened, at the moment it happened: the
emulator counts each fault it applies (``Faults.fired``), ``LateTimeouts`` each answer it
lost and each client read timeout its inner transport raised, ``Calls`` each crash, store
throttle, lost store answer and interleaving it fired, ``Gate`` each answer it lost on a
real OpenBao run. A planned fault may never fire (the route was not called again, the
attempt crashed first), so only ``fired:`` shows what a run exercised.

Kinds:

- VGS, from the emulator: ``429``, ``500``, ``502``, ``503``, ``504``, ``drop``, ``delay``;
- VGS, from the client side: ``late`` (served, answer lost as a read timeout),
  ``lost_answer`` (served, connection dropped: OpenBao runs), ``client_timeout`` (a delay
  fault outlasted the client's read timeout: the client really timed out);
- Secrets Manager: ``store_throttle``, ``store_lost``;
- process and concurrency: ``crash``, ``concurrent_rotation``, ``publisher_interleave``,
  ``sibling_rotation`` (another secret of the same organization rotated in between: shown,
  not required, as it needs a schedule with several secrets),
  ``plugin_kill`` (OpenBao runs: the plugin process killed with SIGKILL).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

PLANNED = "planned:"
FIRED = "fired:"

EMULATOR_KINDS = ("429", "500", "502", "503", "504", "drop", "delay")
# what every rotation schedule run (in memory or over HTTP) must have fired, summed over a run
ROTATION_KINDS = (*EMULATOR_KINDS, "late", "client_timeout", "crash", "store_throttle", "store_lost",
                  "concurrent_rotation", "publisher_interleave")  # fmt: skip
PLUGIN_KINDS = (*EMULATOR_KINDS, "late", "crash")
PLUGIN_BAO_KINDS = (*EMULATOR_KINDS, "lost_answer", "plugin_kill")


def planned(stats: Counter[str], kind: str, n: int = 1) -> None:
    stats[PLANNED + kind] += n


def fired(stats: Counter[str], kind: str, n: int = 1) -> None:
    if n:
        stats[FIRED + kind] += n


def fired_since(stats: Counter[str], before: Mapping[str, int], after: Mapping[str, int]) -> None:
    """Add the faults fired between two snapshots of a counter by kind (``Faults.fired()``)."""
    for kind, n in after.items():
        fired(stats, kind, n - before.get(kind, 0))


def by_kind(stats: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}


def never_fired(stats: Mapping[str, int], kinds: Iterable[str]) -> list[str]:
    """The kinds (expected ones, plus every planned one) of which not one fired."""
    expected = dict.fromkeys([*kinds, *by_kind(stats, PLANNED)])
    return [k for k in expected if not stats.get(FIRED + k, 0)]


def per_kind(stats: Mapping[str, int], kinds: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Table rows ``(kind, "planned P / fired F")`` for the given kinds and every other one seen."""
    seen = dict.fromkeys([*kinds, *by_kind(stats, PLANNED), *by_kind(stats, FIRED)])
    rows = []
    for kind in seen:
        p, f = stats.get(PLANNED + kind, 0), stats.get(FIRED + kind, 0)
        rows.append((kind, f"planned {p:,} / fired {f:,}" if PLANNED + kind in stats else f"fired {f:,}"))
    return rows
