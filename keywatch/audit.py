"""The audit history: append-only, hash-chained, so no trust decision can be quietly rewritten.

Every entry commits to the one before it: its hash covers its own fields and
the previous entry's hash. Editing an entry breaks its own hash; deleting or
reordering entries breaks the chain (and the ids, which are consecutive);
deleting the newest entries is caught by the *head* — the count and hash of
the last entry — kept in a file beside the database (`audit-head.json`) and
rewritten atomically after every append. SQLite triggers refuse UPDATE and
DELETE on the table, so a bug cannot rewrite history either; an attacker with
the database file can drop them, and `verify` then names what was changed.

Entries are written in the caller's transaction, with the state change they
record: a decision and its audit entry are stored together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import KeywatchError
from .types import iso, now_ts

GENESIS = "0" * 64
HEAD_NAME = "audit-head.json"


class AuditError(KeywatchError):
    """The audit history does not verify."""


@dataclass(frozen=True)
class Entry:
    id: int
    at: int
    actor: str
    action: str
    subject: str
    details: dict
    prev_hash: str
    hash: str

    def as_json(self) -> dict:
        return {"id": self.id, "at": iso(self.at), "actor": self.actor, "action": self.action,
                "subject": self.subject, "details": self.details, "prev_hash": self.prev_hash, "hash": self.hash}


def entry_hash(entry_id: int, at: int, actor: str, action: str, subject: str, details: dict, prev_hash: str) -> str:
    canonical = json.dumps([entry_id, at, actor, action, subject, details, prev_hash], sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
                 " action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL,"
                 " hash TEXT NOT NULL)")
    conn.execute("CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
                 "BEGIN SELECT RAISE(ABORT, 'the audit history is append-only'); END")
    conn.execute("CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
                 "BEGIN SELECT RAISE(ABORT, 'the audit history is append-only'); END")
    conn.execute("CREATE INDEX IF NOT EXISTS audit_action ON audit (action, at)")


class AuditLog:
    """Appends to and verifies the audit history of one workspace."""

    def __init__(self, conn: sqlite3.Connection, head_path: Path) -> None:
        self.conn = conn
        self.head_path = head_path

    def append(self, actor: str, action: str, subject: str, details: dict | None = None,
               at: int | None = None) -> Entry:
        """Add an entry inside the caller's open transaction; call `publish_head` after it commits."""
        last = self.conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = at if at is not None else now_ts()
        details = details or {}
        digest = entry_hash(entry_id, at, actor, action, subject, details, prev_hash)
        self.conn.execute("INSERT INTO audit (id, at, actor, action, subject, details, prev_hash, hash) "
                          "VALUES (?,?,?,?,?,?,?,?)",
                          (entry_id, at, actor, action, subject, json.dumps(details, sort_keys=True), prev_hash,
                           digest))
        return Entry(entry_id, at, actor, action, subject, details, prev_hash, digest)

    def publish_head(self) -> None:
        """Record the newest entry's id and hash outside the database (atomically)."""
        last = self.conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        if last is None:
            return
        handle, temp = tempfile.mkstemp(dir=self.head_path.parent, prefix=".audit-head.")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump({"count": last[0], "hash": last[1]}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.head_path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def entries(self, *, action: str | None = None, actor: str | None = None, subject: str | None = None,
                since: int | None = None, limit: int | None = None, newest_first: bool = False) -> list[Entry]:
        clauses, params = [], []
        for column, value in (("action", action), ("actor", actor), ("subject", subject)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT id, at, actor, action, subject, details, prev_hash, hash FROM audit {where} ORDER BY id {order}"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [Entry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in self.conn.execute(sql, params)]

    def verify(self) -> list[str]:
        """Problems found, each naming the entry at fault; empty when the history is intact."""
        problems: list[str] = []
        expected_id, prev_hash = 1, GENESIS
        rows = self.conn.execute("SELECT id, at, actor, action, subject, details, prev_hash, hash FROM audit "
                                 "ORDER BY rowid")
        for entry_id, at, actor, action, subject, details_text, stored_prev, stored_hash in rows:
            if entry_id != expected_id:
                what = "deleted" if entry_id > expected_id else "out of order"
                problems.append(f"entry {expected_id}: missing or {what} (found entry {entry_id} in its place)")
            try:
                details = json.loads(details_text)
            except ValueError:
                problems.append(f"entry {entry_id}: details are not valid JSON (edited)")
                details = {}
            if stored_prev != prev_hash:
                problems.append(f"entry {entry_id}: does not follow the entry before it (chain broken)")
            if entry_hash(entry_id, at, actor, action, subject, details, stored_prev) != stored_hash:
                problems.append(f"entry {entry_id}: its content does not match its hash (edited)")
            expected_id, prev_hash = entry_id + 1, stored_hash
        problems += self._check_head(expected_id - 1, prev_hash)
        return problems

    def _check_head(self, count: int, last_hash: str) -> list[str]:
        if not self.head_path.exists():
            return [] if count == 0 else [f"{self.head_path} is missing: the newest entries cannot be checked"]
        try:
            head = json.loads(self.head_path.read_text())
            head_count, head_hash = int(head["count"]), str(head["hash"])
        except (ValueError, KeyError, TypeError):
            return [f"{self.head_path}: not a valid audit head"]
        if count < head_count:
            return [f"entries {count + 1} to {head_count}: deleted (the head records {head_count} entries)"]
        if count == head_count and last_hash != head_hash:
            return [f"entry {count}: differs from the one recorded in {self.head_path.name}"]
        return []

