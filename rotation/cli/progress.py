"""Progress on stderr at default verbosity: one line per retry or wait.

The library layers already log each retry as a WARNING record with ``wait_seconds``,
``attempt`` and ``max_attempts`` (``rotation.vgs.http``, testSecret's propagation retries
in ``rotation.core``); this handler turns exactly those records into one line each, e.g.
``vgs-rotate: mint token: cannot connect to ... (ConnectError); attempt 1 of 5 failed,
retrying in 0.3 s``. Other records stay silent unless ``-v`` (then logging shows all).
"""

from __future__ import annotations

import contextlib
import logging

import click


class ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        wait = getattr(record, "wait_seconds", None)
        if not isinstance(wait, int | float):
            return
        with contextlib.suppress(OSError):  # stderr closed: a progress line must not break the command
            click.echo(progress_line(record, float(wait)), err=True)


def progress_line(record: logging.LogRecord, wait: float) -> str:
    what = getattr(record, "detail", None) or record.getMessage()
    attempt = getattr(record, "attempt", None)
    total = getattr(record, "max_attempts", None)
    count = f"attempt {attempt} of {total}" if attempt and total else f"attempt {attempt}" if attempt else "attempt"
    return f"vgs-rotate: {' '.join(str(what).split())}; {count} failed, retrying in {wait:.1f} s"


def install(verbose: int) -> None:
    """At default verbosity, show retry lines; with ``-v`` the logging set-up shows them."""
    logger = logging.getLogger("rotation")
    for handler in [h for h in logger.handlers if isinstance(h, ProgressHandler)]:
        logger.removeHandler(handler)
    if verbose == 0:
        logger.addHandler(ProgressHandler(level=logging.WARNING))
