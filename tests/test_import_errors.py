"""Bad input gets one clear line on stderr, a non-zero exit code, and leaves nothing in the store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pysequoia
import pytest

TABLES = ("cert_versions", "sightings", "certs", "keys", "user_ids", "signatures", "check_results", "input_files")


def row_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture(scope="module")
def tsk() -> pysequoia.Tsk:
    return pysequoia.Tsk.generate("Alice <alice@example.org>")


def _bad_inputs(tmp: Path, tsk: pysequoia.Tsk) -> dict[str, tuple[Path, str]]:
    cert = bytes(tsk.extract_certificate())
    inputs = {
        "empty": (b"", "empty"),
        "garbage": (b"this is not OpenPGP at all\n" * 10, "not valid OpenPGP"),
        "truncated": (cert[:-17], "not valid OpenPGP"),
        "random-50MB": (os.urandom(50 * 1024 * 1024), "not valid OpenPGP"),
        "html": (b"<!doctype html><html><body><h1>404 Not Found</h1></body></html>\n", "not valid OpenPGP"),
        "secret-key": (bytes(tsk), "secret key material"),
        "armored-secret-key": (str(tsk).encode(), "secret key material"),
    }
    paths = {}
    for name, (data, expected) in inputs.items():
        path = tmp / f"{name}.asc"
        path.write_bytes(data)
        paths[name] = (path, expected)
    return paths


@pytest.mark.parametrize("name", ["empty", "garbage", "truncated", "random-50MB", "html", "secret-key",
                                  "armored-secret-key"])
def test_bad_input_is_refused_cleanly(kw, tmp_path, tsk, name):
    path, expected = _bad_inputs(tmp_path, tsk)[name]
    before = row_counts(kw.workspace / "keywatch.db")
    result = kw("import", str(path), check=False)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and expected in lines[0]
    assert row_counts(kw.workspace / "keywatch.db") == before


def test_secret_key_names_the_key_and_is_never_stored(kw, tmp_path, tsk):
    path = tmp_path / "secret.pgp"
    path.write_bytes(bytes(tsk))
    result = kw("import", str(path), check=False)
    assert tsk.extract_certificate().fingerprint.upper() in result.stderr
    db = (kw.workspace / "keywatch.db").read_bytes()
    # No secret material anywhere in the database file (nor the public key: nothing was stored).
    assert bytes(tsk.extract_certificate())[10:60] not in db


def test_missing_file_and_directory_without_keys(kw, tmp_path):
    missing = kw("import", str(tmp_path / "nope.asc"), check=False)
    assert missing.code == 1 and "nope.asc" in missing.stderr and "Traceback" not in missing.stderr


def test_good_files_go_in_when_another_is_bad(kw, tmp_path, tsk):
    good = tmp_path / "good.asc"
    good.write_text(str(pysequoia.Cert.generate("Bob <bob@example.org>")))
    bad = tmp_path / "bad.asc"
    bad.write_bytes(b"\x99\x01\x0d truncated")
    result = kw("import", "--json", str(good), str(bad), check=False)
    assert result.code == 1
    summary = result.json()
    assert summary["new"] == 1 and summary["rejected"] == 1
    assert summary["errors"][0]["source"] == str(bad)
    assert row_counts(kw.workspace / "keywatch.db")["certs"] == 1


def test_no_workspace_is_said_plainly(tmp_path):
    from kwrunner import Keywatch

    runner = Keywatch(tmp_path / "absent")
    result = runner("key", "list", check=False)
    assert result.code == 1
    assert "no keywatch workspace" in result.stderr and "keywatch init" in result.stderr


def test_bad_time_and_unknown_key(kw):
    result = kw("key", "show", "0" * 40, "--at", "yesterday", check=False)
    assert result.code == 1 and "ISO 8601" in result.stderr
    result = kw("key", "show", "ABCDEF0123456789ABCDEF0123456789ABCDEF01", check=False)
    assert result.code == 1 and "no certificate" in result.stderr
    result = kw("key", "show", "not-a-key", check=False)
    assert result.code == 1 and "not a fingerprint" in result.stderr


def test_malformed_config_names_file_and_line(kw):
    config = kw.workspace / "keywatch.toml"
    config.write_text("[policy]\nexpiry_warning_days = 60\nexpiry_warnign_days = 3\n")
    result = kw("key", "show", "A" * 40, check=False)
    assert result.code == 1
    assert f"{config}:3" in result.stderr and "expiry_warnign_days" in result.stderr
    config.write_text("[policy\n")
    result = kw("key", "show", "A" * 40, check=False)
    assert result.code == 1 and str(config) in result.stderr and "line 1" in result.stderr
