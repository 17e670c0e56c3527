"""Commands about the web of trust: trust FPR, trust list, trust paths.

Roots come from `--root` (repeatable; fully trusted) or, without it, from
`[trust] roots` in keywatch.toml (each with an amount). The keyrings in
`[trust] stores` are imported first (an unchanged file costs one hash).
"""

from __future__ import annotations

import sys

import click

from ..errors import InputError, KeywatchError
from ..untrusted import for_terminal
from .common import (
    Context,
    at_option,
    emit_json,
    json_option,
    pass_context,
    reference_time,
    stdout,
)

_RULES_HELP = ("Which certifications count: keywatch's rules (default) or sq-wot 0.2's, for comparing with it "
               "(see keywatch/trust/graph.py).")


def _roots_option(func):
    return click.option("--root", "roots", multiple=True, metavar="FPR",
                        help="A fully trusted root (repeatable); replaces [trust] roots.")(func)


def _rules_option(func):
    return click.option("--rules", type=click.Choice(["keywatch", "sq-wot-0.2"]), default="keywatch",
                        show_default=True, help=_RULES_HELP)(func)


class _Session:
    """The store, settings, roots and reference time one command works with."""

    def __init__(self, ctx: Context, roots: tuple[str, ...], at: str | None, rules: str) -> None:
        from ..trust import report
        from ..trust.graph import RULES

        workspace = ctx.workspace()
        self.settings = report.settings_from_config(workspace.config(), workspace.root)
        self.store = workspace.store()
        try:
            report.prepare(self.store, self.settings.stores)
            handles = list(roots) if roots else list(self.settings.roots)
            if not handles:
                raise InputError("no trust roots: pass --root FPR or set [trust] roots in keywatch.toml")
            self.roots = report.resolve_roots(self.store, handles)
        except BaseException:
            self.store.close()
            raise
        self.at = reference_time(at)
        self.rules = RULES[rules]

    def resolve(self, handle: str) -> str:
        from ..types import parse_key_handle

        return self.store.resolve(parse_key_handle(handle))

    def close(self) -> None:
        self.store.close()


