"""``vgs-rotate``: the command line. Each command lives in its own module, loaded lazily
so that ``vgs-rotate token`` does not pay for importing boto3 or the emulator."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from rotation.cli import errors

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "token": "rotation.cli.token_cmd:token",
    "emulator": "rotation.cli.emulator_cmd:emulator",
    "rotate": "rotation.cli.rotate_cmd:rotate",
    "status": "rotation.cli.rotate_cmd:status",
    "demo": "rotation.cli.demo_cmd:demo",
    "publish": "rotation.cli.publish_cmd:publish",
    "adopt": "rotation.cli.adopt_cmd:adopt",
    "cleanup": "rotation.cli.cleanup_cmd:cleanup",
    "bootstrap-manager": "rotation.cli.provision_cmd:bootstrap_manager",
    "local-stack": "rotation.cli.provision_cmd:local_stack",
    "doctor": "rotation.cli.doctor_cmd:doctor",
}


class LazyGroup(click.Group):
    """Commands imported on first use, all run inside the one error boundary
    (:mod:`rotation.cli.errors`): whatever a command raises becomes one line and an exit code."""

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

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # a caller that handles errors itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        errors.set_verbosity(0)
        code = errors.boundary(lambda: super(LazyGroup, self).main(args, prog_name, complete_var, False, **extra))
        sys.exit(code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vgs-rotation", prog_name="vgs-rotate")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log to stderr (-v info, -vv our debug records and tracebacks). Never logs secrets.",
)
def cli(verbose: int) -> None:
    """Rotate, validate and publish VGS credentials."""
    errors.set_verbosity(verbose)
    from rotation.cli import progress

    progress.install(verbose)
    if verbose:
        import logging

        # DEBUG for our own loggers only: other libraries stay at INFO, since their DEBUG
        # carries secrets (botocore logs request bodies, PutSecretValue's SecretString
        # included; httpcore the raw request headers and bodies).
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("rotation").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


def main() -> None:
    cli(prog_name="vgs-rotate")


if __name__ == "__main__":
    main()
