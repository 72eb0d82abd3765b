"""``vgs-rotate demo``: the README's main command."""

from __future__ import annotations

import click

from rotation.cli.common import EXIT_BAD, EXIT_FAILED, fail


@click.command("demo")
@click.option("--rotations", type=click.IntRange(1, 10), default=2, show_default=True)
def demo(rotations: int) -> None:
    """Rotate a VGS service account twice on the embedded emulator and moto's Secrets
    Manager: no AWS account, no network. Shows each step, then what is live and what was
    deleted."""
    try:
        import moto  # noqa: F401  (the demo runs moto's server in this process)
    except ModuleNotFoundError:
        fail("`vgs-rotate demo` needs moto's Secrets Manager server: pip install 'vgs-rotation[demo]'", EXIT_BAD)
    from rotation.demo import run_demo

    if not run_demo(click.echo, rotations=rotations):
        fail("demo checks failed", EXIT_FAILED)
