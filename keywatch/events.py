"""Turning what a poll saw into events: the signals the XZ packagers had and nobody raised.

Pure functions decide (tested without servers); `record` stores them,
de-duplicated by a key that names the fact, so polling again raises nothing.

Release rules, for release R whose holding signatures were made by the set of
certificates S, the latest earlier release with any holding signature P (its
signers S_prev), every certificate that ever signed an earlier release H, and
the packaging keyring K (the approved baseline):

- `bad_signature` (critical): a signature on R names a known key but does not
  verify over the file.
- `unsigned_release` (high): R has no signature at all.
- `signer_key_unavailable` (high): a signature on R is by a key no source
  gave us; nobody can check it.
- `invalid_signature` (high): good maths, but the key was expired, revoked,
  unbound or not allowed to sign when it signed (or the hash is rejected).
- `new_signer` (high): s in S, s not in K and not in H — a key that never
  signed this upstream and that the packagers never approved.
- `co_signer_added` (warning; high when s is new): S shares a signer with
  S_prev and adds s — the extra signature gpgv and makepkg accept silently.
- `signer_stopped` (warning): S shares a signer with S_prev but s in S_prev is
  missing.
- `signer_changed` (high): S and S_prev share no signer — the key that signs
  releases changed.
- `handover_suspected` (critical): a signer change where a new signer is
  certified by no key outside the outgoing signers (certified only by the
  previous maintainer, or by nobody) — the XZ pattern. The message says how
  old the key was when it first signed a release.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .types import Fingerprint, iso

SEVERITIES = ("info", "warning", "high", "critical")


@dataclass(frozen=True)
class EventDraft:
    kind: str
    severity: str
    upstream: str
    message: str
    dedup_key: str
    version: str | None = None
    fingerprint: str | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SignerSeen:
    """One signature on a release, as the event rules need it."""

    signer: Fingerprint | None
    key_id: str | None
    status: str  # good | bad | issuer-unknown
    holds: bool  # good and valid when it signed
    why: str | None
    created: int | None


@dataclass(frozen=True)
class ReleaseSeen:
    version: str
    signature_status: str  # signed | unsigned | unavailable
    signers: tuple[SignerSeen, ...] = ()

    @property
    def holding(self) -> set[Fingerprint]:
        return {s.signer for s in self.signers if s.holds and s.signer is not None}


@dataclass(frozen=True)
class SignerProfile:
    """What the handover rule needs to know about a signing key."""

    fingerprint: Fingerprint
    name: str
    created: int
    certifiers: frozenset[Fingerprint]  # issuers of verified certifications that count now


def _short(fpr: str | None) -> str:
    return fpr if fpr else "unknown key"


def release_events(upstream: str, release: ReleaseSeen, earlier: list[ReleaseSeen], keyring: set[Fingerprint],
                   profile: Callable[[Fingerprint], SignerProfile]) -> list[EventDraft]:
    """Events for one newly seen release, given the releases before it (oldest first)."""
    version = release.version
    drafts: list[EventDraft] = []

    def add(kind: str, severity: str, message: str, fingerprint: str | None = None, **details) -> None:
        key = f"{kind}|{upstream}|{version}|{fingerprint or ''}"
        drafts.append(EventDraft(kind, severity, upstream, message, key, version, fingerprint, details))

    if release.signature_status == "unsigned":
        add("unsigned_release", "high", f"{upstream} {version} has no signature")
    for seen in release.signers:
        if seen.status == "bad":
            add("bad_signature", "critical",
                f"{upstream} {version}: a signature naming {_short(seen.signer or seen.key_id)} does not verify",
                seen.signer or seen.key_id)
        elif seen.status == "issuer-unknown":
            add("signer_key_unavailable", "high",
                f"{upstream} {version} is signed by key {seen.key_id}, which no key source provides",
                seen.key_id)
        elif not seen.holds:
            add("invalid_signature", "high",
                f"{upstream} {version}: signature by {seen.signer} does not hold: {seen.why}", seen.signer)
    signers = release.holding
    history: set[Fingerprint] = set().union(*(r.holding for r in earlier)) if earlier else set()
    previous = next((r for r in reversed(earlier) if r.holding), None)
    for signer in sorted(signers - history - keyring):
        who = profile(signer)
        add("new_signer", "high",
            f"{upstream} {version} is signed by {signer} ({who.name}), a key that never signed {upstream} "
            "before and is not in the packaging keyring", signer)
    if previous is None or not signers:
        return drafts
    before = previous.holding
    if signers & before:
        for signer in sorted(signers - before):
            severity = "warning" if signer in history or signer in keyring else "high"
            add("co_signer_added", severity,
                f"{upstream} {version} carries an extra signature by {signer} ({profile(signer).name}) beside "
                f"the known signer(s) of {previous.version}", signer, previous_version=previous.version)
        for signer in sorted(before - signers):
            add("signer_stopped", "warning",
                f"{signer} ({profile(signer).name}) signed {upstream} {previous.version} but not {version}",
                signer, previous_version=previous.version)
        return drafts
    add("signer_changed", "high",
        f"the key that signs {upstream} changed at {version}: {', '.join(sorted(signers))} instead of "
        f"{', '.join(sorted(before))} ({previous.version})",
        ",".join(sorted(signers)), previous_version=previous.version, previous_signers=sorted(before))
    first_signature = {s.signer: s.created for s in release.signers if s.holds}
    for signer in sorted(signers - history):
        who = profile(signer)
        outside = who.certifiers - before - {signer}
        if outside:
            continue
        vouched = "only by the outgoing signer" if who.certifiers & before else "by nobody"
        age_days = max(0, ((first_signature.get(signer) or who.created) - who.created) // 86400)
        add("handover_suspected", "critical",
            f"possible maintainer handover in {upstream} at {version}: new signing key {signer} ({who.name}) is "
            f"certified {vouched}; it was {age_days} days old when it first signed a release",
            signer, previous_signers=sorted(before), certifiers=sorted(who.certifiers), key_age_days=age_days)
    return drafts


def key_change_events(upstream: str, fingerprint: Fingerprint, name: str, diff: dict, digest: str) -> list[EventDraft]:
    """Events for a new version of a key the upstream uses (from `diff.diff_certificates`)."""
    drafts = []

    def add(kind: str, severity: str, message: str, **details) -> None:
        drafts.append(EventDraft(kind, severity, upstream, message, f"{kind}|{upstream}|{fingerprint}|{digest}",
                                 None, fingerprint, details))

    for uid in diff["user_ids_added"]:
        add("uid_added", "warning", f"{fingerprint} ({name}) gained user ID {uid!r}", user_id=uid)
    for uid in diff["user_ids_removed"]:
        add("uid_removed", "warning", f"{fingerprint} ({name}) lost user ID {uid!r}", user_id=uid)
    for uid in diff["user_ids_revoked"]:
        add("uid_revoked", "warning", f"{fingerprint} ({name}) revoked user ID {uid!r}", user_id=uid)
    for sub in diff["subkeys_added"]:
        add("subkey_added", "warning", f"{fingerprint} ({name}) gained subkey {sub}", subkey=sub)
    if diff["expiry_changed"]:
        change = diff["expiry_changed"]
        add("expiry_changed", "info", f"{fingerprint} ({name}) expiry moved from {change['from'] or 'never'} "
            f"to {change['to'] or 'never'}", **change)
    if diff["primary_revoked"]:
        # Same fact, same key as the standing check's: one revocation, one event.
        drafts.append(EventDraft("key_revoked", "critical", upstream, f"{fingerprint} ({name}) has been revoked",
                                 f"key_revoked|{upstream}|{fingerprint}", None, fingerprint))
    return drafts


def key_state_events(upstream: str, fingerprint: Fingerprint, name: str, expires: int | None, revoked: bool,
                     findings: Iterable[dict], at: int, expiring_days: int) -> list[EventDraft]:
    """Standing problems of a key the upstream signs with: expiring, revoked, weak."""
    drafts = []
    if revoked:
        drafts.append(EventDraft("key_revoked", "critical", upstream, f"{fingerprint} ({name}) is revoked",
                                 f"key_revoked|{upstream}|{fingerprint}", None, fingerprint))
    elif expires is not None and at < expires <= at + expiring_days * 86400:
        drafts.append(EventDraft("key_expiring", "warning", upstream,
                                 f"{fingerprint} ({name}) expires on {iso(expires)}",
                                 f"key_expiring|{upstream}|{fingerprint}|{expires}", None, fingerprint,
                                 {"expires": iso(expires)}))
    for finding in findings:
        if finding["code"] in ("short-key", "dsa-signing", "elgamal-signing", "v3-key", "weak-self-signature"):
            drafts.append(EventDraft("weak_algorithm", "warning" if finding["severity"] == "warning" else "high",
                                     upstream, f"{fingerprint} ({name}): {finding['message']}",
                                     f"weak_algorithm|{upstream}|{fingerprint}|{finding['code']}", None,
                                     fingerprint, {"finding": finding}))
    return drafts


def key_source_events(upstream: str, source: str, previous: set[str] | None, current: set[str]) -> list[EventDraft]:
    """The upstream's published key set (KEYS file, WKD answer…) changed."""
    if previous is None or previous == current:
        return []
    added, removed = sorted(current - previous), sorted(previous - current)
    parts = []
    if added:
        parts.append(f"added {', '.join(added)}")
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    key = f"key_source_changed|{upstream}|{source}|{','.join(sorted(current))}"
    return [EventDraft("key_source_changed", "high" if removed else "warning", upstream,
                       f"{upstream}'s key source {source} now holds a different set of keys: {'; '.join(parts)}",
                       key, None, None, {"source": source, "added": added, "removed": removed})]


