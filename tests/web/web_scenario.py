"""The review UI's test world: an XZ-like handover waiting for sign-off, played for real.

    friend ──▶ old ──▶ new          flood (certifies nobody)     hostile: `<script>window.pwned=1</script>`

Upstream `pkg` publishes 5.4.0 and 5.4.1 signed by `old` (its packaging
keyring) and then 5.6.0 signed by `new` — 20 days old, certified only by
`old` — on a loopback HTTP server; `keywatch poll` (the real command) sees the
handover, raises the events and makes proposal 1: add `new`, high risk,
two approvals needed, proposed by keywatch. Proposal 2 (low risk, made by the
account carol) adds `hostile`, whose user ID ends up in its title.
Accounts (password PASSWORD): alice, bob, carol (reviewers), vera (viewer),
root (admin).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import certgen
import pysequoia
from httpserver import LoopbackServer

from keywatch.ingest import import_bytes
from keywatch.proposals import Review
from keywatch.users import add_user
from keywatch.workspace import Workspace, init

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
FAR = NOW + dt.timedelta(days=3000)
PASSWORD = "correct horse battery"
HOSTILE_UID = "<script>window.pwned=1</script>"
ACCOUNTS = {"alice": "reviewer", "bob": "reviewer", "carol": "reviewer", "vera": "viewer", "root": "admin"}
RELEASES = (("5.4.0", "old", 400), ("5.4.1", "old", 200), ("5.6.0", "new", 2))  # version, signer, days ago


def make_keys(work: Path) -> dict:
    def key(name: str, days_old: int, uid: str | None = None):
        return certgen.generate_key(work, [uid or f"{name.title()} <{name}@example.org>"],
                                    created=NOW - dt.timedelta(days=days_old), expires=FAR, tool="sq")

    friend, old, new, flood, hostile = (key("friend", 2000), key("old", 900), key("new", 20), key("flood", 20),
                                        key("hostile", 30, HOSTILE_UID))
    old_cert = certgen.certify(work, friend, old.cert, "Old <old@example.org>", time=NOW - dt.timedelta(days=800),
                               expires=FAR)
    new_cert = certgen.certify(work, old, new.cert, "New <new@example.org>", time=NOW - dt.timedelta(days=19),
                               expires=FAR)
    return {"friend": friend, "old": old.with_cert(old_cert), "new": new.with_cert(new_cert), "flood": flood,
            "hostile": hostile}


def _sign_detached(work: Path, key, data: bytes, when: dt.datetime) -> bytes:
    target = work / f"release-{os.urandom(4).hex()}"
    target.write_bytes(data)
    return subprocess.run(["sq", "sign", "--detached", "--binary", "--signer-key", str(key.key_path), "--time",
                           when.strftime("%Y-%m-%dT%H:%M:%SZ"), str(target)], capture_output=True, check=True).stdout


def _poll_the_handover(workspace: Workspace, keys: dict) -> None:
    """Serve the releases on 127.0.0.1 and let `keywatch poll` find them, as it would upstream."""
    work = workspace.root.parent / "upstream-files"
    work.mkdir(exist_ok=True)
    with LoopbackServer() as server:
        links = []
        for version, signer, days_ago in RELEASES:
            tarball = f"pkg {version}\n".encode() * 64
            server.route(f"/pub/pkg/pkg-{version}.tar.xz", tarball)
            server.route(f"/pub/pkg/pkg-{version}.tar.xz.sig",
                         _sign_detached(work, keys[signer], tarball, NOW - dt.timedelta(days=days_ago)))
            links += [f'<a href="pkg-{version}.tar.xz">pkg-{version}.tar.xz</a>',
                      f'<a href="pkg-{version}.tar.xz.sig">pkg-{version}.tar.xz.sig</a>']
        server.route("/pub/pkg/", ("<html><body>" + "<br>".join(links) + "</body></html>").encode(),
                     content_type="text/html")
        workspace.config_path.write_text(workspace.config_path.read_text() + (
            '\n[review]\napprovals = 1\napprovals_high_risk = 2\n\n[[upstream]]\nname = "pkg"\n'
            'keyring = "keyrings/pkg.keyring"\nkeyring_format = "opensuse"\n'
            f'index = "{server.url("/pub/pkg/")}"\n'
            "pattern = 'pkg-([\\d.]+)\\.tar\\.xz'\n"))
        env = {**os.environ, "KEYWATCH_WORKSPACE": str(workspace.root)}
        env.pop("KEYWATCH_DEBUG", None)
        done = subprocess.run([sys.executable, "-m", "keywatch", "poll", "--json"], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
        assert done.returncode == 0, done.stderr


def build_workspace(root: Path, keys: dict) -> Workspace:
    workspace, _ = init(root)
    (root / "keyrings" / "pkg.keyring").write_text(str(pysequoia.Cert.from_bytes(keys["old"].cert)))
    store = workspace.store()
    try:
        for name, key in keys.items():
            import_bytes(store, key.cert, f"test:{name}")
        with store.transaction() as conn:
            for user, role in ACCOUNTS.items():
                add_user(conn, user, role, PASSWORD, 0)
    finally:
        store.close()
    _poll_the_handover(workspace, keys)
    store = workspace.store()
    try:
        review = Review(workspace.root, workspace.config(), store, workspace.audit(store))
        [handover] = review.list("open")
        assert (handover.id, handover.subject, handover.risk_level) == (1, keys["new"].fingerprint, "high")
        hostile = keys["hostile"].fingerprint
        review.propose(workspace.config().upstream("pkg"), "manual", hostile, "carol",
                       title=f"add {HOSTILE_UID} ({hostile})", add=[hostile],
                       risk_reasons=[f"user ID {HOSTILE_UID} is new"])
    finally:
        store.close()
    return workspace
