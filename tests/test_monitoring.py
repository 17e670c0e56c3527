"""An upstream's history, played step by step on a real HTTP server on 127.0.0.1, the XZ way.

    1.0–1.3  signed by A (the maintainer; in the packaging keyring)
    1.4      signed by B only — B certified by A alone, created days before
    1.5      signed by A and B
    1.6      unsigned
    1.7      a corrupted signature
    then     the KEYS file drops A

Each poll must raise exactly the expected events; polling again raises none.
Keys are made by sq (certgen), release signatures by `sq sign --detached`.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

import certgen
from httpserver import LoopbackServer

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
FAR = NOW + dt.timedelta(days=3650)


def sign_detached(work: Path, key: certgen.Key, data: bytes, when: dt.datetime) -> bytes:
    """A detached binary signature made by sq with `key`'s signing subkey at `when`."""
    target = work / f"data-{os.urandom(4).hex()}"
    target.write_bytes(data)
    out = subprocess.run(["sq", "sign", "--detached", "--binary", "--signer-key", str(key.key_path),
                          "--time", when.strftime("%Y-%m-%dT%H:%M:%SZ"), str(target)],
                         capture_output=True, check=True)
    return out.stdout


def index_page(versions: list[str], signed: dict[str, list[str]]) -> bytes:
    links = []
    for version in versions:
        links.append(f'<a href="xz-{version}.tar.gz">xz-{version}.tar.gz</a>')
        for suffix in signed.get(version, []):
            links.append(f'<a href="xz-{version}.tar.gz{suffix}">xz-{version}.tar.gz{suffix}</a>')
    return ("<html><body><h1>Index of /pub/xz/</h1>" + "<br>".join(links) + "</body></html>").encode()


