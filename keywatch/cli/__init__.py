"""The `keywatch` command line: a thin click layer over the library.

Every read command takes --json. Errors are one line on stderr and a
non-zero exit code (1: a user error such as bad input or a missing key;
2: wrong usage; 70: an internal error), never a traceback unless
KEYWATCH_DEBUG=1 is set.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from ..errors import KeywatchError
from ..untrusted import for_terminal
from .common import Context, stderr

EXIT_INTERNAL = 70


# Command name -> "module:attribute"; modules load only when their command runs, so
# `keywatch import` does not pay for the HTTP stack and `keywatch verify` not for the store.
_COMMANDS = {
    "init": "keys:init_command", "import": "keys:import_command", "key": "keys:key_group",
    "upstream": "monitor:upstream_group", "poll": "monitor:poll_command", "releases": "monitor:releases_command",
    "events": "monitor:events_command", "watch": "monitor:watch_command",
    "verify": "packaging:verify_command", "export": "packaging:export_command",
    "audit": "audit:audit_group",
    "propose": "review:propose_command", "proposals": "review:proposals_group", "user": "review:user_group",
    "demo": "demo:demo_command", "import-tree": "tree:import_tree_command", "serve": "serve:serve_command",
    "trust": "trust:trust_group",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, attribute = _COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", "-w", metavar="DIR", help="Workspace directory (default: $KEYWATCH_WORKSPACE, then .).")
@click.version_option(__version__, prog_name="keywatch")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """Watch upstream OpenPGP signing keys and the web of trust behind them."""
    ctx.obj = Context(workspace)


def main() -> None:
    """Entry point: turn every error into one line and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        stderr.print("keywatch: aborted")
        sys.exit(130)
    except click.ClickException as exc:
        stderr.print(f"keywatch: error: {for_terminal(exc.format_message(), 500)}")
        sys.exit(exc.exit_code)
    except KeywatchError as exc:
        stderr.print(f"keywatch: error: {for_terminal(str(exc), 500)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("keywatch: interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        if os.environ.get("KEYWATCH_DEBUG"):
            raise
        stderr.print(f"keywatch: internal error: {type(exc).__name__}: {for_terminal(str(exc), 300)} "
                     "(set KEYWATCH_DEBUG=1 for a traceback)")
        sys.exit(EXIT_INTERNAL)
