"""Key sources (WKD, VKS, HKP) and git signed tags, polled for real through the `keywatch` command.

Everything an upstream publishes is served by a real HTTP server on 127.0.0.1
(`tests/httpserver.py`); keys and their later versions (a new user ID, a new
subkey, a moved expiry, a revocation) are made by sq and gpg (certgen); tags
are signed by gpg in a git repository made here. Each poll must raise exactly
the expected events; polling again raises none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import certgen
import pytest
from httpserver import LoopbackServer

from keywatch.keysources import SourceSettings, wkd_urls

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
FAR = NOW + dt.timedelta(days=3650)

# draft-koch-openpgp-webkey-service §3.1: the example address and its hash.
DRAFT_ADDRESS = "Joe.Doe@Example.ORG"
DRAFT_HASH = "iy9q119eutrkn8s1mk4r39qejnbu3n5q"
DRAFT_ADVANCED = f"https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/{DRAFT_HASH}?l=Joe.Doe"

Z_BASE_32 = "ybndrfg8ejkmcpqxot1uwisza345h769"


def zbase32(data: bytes) -> str:
    """z-base-32 (RFC 6189 §5.1.6 alphabet), written out bit by bit, independently of keywatch's."""
    bits = "".join(f"{byte:08b}" for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(Z_BASE_32[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def wkd_advanced_path(local: str, domain: str) -> str:
    """The WKD advanced-method request target: SHA-1 of the ASCII-lower-cased local part, z-base-32."""
    digest = hashlib.sha1(local.lower().encode("ascii")).digest()
    return f"/.well-known/openpgpkey/{domain}/hu/{zbase32(digest)}?l={local}"


def test_own_wkd_hash_and_keywatch_wkd_urls_match_the_drafts_example():
    assert zbase32(hashlib.sha1(b"joe.doe").digest()) == DRAFT_HASH
    assert wkd_advanced_path("Joe.Doe", "example.org") == DRAFT_ADVANCED.removeprefix("https://openpgpkey.example.org")
    assert wkd_urls(DRAFT_ADDRESS, SourceSettings())[0] == DRAFT_ADVANCED


# --- helpers shared by the tests below ----------------------------------------------------------


def toml(value) -> str:
    """A TOML basic string (JSON string escapes are TOML escapes)."""
    return json.dumps(value)


def write_config(kw, body: str) -> None:
    (kw.workspace / "keywatch.toml").write_text("[monitor]\nretries = 1\n\n" + body, encoding="utf-8")


class Events:
    """Polls through the CLI; returns the events each poll added, read from the workspace's SQLite store."""

    def __init__(self, kw) -> None:
        self.kw = kw
        self.seen = 0

    def poll(self) -> list[dict]:
        report = self.kw("poll", "--json").json()
        assert report["failed"] == 0, report
        events = read_events(self.kw, after=self.seen)
        assert len(events) == report["events"], (report, events)
        self.seen = max([self.seen] + [e["id"] for e in events])
        return sorted(events, key=lambda e: (e["kind"], e["fingerprint"] or ""))


def read_events(kw, after: int = 0) -> list[dict]:
    db = sqlite3.connect(f"file:{kw.workspace / 'keywatch.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, kind, severity, upstream, version, fingerprint, message, details FROM events"
                          " WHERE id > ? ORDER BY id", (after,)).fetchall()
    finally:
        db.close()
    names = ("id", "kind", "severity", "upstream", "version", "fingerprint", "message", "details")
    return [{**dict(zip(names, row)), "details": json.loads(row[7])} for row in rows]


def kinds(events: list[dict]) -> list[tuple[str, str | None]]:
    return sorted((e["kind"], e["fingerprint"]) for e in events)


def add_user_id(work: Path, key: certgen.Key, user_id: str, cert: bytes) -> bytes:
    """`cert` with a new self-signed user ID, made by `sq key userid add`."""
    (work / f"uid-{key.key_id}.pgp").write_bytes(key.tsk)
    produced = subprocess.run(["sq", "key", "userid", "add", "--binary", "--userid", user_id,
                               str(work / f"uid-{key.key_id}.pgp")], capture_output=True, check=True).stdout
    merged, added = certgen.merge_new_signatures(cert, produced)
    assert len(added) == 1
    return merged


def add_signing_subkey(work: Path, key: certgen.Key, cert: bytes) -> tuple[bytes, str]:
    """`cert` with a new ed25519 signing subkey made by `gpg --quick-add-key`; and the subkey's fingerprint."""
    with certgen.gpg_home(work) as gpg:
        gpg.run(["--import"], input=key.tsk, secret=True)
        gpg.run(["--quick-add-key", key.fingerprint, "ed25519", "sign", "seconds=300000000"], secret=True)
        produced = gpg.run(["--export", key.fingerprint]).stdout
    merged, added = certgen.merge_new_signatures(cert, produced)
    assert len(added) == 1
    new = [c.ident for c in certgen.split_cert(merged) if c.kind == "subkey"]
    old = [c.ident for c in certgen.split_cert(cert) if c.kind == "subkey"]
    [subkey] = set(new) - set(old)
    return merged, subkey


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- WKD, VKS, HKP ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_keys(tmp_path_factory):
    work = tmp_path_factory.mktemp("source-keys")
    created = NOW - dt.timedelta(days=400)
    made = {name: certgen.generate_key(work, [f"{name.title()} <{name}@example.org>"], created=created,
                                       expires=FAR, tool="sq")
            for name in ("wkd", "vks", "hkp", "extra")}
    return work, made


def test_wkd_vks_hkp_keys_are_stored_and_their_changes_raise_events(kw, source_keys):
    work, keys = source_keys
    wkd, vks, hkp, extra = keys["wkd"], keys["vks"], keys["hkp"], keys["extra"]
    address_local = "Rel.Signer"  # mixed case: the hash is of "rel.signer", ?l= keeps it as written
    wkd_path = wkd_advanced_path(address_local, "example.org")
    vks_path = f"/vks/v1/by-fingerprint/{vks.fingerprint}"
    hkp_path = f"/pks/lookup?op=get&options=mr&search=0x{hkp.fingerprint}"

    with LoopbackServer() as server:
        server.route(wkd_path, wkd.cert)
        server.route(vks_path, vks.cert)
        server.route(hkp_path, hkp.cert)
        write_config(kw, f"""\
[sources]
keyserver = {toml(server.base)}
wkd_servers = {{ "example.org" = {toml(server.base)} }}

[[upstream]]
name = "proj"
keys = [{toml(f"wkd:{address_local}@example.org")}, {toml(f"vks:{vks.fingerprint.lower()}")},
        {toml(f"hkp:{hkp.fingerprint}")}]
""")
        events = Events(kw)

        # First sighting: the keys are stored; nothing changed yet, so nothing is raised.
        assert events.poll() == []
        assert sorted(r.path for r in server.requests) == sorted([wkd_path, vks_path, hkp_path])
        for key in (wkd, vks, hkp):
            shown = kw("key", "show", key.fingerprint, "--json").json()
            assert shown["fingerprint"] == key.fingerprint
            assert [u["value"] for u in shown["user_ids"]] == key.user_ids
            assert sorted(s["fingerprint"] for s in shown["subkeys"]) == sorted(key.subkeys)
            assert shown["valid"] and not shown["revoked"]

        # Each source now serves a new version: a user ID, a signing subkey, a moved expiry.
        new_uid = "Wkd Release Signer <release@example.org>"
        wkd_v2 = add_user_id(work, wkd, new_uid, wkd.cert)
        vks_v2, new_subkey = add_signing_subkey(work, vks, vks.cert)
        sooner = NOW + dt.timedelta(days=900)
        hkp_v2 = certgen.set_expiry(work, hkp, sooner, time=NOW - dt.timedelta(minutes=5), subkeys=False)
        server.route(wkd_path, wkd_v2)
        server.route(vks_path, vks_v2)
        server.route(hkp_path, hkp_v2)
        raised = events.poll()
        assert kinds(raised) == sorted([("uid_added", wkd.fingerprint), ("subkey_added", vks.fingerprint),
                                        ("expiry_changed", hkp.fingerprint)])
        by_kind = {e["kind"]: e for e in raised}
        assert by_kind["uid_added"]["details"]["user_id"] == new_uid
        assert by_kind["subkey_added"]["details"]["subkey"] == new_subkey
        assert by_kind["expiry_changed"]["details"] == {"from": iso(FAR), "to": iso(sooner)}
        assert all(e["upstream"] == "proj" for e in raised)

        # The key is revoked on the keyserver, and the WKD answer gains a second key.
        hkp_v3 = certgen.revoke_key(work, hkp, cert=hkp_v2, time=NOW - dt.timedelta(minutes=1))
        server.route(hkp_path, hkp_v3)
        server.route(wkd_path, wkd_v2 + extra.cert)
        raised = events.poll()
        assert kinds(raised) == sorted([("key_revoked", hkp.fingerprint), ("key_source_changed", None)])
        changed = next(e for e in raised if e["kind"] == "key_source_changed")
        assert changed["details"] == {"source": f"wkd:{address_local}@example.org",
                                      "added": [extra.fingerprint], "removed": []}
        assert changed["severity"] == "warning"
        assert next(e for e in raised if e["kind"] == "key_revoked")["severity"] == "critical"
        assert kw("key", "show", hkp.fingerprint, "--json").json()["revoked"] is True

        # Nothing changed: nothing raised.
        server.clear_log()
        assert events.poll() == []
        assert sorted(r.path for r in server.requests) == sorted([wkd_path, vks_path, hkp_path])

        # A stale copy from before the revocation raises nothing and cannot hide the revocation.
        server.route(hkp_path, hkp_v2)
        assert events.poll() == []
        assert kw("key", "show", hkp.fingerprint, "--json").json()["revoked"] is True


def test_a_key_shared_by_two_upstreams_raises_its_change_for_each(kw, source_keys):
    """Events are per upstream (their de-duplication key names it): both upstreams that use the key hear of it."""
    work, keys = source_keys
    key = keys["vks"]
    path = f"/vks/v1/by-fingerprint/{key.fingerprint}"
    with LoopbackServer() as server:
        server.route(path, key.cert)
        write_config(kw, f"""\
[sources]
keyserver = {toml(server.base)}

[[upstream]]
name = "gnupg"
keys = [{toml(f"vks:{key.fingerprint}")}]

[[upstream]]
name = "libgpg-error"
keys = [{toml(f"vks:{key.fingerprint}")}]
""")
        events = Events(kw)
        assert events.poll() == []
        server.route(path, certgen.revoke_key(work, key, time=NOW - dt.timedelta(minutes=1)))
        raised = events.poll()
        assert sorted((e["kind"], e["upstream"]) for e in raised) == [("key_revoked", "gnupg"),
                                                                      ("key_revoked", "libgpg-error")], raised
        assert events.poll() == []


def test_a_keyring_key_revoked_at_its_source_is_raised_once(kw, source_keys):
    """The upstream's approved key is revoked on its keyserver: one key_revoked event, not one per code path."""
    work, keys = source_keys
    key = keys["hkp"]
    path = f"/pks/lookup?op=get&options=mr&search=0x{key.fingerprint}"
    (kw.workspace / "keyrings" / "proj.keyring").write_bytes(key.cert)
    with LoopbackServer() as server:
        server.route(path, key.cert)
        write_config(kw, f"""\
[sources]
keyserver = {toml(server.base)}

[[upstream]]
name = "proj"
keyring = "keyrings/proj.keyring"
keys = [{toml(f"hkp:{key.fingerprint}")}]
""")
        events = Events(kw)
        assert events.poll() == []
        server.route(path, certgen.revoke_key(work, key, time=NOW - dt.timedelta(minutes=1)))
        raised = events.poll()
        assert kinds(raised) == [("key_revoked", key.fingerprint)], [e["message"] for e in raised]
        assert events.poll() == []


# --- git signed tags ----------------------------------------------------------------------------


class Repository:
    """An upstream's git repository; tags are signed by gpg with the keys imported into its own GNUPGHOME."""

    def __init__(self, root: Path, gnupg: Path) -> None:
        self.path = root / "upstream"
        home = root / "home"
        home.mkdir()
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "GNUPGHOME": str(gnupg),
                    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
        self.git("init", "--quiet", str(self.path), cwd=root)
        self.git("config", "uploadpack.allowFilter", "true")
        self.git("commit", "--quiet", "--allow-empty", "-m", "initial")

    def git(self, *args: str, cwd: Path | None = None) -> bytes:
        done = subprocess.run(["git", "-c", "user.name=Maintainer", "-c", "user.email=maint@example.org", *args],
                              cwd=cwd or self.path, env=self.env, capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def release(self, tag: str, signer: certgen.Key | None) -> None:
        self.git("commit", "--quiet", "--allow-empty", "-m", f"release {tag}")
        if signer is None:
            self.git("tag", "-a", tag, "-m", f"release {tag}, not signed")
        else:
            self.git("tag", "-s", "-u", signer.fingerprint, tag, "-m", f"release {tag}")


@pytest.fixture
def gnupg(tmp_path):
    home = tmp_path / "g"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, timeout=30,
                   check=False)


def test_git_signed_tags_handover_and_unsigned_tag(kw, tmp_path, gnupg):
    work = tmp_path / "keys"
    old = certgen.generate_key(work, ["Old Maintainer <old@example.org>"], created=NOW - dt.timedelta(days=3000),
                               expires=FAR, tool="sq")
    new = certgen.generate_key(work, ["New Maintainer <new@example.org>"], created=NOW - dt.timedelta(days=12),
                               expires=FAR, tool="sq")
    new = new.with_cert(certgen.certify(work, old, new.cert, new.user_ids[0], time=NOW - dt.timedelta(days=11),
                                        expires=FAR))
    for key in (old, new):
        subprocess.run(["gpg", "--batch", "--import"], input=key.tsk, env={**os.environ, "GNUPGHOME": str(gnupg)},
                       capture_output=True, check=True, timeout=60)
    repository = Repository(tmp_path, gnupg)
    repository.release("v1.0", old)
    repository.release("v1.1", old)
    repository.git("tag", "-s", "-u", old.fingerprint, "debian/1.1-1", "-m", "packaging, not a release")
    (kw.workspace / "keyrings" / "proj.keyring").write_bytes(old.cert)

    with LoopbackServer() as server:
        server.route("/KEYS", old.cert + new.cert, etag='"keys-1"')
        kw("upstream", "add", "proj", "--keyring", "keyrings/proj.keyring", "--git", str(repository.path),
           "--tag-pattern", r"v([\d.]+)", "--key", server.url("/KEYS"))
        events = Events(kw)

        assert events.poll() == []
        releases = kw("releases", "proj", "--json").json()
        assert [(r["version"], r["source"], r["signature_status"]) for r in releases] == [
            ("1.0", "git", "signed"), ("1.1", "git", "signed")]
        for release in releases:
            [signer] = release["signers"]
            assert (signer["signer"], signer["status"], signer["in_keyring"], signer["problem"]) == (
                old.fingerprint, "good", True, None)
            assert signer["signing_key"] in old.subkeys

        repository.release("v1.2", new)
        raised = events.poll()
        assert kinds(raised) == sorted([("new_signer", new.fingerprint), ("signer_changed", new.fingerprint),
                                        ("handover_suspected", new.fingerprint)])
        handover = next(e for e in raised if e["kind"] == "handover_suspected")
        assert handover["severity"] == "critical" and handover["version"] == "1.2"
        assert handover["details"]["certifiers"] == [old.fingerprint]
        assert handover["details"]["previous_signers"] == [old.fingerprint]
        assert handover["details"]["key_age_days"] == 12
        assert "certified only by the outgoing signer" in handover["message"]

        repository.release("v1.3", None)
        raised = events.poll()
        assert [(e["kind"], e["version"]) for e in raised] == [("unsigned_release", "1.3")]

        assert events.poll() == []

        releases = {r["version"]: r for r in kw("releases", "proj", "--json").json()}
        assert list(releases) == ["1.0", "1.1", "1.2", "1.3"]
        [signer] = releases["1.2"]["signers"]
        assert (signer["signer"], signer["status"], signer["in_keyring"]) == (new.fingerprint, "good", False)
        assert signer["signing_key"] in new.subkeys
        assert releases["1.3"]["signature_status"] == "unsigned" and releases["1.3"]["signers"] == []
