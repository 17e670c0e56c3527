"""Commands about upstreams: upstream add/list/show/remove, poll, releases, events, watch."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import click
from rich.table import Table

from .. import events as ev
from ..alerts import Outbox, sinks_from_config
from ..config import KEYRING_FORMATS, Config
from ..poller import Poller, PollReport
from ..proposals import Review
from ..proposing import propose_from_events
from ..release_history import release_history
from ..store import Store
from ..transition import statement_checker
from ..types import iso, now_ts, parse_time, to_timestamp
from ..untrusted import for_terminal
from ..upstreams import add_upstream, remove_upstream
from ..workspace import Workspace
from .common import Context, audit_change, emit_json, json_option, pass_context, stderr, stdout


@click.group("upstream")
def upstream_group() -> None:
    """Edit and read the upstreams in keywatch.toml."""


@upstream_group.command("add")
@click.argument("name")
@click.option("--keyring", help="The packaging keyring keywatch guards (path, relative to the workspace).")
@click.option("--keyring-format", type=click.Choice(KEYRING_FORMATS), default="opensuse", show_default=True)
@click.option("--index", help="Page or directory listing with the releases (http/https).")
@click.option("--pattern", help="Regex for release file names; the version is group 1.")
@click.option("--signature-suffix", "suffixes", multiple=True, help="Repeatable; default .sig .asc .sign.")
@click.option("--key", "keys", multiple=True, help="Key source: URL, wkd:EMAIL, vks:FPR or hkp:FPR (repeatable).")
@click.option("--git", help="Repository whose signed tags are releases (path or URL).")
@click.option("--tag-pattern", help="Regex for tag names; the version is group 1.")
@click.option("--interval", default="6h", show_default=True, help="How often `watch` polls it (30m, 6h, 1d).")
@json_option
@pass_context
def upstream_add(ctx: Context, name: str, keyring, keyring_format, index, pattern, suffixes, keys, git, tag_pattern,
                 interval, as_json: bool) -> None:
    """Add upstream NAME to keywatch.toml (validated before the file is replaced)."""
    workspace = ctx.workspace()
    values = {"name": name, "keyring": keyring, "keyring_format": keyring_format, "index": index,
              "pattern": pattern, "signature_suffixes": list(suffixes), "keys": list(keys), "git": git,
              "tag_pattern": tag_pattern, "interval": interval}
    upstream = add_upstream(workspace.config_path, values)
    audit_change(workspace, "upstream-add", name, upstream.as_json())
    if as_json:
        emit_json(upstream.as_json())
    else:
        stdout.print(f"upstream {for_terminal(name)} added to {workspace.config_path}")


@upstream_group.command("remove")
@click.argument("name")
@pass_context
def upstream_remove(ctx: Context, name: str) -> None:
    """Remove upstream NAME from keywatch.toml (its history stays in the store)."""
    workspace = ctx.workspace()
    remove_upstream(workspace.config_path, name)
    audit_change(workspace, "upstream-remove", name, {})
    stdout.print(f"upstream {for_terminal(name)} removed from {workspace.config_path}")


def _state(store: Store) -> dict[str, dict]:
    rows = store.conn.execute("SELECT name, last_poll, last_success, last_error, next_poll FROM upstream_state")
    return {r[0]: {"last_poll": iso(r[1]), "last_success": iso(r[2]), "last_error": r[3], "next_poll": iso(r[4])}
            for r in rows}


@upstream_group.command("list")
@json_option
@pass_context
def upstream_list(ctx: Context, as_json: bool) -> None:
    """Every configured upstream with its last poll."""
    workspace = ctx.workspace()
    config = workspace.config()
    store = workspace.store()
    try:
        states = _state(store)
    finally:
        store.close()
    rows = [{**u.as_json(), **states.get(u.name, {"last_poll": None, "last_success": None, "last_error": None,
                                                  "next_poll": None})} for u in config.upstreams]
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "releases from", "keys", "last poll", "last error", box=None)
    for row in rows:
        table.add_row(for_terminal(row["name"]), for_terminal(row["index"] or row["git"] or "-", 60),
                      str(len(row["keys"])), row["last_poll"] or "never", for_terminal(row["last_error"] or "", 80))
    stdout.print(table)


@upstream_group.command("show")
@click.argument("name")
@json_option
@pass_context
def upstream_show(ctx: Context, name: str, as_json: bool) -> None:
    """One upstream: its settings, last poll, releases and recent events."""
    workspace = ctx.workspace()
    upstream = workspace.config().upstream(name)
    store = workspace.store()
    try:
        document = {**upstream.as_json(), "state": _state(store).get(name),
                    "releases": release_history(store, name), "events": ev.query(store.conn, upstream=name, limit=20)}
    finally:
        store.close()
    if as_json:
        emit_json(document)
        return
    stdout.print(f"[bold]{for_terminal(name)}[/bold]  releases from {for_terminal(upstream.index or upstream.git or '-')}")
    for key in upstream.keys:
        stdout.print(f"  key source {for_terminal(key)}")
    _print_releases(document["releases"][-10:])
    _print_events(document["events"])


def _print_releases(releases: list[dict]) -> None:
    for release in releases:
        who = ", ".join(f"{s['signer'] or s['key_id'] or '?'} {s['status']}"
                        + ("" if s["problem"] is None else f" ({for_terminal(s['problem'], 60)})")
                        + (" \\[keyring]" if s["in_keyring"] else "") for s in release["signers"])
        stdout.print(f"  {for_terminal(release['version'], 40)}: {release['signature_status']}  {who}")


def _print_events(events: list[dict]) -> None:
    colours = {"critical": "bold red", "high": "red", "warning": "yellow", "info": "dim"}
    for event in events:
        colour = colours[event["severity"]]
        stdout.print(f"  [{colour}]{event['severity']:8}[/{colour}] {event['created']} {event['kind']}: "
                     f"{for_terminal(event['message'], 300)}")


@click.command("releases")
@click.argument("name")
@json_option
@pass_context
def releases_command(ctx: Context, name: str, as_json: bool) -> None:
    """Release history of upstream NAME: every release, its signature and who signed it."""
    workspace = ctx.workspace()
    workspace.config().upstream(name)
    store = workspace.store()
    try:
        releases = release_history(store, name)
    finally:
        store.close()
    if as_json:
        emit_json(releases)
    else:
        _print_releases(releases)


@click.command("events")
@click.option("--upstream", help="Only this upstream.")
@click.option("--since", metavar="TIME", help="Only events recorded at or after TIME (ISO 8601).")
@click.option("--severity", type=click.Choice(ev.SEVERITIES), help="This severity or worse.")
@click.option("--kind", help="Only this kind (new_signer, handover_suspected, …).")
@click.option("--limit", type=int, help="At most this many, newest first.")
@json_option
@pass_context
def events_command(ctx: Context, upstream, since, severity, kind, limit, as_json: bool) -> None:
    """Events raised by polling, newest first."""
    store = ctx.workspace().store()
    try:
        found = ev.query(store.conn, upstream=upstream, since=to_timestamp(parse_time(since)) if since else None,
                         severity=severity, kind=kind, limit=limit)
    finally:
        store.close()
    if as_json:
        emit_json(found)
    else:
        _print_events(found)
        stdout.print(f"{len(found)} events")


def run_poll(workspace: Workspace, config: Config, names: list[str], *, quiet: bool) -> list[PollReport]:
    """Poll the named upstreams (all when none), then deliver the alerts they raised."""
    upstreams = [config.upstream(n) for n in names] if names else list(config.upstreams)
    store = workspace.store()
    try:
        outbox = _outbox(store, workspace, config)
        poller = Poller(workspace.root, config, store, outbox)
        if quiet or not sys.stderr.isatty():
            reports = asyncio.run(poller.poll(upstreams))
        else:
            from rich.progress import Progress

            with Progress(console=stderr, transient=True) as bar:
                task = bar.add_task("polling", total=len(upstreams))
                reports = asyncio.run(poller.poll(upstreams, lambda report: bar.advance(task)))
        _propose(workspace, config, store, poller, reports)
        _report_delivery(outbox.deliver_due())
        return reports
    finally:
        store.close()


@click.command("poll")
@click.argument("names", nargs=-1)
@json_option
@pass_context
def poll_command(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Poll upstreams now (all, or NAMES): keys, releases, signers; raise events and send alerts.

    Exit status 1 if any upstream failed; the others are polled regardless.
    """
    workspace = ctx.workspace()
    reports = run_poll(workspace, workspace.config(), list(names), quiet=as_json)
    failed = [r for r in reports if not r.ok]
    if as_json:
        emit_json({"upstreams": [r.as_json() for r in reports], "failed": len(failed),
                   "events": sum(len(r.event_ids) for r in reports)})
    else:
        for report in reports:
            status = "[red]failed[/red]" if not report.ok else "ok"
            extra = f": {for_terminal(report.error, 300)}" if report.error else ""
            stdout.print(f"{for_terminal(report.upstream)}: {status}, {len(report.new_releases)} new releases, "
                         f"{len(report.event_ids)} events{extra}")
    if failed:
        sys.exit(1)


