"""The command line as a user meets it: workspaces, JSON output, hostile user IDs, the bundled keyrings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pysequoia

from kwrunner import REPO, Keywatch


def test_init_creates_the_workspace_and_is_idempotent(tmp_path):
    runner = Keywatch(tmp_path / "ws")
    first = runner("init", str(tmp_path / "ws"), "--json").json()
    assert first["created"] is True
    for name in ("keywatch.toml", "keywatch.db", "keyrings"):
        assert (tmp_path / "ws" / name).exists()
    with sqlite3.connect(tmp_path / "ws" / "keywatch.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    (tmp_path / "ws" / "keywatch.toml").write_text("[policy]\nexpiry_warning_days = 7\n")
    second = runner("init", str(tmp_path / "ws"), "--json").json()
    assert second["created"] is False
    assert "= 7" in (tmp_path / "ws" / "keywatch.toml").read_text()


def test_workspace_option_beats_environment(tmp_path):
    runner = Keywatch(tmp_path / "env-ws")
    runner("init", str(tmp_path / "env-ws"))
    runner("init", str(tmp_path / "other"))
    cert = tmp_path / "k.asc"
    cert.write_text(str(pysequoia.Tsk.generate("Opt <opt@example.org>").extract_certificate()))
    runner("--workspace", str(tmp_path / "other"), "import", str(cert))
    assert runner("key", "list", "--json").json() == []
    assert len(runner("-w", str(tmp_path / "other"), "key", "list", "--json").json()) == 1


def test_hostile_user_id_is_shown_escaped_and_kept_exact_in_json(kw, tmp_path):
    hostile = "Eve \x1b[2J\x1b[31m<script>alert(1)</script> \u202egpj.exe [bold]x[/bold] <eve@example.org>"
    tsk = pysequoia.Tsk.generate(hostile)
    path = tmp_path / "eve.asc"
    path.write_text(str(tsk.extract_certificate()))
    kw("import", str(path))
    fingerprint = tsk.extract_certificate().fingerprint.upper()
    shown = kw("key", "show", fingerprint).stdout
    listed = kw("key", "list").stdout
    for text in (shown, listed):
        assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[2J" in shown and "\\u202e" in shown and "[bold]" in shown.replace("\\[", "[")
    document = kw("key", "show", fingerprint, "--json").json()
    assert document["user_ids"][0]["value"] == hostile


def test_key_show_json_has_the_documented_fields(kw, tmp_path):
    tsk = pysequoia.Tsk.generate("Doc <doc@example.org>")
    path = tmp_path / "doc.asc"
    path.write_text(str(tsk.extract_certificate()))
    kw("import", str(path))
    doc = kw("key", "show", tsk.extract_certificate().fingerprint, "--at", "2030-01-01", "--json").json()
    for field in ("fingerprint", "algorithm", "bits", "curve", "created", "expires", "revoked", "findings",
                  "subkeys", "user_ids", "at", "valid"):
        assert field in doc
    assert doc["at"] == "2030-01-01T00:00:00Z"
    for field in ("value", "revoked", "certifications"):
        assert field in doc["user_ids"][0]


def test_key_id_and_subkey_lookup(kw, tmp_path):
    tsk = pysequoia.Tsk.generate("Sub <sub@example.org>")
    cert = tsk.extract_certificate()
    path = tmp_path / "sub.asc"
    path.write_text(str(cert))
    kw("import", str(path))
    by_key_id = kw("key", "show", cert.fingerprint[-16:], "--json").json()
    subkey = by_key_id["subkeys"][0]["fingerprint"]
    by_subkey = kw("key", "show", subkey, "--json").json()
    assert by_key_id["fingerprint"] == by_subkey["fingerprint"] == cert.fingerprint.upper()


def test_bundled_real_keyrings_import_with_findings(kw):
    """The README's first command, on the keyrings shipped in keyrings/."""
    summary = kw("import", "--json", str(REPO / "keyrings")).json()
    assert summary["rejected"] == 0 and summary["certs"] >= 5
    keys = {k["fingerprint"]: k for k in kw("key", "list", "--json").json()}
    lasse = keys["3690C240CE51B4670D30AD1C38EE757D69184620"]  # XZ Utils' release key in Debian's xz-utils
    assert lasse["primary_user_id"].startswith("Lasse Collin")
    assert any(f["code"] == "expired" for f in lasse["findings"])
    text = kw("key", "list").stdout
    assert "Lasse Collin" in text


def test_help_for_every_command():
    for args in ([], ["init"], ["import"], ["key"], ["key", "list"], ["key", "show"], ["key", "history"],
                 ["key", "diff"]):
        result = Keywatch(Path("/nonexistent"))(*args, "--help")
        assert "Usage:" in result.stdout
