"""`keywatch import-tree`: bootstrap upstreams from a packaging tree."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..packagingtree import default_actor, import_tree, scan_tree
from ..packagingtree.findings import ProblemLog
from ..packagingtree.scan import problem_order
from ..untrusted import for_terminal
from .common import Context, emit_json, json_option, pass_context, stderr, stdout


@click.command("import-tree")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--actor", help="Who the audit log names for the imported baselines (default: the OS user).")
@click.option("--dry-run", is_flag=True, help="Show what would be added; write nothing.")
@click.option("--distfiles", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Gentoo DISTDIR to look for sec-keys key files in.")
@json_option
@pass_context
def import_tree_command(ctx: Context, directory: Path, actor: str | None, dry_run: bool, distfiles: Path | None,
                        as_json: bool) -> None:
    """Add an upstream for every package in DIRECTORY that keeps a signing keyring.

    Reads openSUSE (NAME.keyring + spec Source:), Debian (debian/upstream/signing-key.asc +
    debian/watch), Arch (PKGBUILD validpgpkeys/source= + keys/pgp/) and Gentoo (verify-sig
    ebuilds + sec-keys/openpgp-keys-*) packages, never running any of them. Each keyring is
    copied into the workspace's keyrings/ as the approved baseline, imported, and recorded in
    the audit log (import-baseline). Existing upstreams are reported, not overwritten.

    Everything that could not be understood is reported file by file. Exit status 1 when there
    was any such problem, 0 otherwise.
    """
    workspace = ctx.workspace()
    scan = scan_tree(directory, distfiles=distfiles)
    outcomes, write_problems = import_tree(workspace, scan, actor or default_actor(), dry_run=dry_run)
    problems = sorted(scan.problems + write_problems, key=problem_order)
    names = ProblemLog(directory)
    if as_json:
        emit_json({"upstreams": [o.as_json(names) for o in outcomes],
                   "problems": [p.as_json() for p in problems]})
    else:
        for outcome in outcomes:
            f = outcome.finding
            source = f.index and f"{f.index} {f.pattern}" or f.git and f"git {f.git} {f.tag_pattern}" or "no releases"
            keys = f"{len(f.fingerprints)} key{'s' if len(f.fingerprints) != 1 else ''}"
            stdout.print(f"{outcome.status:13} {for_terminal(f.name, 60)} ({f.distribution}, {keys}) "
                         f"{for_terminal(source, 200)}")
        for problem in problems:
            where = problem.file + (f":{problem.line}" if problem.line else "")
            stderr.print(f"keywatch: problem: {for_terminal(where, 200)}: {for_terminal(problem.message, 400)}")
        verb = "would be added" if dry_run else "added"
        count = sum(o.status in ("added", "would-add") for o in outcomes)
        stdout.print(f"{count} upstreams {verb}, {len(outcomes) - count} not, {len(problems)} problems")
    if problems:
        sys.exit(1)
