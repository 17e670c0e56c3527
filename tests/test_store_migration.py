"""A workspace made by an older keywatch keeps everything when a newer one opens it.

The old schema is built by the old migration steps themselves (the code
keeps every step), and filled with the rows a real import wrote; opening it
must bring it to the current schema with every signature and verdict kept.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import sqlite_utils

import certgen
from keywatch import store
from kwrunner import Keywatch
from test_verify import FAR, T0

# The tables an import writes, as schema 4 had them (same names, same columns).
IMPORTED_TABLES = ("cert_versions", "sightings", "certs", "keys", "user_ids", "signatures", "input_files")


def schema4_copy(source_db, target_db) -> None:
    """A schema-4 database (steps 1-4 exactly) holding the rows of `source_db`'s import."""
    conn = sqlite3.connect(target_db, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for step in store._MIGRATIONS[:4]:
        step(db)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("ATTACH ? AS new", (str(source_db),))
    for table in IMPORTED_TABLES:
        now_has = {row[1] for row in conn.execute(f"PRAGMA new.table_info({table})")}
        columns = ", ".join(f'"{c}"' for c in db[table].columns_dict if c in now_has)
        conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM new.{table}")
    conn.execute("UPDATE cert_versions SET last_seen = first_seen")  # a column schema 4 had
    conn.execute("INSERT INTO verifications (key, ok) VALUES (?, 1)", (b"\x01" * 32,))  # an old-style cache key
    conn.execute("DETACH new")
    conn.close()


def test_schema4_workspace_is_migrated_keeping_every_signature(kw, tmp_path):
    alice = certgen.generate_key(tmp_path, ["Alice <alice@example.org>"], created=T0, expires=FAR, tool="sq")
    bob = certgen.generate_key(tmp_path, ["Bob <bob@example.org>"], created=T0, expires=FAR, tool="sq")
    certified = certgen.certify(tmp_path, alice, bob.cert, "Bob <bob@example.org>", expires=FAR)
    (tmp_path / "ring.pgp").write_bytes(alice.cert + certified)
    kw("import", str(tmp_path / "ring.pgp"))
    at = (T0 + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = kw("key", "show", bob.fingerprint, "--at", at, "--json").json()
    history = kw("key", "history", bob.fingerprint, "--json").json()
    rows = sorted(kw.query("SELECT * FROM signatures"))

    old = Keywatch(tmp_path / "old")
    shutil.copytree(kw.workspace, old.workspace, ignore=shutil.ignore_patterns("keywatch.db*"))
    schema4_copy(kw.workspace / "keywatch.db", old.workspace / "keywatch.db")
    assert old.query("PRAGMA user_version") == [(4,)]

    assert old("key", "show", bob.fingerprint, "--at", at, "--json").json() == expected  # opening it migrates
    assert old.query("PRAGMA user_version") == [(store.SCHEMA_VERSION,)]
    assert old("key", "history", bob.fingerprint, "--json").json() == history
    assert sorted(old.query("SELECT * FROM signatures")) == rows
    assert old.query("SELECT name FROM sqlite_master WHERE name = 'verifications'") == []  # old cache keys
    assert old.query("SELECT count(*) FROM check_results") == [(0,)]  # could never match again
    # And the migrated store takes imports as a new one does: the same file again is seen as unchanged.
    assert old("import", "--json", str(tmp_path / "ring.pgp")).json()["unchanged"] == 2
    changed = certgen.certify(tmp_path, bob, alice.cert, "Alice <alice@example.org>", expires=FAR)
    (tmp_path / "alice2.pgp").write_bytes(changed)
    assert old("import", "--json", str(tmp_path / "alice2.pgp")).json()["changed"] == 1
    assert old.query("SELECT status FROM signatures WHERE cert_fingerprint = ? AND issuer = ?",
                     alice.fingerprint, bob.fingerprint) == [("good",)]
