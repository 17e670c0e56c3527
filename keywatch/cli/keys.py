"""Commands about keys: init, import, key list/show/history/diff."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.table import Table

from ..diff import diff_certificates, is_empty
from ..errors import InputError, KeywatchError, NotFound
from ..ingest import import_files
from ..keyview import CertificateReader, describe, list_keys
from ..openpgp.cert import certificates_from_bytes
from ..types import iso, now_ts, parse_key_handle
from ..untrusted import for_terminal
from ..workspace import Workspace, init
from .common import (Context, at_option, audit_change, emit_json, json_option, pass_context, progress_bar, reference_time, stderr,
                     stdout)


@click.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
@pass_context
def init_command(ctx: Context, directory: Path | None, as_json: bool) -> None:
    """Create a workspace: DIRECTORY/keywatch.toml, keywatch.db and keyrings/ (default: the --workspace or .)."""
    root = directory or Path(ctx.workspace_option or os.environ.get("KEYWATCH_WORKSPACE") or ".")
    workspace, created = init(root)
    if as_json:
        emit_json({"workspace": str(workspace.root.resolve()), "created": created})
    else:
        state = "created" if created else "already initialised"
        stdout.print(f"workspace {for_terminal(str(workspace.root))}: {state}")


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@pass_context
def import_command(ctx: Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Import certificates from FILES (armored or binary keyrings); every signature is verified.

    Exit status 1 if any file was rejected; the others are imported regardless.
    """
    workspace = ctx.workspace()
    store = workspace.store()
    try:
        with progress_bar(as_json, "verifying") as (advance, set_total):
            summary = import_files(store, files, advance, set_total)
    finally:
        store.close()
    if summary.new or summary.changed:
        audit_change(workspace, "import", ", ".join(str(f) for f in files)[:500],
                     {"new": summary.new, "changed": summary.changed, "unchanged": summary.unchanged,
                      "rejected": summary.rejected})
    if as_json:
        emit_json(summary.as_json())
    else:
        stdout.print(f"{summary.certs} certificates: {summary.new} new, {summary.changed} changed, "
                     f"{summary.unchanged} unchanged, {summary.rejected} rejected")
    for error in summary.errors:
        stderr.print(f"keywatch: error: {for_terminal(error['message'], 500)}")
    if summary.rejected:
        sys.exit(1)


@click.group("key")
def key_group() -> None:
    """Read the certificates in the store."""


@key_group.command("list")
@json_option
@click.option("--problems", is_flag=True, help="Only keys with warning or error findings.")
@pass_context
def key_list(ctx: Context, as_json: bool, problems: bool) -> None:
    """Every certificate in the store with its policy findings (as of its last import)."""
    store = ctx.workspace().store()
    try:
        keys = list_keys(store)
    finally:
        store.close()
    if problems:
        keys = [k for k in keys if any(f["severity"] != "info" for f in k["findings"])]
    if as_json:
        emit_json(keys)
        return
    print_key_table(keys)
    stdout.print(f"{len(keys)} certificates")


def print_key_table(keys: list[dict]) -> None:
    """One line per key (as `list_keys` gives them): user ID, algorithm, expiry and every finding."""
    table = Table("fingerprint", "user ID", "algorithm", "expires", "findings", box=None)
    for key in keys:
        size = key["curve"] or (f"{key['bits']}" if key["bits"] else "")
        table.add_row(key["fingerprint"], for_terminal(key["primary_user_id"] or "(no valid user ID)", 60),
                      f"{key['algorithm']} {size}".strip(), (key["expires"] or "never")[:10],
                      _findings_text(key["findings"]))
    stdout.print(table)


def _findings_text(findings: list[dict]) -> str:
    marks = {"error": "[red]✗[/red]", "warning": "[yellow]![/yellow]", "info": "[dim]·[/dim]"}
    return "; ".join(f"{marks[f['severity']]} {for_terminal(f['message'], 120)}" for f in findings)


def _resolve(workspace: Workspace, handle: str):
    store = workspace.store()
    try:
        return store, store.resolve(parse_key_handle(handle))
    except KeywatchError:
        store.close()
        raise


