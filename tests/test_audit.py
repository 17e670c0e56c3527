"""The audit history cannot be quietly rewritten: every edit, deletion or reordering is named."""

from __future__ import annotations

import json
import sqlite3

import pytest

from keywatch.audit import entry_hash
from keywatch.store import Store
from keywatch.workspace import Workspace


def _history(kw, count: int = 5):
    """Append `count` entries the way keywatch does (in a transaction, head published after commit)."""
    workspace = Workspace(kw.workspace)
    store = workspace.store()
    log = workspace.audit(store)
    for number in range(1, count + 1):
        with store.transaction():
            log.append(f"reviewer{number % 2}", "approve", f"proposal-{number}", {"digest": f"{number:064x}"})
        log.publish_head()
    store.close()


def _tamper(kw, *statements: str) -> None:
    """What an attacker with the database file can do: drop the guards, then rewrite rows."""
    with sqlite3.connect(kw.workspace / "keywatch.db") as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        for statement in statements:
            conn.execute(statement)


def test_intact_history_verifies(kw):
    _history(kw)
    result = kw("audit", "verify", "--json").json()
    assert result == {"entries": 5, "intact": True, "problems": []}


def test_the_database_refuses_updates_and_deletes(kw):
    _history(kw)
    with sqlite3.connect(kw.workspace / "keywatch.db") as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit WHERE id = 2")


@pytest.mark.parametrize("statements,named", [
    (["UPDATE audit SET actor = 'mallory' WHERE id = 3"], "entry 3"),
    (["UPDATE audit SET details = '{\"digest\": \"00\"}' WHERE id = 2"], "entry 2"),
    (["DELETE FROM audit WHERE id = 3"], "entry 3"),
    (["DELETE FROM audit WHERE id = 5"], "entries 5 to 5"),
    # Reorder: entries 2 and 4 swap places (content and hashes move together).
    (["CREATE TABLE swap AS SELECT * FROM audit WHERE id IN (2, 4)",
      "DELETE FROM audit WHERE id IN (2, 4)",
      "INSERT INTO audit SELECT 4, at, actor, action, subject, details, prev_hash, hash FROM swap WHERE id = 2",
      "INSERT INTO audit SELECT 2, at, actor, action, subject, details, prev_hash, hash FROM swap WHERE id = 4"],
     "entry 2"),
], ids=["edit-actor", "edit-details", "delete-middle", "delete-newest", "reorder"])
def test_tampering_is_found_and_named(kw, statements, named):
    _history(kw)
    _tamper(kw, *statements)
    result = kw("audit", "verify", check=False)
    assert result.code == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_rehashing_an_edited_entry_still_breaks_the_chain(kw):
    """A careful attacker recomputes the edited entry's hash; the next entry no longer follows it."""
    _history(kw)
    with sqlite3.connect(kw.workspace / "keywatch.db") as conn:
        at, details, prev = conn.execute("SELECT at, details, prev_hash FROM audit WHERE id = 2").fetchone()
    forged = entry_hash(2, at, "mallory", "approve", "proposal-2", json.loads(details), prev)
    _tamper(kw, f"UPDATE audit SET actor = 'mallory', hash = '{forged}' WHERE id = 2")
    result = kw("audit", "verify", check=False)
    assert result.code == 1 and "entry 3" in result.stderr


def test_export_is_json_lines_with_hashes(kw):
    _history(kw, 3)
    lines = kw("audit", "export", "--json").stdout.strip().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["id"] for e in entries] == [1, 2, 3]
    assert entries[1]["prev_hash"] == entries[0]["hash"]


def test_store_without_audit_entries_verifies(tmp_path):
    store = Store(tmp_path / "empty.db")
    workspace = Workspace(tmp_path)
    assert workspace.audit(store).verify() == []
    store.close()