class _TrustGroup(click.Group):
    """`trust FPR` reports on a key; `trust list` and `trust paths FPR` are subcommands."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands:
            return "key", self.commands["key"], args
        return super().resolve_command(ctx, args)


@click.group("trust", cls=_TrustGroup,
             context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
def trust_group() -> None:
    """How well keys are connected in the web of trust, and how risky a new signing key is.

    `keywatch trust FPR` reports on one key; see also `trust list` and `trust paths`.
    """


@trust_group.command("key", hidden=True)
@click.argument("key")
@at_option
@_roots_option
@click.option("--predecessor", metavar="FPR", help="The key this one replaces: rate the handover against it.")
@_rules_option
@json_option
@pass_context
def trust_key(ctx: Context, key: str, at: str | None, roots: tuple[str, ...], predecessor: str | None, rules: str,
              as_json: bool) -> None:
    """Report on KEY: amount per user ID and its paths, disjoint paths, distance, certifiers, risk."""
    from ..trust import report

    session = _Session(ctx, roots, at, rules)
    try:
        fingerprint = session.resolve(key)
        before = session.resolve(predecessor) if predecessor else None
        document = report.key_report(session.store, fingerprint, session.at, session.roots, predecessor=before,
                                     thresholds=session.settings.thresholds, rules=session.rules)
    finally:
        session.close()
    if as_json:
        emit_json(document)
        return
    _print_key(document)


def _print_key(doc: dict) -> None:
    name = for_terminal(doc["name"] or "(no user ID)", 80)
    stdout.print(f"{doc['fingerprint']} {name}  (as of {doc['at']}, rules: {doc['rules']})")
    risk = doc["risk"]
    colour = {"low": "green", "medium": "yellow", "high": "red"}[risk["level"]]
    stdout.print(f"risk: [{colour}]{risk['level']}[/{colour}]")
    for reason in risk["reasons"]:
        stdout.print(f"  - {for_terminal(reason, 200)}")
    for binding in doc["bindings"]:
        stdout.print(f"  {binding['amount']:>4}  {for_terminal(binding['user_id'], 100)}"
                     f"  ({len(binding['paths'])} path{'s' if len(binding['paths']) != 1 else ''})")
    distance = "none" if doc["distance"] is None else doc["distance"]
    stdout.print(f"distance from the roots: {distance}; disjoint paths: {doc['disjoint_paths']} "
                 f"({doc['disjoint_paths_within_4_hops']} within 4 hops); strong set: "
                 f"{'member' if doc['strong_set']['member'] else 'not a member'} (size {doc['strong_set']['size']})")
    independent = doc["independent_certifiers"]
    stdout.print(f"certifiers: {len(doc['certifiers'])} ({independent} independent"
                 f"{' of ' + doc['predecessor'] if doc['predecessor'] else ''})")
    for certifier in doc["certifiers"]:
        marks = [] if certifier["independent"] else ["not independent"]
        if not certifier["reachable"]:
            marks.append("no path from the roots")
        stdout.print(f"  {certifier['fingerprint']} {for_terminal(certifier['name'] or '', 60)}"
                     f"{'  (' + ', '.join(marks) + ')' if marks else ''}")
    if doc["first_release_signature"]:
        stdout.print(f"first release signature: {doc['first_release_signature']} "
                     f"(key {doc['key_age_days_at_first_release']} days old)")


@trust_group.command("list")
@at_option
@_roots_option
@click.option("--min-amount", type=click.IntRange(1, None), default=1, show_default=True,
              help="Only bindings authenticated at least this much (120: fully).")
@_rules_option
@json_option
@pass_context
def trust_list(ctx: Context, at: str | None, roots: tuple[str, ...], min_amount: int, rules: str,
               as_json: bool) -> None:
    """Every binding (key, user ID) the roots authenticate, with its trust amount."""
    from ..trust import report

    session = _Session(ctx, roots, at, rules)
    try:
        found = report.list_bindings(session.store, session.at, session.roots, min_amount, session.rules)
    finally:
        session.close()
    if as_json:
        emit_json(found)
        return
    for entry in found:
        stdout.print(f"{entry['amount']:>4}  {entry['fingerprint']}  {for_terminal(entry['user_id'], 100)}")
    stdout.print(f"{len(found)} bindings")


@trust_group.command("paths")
@click.argument("key")
@at_option
@_roots_option
@_rules_option
@click.option("--svg", "svg", metavar="FILE", help="Also draw the paths as SVG into FILE ('-': standard output).")
@json_option
@pass_context
def trust_paths(ctx: Context, key: str, at: str | None, roots: tuple[str, ...], rules: str, svg: str | None,
                as_json: bool) -> None:
    """The paths from the roots to KEY: web-of-trust paths per user ID, and the disjoint certification paths."""
    from ..trust import picture, report

    session = _Session(ctx, roots, at, rules)
    try:
        fingerprint = session.resolve(key)
        document = report.key_report(session.store, fingerprint, session.at, session.roots, rules=session.rules)
        shown = report.names(session.store.conn)
    finally:
        session.close()
    if svg:
        drawing = picture.render_svg(picture.paths_dot(document, shown))
        if svg == "-":
            sys.stdout.write(drawing)
            return
        try:
            with open(svg, "w", encoding="utf-8") as out:
                out.write(drawing)
        except OSError as exc:
            raise KeywatchError(f"{svg}: cannot write: {exc.strerror}") from None
    if as_json:
        emit_json({"fingerprint": fingerprint, "at": document["at"], "bindings": document["bindings"],
                   "disjoint": document["disjoint"]})
        return
    _print_paths(document, shown)


def _print_paths(doc: dict, shown: dict) -> None:
    def who(fingerprint: str) -> str:
        return f"{fingerprint} ({for_terminal(shown.get(fingerprint) or '(no user ID)', 60)})"

    for binding in doc["bindings"]:
        stdout.print(f"{doc['fingerprint']} {for_terminal(binding['user_id'], 100)}: amount {binding['amount']}")
        for number, path in enumerate(binding["paths"], 1):
            stdout.print(f"  path {number} of {len(binding['paths'])}, amount {path['amount']}:")
            stdout.print(f"    ◯ {who(path['root'])}")
            for hop in path["certifications"]:
                if hop["self_signature"]:
                    stdout.print("    └ self-signed by the key holder")
                    continue
                scope = f", depth {hop['depth']}" if hop["depth"] else ""
                stdout.print(f"    │ certified on {hop['created'][:10]} (amount {hop['amount']}{scope})")
                stdout.print(f"    ├ {who(hop['target'])}")
    stdout.print(f"{len(doc['disjoint'])} disjoint certification paths from the roots:")
    for keys in doc["disjoint"]:
        stdout.print("  " + " → ".join(k[-16:] for k in keys))


COMMANDS = (trust_group,)
