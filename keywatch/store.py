"""The key history store: every version of every certificate ever seen, in SQLite (WAL).

A certificate *version* is its canonical bytes, addressed by their SHA-256:
identical content is stored once, however often and from wherever it is
seen; each sighting (source, first and last time) is kept beside it. The
parsed model — keys, user IDs, every signature in its place with its
verification verdict — is stored as queryable rows. Secret key material
never reaches this module: the parser refuses it.

The schema is code: `migrate` creates or upgrades it and is idempotent.
Every write that belongs to one import happens in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NotFound, WorkspaceError
from .types import Fingerprint



CHECK_KEY_SIZE = 32  # openpgp.verify.cache_key is a SHA-256


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            # Only a new database takes it (before its first page exists). 16 KiB pages hold a certificate
            # version in a few pages rather than eight, and halve the time to commit an import.
            conn.execute("PRAGMA page_size=16384")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{path}: not a keywatch database ({exc})") from None
        self.conn = conn
        migrate(conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing unit: an error anywhere rolls every row of it back."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- reading ------------------------------------------------------------------------------

    def version_digests(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT digest FROM cert_versions")}

    def latest_versions(self) -> dict[Fingerprint, str]:
        return {Fingerprint(f): d for f, d in self.conn.execute("SELECT fingerprint, latest_version FROM certs")}

    def version_bytes(self, digest: str) -> bytes:
        row = self.conn.execute("SELECT data FROM cert_versions WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            raise NotFound(f"no certificate version {digest}")
        return row[0]

    def primary_key_bodies(self) -> list[bytes]:
        return [row[0] for row in self.conn.execute("SELECT body FROM keys WHERE is_primary = 1")]

    def version_bytes_of(self, fingerprint: Fingerprint) -> list[bytes]:
        """Every stored version of one certificate, oldest first."""
        query = "SELECT data FROM cert_versions WHERE fingerprint = ? ORDER BY first_seen, rowid"
        return [row[0] for row in self.conn.execute(query, (fingerprint,))]

    def verification_cache(self) -> dict[bytes, bool]:
        """Every cryptographic check ever made, by its 32-byte key (openpgp.verify.cache_key): passed or not."""
        cache: dict[bytes, bool] = {}
        for passed, failed in self.conn.execute("SELECT passed, failed FROM check_results"):
            cache.update((failed[i:i + CHECK_KEY_SIZE], False) for i in range(0, len(failed), CHECK_KEY_SIZE))
            cache.update((passed[i:i + CHECK_KEY_SIZE], True) for i in range(0, len(passed), CHECK_KEY_SIZE))
        return cache

    def source_digest_known(self, file_digest: str) -> list[str] | None:
        """The versions an identical input file gave last time, or None if never seen."""
        row = self.conn.execute("SELECT versions FROM input_files WHERE digest = ?", (file_digest,)).fetchone()
        return json.loads(row[0]) if row else None

    def resolve(self, handle: str) -> Fingerprint:
        """A fingerprint or key ID (of a primary key or subkey) to the certificate's fingerprint."""
        handle = handle.upper()
        if len(handle) == 16:
            rows = self.conn.execute("SELECT DISTINCT cert_fingerprint FROM keys WHERE key_id = ?", (handle,)).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT DISTINCT cert_fingerprint FROM keys WHERE fingerprint = ?", (handle,)).fetchall()
        if not rows:
            raise NotFound(f"no certificate with key {handle} in the store")
        if len(rows) > 1:
            choices = ", ".join(r[0] for r in rows)
            raise NotFound(f"key ID {handle} is ambiguous ({choices}): give the full fingerprint")
        return Fingerprint(rows[0][0])

    def _dicts(self, query: str, params: tuple = ()) -> list[dict]:
        cursor = self.conn.execute(query, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    def cert_rows(self) -> list[dict]:
        return self._dicts("SELECT * FROM certs ORDER BY primary_user_id, fingerprint")

    def history(self, fingerprint: Fingerprint) -> list[dict]:
        """Every version of one certificate, oldest first, with where each was seen."""
        versions = self._dicts("SELECT digest, fingerprint, first_seen, length(data) AS size, "
                               "(SELECT max(last_seen) FROM sightings WHERE version = digest) AS last_seen "
                               "FROM cert_versions WHERE fingerprint = ? ORDER BY first_seen, rowid", (fingerprint,))
        for version in versions:
            version["sources"] = self._dicts("SELECT source, first_seen, last_seen FROM sightings WHERE version = ? "
                                             "ORDER BY first_seen", (version["digest"],))
        return versions


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, one numbered step at a time; safe on every open.

    sqlite-utils builds the schema; it is imported only when a step is due, because it
    costs a fifth of a second of start-up (it pulls in numpy) and queries are plain SQL.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise WorkspaceError(f"database schema {current} is newer than this keywatch ({SCHEMA_VERSION})")
    if current == SCHEMA_VERSION:
        return
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    for version, step in enumerate(_MIGRATIONS[current:], current + 1):
        step(db)
        conn.execute(f"PRAGMA user_version = {version}")


def _v1_key_history(db) -> None:
    db["cert_versions"].create({
        "digest": str, "fingerprint": str, "data": bytes, "first_seen": int, "last_seen": int,
    }, pk="digest", if_not_exists=True)
    db["sightings"].create({
        "version": str, "source": str, "first_seen": int, "last_seen": int,
    }, pk=("version", "source"), foreign_keys=[("version", "cert_versions", "digest")], if_not_exists=True)
    db["certs"].create({
        "fingerprint": str, "latest_version": str, "first_seen": int, "last_seen": int,
        "primary_user_id": str, "algorithm": str, "bits": int, "curve": str, "created": int,
        "expires": int, "revoked": int, "valid": int, "findings": str,
    }, pk="fingerprint", foreign_keys=[("latest_version", "cert_versions", "digest")], if_not_exists=True)
    db["keys"].create({
        "fingerprint": str, "cert_fingerprint": str, "key_id": str, "is_primary": int,
        "algorithm": str, "bits": int, "curve": str, "created": int, "body": bytes,
    }, pk="fingerprint", if_not_exists=True)
    db["user_ids"].create({
        "cert_fingerprint": str, "value": str, "raw": bytes, "is_attribute": int, "first_seen": int,
    }, pk=("cert_fingerprint", "raw"), if_not_exists=True)
    db["signatures"].create({
        "placement": bytes, "cert_fingerprint": str, "component": str, "sig_digest": str,
        "sig_type": int, "issuer": str, "issuer_key_ids": str, "created": int, "expires": int,
        "hash_algorithm": int, "trust_depth": int, "trust_amount": int, "regexes": str,
        "exportable": int, "revocation_reason": str, "status": str, "reason": str,
    }, pk="placement", if_not_exists=True)
    db["verifications"].create({"key": bytes, "ok": int}, pk="key", if_not_exists=True)
    db["input_files"].create({"digest": str, "versions": str, "first_seen": int, "last_seen": int},
                             pk="digest", if_not_exists=True)
    db["keys"].create_index(["key_id"], if_not_exists=True)
    db["keys"].create_index(["cert_fingerprint"], if_not_exists=True)
    db["cert_versions"].create_index(["fingerprint"], if_not_exists=True)
    db["signatures"].create_index(["cert_fingerprint"], if_not_exists=True)


def _v2_monitoring(db) -> None:
    # Conditional requests: what a URL answered last time (an unchanged upstream costs one 304).
    db["http_cache"].create({"url": str, "etag": str, "last_modified": str, "body": bytes, "fetched": int},
                            pk="url", if_not_exists=True)
    # index_digest: the index page this upstream last processed fully (a shared cache's 304 is not enough).
    db["upstream_state"].create({"name": str, "last_poll": int, "last_success": int, "last_error": str,
                                 "next_poll": int, "index_digest": str}, pk="name", if_not_exists=True)
    db["releases"].create({
        "upstream": str, "version": str, "artifact_url": str, "artifact_sha256": str, "artifact_size": int,
        "signature_url": str, "signature_status": str, "discovered": int, "source": str,
    }, pk=("upstream", "version"), if_not_exists=True)
    db["release_signers"].create({
        "upstream": str, "version": str, "sig_digest": str, "signer": str, "signing_key": str,
        "issuer_key_id": str, "created": int, "hash_algorithm": int, "status": str, "in_keyring": int,
        "reason": str,
    }, pk=("upstream", "version", "sig_digest"), if_not_exists=True)
    db["key_source_snapshots"].create({
        "upstream": str, "source": str, "fetched": int, "fingerprints": str, "digest": str,
    }, pk=("upstream", "source"), if_not_exists=True)
    db["events"].create({
        "id": int, "kind": str, "severity": str, "upstream": str, "version": str, "fingerprint": str,
        "created": int, "message": str, "details": str, "dedup_key": str,
    }, pk="id", if_not_exists=True)
    db["events"].create_index(["dedup_key"], unique=True, if_not_exists=True)
    db["events"].create_index(["upstream", "created"], if_not_exists=True)
    db["outbox"].create({
        "event_id": int, "sink": str, "attempts": int, "next_attempt": int, "delivered": int, "last_error": str,
    }, pk=("event_id", "sink"), foreign_keys=[("event_id", "events", "id")], if_not_exists=True)


def _v3_trust(db) -> None:
    # keywatch.trust (see trust/tables.py): rows derived from the ones above, so that the trust graph at any
    # time is built with a few plain queries. trust_timelines caches each certificate's validity phases
    # (parsed once per new version); the other tables are rebuilt from it and `signatures` after an import.
    for statement in (
        "CREATE TABLE IF NOT EXISTS trust_timelines (fingerprint TEXT PRIMARY KEY, versions INTEGER, body TEXT)",
        "CREATE TABLE IF NOT EXISTS trust_state (name TEXT PRIMARY KEY, value TEXT)",
        "CREATE TABLE IF NOT EXISTS trust_keys (id INTEGER PRIMARY KEY, fingerprint TEXT UNIQUE, created INTEGER)",
        "CREATE TABLE IF NOT EXISTS trust_key_phases (key INTEGER, start INTEGER, bound INTEGER, expires INTEGER,"
        " revoked INTEGER, PRIMARY KEY (key, start)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS trust_user_ids (id INTEGER PRIMARY KEY, key INTEGER, raw BLOB)",
        "CREATE TABLE IF NOT EXISTS trust_user_id_phases (user_id INTEGER, start INTEGER, bound INTEGER,"
        " revoked INTEGER, PRIMARY KEY (user_id, start)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS trust_certifications (target INTEGER, user_id INTEGER, issuer INTEGER,"
        " created INTEGER, ends INTEGER, flags INTEGER, depth INTEGER, amount INTEGER, regexes TEXT,"
        " revoked INTEGER, revoked_after INTEGER, newer INTEGER)",
    ):
        db.conn.execute(statement)


def _v4_review(db) -> None:
    # Sign-off: accounts, proposals and decisions, and the append-only audit history (each module owns its DDL).
    from . import audit, proposals, users

    users.ensure_schema(db.conn)
    proposals.ensure_schema(db.conn)
    audit.ensure_schema(db.conn)


def _v5_compact_signatures(db) -> None:
    # Verification results are now cached under the inputs of the check itself (the signature packet, the
    # signed content, the issuer key material: see openpgp/verify.py); older keys can never match again.
    # The cache is only ever loaded whole, so it is kept as one row of concatenated keys per batch of
    # checks rather than a row (and an index entry) per check. Signatures lose their rowid: they are
    # clustered by certificate — how every query reads them — instead of a rowid table and two indexes.
    # One transaction; run again (a crash before user_version moved), it rebuilds the same tables.
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DROP TABLE IF EXISTS verifications")
    conn.execute("CREATE TABLE IF NOT EXISTS check_results (batch INTEGER PRIMARY KEY, passed BLOB, failed BLOB)")
    conn.execute(
        "CREATE TABLE signatures_v5 (placement BLOB, cert_fingerprint TEXT, component TEXT, sig_digest TEXT,"
        " sig_type INTEGER, issuer TEXT, issuer_key_ids TEXT, created INTEGER, expires INTEGER,"
        " hash_algorithm INTEGER, trust_depth INTEGER, trust_amount INTEGER, regexes TEXT, exportable INTEGER,"
        " revocation_reason TEXT, status TEXT, reason TEXT, PRIMARY KEY (cert_fingerprint, placement)) WITHOUT ROWID")
    conn.execute("INSERT INTO signatures_v5 SELECT placement, cert_fingerprint, component, sig_digest, sig_type,"
                 " issuer, issuer_key_ids, created, expires, hash_algorithm, trust_depth, trust_amount, regexes,"
                 " exportable, revocation_reason, status, reason FROM signatures")
    conn.execute("DROP TABLE signatures")
    conn.execute("ALTER TABLE signatures_v5 RENAME TO signatures")
    # A version's last sighting is in `sightings`; updating it beside the certificate's bytes made SQLite
    # rewrite every byte of every version each time an unchanged keyring was imported again.
    if "last_seen" in {row[1] for row in conn.execute("PRAGMA table_info(cert_versions)")}:
        conn.execute("ALTER TABLE cert_versions DROP COLUMN last_seen")
    conn.execute("COMMIT")


_MIGRATIONS = [_v1_key_history, _v2_monitoring, _v3_trust, _v4_review, _v5_compact_signatures]
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(slots=True)
class Rows:
    """Everything one import writes, gathered first so the write is one short transaction."""

    versions: list[tuple] = field(default_factory=list)
    sightings: list[tuple] = field(default_factory=list)
    certs: list[tuple] = field(default_factory=list)
    keys: list[tuple] = field(default_factory=list)
    user_ids: list[tuple] = field(default_factory=list)
    signatures: list[tuple] = field(default_factory=list)
    verifications: list[tuple[bytes, bool]] = field(default_factory=list)  # (check cache key, passed)

    def extend(self, other: "Rows") -> None:
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))


