"""What every command shares: the workspace context, JSON output, progress bars, safe printing."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable

import click
from rich.console import Console

from ..types import now_ts, parse_time, to_timestamp
from ..workspace import Workspace, locate

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(document) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


class Context:
    def __init__(self, workspace_option: str | None) -> None:
        self.workspace_option = workspace_option

    def workspace(self) -> Workspace:
        return locate(self.workspace_option)


pass_context = click.make_pass_decorator(Context)


class progress_bar:
    """A rich progress bar on stderr when it is a terminal and output is not JSON; otherwise silent."""

    def __init__(self, quiet: bool, label: str) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.label = label
        self.bar = None
        self.task = None

    def __enter__(self) -> tuple[Callable[[int], None], Callable[[int], None]]:
        if not self.enabled:
            return (lambda n: None), (lambda n: None)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=stderr, transient=True)
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=None)
        return (lambda n: self.bar.advance(self.task, n)), (lambda n: self.bar.update(self.task, total=n))

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()




def at_option(func):
    return click.option("--at", "at", metavar="TIME",
                        help="Reference time, ISO 8601 (2023-05-04 or 2023-05-04T12:00:00Z); default: now.")(func)


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def reference_time(value: str | None) -> int:
    return to_timestamp(parse_time(value)) if value else now_ts()


def local_actor() -> str:
    """Who acts on the command line, for the audit history: the operating-system user."""
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:unknown"


def audit_change(workspace: Workspace, action: str, subject: str, details: dict) -> None:
    """Record a change made on the command line in the audit history, in its own transaction."""
    store = workspace.store()
    try:
        log = workspace.audit(store)
        with store.transaction():
            log.append(local_actor(), action, subject, details)
        log.publish_head()
    finally:
        store.close()
