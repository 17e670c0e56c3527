"""Upstreams: which keys each one has used over time, and who signed each release."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from keywatch import events
from keywatch.errors import ConfigError, KeywatchError
from keywatch.keyview import list_keys
from keywatch.release_history import poll_state, release_history
from keywatch.types import iso

from .auth import login_required
from .db import get_config, get_review, get_store

bp = Blueprint("upstreams", __name__, url_prefix="/upstreams")

RECENT_EVENTS = 30


@bp.route("/")
@login_required
def index():
    store = get_store()
    rows = [{"upstream": u, "state": poll_state(store, u.name)} for u in get_config().upstreams]
    return render_template("upstreams/index.html", rows=rows)


def key_timeline(store, keyring: set[str], releases: list[dict]) -> list[dict]:
    """Every key the upstream uses — in its packaging keyring or signing its releases — with its versions
    and the releases it signed; in the order they began signing releases, then the order they were first seen."""
    signed: dict[str, list[str]] = {}
    for release in releases:
        for signer in release["signers"]:
            if signer["signer"]:
                signed.setdefault(signer["signer"], [])
                if release["version"] not in signed[signer["signer"]]:
                    signed[signer["signer"]].append(release["version"])
    names = {k["fingerprint"]: k for k in list_keys(store)}
    timeline = []
    for fpr in sorted(keyring | set(signed)):
        versions = store.history(fpr) if fpr in names else []
        for version in versions:
            version["first_seen_iso"], version["last_seen_iso"] = iso(version["first_seen"]), iso(version["last_seen"])
        timeline.append({"fingerprint": fpr, "key": names.get(fpr), "in_keyring": fpr in keyring,
                         "releases": signed.get(fpr, []), "versions": versions,
                         "first_seen": versions[0]["first_seen"] if versions else None})
    order = {version: n for n, version in enumerate(r["version"] for r in releases)}
    never = len(order)
    return sorted(timeline, key=lambda k: (order[k["releases"][0]] if k["releases"] else never,
                                           k["first_seen"] is None, k["first_seen"] or 0, k["fingerprint"]))


@bp.route("/<name>")
@login_required
def show(name: str):
    try:
        upstream = get_config().upstream(name)
    except ConfigError:
        abort(404, description="No upstream with that name is configured.")
    store = get_store()
    keyring_problem = None
    keyring: set[str] = set()
    if upstream.keyring:
        try:
            keyring = {c.fingerprint for c in get_review().current_keyring(upstream)[0]}
        except KeywatchError as exc:
            keyring_problem = str(exc)
    releases = release_history(store, name)
    return render_template(
        "upstreams/show.html", upstream=upstream, state=poll_state(store, name), releases=list(reversed(releases)),
        timeline=key_timeline(store, keyring, releases), keyring_problem=keyring_problem,
        events=events.query(store.conn, upstream=name, limit=RECENT_EVENTS),
        proposals=[p for p in get_review().list() if p.upstream == name][:20])
