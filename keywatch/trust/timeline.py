"""Each certificate's validity over time, reduced to phases once, so the graph at any time is built from rows.

The trust graph asks, for thousands of certifications, "was the issuer a valid,
live, unrevoked key when it certified?" and "is the target valid now?". The
answers come from `openpgp.validity.cert_state` — the one place that states
what a self-signature, an expiry and a revocation mean — but calling it for
every certification would mean parsing every certificate on every query.

`cert_state` is piecewise constant in time: it can only change at the moment a
self-signature is made or expires, a revocation is made, the key is created,
or the hash policy stops accepting a hash. So for each certificate we evaluate
it once at each of those moments and store the result as a list of *phases*
(the state from one moment until the next) in the `trust_timelines` table,
keyed by fingerprint and the number of versions seen (versions are only ever
added, so a new version makes the row stale). Self-signature verdicts come
from the `signatures` rows; nothing is verified again.

`refresh` brings the table up to date (a one-time cost after an import: one
parse per new or changed certificate); `load` reads it.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_right
from dataclasses import dataclass

from ..types import Fingerprint

# A hard revocation holds for all time: its phases carry this instead of a creation time.
HARD = -1


@dataclass(frozen=True, slots=True)
class KeyPhase:
    """The primary key from `start` until the next phase."""

    start: int
    bound: bool  # a usable binding self-signature exists (Sequoia: the certificate is valid under the policy)
    expires: int | None
    revoked: int | None  # None, HARD, or the creation time of the soft revocation in effect

    def alive(self, at: int, created: int) -> bool:
        return self.bound and created <= at and (self.expires is None or at < self.expires)


@dataclass(frozen=True, slots=True)
class UserIdPhase:
    start: int
    bound: bool  # self-signed (a usable binding signature) at this time
    revoked: bool  # revoked by the key holder (soft: from its creation time, until a newer binding)


_NEVER_BOUND = KeyPhase(0, False, None, None)


@dataclass(slots=True)
class CertTimeline:
    fingerprint: Fingerprint
    created: int
    key_starts: list[int]
    key_phases: list[KeyPhase]
    user_ids: dict[bytes, tuple[list[int], list[UserIdPhase]]]

    def key_at(self, at: int) -> KeyPhase:
        index = bisect_right(self.key_starts, at) - 1
        return self.key_phases[index] if index >= 0 else _NEVER_BOUND

    def usable_at(self, at: int) -> bool:
        """Bound, alive and not revoked at `at`: what an issuer or a certified key must be when certifying."""
        phase = self.key_at(at)
        return phase.alive(at, self.created) and phase.revoked is None



def _decode(fingerprint: str, body: str) -> CertTimeline:
    doc = json.loads(body)
    key_phases = [KeyPhase(s, bool(b), e, r) for s, b, e, r in doc["key"]]
    user_ids = {}
    for raw_hex, phases in doc["uids"].items():
        decoded = [UserIdPhase(s, bool(b), bool(r)) for s, b, r in phases]
        user_ids[bytes.fromhex(raw_hex)] = ([p.start for p in decoded], decoded)
    return CertTimeline(Fingerprint(fingerprint), doc["created"], [p.start for p in key_phases], key_phases, user_ids)


def load(conn: sqlite3.Connection) -> dict[Fingerprint, CertTimeline]:
    """Every stored timeline (call `refresh` first)."""
    return {Fingerprint(f): _decode(f, body) for f, body in conn.execute("SELECT fingerprint, body FROM trust_timelines")}


def stale(conn: sqlite3.Connection) -> list[Fingerprint]:
    """Certificates whose timeline is missing or older than their newest version."""
    query = ("SELECT v.fingerprint FROM (SELECT fingerprint, count(*) AS n FROM cert_versions GROUP BY fingerprint) v "
             "LEFT JOIN trust_timelines t ON t.fingerprint = v.fingerprint WHERE t.versions IS NOT v.n")
    return [Fingerprint(f) for f, in conn.execute(query)]


def refresh(store) -> int:
    """Compute the missing or stale timelines (in parallel when there are many); returns how many."""
    from ..parallel import fork_map

    todo = stale(store.conn)
    if not todo:
        return 0
    # Everything a worker needs is read here: a forked worker must not use the parent's SQLite connection.
    inputs = [_Inputs(store, fingerprint) for fingerprint in todo]
    chunks = [inputs[i:i + 32] for i in range(0, len(inputs), 32)]
    rows = [row for chunk in fork_map(_rows_for, chunks, parallel=len(inputs) > 64) for row in chunk]
    with store.transaction() as conn:
        conn.executemany("INSERT OR REPLACE INTO trust_timelines (fingerprint, versions, body) VALUES (?,?,?)", rows)
    return len(rows)


class _Inputs:
    """One certificate's stored versions and self-signature verdicts (quacks like the store for ingest)."""

    def __init__(self, store, fingerprint: Fingerprint) -> None:
        self.fingerprint = fingerprint
        self.versions = store.version_bytes_of(fingerprint)
        self.recorded = {placement: (status, issuer) for placement, status, issuer in store.conn.execute(
            "SELECT placement, status, issuer FROM signatures WHERE cert_fingerprint = ? AND issuer = cert_fingerprint",
            (fingerprint,))}

    def version_bytes_of(self, fingerprint: Fingerprint) -> list[bytes]:
        return self.versions