@click.command("watch")
@click.option("--once", is_flag=True, help="Run one round of due polls and exit (for cron and tests).")
@click.option("--tick", default=30.0, show_default=True, help="Seconds between checks for due upstreams.")
@pass_context
def watch_command(ctx: Context, once: bool, tick: float) -> None:
    """Poll each upstream on its interval until stopped (SIGTERM/SIGINT stop cleanly after the current round).

    The schedule lives in the database, so a restarted watcher resumes where it stopped.
    """
    workspace = ctx.workspace()
    stopping = {"now": False}

    def stop(signum, frame) -> None:
        stopping["now"] = True
        stderr.print(f"keywatch: {signal.Signals(signum).name} received, stopping after this round")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping["now"]:
        config = workspace.config()  # re-read: upstreams may be added while watching
        due = _due(workspace, config)
        if due:
            reports = run_poll(workspace, config, due, quiet=True)
            for report in reports:
                line = "ok" if report.ok else f"failed: {for_terminal(report.error or '', 300)}"
                stderr.print(f"{iso(now_ts())} {for_terminal(report.upstream)}: {line}, "
                             f"{len(report.new_releases)} new releases, {len(report.event_ids)} events")
        else:
            _deliver_pending(workspace, config)
        if once:
            break
        deadline = time.monotonic() + tick
        while not stopping["now"] and time.monotonic() < deadline:
            time.sleep(min(0.2, tick))
    stderr.print("keywatch: watch stopped")