class Upstream:
    """The upstream's web server: an index page, tarballs, signatures and a KEYS file."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.versions: list[str] = []
        self.signed: dict[str, list[str]] = {}

    def release(self, version: str, signature: bytes | None, tarball: bytes) -> None:
        self.versions.append(version)
        self.server.route(f"/pub/xz/xz-{version}.tar.gz", tarball)
        if signature is not None:
            self.server.route(f"/pub/xz/xz-{version}.tar.gz.sig", signature)
            self.signed[version] = [".sig"]
        self.server.route("/pub/xz/", index_page(self.versions, self.signed), content_type="text/html",
                          etag=f'"{len(self.versions)}"')

    def keys(self, *certs: bytes) -> None:
        self.server.route("/keys.asc", b"".join(certs), etag=f'"{hash(b"".join(certs)) & 0xFFFFFF}"')


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    work = tmp_path_factory.mktemp("xz-keys")
    lasse = certgen.generate_key(work, ["Lasse <lasse@example.org>"], created=NOW - dt.timedelta(days=3000),
                                 expires=FAR, tool="sq")
    jia = certgen.generate_key(work, ["Jia <jia@example.org>"], created=NOW - dt.timedelta(days=12),
                               expires=FAR, tool="sq")
    jia = jia.with_cert(certgen.certify(work, lasse, jia.cert, "Jia <jia@example.org>",
                                        time=NOW - dt.timedelta(days=11), expires=FAR))
    return work, lasse, jia


def events_of(kw, *args) -> list[tuple[str, str | None]]:
    poll = kw("poll", "--json", *args).json()
    assert poll["failed"] == 0, poll
    new = kw("events", "--json", "--limit", str(poll["events"])).json() if poll["events"] else []
    return sorted((e["kind"], e["fingerprint"]) for e in new)


def test_xz_like_history_raises_exactly_the_expected_events(kw, keys):
    work, lasse, jia = keys
    with LoopbackServer() as server:
        upstream = Upstream(server)
        upstream.keys(lasse.cert, jia.cert)
        keyring = kw.workspace / "keyrings" / "xz.keyring"
        keyring.write_bytes(lasse.cert)
        kw("upstream", "add", "xz", "--keyring", "keyrings/xz.keyring", "--index", server.url("/pub/xz/"),
           "--pattern", r"xz-([\d.]+)\.tar\.gz", "--key", server.url("/keys.asc"))

        for number, version in enumerate(["1.0", "1.1", "1.2", "1.3"]):
            tarball = f"xz {version}\n".encode() * 100
            when = NOW - dt.timedelta(days=100 - number)
            upstream.release(version, sign_detached(work, lasse, tarball, when), tarball)
        assert events_of(kw) == []
        releases = kw("releases", "xz", "--json").json()
        assert [r["version"] for r in releases] == ["1.0", "1.1", "1.2", "1.3"]
        assert all(r["signers"][0]["signer"] == lasse.fingerprint and r["signers"][0]["status"] == "good"
                   and r["signers"][0]["in_keyring"] for r in releases)

        tarball = b"xz 1.4\n" * 100
        upstream.release("1.4", sign_detached(work, jia, tarball, NOW - dt.timedelta(days=1)), tarball)
        assert events_of(kw) == sorted([("new_signer", jia.fingerprint), ("signer_changed", jia.fingerprint),
                                        ("handover_suspected", jia.fingerprint)])
        handover = kw("events", "--json", "--kind", "handover_suspected").json()[0]
        assert handover["severity"] == "critical"
        assert "certified only by the outgoing signer" in handover["message"]
        assert handover["details"]["key_age_days"] == 11
        # The handover becomes a high-risk proposal to add the new key, waiting for two approvals.
        [proposal] = kw("proposals", "list", "--json").json()
        assert (proposal["kind"], proposal["subject"], proposal["state"]) == ("add-signer", jia.fingerprint, "open")
        assert proposal["risk"]["level"] == "high" and proposal["required_approvals"] == 2
        assert proposal["diff"]["added"] == [jia.fingerprint]
        assert keyring.read_bytes() == lasse.cert  # nothing is written before sign-off

        tarball = b"xz 1.5\n" * 100
        both = sign_detached(work, lasse, tarball, NOW) + sign_detached(work, jia, tarball, NOW)
        upstream.release("1.5", both, tarball)
        assert events_of(kw) == [("co_signer_added", lasse.fingerprint)]

        upstream.release("1.6", None, b"xz 1.6\n" * 100)
        assert events_of(kw) == [("unsigned_release", None)]

        tarball = b"xz 1.7\n" * 100
        signature = bytearray(sign_detached(work, jia, tarball, NOW))
        signature[-5] ^= 0xFF  # corrupt the signature value
        upstream.release("1.7", bytes(signature), tarball)
        assert events_of(kw) == [("bad_signature", jia.fingerprint)]

        upstream.keys(jia.cert)
        assert events_of(kw) == [("key_source_changed", None)]
        dropped = kw("events", "--json", "--kind", "key_source_changed").json()[0]
        assert dropped["details"]["removed"] == [lasse.fingerprint]

        server.clear_log()
        assert events_of(kw) == []
        assert len(kw("proposals", "list", "--json").json()) == 1  # still the one proposal
        # Every event and the configuration change are in the audit history, which verifies.
        recorded = kw("audit", "log", "--json", "--action", "event", "--limit", "1000").json()
        all_events = kw("events", "--json").json()
        assert sorted(e["details"]["event"] for e in recorded) == sorted(e["id"] for e in all_events)
        assert [e["subject"] for e in kw("audit", "log", "--json", "--action", "upstream-add").json()] == ["xz"]
        assert kw("audit", "verify", "--json").json()["intact"]
        # An unchanged upstream costs one conditional request per URL, answered 304.
        assert sorted(r.path for r in server.requests) == ["/keys.asc", "/pub/xz/"]
        assert all("if-none-match" in r.headers for r in server.requests)


def test_release_signed_by_a_stranger_and_by_the_keyring_key(kw, keys):
    """A key in the packaging keyring signing its first release is the approved baseline: no event."""
    work, lasse, jia = keys
    with LoopbackServer() as server:
        upstream = Upstream(server)
        upstream.keys(lasse.cert, jia.cert)
        (kw.workspace / "keyrings" / "xz.keyring").write_bytes(lasse.cert + jia.cert)
        kw("upstream", "add", "xz", "--keyring", "keyrings/xz.keyring", "--index", server.url("/pub/xz/"),
           "--pattern", r"xz-([\d.]+)\.tar\.gz", "--key", server.url("/keys.asc"))
        tarball = b"xz 2.0\n"
        upstream.release("2.0", sign_detached(work, jia, tarball, NOW), tarball)
        assert events_of(kw) == []


def test_with_trust_roots_the_proposal_is_rated_by_the_trust_graph(kw, keys):
    """Lasse is the distribution's trust root here: Jia has one path (through Lasse), no independent certifier."""
    work, lasse, jia = keys
    with LoopbackServer() as server:
        upstream = Upstream(server)
        upstream.keys(lasse.cert, jia.cert)
        (kw.workspace / "keyrings" / "xz.keyring").write_bytes(lasse.cert)
        config = kw.workspace / "keywatch.toml"
        config.write_text(config.read_text() + f'\n[trust]\nroots = [{{fingerprint = "{lasse.fingerprint}"}}]\n')
        kw("upstream", "add", "xz", "--keyring", "keyrings/xz.keyring", "--index", server.url("/pub/xz/"),
           "--pattern", r"xz-([\d.]+)\.tar\.gz", "--key", server.url("/keys.asc"))
        old, new = b"xz 3.0\n", b"xz 3.1\n"
        upstream.release("3.0", sign_detached(work, lasse, old, NOW - dt.timedelta(days=30)), old)
        upstream.release("3.1", sign_detached(work, jia, new, NOW - dt.timedelta(days=1)), new)
        kw("poll")
        [proposal] = kw("proposals", "list", "--json").json()
        assert proposal["risk"]["level"] == "high"
        reasons = " | ".join(proposal["risk"]["reasons"])
        assert "certified only by the outgoing maintainer" in reasons
        assert "1 disjoint path" in reasons