def write_rows(conn: sqlite3.Connection, rows: Rows, now: int) -> None:
    conn.executemany(
        "INSERT INTO cert_versions (digest, fingerprint, data, first_seen) VALUES (?,?,?,?) "
        "ON CONFLICT(digest) DO NOTHING", rows.versions)
    conn.executemany(
        "INSERT INTO sightings (version, source, first_seen, last_seen) VALUES (?,?,?,?) "
        "ON CONFLICT(version, source) DO UPDATE SET last_seen = excluded.last_seen", rows.sightings)
    conn.executemany(
        "INSERT INTO certs (fingerprint, latest_version, first_seen, last_seen, primary_user_id, algorithm, bits,"
        " curve, created, expires, revoked, valid, findings) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(fingerprint) DO UPDATE SET latest_version = excluded.latest_version,"
        " last_seen = excluded.last_seen, primary_user_id = excluded.primary_user_id,"
        " expires = excluded.expires, revoked = excluded.revoked, valid = excluded.valid,"
        " findings = excluded.findings", rows.certs)
    conn.executemany(
        "INSERT OR IGNORE INTO keys (fingerprint, cert_fingerprint, key_id, is_primary, algorithm, bits, curve,"
        " created, body) VALUES (?,?,?,?,?,?,?,?,?)", rows.keys)
    conn.executemany(
        "INSERT OR IGNORE INTO user_ids (cert_fingerprint, value, raw, is_attribute, first_seen) VALUES (?,?,?,?,?)",
        rows.user_ids)
    conn.executemany(
        "INSERT INTO signatures (placement, cert_fingerprint, component, sig_digest, sig_type, issuer,"
        " issuer_key_ids, created, expires, hash_algorithm, trust_depth, trust_amount, regexes, exportable,"
        " revocation_reason, status, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(cert_fingerprint, placement) DO UPDATE SET status = excluded.status, issuer = excluded.issuer,"
        " reason = excluded.reason", rows.signatures)
    record_checks(conn, rows.verifications)