@key_group.command("show")
@click.argument("key")
@at_option
@json_option
@pass_context
def key_show(ctx: Context, key: str, at: str | None, as_json: bool) -> None:
    """Show KEY (fingerprint or key ID) as of --at: validity, findings, every certification and whether it counts."""
    workspace = ctx.workspace()
    reference = reference_time(at)
    config = workspace.config()
    store, fingerprint = _resolve(workspace, key)
    try:
        document = describe(CertificateReader(store), fingerprint, reference, config.policy.expiry_warning_days)
    finally:
        store.close()
    if as_json:
        emit_json(document)
        return
    _print_key(document)


def _print_key(doc: dict) -> None:
    size = doc["curve"] or f"{doc['bits']} bits"
    status = "[red]revoked[/red]" if doc["revoked"] else ("valid" if doc["valid"] else "[red]not valid[/red]")
    stdout.print(f"[bold]{doc['fingerprint']}[/bold]  {doc['algorithm']} {size}  v{doc['version']}  {status}  (as of {doc['at']})")
    stdout.print(f"  created {doc['created']}, expires {doc['expires'] or 'never'}, {doc['versions']} version(s) seen")
    if doc["revocation"]:
        stdout.print(f"  revocation: {for_terminal(doc['revocation']['reason'] or 'no reason')}")
    for finding in doc["findings"]:
        stdout.print(f"  {_findings_text([finding])}")
    for sub in doc["subkeys"]:
        state = "revoked" if sub["revoked"] else ("valid" if sub["valid"] else "not valid")
        stdout.print(f"  subkey {sub['fingerprint']} {sub['algorithm']} {sub['curve'] or sub['bits']} "
                     f"({','.join(sub['flags']) or 'no flags'}) {state}, expires {sub['expires'] or 'never'}")
    for uid in doc["user_ids"]:
        state = "revoked" if uid["revoked"] else ("valid" if uid["valid"] else "not valid")
        primary = " (primary)" if uid["primary"] else ""
        stdout.print(f"  user ID {for_terminal(uid['value'])!s}{primary}: {state}")
        counting = sum(1 for c in uid["certifications"] if c["counts"])
        stdout.print(f"    {len(uid['certifications'])} certifications, {counting} count")
        for cert in uid["certifications"]:
            mark = "[green]✓[/green]" if cert["counts"] else "[dim]✗[/dim]"
            who = for_terminal(cert["issuer_user_id"] or "", 50)
            extra = "" if cert["counts"] else f" — {cert['why_not']}"
            trust = f" trust {cert['trust_depth']}/{cert['trust_amount']}" if cert["trust_depth"] is not None else ""
            stdout.print(f"    {mark} {cert['issuer'] or '?'} {who} {(cert['created'] or '')[:10]} "
                         f"{cert['hash_algorithm']} {cert['status']}{trust}{extra}")


@key_group.command("history")
@click.argument("key")
@json_option
@pass_context
def key_history(ctx: Context, key: str, as_json: bool) -> None:
    """Every version of KEY ever seen, oldest first: when, where, and what changed."""
    store, fingerprint = _resolve(ctx.workspace(), key)
    try:
        versions = store.history(fingerprint)
        reader = CertificateReader(store)
        previous = None
        now = now_ts()
        for number, version in enumerate(versions, 1):
            version["version"] = number
            current = _parse_version(store, version["digest"], reader)
            version["changes"] = None if previous is None else diff_certificates(*previous, *current, now)
            previous = current
            for field in ("first_seen", "last_seen"):
                version[field] = iso(version[field])
            for source in version["sources"]:
                source["first_seen"], source["last_seen"] = iso(source["first_seen"]), iso(source["last_seen"])
    finally:
        store.close()
    if as_json:
        emit_json({"fingerprint": fingerprint, "versions": versions})
        return
    stdout.print(f"[bold]{fingerprint}[/bold]: {len(versions)} version(s)")
    for version in versions:
        sources = ", ".join(for_terminal(s["source"], 80) for s in version["sources"])
        stdout.print(f"  {version['version']}. {version['digest'][:16]}  first seen {version['first_seen']}, "
                     f"last seen {version['last_seen']}  ({sources})")
        if version["changes"] is not None:
            stdout.print(f"     {_diff_summary(version['changes'])}")


