"""Keys: the list, one key's details and certifications, and the picture of who vouches for it.

The picture is drawn by Graphviz (`dot -Tsvg`) and served as an image: an
SVG shown through <img> cannot run script. When the workspace names trust
roots (`[trust] roots`), it is `keywatch.trust.picture`'s: the web-of-trust
paths from the roots to the key, and the disjoint certification paths. Without
roots there are no paths to draw, so it shows the certifications that count on
the key (issuer → key) and, one level further, those that count on each
issuer; certifiers above, the key at the bottom. Every label is escaped for DOT
(an HTML-like label with entities), so a user ID cannot add nodes or markup.
"""

from __future__ import annotations

import html
import re
import subprocess

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from keywatch.errors import InputError, KeywatchError, NotFound
from keywatch.keyview import CertificateReader, describe, list_keys
from keywatch.types import now_ts, parse_key_handle, parse_time, to_timestamp

from .auth import login_required
from .db import get_config, get_store, get_workspace
from .security import visible

bp = Blueprint("keys", __name__, url_prefix="/keys")
PAGE = 100  # keys a page: a distribution keyring has ~1,000, and the page must stay fast

_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")
MAX_ISSUERS = 20  # certifiers of the key drawn; the rest become one "… and N more" node
MAX_FURTHER = 6  # certifiers drawn for each of those
DOT_TIMEOUT = 20


