"""Commands about the audit history: show, verify, export."""

from __future__ import annotations

import json
import sys

import click

from ..types import parse_time, to_timestamp
from ..untrusted import for_terminal
from .common import Context, emit_json, json_option, pass_context, stderr, stdout


@click.group("audit")
def audit_group() -> None:
    """The append-only, hash-chained history of every trust decision."""


@audit_group.command("log")
@click.option("--action", help="Only this action (import-baseline, approve, keyring-write, …).")
@click.option("--actor", help="Only entries by this actor.")
@click.option("--since", metavar="TIME", help="Only entries at or after TIME (ISO 8601).")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@pass_context
def audit_log(ctx: Context, action, actor, since, limit, as_json: bool) -> None:
    """The newest audit entries."""
    workspace = ctx.workspace()
    store = workspace.store()
    try:
        entries = workspace.audit(store).entries(action=action, actor=actor, limit=limit, newest_first=True,
                                                 since=to_timestamp(parse_time(since)) if since else None)
    finally:
        store.close()
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    for entry in entries:
        stdout.print(f"{entry.id:6} {entry.as_json()['at']} {for_terminal(entry.actor, 40)} {entry.action} "
                     f"{for_terminal(entry.subject, 80)}")


@audit_group.command("verify")
@json_option
@pass_context
def audit_verify(ctx: Context, as_json: bool) -> None:
    """Check the whole chain; exit 1 and name every edited, deleted or reordered entry."""
    workspace = ctx.workspace()
    store = workspace.store()
    try:
        log = workspace.audit(store)
        problems = log.verify()
        count = store.conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    finally:
        store.close()
    if as_json:
        emit_json({"entries": count, "intact": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            stderr.print(f"keywatch: audit: {problem}")
    else:
        stdout.print(f"audit history intact: {count} entries")
    if problems:
        sys.exit(1)


@audit_group.command("export")
@click.option("--json", "as_json", is_flag=True, required=True, help="JSON lines (the only format).")
@pass_context
def audit_export(ctx: Context, as_json: bool) -> None:
    """Every entry, oldest first, as JSON lines (with hashes, so the copy can be verified elsewhere)."""
    workspace = ctx.workspace()
    store = workspace.store()
    try:
        for entry in workspace.audit(store).entries():
            click.echo(json.dumps(entry.as_json(), ensure_ascii=False, sort_keys=True))
    finally:
        store.close()