def _parse_version(store, digest: str, reader: CertificateReader):
    certs = certificates_from_bytes(store.version_bytes(digest), f"version {digest[:16]}")
    cert = certs[0]
    verdicts = reader.verifier.verify_certificates([cert])
    return cert, verdicts.__getitem__


def _diff_summary(diff: dict) -> str:
    if is_empty(diff):
        return "no change in content that keywatch reports"
    parts = []
    for field, label in (("user_ids_added", "user IDs added"), ("user_ids_removed", "user IDs removed"),
                         ("user_ids_revoked", "user IDs revoked"), ("subkeys_added", "subkeys added"),
                         ("subkeys_removed", "subkeys removed"), ("subkeys_revoked", "subkeys revoked"),
                         ("certifications_added", "certifications added"),
                         ("certifications_removed", "certifications removed")):
        if diff[field]:
            parts.append(f"{len(diff[field])} {label}")
    if diff["expiry_changed"]:
        parts.append(f"expiry {diff['expiry_changed']['from'] or 'never'} → {diff['expiry_changed']['to'] or 'never'}")
    if diff["subkey_expiry_changed"]:
        parts.append(f"{len(diff['subkey_expiry_changed'])} subkey expiry changes")
    if diff["primary_revoked"]:
        parts.append("[red]primary key revoked[/red]")
    return ", ".join(parts)


@key_group.command("diff")
@click.argument("key")
@click.option("--from", "from_version", metavar="V", help="Version number (1 = oldest) or digest prefix; default: the one before --to.")
@click.option("--to", "to_version", metavar="V", help="Version number or digest prefix; default: the newest.")
@json_option
@pass_context
def key_diff(ctx: Context, key: str, from_version: str | None, to_version: str | None, as_json: bool) -> None:
    """What changed in KEY between two versions."""
    store, fingerprint = _resolve(ctx.workspace(), key)
    try:
        versions = store.history(fingerprint)
        to_index = _version_index(versions, to_version, len(versions) - 1)
        from_index = _version_index(versions, from_version, to_index - 1)
        if from_index < 0:
            raise NotFound(f"{fingerprint} has only one version: nothing to compare")
        reader = CertificateReader(store)
        old = _parse_version(store, versions[from_index]["digest"], reader)
        new = _parse_version(store, versions[to_index]["digest"], reader)
        diff = diff_certificates(*old, *new, now_ts())
    finally:
        store.close()
    document = {"fingerprint": fingerprint, "from": {"version": from_index + 1, "digest": versions[from_index]["digest"]},
                "to": {"version": to_index + 1, "digest": versions[to_index]["digest"]}, "changes": diff}
    if as_json:
        emit_json(document)
        return
    stdout.print(f"[bold]{fingerprint}[/bold]: version {from_index + 1} → {to_index + 1}")
    stdout.print(f"  {_diff_summary(diff)}")
    for field in ("user_ids_added", "user_ids_removed", "user_ids_revoked"):
        for value in diff[field]:
            stdout.print(f"  {field.replace('_', ' ')}: {for_terminal(value)}")
    for field in ("subkeys_added", "subkeys_removed", "subkeys_revoked"):
        for value in diff[field]:
            stdout.print(f"  {field.replace('_', ' ')}: {value}")
    for field in ("certifications_added", "certifications_removed"):
        for entry in diff[field]:
            stdout.print(f"  {field.replace('_', ' ')}: {entry['kind']} by {entry['issuer'] or '?'} "
                         f"on {for_terminal(entry['user_id'], 80)} ({entry['status']})")


def _version_index(versions: list[dict], value: str | None, default: int) -> int:
    if value is None:
        return default
    if value.isdigit() and len(value) < 8:
        number = int(value)
        if not 1 <= number <= len(versions):
            raise InputError(f"version {number} does not exist (1 to {len(versions)})")
        return number - 1
    matches = [i for i, v in enumerate(versions) if v["digest"].startswith(value.lower())]
    if len(matches) != 1:
        raise InputError(f"version {value!r} matches {len(matches)} versions: give a number or a longer digest prefix")
    return matches[0]


