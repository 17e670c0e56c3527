"""Upstreams that fail, polled beside a healthy one, through the real `keywatch` command.

Every failure must be reported against its own upstream, in words that say
what went wrong and where; the other upstreams are still polled (`poll` exits
1, the healthy upstream's releases are recorded); and nothing of a failed
step is half-written, so once the upstream is repaired the next poll picks up
exactly what the failed one could not. A signature that is simply absent
(404) is an unsigned release, not a failure.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import certgen
import pytest
from kwrunner import Keywatch
from httpserver import LoopbackServer, huge, redirect, refusing_url

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
TEN_GB = 10 * 2**30
CAP = 2**20  # the default monitor.max_signature_bytes


def sign_detached(work: Path, key: certgen.Key, data: bytes) -> bytes:
    target = work / f"data-{os.urandom(4).hex()}"
    target.write_bytes(data)
    return subprocess.run(["sq", "sign", "--detached", "--binary", "--signer-key", str(key.key_path), str(target)],
                          capture_output=True, check=True).stdout


def index_page(*names: str) -> bytes:
    return ("<html><body>" + "".join(f'<a href="{n}">{n}</a><br>' for n in names) + "</body></html>").encode()


class Counted:
    """A handler wrapped to count the bytes it managed to write before the client hung up."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.sent = 0
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, exchange) -> None:
        wfile, outer = exchange.wfile, self

        class Counting:
            def write(self, data) -> int:
                written = wfile.write(data)
                with outer.lock:
                    outer.sent += len(data)
                return written

            def flush(self) -> None:
                wfile.flush()

            def __getattr__(self, name):
                return getattr(wfile, name)

        with self.lock:
            self.calls += 1
        exchange.wfile = Counting()
        self.handler(exchange)


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    work = tmp_path_factory.mktemp("failure-keys")
    key = certgen.generate_key(work, ["Release Signer <release@example.org>"], created=NOW - dt.timedelta(days=500),
                               expires=NOW + dt.timedelta(days=3650), tool="sq")
    return work, key


