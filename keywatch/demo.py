"""The demo: an XZ-like maintainer handover, played by a local upstream, caught by keywatch.

`keywatch demo` builds a workspace where:
- "Lasse" (the long-time maintainer, certified by the distribution's trust
  root) signs releases 5.4.0 to 5.4.3; his key is in the packaging keyring;
- "Jia" appears: a fresh key, certified only by Lasse, signs 5.6.0 alone;
- an upstream web server on 127.0.0.1 serves the releases and a KEYS file.
keywatch polls it, raises the handover events and leaves a high-risk
proposal to add Jia's key pending for two reviewers. The secret keys live
only in this process's memory: they sign the demo releases and are gone.
Beside them, the real upstream keys kept in the repository's `keyrings/`
(XZ Utils, curl, libgpg-error) are imported, every signature verified, so the
demo also shows real keys and their problems.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pysequoia

from .cli.monitor import run_poll
from .errors import InputError
from .ingest import import_bytes, import_files
from .upstreams import add_upstream
from .users import add_user
from .workspace import Workspace, init

# The real upstream signing keys kept in the repository (absent when keywatch is installed from a wheel).
REAL_KEYRINGS = Path(__file__).resolve().parent.parent / "keyrings"
RELEASES = [("5.4.0", "lasse"), ("5.4.1", "lasse"), ("5.4.2", "lasse"), ("5.4.3", "lasse"), ("5.6.0", "jia")]
REVIEWERS = ("alice", "bob")


class _Upstream(BaseHTTPRequestHandler):
    """A static web server for the demo upstream (routes set on the server object)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = self.server.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{hash(body) & 0xFFFFFFFF:x}"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return


@dataclass
class Demo:
    workspace: Workspace
    upstream_url: str
    passwords: dict[str, str]
    server: ThreadingHTTPServer
    real_keys: list[str]  # fingerprints imported from REAL_KEYRINGS


def _sign(tsk: pysequoia.Tsk, data: bytes) -> bytes:
    signed = pysequoia.sign(tsk.signer(), data, mode=pysequoia.SignatureMode.DETACHED, armor=False)
    return bytes(signed)


MARKER = ".keywatch-demo"


def _fresh_directory(root: Path) -> None:
    """A demo starts from scratch; only a directory an earlier demo made is ever removed."""
    if root.exists():
        if not (root / MARKER).exists():
            raise InputError(f"{root} exists and is not a keywatch demo: choose another directory")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by `keywatch demo`; removed by the next demo run\n")


def build(root: Path) -> Demo:
    """Create the demo workspace, start its upstream, poll it once."""
    _fresh_directory(root)
    workspace, _ = init(root)
    distro = pysequoia.Tsk.generate("Distribution Trust Root <keyring@distro.example>")
    lasse = pysequoia.Tsk.generate("Lasse <lasse@xz.example>")
    jia = pysequoia.Tsk.generate("Jia <jia@xz.example>")
    lasse_cert = lasse.extract_certificate().add_user_id("Lasse <lasse@xz.example>", distro.certifier())
    jia_cert = jia.extract_certificate().add_user_id("Jia <jia@xz.example>", lasse.certifier())
    routes: dict[str, bytes] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.routes = routes  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    links = []
    for version, signer in RELEASES:
        tarball = f"xz {version} (demo release)\n".encode() * 64
        name = f"xz-{version}.tar.gz"
        routes[f"/pub/xz/{name}"] = tarball
        routes[f"/pub/xz/{name}.sig"] = _sign(lasse if signer == "lasse" else jia, tarball)
        links += [f'<a href="{name}">{name}</a>', f'<a href="{name}.sig">{name}.sig</a>']
    routes["/pub/xz/"] = ("<html><body>" + "<br>".join(links) + "</body></html>").encode()
    routes["/keys.asc"] = (str(lasse_cert) + str(jia_cert)).encode()
    (workspace.keyrings_path / "xz.keyring").write_text(str(lasse_cert))
    root_fpr = distro.extract_certificate().fingerprint.upper()
    with workspace.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[trust]\n# The distribution\'s keyring key: trust paths start here.\n'
                     f'roots = [{{fingerprint = "{root_fpr}", amount = 120}}]\n')
    store = workspace.store()
    try:
        import_bytes(store, bytes(distro.extract_certificate()), "distribution trust root")
        real_keys = import_files(store, [REAL_KEYRINGS]).fingerprints if REAL_KEYRINGS.is_dir() else []
        passwords = _users(workspace, store)
    finally:
        store.close()
    add_upstream(workspace.config_path, {
        "name": "xz", "keyring": "keyrings/xz.keyring", "keyring_format": "opensuse",
        "index": f"{base}/pub/xz/", "pattern": r"xz-([\d.]+)\.tar\.gz", "keys": [f"{base}/keys.asc"],
        "interval": "1m"})
    run_poll(workspace, workspace.config(), ["xz"], quiet=True)
    return Demo(workspace, base, passwords, server, real_keys)


def _users(workspace: Workspace, store) -> dict[str, str]:
    passwords = {}
    log = workspace.audit(store)
    with store.transaction() as conn:
        for name in REVIEWERS:
            passwords[name] = secrets.token_urlsafe(12)
            add_user(conn, name, "reviewer", passwords[name], 0)
            log.append("demo", "user-add", name, {"role": "reviewer"})
    log.publish_head()
    return passwords