def _due(workspace: Workspace, config: Config) -> list[str]:
    store = workspace.store()
    try:
        scheduled = {r[0]: r[1] for r in store.conn.execute("SELECT name, next_poll FROM upstream_state")}
    finally:
        store.close()
    now = now_ts()
    return [u.name for u in config.upstreams if (scheduled.get(u.name) or 0) <= now]


def _propose(workspace: Workspace, config: Config, store: Store, poller: Poller, reports: list[PollReport]) -> None:
    """New events become change proposals for the upstream's keyring, with their evidence."""
    if not any(r.event_ids for r in reports):
        return
    review = Review(workspace.root, config, store, workspace.audit(store))
    rate = _trust_rater(workspace, config, store)
    for report in reports:
        if report.event_ids:
            upstream = config.upstream(report.upstream)
            transition = (statement_checker(store, upstream.transition_statement, timeout=config.monitor.timeout)
                          if upstream.transition_statement else None)
            propose_from_events(review, upstream, report.event_ids, release_history(store, upstream.name),
                                poller.profile, rate, transition)


def _trust_rater(workspace: Workspace, config: Config, store: Store):
    """With trust roots configured, new signers are rated by the trust graph (one analysis per poll)."""
    if not config.trust.roots:
        return None
    from ..trust import report

    settings = report.settings_from_config(config, workspace.root)
    report.prepare(store, settings.stores)
    roots = report.resolve_roots(store, settings.roots)
    at = now_ts()
    analysis = report.Analysis.build(store, at, roots)

    def rate(subject, predecessor):
        return report.handover(store, subject, predecessor, at, roots, settings.thresholds, analysis)

    return rate


def _outbox(store: Store, workspace: Workspace, config: Config) -> Outbox:
    sinks = sinks_from_config(list(config.alerts), base_dir=workspace.root)
    return Outbox(store.conn, sinks, base_delay=config.monitor.alert_retry_seconds)


def _report_delivery(report) -> None:
    """Alert failures go to stderr; they are retried later, never dropped."""
    for outcome in report.outcomes:
        if outcome.failed:
            stderr.print(f"keywatch: alert sink {for_terminal(outcome.sink)}: {len(outcome.failed)} not delivered yet "
                         f"({for_terminal(outcome.error or '', 200)}); will retry")
    for sink, count in report.orphaned.items():
        stderr.print(f"keywatch: {count} alerts wait for sink {for_terminal(sink)}, which is no longer configured")


def _deliver_pending(workspace: Workspace, config: Config) -> None:
    store = workspace.store()
    try:
        _report_delivery(_outbox(store, workspace, config).deliver_due())
    finally:
        store.close()