def _rows_for(chunk: list[_Inputs]) -> list[tuple[str, int, str]]:
    # Imported here: only a refresh needs the parser and the validity rules.
    from ..ingest import load_certificate, placed_signatures, placement_id
    from ..openpgp.verify import BAD, Verdict

    rows = []
    for inputs in chunk:
        cert = load_certificate(inputs, inputs.fingerprint)
        verdicts = {}
        for component, sig in placed_signatures(cert):
            status, issuer = inputs.recorded.get(placement_id(inputs.fingerprint, component, sig), (BAD, None))
            verdicts[sig] = Verdict(status, issuer)
        body = json.dumps(timeline_of(cert, verdicts.__getitem__), separators=(",", ":"))
        rows.append((inputs.fingerprint, len(inputs.versions), body))
    return rows


def timeline_of(cert, verdict_of) -> dict:
    """The phases of one certificate: `cert_state` at every moment it can change."""
    from .. import policy
    from ..openpgp.validity import cert_state

    moments = {cert.primary.created}
    hashes = set()
    for sig in _self_signatures(cert, verdict_of):
        if sig.created is not None:
            moments.add(sig.created)
            if sig.expires is not None:
                moments.add(sig.expires)
        hashes.add(sig.hash_algorithm)
    for algorithm in hashes:
        for cutoff in policy.HASH_CUTOFFS.get(algorithm, ()):
            if cutoff is not None:
                moments.update((cutoff, cutoff + policy.REVOCATION_TOLERANCE))
    key: list[list] = []
    uids: dict[str, list[list]] = {}
    for moment in [0, *sorted(m for m in moments if m > 0)]:
        state = cert_state(cert, verdict_of, moment)
        revoked = state.key.revoked
        phase = [moment, int(state.key.binding is not None), state.key.expires,
                 None if revoked is None else (HARD if revoked.hard else revoked.created)]
        if not key or key[-1][1:] != phase[1:]:
            key.append(phase)
        for uid_state in state.user_ids:
            if uid_state.component.is_attribute:
                continue
            entry = [moment, int(uid_state.binding is not None), int(uid_state.revoked is not None)]
            phases = uids.setdefault(uid_state.component.value.hex(), [])
            if not phases or phases[-1][1:] != entry[1:]:
                phases.append(entry)
    return {"created": cert.primary.created, "key": key, "uids": uids}


def _self_signatures(cert, verdict_of):
    own = cert.fingerprint
    for sig in [*cert.direct, *(sig for uid in cert.user_ids for sig in uid.signatures)]:
        if verdict_of(sig).issuer == own:
            yield sig