@bp.route("/")
@login_required
def index():
    keys = list_keys(get_store())
    pages = max(1, -(-len(keys) // PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template("keys/index.html", keys=keys[(page - 1) * PAGE: page * PAGE], total=len(keys),
                           page=page, pages=pages)


def _resolve(handle: str) -> str:
    try:
        return get_store().resolve(parse_key_handle(handle))
    except (InputError, NotFound):
        abort(404, description="No key with that fingerprint or key ID is in the store.")


def _reference_time() -> tuple[int, str | None]:
    text = request.args.get("at")
    if not text:
        return now_ts(), None
    try:
        return to_timestamp(parse_time(text)), text
    except InputError as exc:
        flash(f"{exc}: showing the key as of now.", "error")
        return now_ts(), None


@bp.route("/<handle>")
@login_required
def show(handle: str):
    fingerprint = _resolve(handle)
    if fingerprint != handle:
        return redirect(url_for("keys.show", handle=fingerprint, at=request.args.get("at") or None))
    at, at_text = _reference_time()
    document = describe(CertificateReader(get_store()), fingerprint, at)
    history = get_store().history(fingerprint)
    return render_template("keys/show.html", key=document, history=history, at_text=at_text,
                           paths_from_roots=trust_settings() is not None)


@bp.route("/<handle>/paths.svg")
@login_required
def paths_svg(handle: str):
    fingerprint = _resolve(handle)
    try:
        svg = trust_picture(fingerprint, now_ts())
    except KeywatchError as exc:
        svg = _message_svg(f"The picture could not be drawn: {visible(str(exc), 200)}")
    return Response(svg, mimetype="image/svg+xml")


# --- the picture ----------------------------------------------------------------------------------

def trust_settings():
    """The workspace's `[trust]` settings (roots, trust stores), or None when it names no roots."""
    from keywatch.trust import report

    settings = report.settings_from_config(get_config(), get_workspace().root)
    return settings if settings.roots else None


def trust_picture(fingerprint: str, at: int) -> str:
    settings = trust_settings()
    if settings is None:
        return render_dot(trust_dot(fingerprint, at))
    from keywatch.trust import picture, report

    store = get_store()
    report.prepare(store, settings.stores)
    roots = report.resolve_roots(store, list(settings.roots))
    document = report.key_report(store, fingerprint, at, roots, thresholds=settings.thresholds)
    return picture.render_svg(picture.paths_dot(document, report.names(store.conn)))


def _counting_issuers(document: dict) -> dict[str, str | None]:
    """Issuer fingerprint → its user ID, for every certification that counts on the key."""
    issuers: dict[str, str | None] = {}
    for uid in document["user_ids"]:
        for cert in uid["certifications"]:
            if cert["counts"] and cert["issuer"] and _FINGERPRINT.match(cert["issuer"]):
                issuers.setdefault(cert["issuer"], cert["issuer_user_id"])
    return issuers


def _label(user_id: str | None, fingerprint: str, emphasis: bool = False) -> str:
    """An HTML-like DOT label: the user ID and the fingerprint, every character of them escaped."""
    name = html.escape(visible(user_id or "(no user ID)", 60), quote=True)
    fpr = html.escape(fingerprint, quote=True)
    groups = [fpr[i:i + 4] for i in range(0, len(fpr), 4)]
    half = (len(groups) + 1) // 2
    fpr = " ".join(groups[:half]) + "<BR/>" + " ".join(groups[half:])
    name = f"<B>{name}</B>" if emphasis else name
    return f'<{name}<BR/><FONT POINT-SIZE="9" COLOR="#5b6470">{fpr}</FONT>>'


def trust_dot(fingerprint: str, at: int) -> str:
    """The DOT text of the picture: the key, who certified it, and who certified them."""
    reader = CertificateReader(get_store())
    target = describe(reader, fingerprint, at)
    nodes: dict[str, str] = {}  # fingerprint → node name (names are ours, never from the key)
    lines = ["digraph trust {",
             ('  graph [rankdir=TB, bgcolor="transparent", nodesep=0.3, ranksep=0.45, fontname="DejaVu Sans", '
              'charset="UTF-8"];'),
             ('  node [shape=box, style="rounded,filled", fillcolor="#f4f6f8", color="#9aa5b1", '
              'fontname="DejaVu Sans", fontsize=11, margin="0.15,0.08"];'),
             '  edge [color="#52606d", arrowsize=0.7];']

    def node(fpr: str, user_id: str | None, emphasis: bool = False) -> str:
        if fpr not in nodes:
            nodes[fpr] = f"n{len(nodes)}"
            style = ', fillcolor="#e3ecf7", color="#2f5f8f", penwidth=1.6' if emphasis else ""
            lines.append(f"  {nodes[fpr]} [label={_label(user_id, fpr, emphasis)}{style}];")
        return nodes[fpr]

    def more(count: int, towards: str) -> None:
        name = f"more{len(lines)}"
        lines.append(f'  {name} [label="… and {count} more", shape=plaintext, style="", fontcolor="#5b6470"];')
        lines.append(f"  {name} -> {towards} [style=dashed];")

    key_node = node(fingerprint, target["primary_user_id"], emphasis=True)
    first = _counting_issuers(target)
    for issuer, user_id in list(first.items())[:MAX_ISSUERS]:
        lines.append(f"  {node(issuer, user_id)} -> {key_node};")
    if len(first) > MAX_ISSUERS:
        more(len(first) - MAX_ISSUERS, key_node)
    for issuer in list(first)[:MAX_ISSUERS]:
        try:
            second = _counting_issuers(describe(reader, issuer, at))
        except KeywatchError:
            continue
        for further, user_id in list(second.items())[:MAX_FURTHER]:
            lines.append(f"  {node(further, user_id)} -> {nodes[issuer]};")
        if len(second) > MAX_FURTHER:
            more(len(second) - MAX_FURTHER, nodes[issuer])
    if not first:
        lines.append('  none [label="No certification counts on this key", shape=plaintext, style="", '
                     'fontcolor="#8a2c0d"];')
        lines.append(f"  none -> {key_node} [style=invis];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(dot: str) -> str:
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, timeout=DOT_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _message_svg(f"The picture could not be drawn (Graphviz: {type(exc).__name__}).")
    if done.returncode != 0:
        return _message_svg("The picture could not be drawn (Graphviz failed).")
    return done.stdout.decode("utf-8", "replace")


def _message_svg(message: str) -> str:
    text = html.escape(message, quote=True)
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="480" height="40" viewBox="0 0 480 40">'
            f'<text x="8" y="24" font-family="sans-serif" font-size="13" fill="#8a2c0d">{text}</text></svg>')
