"""``vgs-rotate``: the command line. Each command lives in its own module, loaded lazily
so that ``vgs-rotate token`` does not pay for importing boto3 or the emulator."""

from __future__ import annotations

import importlib
import sys

import click

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "token": "rotation.cli.token_cmd:token",
    "emulator": "rotation.cli.emulator_cmd:emulator",
    "rotate": "rotation.cli.rotate_cmd:rotate",
    "status": "rotation.cli.rotate_cmd:status",
    "demo": "rotation.cli.demo_cmd:demo",
    "publish": "rotation.cli.publish_cmd:publish",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vgs-rotation", prog_name="vgs-rotate")
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v info, -vv debug). Never logs secrets.")
def cli(verbose: int) -> None:
    """Rotate, validate and publish VGS credentials."""
    if verbose:
        import logging

        logging.basicConfig(
            stream=sys.stderr,
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def main() -> None:
    cli(prog_name="vgs-rotate")


if __name__ == "__main__":
    main()