def record_checks(conn: sqlite3.Connection, results: list[tuple[bytes, bool]]) -> None:
    """Keep a batch of check results (cache key, passed) for later imports: one row for the whole batch."""
    if results:
        conn.execute("INSERT INTO check_results (passed, failed) VALUES (?, ?)",
                     (b"".join(key for key, ok in results if ok), b"".join(key for key, ok in results if not ok)))


def record_input_file(conn: sqlite3.Connection, file_digest: str, versions: list[str], now: int) -> None:
    conn.execute(
        "INSERT INTO input_files (digest, versions, first_seen, last_seen) VALUES (?,?,?,?) "
        "ON CONFLICT(digest) DO UPDATE SET last_seen = excluded.last_seen", (file_digest, json.dumps(versions), now, now))


def touch_versions(conn: sqlite3.Connection, versions: list[str], source: str, now: int) -> None:
    """An identical input seen again: only the last-seen times move (of sightings: small rows, cheap to rewrite)."""
    conn.executemany(
        "INSERT INTO sightings (version, source, first_seen, last_seen) VALUES (?,?,?,?) "
        "ON CONFLICT(version, source) DO UPDATE SET last_seen = excluded.last_seen",
        [(d, source, now, now) for d in versions])
    conn.execute("UPDATE certs SET last_seen = ? WHERE latest_version IN (SELECT value FROM json_each(?))",
                 (now, json.dumps(versions)))