def test_failing_upstreams_are_reported_and_do_not_stop_the_others(kw, signer):
    work, key = signer
    (kw.workspace / "keyrings" / "a.keyring").write_bytes(key.cert)
    tarball = b"good 1.0\n" * 50
    with LoopbackServer() as server:
        # Healthy: 1.0 signed by the keyring key; 1.1 links a signature that is 404.
        server.route("/good/", index_page("good-1.0.tar.gz", "good-1.0.tar.gz.sig", "good-1.1.tar.gz",
                                          "good-1.1.tar.gz.sig"), content_type="text/html")
        server.route("/good/good-1.0.tar.gz", tarball)
        server.route("/good/good-1.0.tar.gz.sig", sign_detached(work, key, tarball))
        server.route("/good/good-1.1.tar.gz", b"good 1.1\n")
        server.route("/good/KEYS", key.cert)
        # A 10 GB "signature", declared in Content-Length, and another one that is not declared.
        declared, endless = Counted(huge(TEN_GB)), Counted(huge(TEN_GB, content_length=False))
        for name, handler in (("big", declared), ("endless", endless)):
            server.route(f"/{name}/", index_page(f"{name}-1.0.tar.gz", f"{name}-1.0.tar.gz.sig"),
                         content_type="text/html")
            server.route(f"/{name}/{name}-1.0.tar.gz", tarball)
            server.handle(f"/{name}/{name}-1.0.tar.gz.sig", handler)
        # An HTML error page served with status 200 where the keys should be.
        server.route("/html/KEYS", b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
                                   b"<body>try later</body></html>", content_type="text/html")
        # An index that redirects to a local file.
        server.handle("/redirect/", redirect("file:///etc/passwd"))
        unreachable = refusing_url("/pub/")

        pattern = "'[a-z]+-([\\d.]+)\\.tar\\.gz'"
        (kw.workspace / "keywatch.toml").write_text(f"""\
[monitor]
retries = 1

[[upstream]]
name = "good"
keyring = "keyrings/a.keyring"
index = {json.dumps(server.url("/good/"))}
pattern = {pattern}
keys = [{json.dumps(server.url("/good/KEYS"))}]

[[upstream]]
name = "unreachable"
index = {json.dumps(unreachable)}
pattern = {pattern}

[[upstream]]
name = "missing"
index = {json.dumps(server.url("/missing/"))}
pattern = {pattern}

[[upstream]]
name = "big"
keyring = "keyrings/a.keyring"
index = {json.dumps(server.url("/big/"))}
pattern = {pattern}

[[upstream]]
name = "endless"
index = {json.dumps(server.url("/endless/"))}
pattern = {pattern}

[[upstream]]
name = "html"
keys = [{json.dumps(server.url("/html/KEYS"))}]

[[upstream]]
name = "redirect"
index = {json.dumps(server.url("/redirect/"))}
pattern = {pattern}
""", encoding="utf-8")

        started = time.monotonic()
        polled = kw("poll", "--json", check=False)
        elapsed = time.monotonic() - started
        assert polled.code == 1, polled.stderr
        report = {r["upstream"]: r for r in polled.json()["upstreams"]}
        assert polled.json()["failed"] == 6
        expected_errors = {
            "unreachable": [unreachable, "cannot connect: Connection refused"],
            "missing": [server.url("/missing/"), "HTTP 404"],
            "big": [server.url("/big/big-1.0.tar.gz.sig"), f"{TEN_GB:,} bytes is over the {CAP:,}-byte limit"],
            "endless": [server.url("/endless/endless-1.0.tar.gz.sig"), f"more than the {CAP:,}-byte limit"],
            "html": [server.url("/html/KEYS"), 'expected OpenPGP keys, got HTML ("Service Unavailable")'],
            "redirect": [server.url("/redirect/"), "file:///etc/passwd refused: only http and https URLs"],
        }
        for name, parts in expected_errors.items():
            assert not report[name]["ok"], report[name]
            for part in parts:
                assert part in report[name]["error"], (name, report[name]["error"])
        assert report["good"] == {"upstream": "good", "ok": True, "error": None, "new_releases": ["1.0", "1.1"],
                                  "events": 1, "keys_changed": 0}

        # The 10 GB bodies were cut at the cap, not downloaded (socket buffers aside).
        assert declared.calls == 1 and endless.calls == 1
        assert declared.sent < 32 * 2**20 and CAP < endless.sent < 32 * 2**20, (declared.sent, endless.sent)
        assert elapsed < 20

        # The healthy upstream's releases: 1.0 signed by the keyring key, 1.1 unsigned (its .sig is 404).
        releases = {r["version"]: r for r in kw("releases", "good", "--json").json()}
        assert list(releases) == ["1.0", "1.1"]
        [signature] = releases["1.0"]["signers"]
        assert (signature["signer"], signature["status"], signature["in_keyring"]) == (key.fingerprint, "good", True)
        assert (releases["1.1"]["signature_status"], releases["1.1"]["signers"]) == ("unsigned", [])
        events = kw("events", "--json").json()
        assert [(e["kind"], e["upstream"], e["version"]) for e in events] == [("unsigned_release", "good", "1.1")]

        # Each failure is recorded against its upstream.
        listed = {u["name"]: u for u in kw("upstream", "list", "--json").json()}
        assert listed["good"]["last_error"] is None and listed["good"]["last_success"] is not None
        for name, parts in expected_errors.items():
            assert listed[name]["last_error"] == report[name]["error"]
            assert listed[name]["last_poll"] is not None and listed[name]["last_success"] is None

        # Nothing half-written: no release, index digest or key snapshot of a failed upstream.
        assert kw.query("SELECT DISTINCT upstream FROM releases") == [("good",)]
        assert kw.query("SELECT name FROM upstream_state WHERE index_digest IS NOT NULL") == [("good",)]
        assert kw.query("SELECT upstream FROM key_source_snapshots") == [("good",)]

        # Repaired upstreams are picked up in full by the next poll; the others still fail, the same way.
        server.route("/big/big-1.0.tar.gz.sig", sign_detached(work, key, tarball))
        server.route("/html/KEYS", key.cert)
        polled = kw("poll", "--json", check=False)
        assert polled.code == 1
        report = {r["upstream"]: r for r in polled.json()["upstreams"]}
        assert sorted(name for name, r in report.items() if not r["ok"]) == [
            "endless", "missing", "redirect", "unreachable"]
        assert report["big"]["new_releases"] == ["1.0"] and report["big"]["events"] == 0
        assert report["good"]["new_releases"] == [] and report["good"]["events"] == 0
        [big] = kw("releases", "big", "--json").json()
        assert big["signature_status"] == "signed"
        assert [(s["signer"], s["status"]) for s in big["signers"]] == [(key.fingerprint, "good")]
        [(snapshot,)] = kw.query("SELECT fingerprints FROM key_source_snapshots WHERE upstream = 'html'")
        assert list(json.loads(snapshot)) == [key.fingerprint]
        listed = {u["name"]: u for u in kw("upstream", "list", "--json").json()}
        assert listed["big"]["last_error"] is None and listed["html"]["last_error"] is None
        assert "more than the" in listed["endless"]["last_error"]


BROKEN_CONFIGS = [
    # (text, line, words the message must hold)
    ('[monitor]\nretries = 1\n\n[[upstream]]\nname = "a"\nindex = "http://127.0.0.1/\npattern = "a-(.*)"\n',
     6, "Illegal character"),
    (('[monitor]\nretries = 1\n\n[[upstream]]\nname = "a"\nsignature_suffixes = [".sig"]\n\n'
      '[[upstream]]\nname = "b"\nsignature_suffix = [".asc"]\n'), 10, "unknown key 'signature_suffix' in [[upstream]] #2"),
    ('[policy]\nexpiry_warning_days = 60\n\n[monitor]\nconcurrency = 4\nmax_signature_bytes = "1MiB"\n',
     6, "'monitor.max_signature_bytes' must be an integer, not str"),
]


@pytest.mark.parametrize(("text", "line", "words"), BROKEN_CONFIGS, ids=["toml-syntax", "unknown-key", "wrong-type"])
def test_a_malformed_config_is_an_error_naming_file_and_line(tmp_path, text, line, words):
    kw = Keywatch(tmp_path / "ws")
    kw.workspace.mkdir()
    config = kw.workspace / "keywatch.toml"
    config.write_text(text, encoding="utf-8")
    polled = kw("poll", check=False)
    assert polled.code == 1
    message = " ".join(polled.stderr.split())  # the console may wrap a long line
    assert message.startswith("keywatch: error: ") and str(config) in message and words in message
    assert f"{config}:{line}:" in message or f"(at line {line}," in message, message
