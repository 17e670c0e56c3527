"""Commands about sign-off: propose, proposals, user add, serve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError
from ..ingest import import_files
from ..proposals import Review
from ..types import now_ts, parse_fingerprint
from ..untrusted import for_terminal
from ..users import ROLES, add_user
from .common import Context, emit_json, json_option, local_actor, pass_context, stdout


def open_review(ctx: Context):
    workspace = ctx.workspace()
    store = workspace.store()
    return workspace, store, Review(workspace.root, workspace.config(), store, workspace.audit(store))


@click.command("propose")
@click.argument("name")
@click.option("--add", "add_file", type=click.Path(path_type=Path), help="Add the certificates in this file.")
@click.option("--remove", "remove_fpr", metavar="FPR", help="Remove this key from the keyring.")
@click.option("--title", help="One line saying why.")
@json_option
@pass_context
def propose_command(ctx: Context, name: str, add_file: Path | None, remove_fpr: str | None, title: str | None,
                    as_json: bool) -> None:
    """Propose a change to upstream NAME's packaging keyring; it is written only after approval."""
    if (add_file is None) == (remove_fpr is None):
        raise click.UsageError("give exactly one of --add FILE or --remove FPR")
    workspace, store, review = open_review(ctx)
    try:
        upstream = workspace.config().upstream(name)
        if add_file is not None:
            summary = import_files(store, [add_file])
            if summary.rejected:
                raise InputError(summary.errors[0]["message"])
            add = summary.fingerprints
            proposal = review.propose(upstream, "manual", add[0], local_actor(), add=add,
                                      title=title or f"add {', '.join(add)}")
        else:
            fpr = parse_fingerprint(remove_fpr)
            proposal = review.propose(upstream, "drop-key", fpr, local_actor(), remove=[fpr],
                                      title=title or f"remove {fpr}")
    finally:
        store.close()
    if as_json:
        emit_json(proposal.as_json())
    else:
        stdout.print(f"proposal {proposal.id} for {for_terminal(name)}: {for_terminal(proposal.title, 200)} "
                     f"(needs {proposal.required_approvals} approval(s); digest {proposal.digest[:16]})")


@click.group("proposals")
def proposals_group() -> None:
    """Read change proposals (decide on them in the review UI: `keywatch serve`)."""


@proposals_group.command("list")
@click.option("--state", type=click.Choice(["open", "applied", "rejected", "superseded"]))
@json_option
@pass_context
def proposals_list(ctx: Context, state: str | None, as_json: bool) -> None:
    """Proposals, newest first."""
    _, store, review = open_review(ctx)
    try:
        found = review.list(state)
    finally:
        store.close()
    if as_json:
        emit_json([p.as_json() for p in found])
        return
    for p in found:
        stdout.print(f"{p.id:5} {p.state:10} {p.risk_level:6} {for_terminal(p.upstream)}: {for_terminal(p.title, 120)}"
                     f" ({len(p.approvals_for_digest())}/{p.required_approvals} approvals)")


@proposals_group.command("show")
@click.argument("proposal_id", type=int)
@click.option("--content", is_flag=True, help="Include the resulting keyring content.")
@json_option
@pass_context
def proposals_show(ctx: Context, proposal_id: int, content: bool, as_json: bool) -> None:
    """One proposal: diff, evidence, risk, checklist and decisions."""
    _, store, review = open_review(ctx)
    try:
        proposal = review.get(proposal_id)
    finally:
        store.close()
    if as_json:
        emit_json(proposal.as_json(with_content=content))
        return
    stdout.print(f"proposal {proposal.id} ({proposal.state}) {for_terminal(proposal.upstream)}: "
                 f"{for_terminal(proposal.title, 200)}")
    stdout.print(f"  risk {proposal.risk_level}: " + "; ".join(for_terminal(r, 200) for r in proposal.risk_reasons))
    stdout.print(f"  adds {', '.join(proposal.diff['added']) or 'nothing'}; removes "
                 f"{', '.join(proposal.diff['removed']) or 'nothing'}; changes {len(proposal.diff['changed'])}")
    for decision in proposal.decisions:
        stdout.print(f"  {decision['decision']} by {for_terminal(decision['reviewer'])}: "
                     f"{for_terminal(decision['comment'] or '', 200)}")


@click.group("user")
def user_group() -> None:
    """Accounts of the review UI."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@pass_context
def user_add(ctx: Context, name: str, role: str, password_stdin: bool) -> None:
    """Create an account (the password is read from stdin, scrypt-hashed, never stored in clear)."""
    password = sys.stdin.readline().rstrip("\n")
    workspace = ctx.workspace()
    store = workspace.store()
    try:
        log = workspace.audit(store)
        with store.transaction() as conn:
            add_user(conn, name, role, password, now_ts())
            log.append(local_actor(), "user-add", name, {"role": role})
        log.publish_head()
    finally:
        store.close()
    stdout.print(f"user {name} ({role}) added")
