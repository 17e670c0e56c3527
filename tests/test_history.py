"""Every version of a certificate is kept once, with where and when it was seen, and diffed.

The versions are made by real tools: sq adds certifications and revokes,
gpg under a faked clock moves the expiry; the CLI is run as a subprocess.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

import certgen
from test_verify import FAR, T0

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """v1: bob as generated; v2: certified by alice, a user ID revoked, expiry moved; v3: key revoked."""
    work = tmp_path_factory.mktemp("history")
    alice = certgen.generate_key(work, ["Alice <alice@example.org>"], created=T0, expires=FAR, tool="sq")
    bob = certgen.generate_key(work, ["Bob <bob@example.org>", "Bob <bob@old.example>"], created=T0,
                               expires=FAR, tool="sq")
    v2 = certgen.certify(work, alice, bob.cert, "Bob <bob@example.org>", time=T0 + 3 * DAY, expires=FAR)
    v2 = certgen.set_expiry(work, bob, T0 + 400 * DAY, time=T0 + 4 * DAY, cert=v2, subkeys=False)
    # After the expiry change: a newer self-signature would override a (soft) user ID revocation.
    v2 = certgen.revoke_user_id(work, bob, "Bob <bob@old.example>", time=T0 + 5 * DAY, cert=v2)
    v3 = certgen.revoke_key(work, bob, time=T0 + 9 * DAY, cert=v2, reason="retired")
    files = {}
    for name, data in (("alice", alice.cert), ("v1", bob.cert), ("v2", v2), ("v3", v3)):
        files[name] = work / f"{name}.pgp"
        files[name].write_bytes(data)
    return {"alice": alice, "bob": bob, "files": files}


def test_versions_are_stored_once_with_sightings(kw, versions, tmp_path):
    files = versions["files"]
    kw("import", str(files["alice"]))
    first = kw("import", "--json", str(files["v1"])).json()
    assert (first["new"], first["changed"], first["unchanged"]) == (1, 0, 0)
    second = kw("import", "--json", str(files["v2"])).json()
    assert (second["new"], second["changed"], second["unchanged"]) == (0, 1, 0)
    again = tmp_path / "v2-copy.asc"
    again.write_bytes(files["v2"].read_bytes())
    third = kw("import", "--json", str(again)).json()
    assert (third["new"], third["changed"], third["unchanged"]) == (0, 0, 1)
    history = kw("key", "history", versions["bob"].fingerprint, "--json").json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert {s["source"] for s in history["versions"][1]["sources"]} == {str(files["v2"]), str(again)}
    with sqlite3.connect(kw.workspace / "keywatch.db") as conn:
        assert conn.execute("SELECT count(*) FROM cert_versions WHERE fingerprint = ?",
                            (versions["bob"].fingerprint,)).fetchone()[0] == 2


def test_diff_names_what_changed_and_who_certified(kw, versions):
    files, alice, bob = versions["files"], versions["alice"], versions["bob"]
    for name in ("alice", "v1", "v2", "v3"):
        kw("import", str(files[name]))
    diff = kw("key", "diff", bob.fingerprint, "--from", "1", "--to", "2", "--json").json()["changes"]
    assert diff["user_ids_revoked"] == ["Bob <bob@old.example>"]
    assert diff["expiry_changed"]["from"].startswith("2035-01-01") and diff["expiry_changed"]["to"].startswith("2025-02-04")
    added = [c for c in diff["certifications_added"] if c["kind"] == "certification"]
    assert [(c["issuer"], c["user_id"], c["status"]) for c in added] == [
        (alice.fingerprint, "Bob <bob@example.org>", "good")]
    assert not diff["primary_revoked"] and not diff["user_ids_added"] and not diff["subkeys_added"]
    latest = kw("key", "diff", bob.fingerprint, "--json").json()
    assert (latest["from"]["version"], latest["to"]["version"]) == (2, 3)
    assert latest["changes"]["primary_revoked"]
    text = kw("key", "history", bob.fingerprint).stdout
    assert "primary key revoked" in text and "1 user IDs revoked" in text


def test_diff_of_a_single_version_is_a_clear_error(kw, versions):
    kw("import", str(versions["files"]["alice"]))
    result = kw("key", "diff", versions["alice"].fingerprint, check=False)
    assert result.code == 1 and "only one version" in result.stderr


def test_stale_copy_cannot_hide_a_revocation(kw, versions):
    """Import the revoked version, then the older unrevoked one again: the key stays revoked."""
    files, bob = versions["files"], versions["bob"]
    kw("import", str(files["v3"]))
    kw("import", str(files["v1"]))
    shown = kw("key", "show", bob.fingerprint, "--json").json()
    assert shown["revoked"] and not shown["valid"]
