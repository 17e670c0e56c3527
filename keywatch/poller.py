"""Polling upstreams: keys from every source, new releases and who signed them, events.

One asyncio task per upstream, bounded by `monitor.concurrency`; every
database write happens on the event-loop thread, in one short transaction
per step, so a failure leaves the store as it was before that step. One
upstream failing (unreachable host, 404, hostile answer) is recorded against
that upstream and never stops the others.

An unchanged upstream costs one conditional request per URL (304 Not
Modified) and no parsing: the fast path that lets a few thousand upstreams be
re-polled every few hours.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import events as ev
from .alerts import Outbox
from .audit import HEAD_NAME as AUDIT_HEAD
from .audit import AuditLog
from .config import Config, Upstream
from .datasig import DataHasher, SignerIndex, judge, read_detached_signatures
from .diff import diff_certificates
from .errors import InputError, KeywatchError
from .fetch import Fetcher, FetchError, HttpCache
from .gittags import read_signed_tags
from .ingest import import_bytes, read_input
from .keysources import SourceSettings, fetch_key_source
from .keyview import CertificateReader
from .openpgp.cert import certificates_from_bytes
from .openpgp.validity import certification_states
from .releases import Release, find_releases
from .store import Store
from .types import Fingerprint, now_ts
from .untrusted import for_terminal
from .versions import version_key


@dataclass
class PollReport:
    upstream: str
    ok: bool = True
    error: str | None = None
    new_releases: list[str] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    keys_changed: int = 0

    def as_json(self) -> dict:
        return {"upstream": self.upstream, "ok": self.ok, "error": self.error, "new_releases": self.new_releases,
                "events": len(self.event_ids), "keys_changed": self.keys_changed}


def _snapshot_versions(stored) -> dict[str, str | None]:
    """A stored snapshot: {fingerprint: version digest} (older workspaces kept a list of fingerprints)."""
    return stored if isinstance(stored, dict) else {fpr: None for fpr in stored}


class _ArtifactSink:
    """One pass over a release file: the signatures' digests and the file's own SHA-256."""

    def __init__(self, sigs) -> None:
        self.signatures = DataHasher(sigs)
        self.sha256 = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.signatures.update(chunk)
        self.sha256.update(chunk)


class Poller:
    """Polls a workspace's upstreams; one instance per `keywatch poll` or per `watch` round."""

    def __init__(self, root: Path, config: Config, store: Store, outbox: Outbox, *,
                 clock: Callable[[], int] = now_ts) -> None:
        self.root = root
        self.outbox = outbox
        self.audit = AuditLog(store.conn, root / AUDIT_HEAD)
        self.config = config
        self.store = store
        self.clock = clock
        self.settings = SourceSettings(keyserver=config.sources.keyserver, wkd_servers=dict(config.sources.wkd_servers))
        self._reader: CertificateReader | None = None
        self._signers: SignerIndex | None = None

    # --- shared, lazily built views of the store (rebuilt after keys change) -------------------

    def _keys_changed(self) -> None:
        self._reader = None
        self._signers = None

    @property
    def reader(self) -> CertificateReader:
        if self._reader is None:
            self._reader = CertificateReader(self.store)
        return self._reader

    @property
    def signers(self) -> SignerIndex:
        if self._signers is None:
            self._signers = SignerIndex.from_store(self.store)
        return self._signers

    # --- the poll --------------------------------------------------------------------------------

    async def poll(self, upstreams: list[Upstream], progress: Callable[[PollReport], None] | None = None
                   ) -> list[PollReport]:
        monitor = self.config.monitor
        gate = asyncio.Semaphore(monitor.concurrency)
        async with Fetcher(HttpCache(self.store.conn), timeout=monitor.timeout, retries=monitor.retries) as fetcher:
            async def run(upstream: Upstream) -> PollReport:
                async with gate:
                    report = await self._poll_isolated(fetcher, upstream)
                if progress is not None:
                    progress(report)
                return report

            return list(await asyncio.gather(*(run(u) for u in upstreams)))

    async def _poll_isolated(self, fetcher: Fetcher, upstream: Upstream) -> PollReport:
        report = PollReport(upstream.name)
        started = self.clock()
        try:
            await self._poll_one(fetcher, upstream, report)
        except KeywatchError as exc:
            report.ok, report.error = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken upstream must never stop the others
            report.ok, report.error = False, f"internal error: {type(exc).__name__}: {exc}"
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO upstream_state (name, last_poll, last_success, last_error, next_poll) "
                "VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET last_poll = excluded.last_poll, "
                "last_success = COALESCE(excluded.last_success, upstream_state.last_success), "
                "last_error = excluded.last_error, next_poll = excluded.next_poll",
                (upstream.name, started, started if report.ok else None, report.error,
                 started + upstream.interval))
        return report

    async def _poll_one(self, fetcher: Fetcher, upstream: Upstream, report: PollReport) -> None:
        keyring = self._import_packaging_keyring(upstream)
        for spec in upstream.keys:
            await self._poll_key_source(fetcher, upstream, spec, report)
        if upstream.index:
            await self._poll_index(fetcher, upstream, keyring, report)
        if upstream.git:
            await self._poll_git(upstream, keyring, report)
        self._record(report, self._standing_key_events(upstream, keyring))

    def _record(self, report: PollReport, drafts: list[ev.EventDraft]) -> None:
        if not drafts:
            return
        recorded = {draft.dedup_key: draft for draft in drafts}
        with self.store.transaction() as conn:
            new_ids = ev.record(conn, drafts, self.clock())
            # Queued in the same transaction: an event is never stored without its deliveries,
            # nor without its entry in the audit history.
            self.outbox.enqueue(new_ids)
            rows = conn.execute("SELECT id, kind, severity, version, fingerprint, dedup_key FROM events WHERE id IN "
                                f"({','.join('?' * len(new_ids))})", new_ids) if new_ids else []
            for event_id, kind, severity, version, fingerprint, key in rows:
                self.audit.append("keywatch", "event", report.upstream,
                                  {"event": event_id, "kind": kind, "severity": severity, "version": version,
                                   "fingerprint": fingerprint, "message": recorded[key].message})
        if new_ids:
            self.audit.publish_head()
        report.event_ids += new_ids

    # --- keys ------------------------------------------------------------------------------------

    def keyring_path(self, upstream: Upstream) -> Path | None:
        if upstream.keyring is None:
            return None
        path = Path(upstream.keyring)
        return path if path.is_absolute() else self.root / path

    def _import_packaging_keyring(self, upstream: Upstream) -> set[Fingerprint]:
        """The approved baseline: the certificates in the packaging keyring keywatch guards."""
        path = self.keyring_path(upstream)
        if path is None or not path.exists():
            return set()
        files = sorted(path.glob("*.asc")) if path.is_dir() else [path]
        fingerprints: set[Fingerprint] = set()
        for file in files:
            summary = import_bytes(self.store, read_input(file), str(file))
            if summary.new or summary.changed:
                self._keys_changed()
            fingerprints |= {Fingerprint(f) for f in summary.fingerprints}
        return fingerprints

    async def _poll_key_source(self, fetcher: Fetcher, upstream: Upstream, spec: str, report: PollReport) -> None:
        result = await fetch_key_source(fetcher, spec, self.settings, max_bytes=self.config.monitor.max_key_bytes)
        # Skip only what *this* upstream already processed: the HTTP cache is shared by URL.
        digest = hashlib.sha256(result.data).hexdigest()
        row = self.store.conn.execute(
            "SELECT fingerprints, digest FROM key_source_snapshots WHERE upstream = ? AND source = ?",
            (upstream.name, spec)).fetchone()
        if row is not None and row[1] == digest:
            return
        summary = import_bytes(self.store, result.data, f"{upstream.name}: {spec}")
        # What *this upstream* last saw from this source, per key: another upstream sharing the
        # source (a GNU keyring, say) must not swallow this one's events.
        previous = _snapshot_versions(json.loads(row[0])) if row else None
        current = dict(summary.versions)
        drafts = ev.key_source_events(upstream.name, spec, set(previous) if previous is not None else None,
                                      set(current))
        if summary.new or summary.changed:
            self._keys_changed()
            report.keys_changed += summary.new + summary.changed
        for fingerprint, new in sorted(current.items()):
            old = (previous or {}).get(fingerprint)
            if old is not None and old != new:
                drafts += self._key_change_drafts(upstream, fingerprint, old, new)
        self._record(report, drafts)
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO key_source_snapshots (upstream, source, fetched, fingerprints, digest) "
                         "VALUES (?,?,?,?,?) ON CONFLICT(upstream, source) DO UPDATE SET fetched = excluded.fetched, "
                         "fingerprints = excluded.fingerprints, digest = excluded.digest",
                         (upstream.name, spec, self.clock(), json.dumps(current, sort_keys=True), digest))

    def _key_change_drafts(self, upstream: Upstream, fingerprint: Fingerprint, old: str, new: str
                           ) -> list[ev.EventDraft]:
        versions = []
        for digest in (old, new):
            cert = certificates_from_bytes(self.store.version_bytes(digest), f"version {digest[:16]}")[0]
            verdicts = self.reader.verifier.verify_certificates([cert])
            versions.append((cert, verdicts.__getitem__))
        diff = diff_certificates(*versions[0], *versions[1], self.clock())
        return ev.key_change_events(upstream.name, fingerprint, self._name(fingerprint), diff, new)

    def _name(self, fingerprint: str) -> str:
        row = self.store.conn.execute("SELECT primary_user_id FROM certs WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return for_terminal(row[0], 80) if row and row[0] else "no user ID"

    def profile(self, fingerprint: Fingerprint) -> ev.SignerProfile:
        """Name, creation and verified certifiers (counting now) of a signing certificate."""
        cert, verdict_of = self.reader.load(fingerprint)
        now = self.clock()
        certifiers: set[Fingerprint] = set()
        for uid in cert.user_ids:
            for state in certification_states(uid, cert, verdict_of, now, lambda f: self.reader.issuer_state(f, now)):
                if state.counts and state.verdict.issuer:
                    certifiers.add(state.verdict.issuer)
        return ev.SignerProfile(fingerprint, self._name(fingerprint), cert.primary.created, frozenset(certifiers))

    def _standing_key_events(self, upstream: Upstream, keyring: set[Fingerprint]) -> list[ev.EventDraft]:
        """Expiring, revoked or weak keys among those this upstream signs with."""
        signers = {row[0] for row in self.store.conn.execute(
            "SELECT DISTINCT signer FROM release_signers WHERE upstream = ? AND signer IS NOT NULL", (upstream.name,))}
        drafts: list[ev.EventDraft] = []
        now = self.clock()
        for fingerprint in sorted(keyring | signers):
            row = self.store.conn.execute("SELECT expires, revoked, findings FROM certs WHERE fingerprint = ?",
                                          (fingerprint,)).fetchone()
            if row is None:
                continue
            drafts += ev.key_state_events(upstream.name, fingerprint, self._name(fingerprint), row[0], bool(row[1]),
                                          json.loads(row[2] or "[]"), now, self.config.monitor.key_expiring_days)
        return drafts

    # --- releases --------------------------------------------------------------------------------

    async def _poll_index(self, fetcher: Fetcher, upstream: Upstream, keyring: set[Fingerprint],
                          report: PollReport) -> None:
        page = await fetcher.get(upstream.index, max_bytes=self.config.monitor.max_index_bytes)
        digest = hashlib.sha256(page.body).hexdigest()
        processed = self.store.conn.execute("SELECT index_digest FROM upstream_state WHERE name = ?",
                                            (upstream.name,)).fetchone()
        if processed is not None and processed[0] == digest:
            return
        known = {row[0] for row in self.store.conn.execute("SELECT version FROM releases WHERE upstream = ?",
                                                           (upstream.name,))}
        found = find_releases(page.body, page.final_url, upstream.pattern, upstream.signature_suffixes)
        fresh = [r for r in found if r.version not in known]
        if not known and len(fresh) > upstream.backfill:
            # First poll of a long history: check the newest `backfill` releases, note the rest as not checked.
            skipped, fresh = fresh[: len(fresh) - upstream.backfill], fresh[len(fresh) - upstream.backfill:]
            with self.store.transaction() as conn:
                for release in skipped:
                    self._save_release(conn, upstream, release.version, release.artifact_url, None, None, None,
                                       "not-checked", "index")
        for release in fresh:
            seen = await self._check_release(fetcher, upstream, release)
            report.new_releases.append(release.version)
            self._record(report, self._release_drafts(upstream, seen, keyring))
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO upstream_state (name, index_digest) VALUES (?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET index_digest = excluded.index_digest", (upstream.name, digest))

    def _release_drafts(self, upstream: Upstream, seen: ev.ReleaseSeen, keyring: set[Fingerprint]
                        ) -> list[ev.EventDraft]:
        earlier = [r for r in self.release_history(upstream.name) if version_key(r.version) < version_key(seen.version)]
        return ev.release_events(upstream.name, seen, earlier, keyring, self.profile)

    def release_history(self, name: str) -> list[ev.ReleaseSeen]:
        """Every checked release of an upstream with its signers, oldest version first."""
        signers: dict[str, list[ev.SignerSeen]] = {}
        for version, signer, key_id, status, in_keyring, reason, created in self.store.conn.execute(
                "SELECT version, signer, issuer_key_id, status, in_keyring, reason, created FROM release_signers "
                "WHERE upstream = ?", (name,)):
            holds = status == "good" and reason is None
            signers.setdefault(version, []).append(ev.SignerSeen(signer, key_id, status, holds, reason, created))
        releases = [ev.ReleaseSeen(v, s, tuple(signers.get(v, ()))) for v, s in self.store.conn.execute(
            "SELECT version, signature_status FROM releases WHERE upstream = ? AND signature_status != 'not-checked'",
            (name,))]
        return sorted(releases, key=lambda r: version_key(r.version))

    async def _check_release(self, fetcher: Fetcher, upstream: Upstream, release: Release) -> ev.ReleaseSeen:
        signature_url, signature = await self._find_signature(fetcher, upstream, release)
        if signature is None:
            with self.store.transaction() as conn:
                self._save_release(conn, upstream, release.version, release.artifact_url, None, None, None,
                                   "unsigned", "index")
            return ev.ReleaseSeen(release.version, "unsigned")
        try:
            sigs = read_detached_signatures(signature, signature_url)
        except InputError as exc:
            return self._save_malformed(upstream, release.version, release.artifact_url, signature_url, signature,
                                        str(exc), "index")
        sink, size = await fetcher.stream(release.artifact_url, lambda: _ArtifactSink(sigs),
                                          max_bytes=self.config.monitor.max_artifact_bytes)
        verdicts = judge(sigs, sink.signatures.digests(), self.signers, self.reader.state, self.clock())
        return self._save_checked(upstream, release.version, release.artifact_url, sink.sha256.hexdigest(), size,
                                  signature_url, "index", verdicts)

    def _save_checked(self, upstream: Upstream, version: str, artifact: str, sha256: str | None, size: int | None,
                      signature_url: str | None, source: str, verdicts) -> ev.ReleaseSeen:
        keyring = self._keyring_fingerprints(upstream)
        seen = []
        with self.store.transaction() as conn:
            self._save_release(conn, upstream, version, artifact, sha256, size, signature_url, "signed", source)
            for verdict in verdicts:
                sig = verdict.sig
                reason = verdict.reason if verdict.status != "good" else verdict.why_invalid
                conn.execute("INSERT OR REPLACE INTO release_signers (upstream, version, sig_digest, signer,"
                             " signing_key, issuer_key_id, created, hash_algorithm, status, in_keyring, reason)"
                             " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             (upstream.name, version, sig.digest, verdict.signer, verdict.signing_key, verdict.key_id,
                              sig.created, sig.hash_algorithm, verdict.status, int(verdict.signer in keyring), reason))
                seen.append(ev.SignerSeen(verdict.signer, verdict.key_id, verdict.status, verdict.holds,
                                          verdict.why_invalid or verdict.reason, sig.created))
        return ev.ReleaseSeen(version, "signed", tuple(seen))

    def _save_malformed(self, upstream: Upstream, version: str, artifact: str, signature_url: str | None,
                        signature: bytes, problem: str, source: str) -> ev.ReleaseSeen:
        """A "signature" that is not one (HTML, garbage, an inline message) is a bad signature."""
        with self.store.transaction() as conn:
            self._save_release(conn, upstream, version, artifact, None, None, signature_url, "malformed", source)
            conn.execute("INSERT OR REPLACE INTO release_signers (upstream, version, sig_digest, signer,"
                         " signing_key, issuer_key_id, created, hash_algorithm, status, in_keyring, reason)"
                         " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         (upstream.name, version, hashlib.sha256(signature).hexdigest(), None, None, None, None,
                          None, "bad", 0, problem))
        return ev.ReleaseSeen(version, "signed", (ev.SignerSeen(None, None, "bad", False, problem, None),))

    def _keyring_fingerprints(self, upstream: Upstream) -> set[Fingerprint]:
        path = self.keyring_path(upstream)
        if path is None or not path.exists():
            return set()
        return {Fingerprint(r[0]) for r in self.store.conn.execute(
            "SELECT DISTINCT v.fingerprint FROM sightings s JOIN cert_versions v ON v.digest = s.version "
            "WHERE s.source = ? OR s.source LIKE ?", (str(path), f"{path}/%"))}

    @staticmethod
    def _save_release(conn, upstream: Upstream, version: str, artifact: str | None, sha256: str | None,
                      size: int | None, signature_url: str | None, status: str, source: str) -> None:
        conn.execute("INSERT OR REPLACE INTO releases (upstream, version, artifact_url, artifact_sha256,"
                     " artifact_size, signature_url, signature_status, discovered, source)"
                     " VALUES (?,?,?,?,?,?,?,?,?)",
                     (upstream.name, version, artifact, sha256, size, signature_url, status, now_ts(), source))

    async def _find_signature(self, fetcher: Fetcher, upstream: Upstream, release: Release
                              ) -> tuple[str | None, bytes | None]:
        """The listed signature, else the artifact name plus each suffix; 404 everywhere means unsigned."""
        candidates = list(release.signature_urls) or [release.artifact_url + s for s in upstream.signature_suffixes]
        for url in candidates:
            try:
                fetched = await fetcher.get(url, max_bytes=self.config.monitor.max_signature_bytes, conditional=False)
            except FetchError as exc:
                if exc.status == 404:
                    continue
                raise
            return url, fetched.body
        return None, None

    def _check_tag(self, upstream: Upstream, tag, version: str) -> ev.ReleaseSeen:
        where = f"{upstream.git} tag {tag.name}"
        try:
            sigs = read_detached_signatures(tag.signature, where)
        except InputError as exc:
            return self._save_malformed(upstream, version, f"git:{tag.name}", None, tag.signature, str(exc), "git")
        hasher = DataHasher(sigs)
        hasher.update(tag.payload)
        verdicts = judge(sigs, hasher.digests(), self.signers, self.reader.state, self.clock())
        return self._save_checked(upstream, version, f"git:{tag.name}", tag.object, None, None, "git", verdicts)

    # --- git -------------------------------------------------------------------------------------

    async def _poll_git(self, upstream: Upstream, keyring: set[Fingerprint], report: PollReport) -> None:
        cache = self.root / ".cache" / "git"
        tags = await asyncio.to_thread(read_signed_tags, upstream.git, cache, upstream.tag_pattern)
        known = {row[0] for row in self.store.conn.execute(
            "SELECT version FROM releases WHERE upstream = ? AND source = 'git'", (upstream.name,))}
        if upstream.tag_pattern:
            tags = [t for t in tags if t.version is not None]
        fresh = [t for t in tags if (t.version or t.name) not in known]
        fresh.sort(key=lambda t: version_key(t.version or t.name))
        for tag in fresh:
            version = tag.version or tag.name
            if tag.signature is None or tag.signature_kind != "openpgp":
                with self.store.transaction() as conn:
                    status = "unsigned" if tag.signature is None else f"unsupported-{tag.signature_kind}"
                    self._save_release(conn, upstream, version, f"git:{tag.name}", None, None, None, status, "git")
                seen = ev.ReleaseSeen(version, "unsigned")
            else:
                seen = self._check_tag(upstream, tag, version)
            report.new_releases.append(version)
            self._record(report, self._release_drafts(upstream, seen, keyring))