def record(conn: sqlite3.Connection, drafts: Iterable[EventDraft], now: int) -> list[int]:
    """Store new events; a draft whose fact was already recorded is dropped. Returns the new ids."""
    new_ids = []
    for draft in drafts:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO events (kind, severity, upstream, version, fingerprint, created, message, details,"
            " dedup_key) VALUES (?,?,?,?,?,?,?,?,?)",
            (draft.kind, draft.severity, draft.upstream, draft.version, draft.fingerprint, now, draft.message,
             json.dumps(draft.details, sort_keys=True), draft.dedup_key))
        if cursor.rowcount:
            new_ids.append(cursor.lastrowid)
    return new_ids


def query(conn: sqlite3.Connection, *, upstream: str | None = None, since: int | None = None,
          severity: str | None = None, kind: str | None = None, limit: int | None = None) -> list[dict]:
    """Events, newest first; `severity` means that level or worse."""
    clauses, params = [], []
    if upstream:
        clauses.append("upstream = ?")
        params.append(upstream)
    if since is not None:
        clauses.append("created >= ?")
        params.append(since)
    if severity:
        clauses.append(f"severity IN ({','.join('?' * len(SEVERITIES[SEVERITIES.index(severity):]))})")
        params += SEVERITIES[SEVERITIES.index(severity):]
    if kind:
        clauses.append("kind = ?")
        params.append(kind)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT id, kind, severity, upstream, version, fingerprint, created, message, details FROM events {where} " \
          f"ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
    return [{"id": r[0], "kind": r[1], "severity": r[2], "upstream": r[3], "version": r[4], "fingerprint": r[5],
             "created": iso(r[6]), "message": r[7], "details": json.loads(r[8] or "{}")}
            for r in conn.execute(sql, params)]
