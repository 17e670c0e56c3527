"""The certification graph as of a time: which keys are there, and which certifications count, from store rows.

Nodes are the certificates that have a valid self-signature at the
reference time `at` (Sequoia: valid under the policy). Edges are
third-party certifications of user IDs that the verifier found `good`,
filtered by the rules below. Everything comes from the trust tables
(`tables`), derived from the `signatures` rows (issuer resolved, verdict,
times, trust depth/amount, regexes, exportable) and the validity phases of
each certificate; no certificate is parsed.

Which certifications count — the rules of `openpgp.validity` (what
`key show` reports as `counts`), applied at `at`:

1. it verified good, is a certification (0x10–0x13) by another key, and was
   made at or before `at`;
2. it is the newest certification its issuer made on that user ID by `at`
   (an older one is superseded, even when the newer one no longer counts);
3. it is exportable (a local signature is its maker's private note);
4. it has not expired by `at`;
5. its hash is still accepted for certifications at `at` (the policy);
6. its issuer did not revoke it (a 0x30 made at or after it, by `at`);
7. its issuer is, at `at`, a valid key, alive, and not revoked before it
   certified (a hard revocation: at any time).

Rules the web of trust adds (draft-nhw-web-of-trust §"Certification
Validity", and what sq-wot does); `key show` does not apply them:

8. the issuer was valid, alive and not revoked when it certified;
9. the certified key was valid, alive and not revoked when it was certified;
10. the certified user ID is self-signed at `at` (a binding the key holder
    never made is not authenticated) and is text (UTF-8); user attributes
    are not bindings.

`SQ_WOT_0_2` reproduces sq-wot 0.2.0 (the Debian package, our oracle)
instead, where it departs from rules 2, 3, 6 and 7 — see `Rules`. It exists
so the benchmark and the tests can show that every difference in the
amounts comes from these rules and not from the path search.

Trust signature parameters: no trust subpacket means depth 0 and amount 120;
depth 255 means unconstrained; regexes count only on a trust signature
(RFC 4880 §5.2.3.14 ties them to it, and Sequoia ignores them elsewhere).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..types import Fingerprint
from .timeline import HARD

UNCONSTRAINED = 1 << 30  # trust depth 255
FULL = 120

CERTIFICATION_TYPES = (0x10, 0x11, 0x12, 0x13)
CERTIFICATION_REVOCATION = 0x30


@dataclass(frozen=True)
class Rules:
    """Which certifications count; the two rule sets differ only in these five points."""

    name: str
    # Rule 7: the issuer must be alive at the reference time (keywatch, and the draft: "a node is created
    # for each non-revoked live certificate"). sq-wot 0.2 keeps expired keys as issuers if they were alive
    # when they certified.
    issuer_alive_at_reference: bool
    # Rule 2: the newest certification is chosen among all made by `at` (keywatch, GnuPG); sq-wot 0.2 chooses
    # among those that are still valid, so an expired newer certification brings an older one back.
    newest_among_valid_only: bool
    # sq-wot 0.2 keeps every certification an issuer made in the same second as its newest; keywatch keeps one.
    keep_simultaneous: bool
    # Rule 3: sq-wot 0.2 counts local (non-exportable) certifications.
    exportable_only: bool
    # Rule 6: a revocation made in the same second as the certification revokes it (keywatch); not in sq-wot.
    revocation_same_second: bool


KEYWATCH = Rules("keywatch", issuer_alive_at_reference=True, newest_among_valid_only=False,
                 keep_simultaneous=False, exportable_only=True, revocation_same_second=True)
SQ_WOT_0_2 = Rules("sq-wot-0.2", issuer_alive_at_reference=False, newest_among_valid_only=True,
                   keep_simultaneous=True, exportable_only=False, revocation_same_second=False)
RULES = {rules.name: rules for rules in (KEYWATCH, SQ_WOT_0_2)}


@dataclass(slots=True)
class Certification:
    """One counting certification: `issuer` vouches for (`target`, `user_id`)."""

    issuer: Fingerprint
    target: Fingerprint
    user_id: bytes
    created: int
    expires: int | None
    depth: int  # UNCONSTRAINED for 255
    amount: int
    regexes: tuple[str, ...]  # empty: no scope


@dataclass(slots=True)
class Node:
    fingerprint: Fingerprint
    # Authentication needs the key valid, unexpired and unrevoked at `at` (intermediate keys only when certifying).
    target_ok: bool
    user_ids: dict[bytes, bool]  # self-signed text user IDs at `at` -> revoked by the key holder


@dataclass
class CertificationGraph:
    at: int
    rules: Rules
    nodes: dict[Fingerprint, Node]
    certifications_on: dict[Fingerprint, list[Certification]]  # by target, sorted by issuer
    certifications_by: dict[Fingerprint, list[Certification]] = field(default_factory=dict)  # by issuer

    def __post_init__(self) -> None:
        if not self.certifications_by:
            for edges in self.certifications_on.values():
                for edge in edges:
                    self.certifications_by.setdefault(edge.issuer, []).append(edge)

    def certifiers(self, fingerprint: Fingerprint) -> set[Fingerprint]:
        return {edge.issuer for edge in self.certifications_on.get(fingerprint, ())}

    def bindings(self) -> Iterable[tuple[Fingerprint, bytes]]:
        """Every (certificate, self-signed user ID) at `at`, in fingerprint then user ID order."""
        for fingerprint in sorted(self.nodes):
            for user_id in sorted(self.nodes[fingerprint].user_ids):
                yield fingerprint, user_id


_KEYS_AT = (
    "SELECT k.id, k.fingerprint, k.created, p.bound, p.expires, p.revoked FROM trust_keys k"
    " JOIN trust_key_phases p ON p.key = k.id"
    " AND p.start = (SELECT max(start) FROM trust_key_phases q WHERE q.key = k.id AND q.start <= :at)"
    " WHERE p.bound = 1"
)
_USER_IDS_AT = (
    "SELECT u.id, u.key, u.raw, p.revoked FROM trust_user_ids u JOIN trust_user_id_phases p ON p.user_id = u.id"
    " AND p.start = (SELECT max(start) FROM trust_user_id_phases q WHERE q.user_id = u.id AND q.start <= :at)"
    " WHERE p.bound = 1"
)
_COLUMNS = "target, user_id, issuer, created, ends, flags, depth, amount, regexes, revoked, revoked_after"
# keywatch's rules 1-6 as a filter: the newest certification of each group made by `at`, still valid.
_KEYWATCH_ROWS = (
    f"SELECT {_COLUMNS} FROM trust_certifications WHERE created <= :at AND (newer IS NULL OR newer > :at)"
    " AND (ends IS NULL OR ends > :at) AND (revoked IS NULL OR revoked > :at) AND flags = 7 ORDER BY rowid"
)
_ALL_ROWS = f"SELECT {_COLUMNS} FROM trust_certifications WHERE created <= :at ORDER BY rowid"
NEVER, ALWAYS = -(1 << 62), 1 << 62


def build(conn: sqlite3.Connection, at: int, rules: Rules = KEYWATCH) -> CertificationGraph:
    """The graph at `at` (call `tables.refresh(store)` first).

    Rows come grouped by target and then issuer in fingerprint order, so every target's list of
    certifications is in the order the path search must visit them.
    """
    fingerprints: dict[int, Fingerprint] = {}
    # Rule 7 as one number per key: its certifications made before this time count (ALWAYS, or the
    # creation of a soft revocation; NEVER when it is not alive at `at` or hard-revoked).
    certifies_before: dict[int, int] = {}
    nodes: dict[Fingerprint, Node] = {}
    for key, fingerprint, created, _, expires, revoked in conn.execute(_KEYS_AT, {"at": at}):
        fingerprint = Fingerprint(fingerprint)
        fingerprints[key] = fingerprint
        alive = created <= at and (expires is None or at < expires)
        if not rules.issuer_alive_at_reference:
            certifies_before[key] = ALWAYS
        elif not alive or revoked == HARD:
            certifies_before[key] = NEVER
        else:
            certifies_before[key] = ALWAYS if revoked is None else revoked
        nodes[fingerprint] = Node(fingerprint, alive and revoked is None, {})
    user_ids: dict[int, bytes] = {}
    for uid, key, raw, revoked in conn.execute(_USER_IDS_AT, {"at": at}):
        if key in fingerprints:
            user_ids[uid] = raw
            nodes[fingerprints[key]].user_ids[raw] = bool(revoked)

    edges: dict[Fingerprint, list[Certification]] = {}
    if rules == KEYWATCH:
        selected = conn.execute(_KEYWATCH_ROWS, {"at": at})
    else:
        selected = _select(conn.execute(_ALL_ROWS, {"at": at}), at, rules)
    current, listed = None, []
    for target, uid, issuer, created, ends, flags, depth, amount, regexes, _, _ in selected:
        user_id = user_ids.get(uid)
        if user_id is None or created >= certifies_before.get(issuer, NEVER) or target not in fingerprints:
            continue  # rule 10, rule 7, and both keys must be nodes at `at`
        if target != current:
            current = target
            listed = edges.setdefault(fingerprints[target], [])
        listed.append(Certification(fingerprints[issuer], fingerprints[target], user_id, created, ends,
                                    UNCONSTRAINED if depth == 255 else depth, amount,
                                    tuple(json.loads(regexes)) if regexes else ()))
    return CertificationGraph(at, rules, nodes, edges)


def _select(rows: Iterable[tuple], at: int, rules: Rules) -> Iterable[tuple]:
    """Rules 1-6 for any rule set, on rows grouped by (target, user ID, issuer), newest first."""
    mask = 7 if rules.exportable_only else 6
    revoked_column = 9 if rules.revocation_same_second else 10
    group, chosen = None, None
    for row in rows:
        key = (row[0], row[1], row[2])
        if key != group:
            group, chosen = key, None
        elif chosen is not None and (not rules.keep_simultaneous or row[3] < chosen):
            continue
        elif chosen is None and not rules.newest_among_valid_only:
            continue  # the newest was not valid: older ones stay superseded
        ends, revoked = row[4], row[revoked_column]
        valid = ((ends is None or ends > at) and (revoked is None or revoked > at) and row[5] & mask == mask)
        if valid:
            chosen = row[3]
            yield row
        elif not rules.newest_among_valid_only:
            chosen = None
