"""The trust tables: rows derived once after an import, so the graph at any time is a few plain queries.

`graph.build` must answer "which certifications count at time t" for tens of
thousands of certifications in well under a second. Everything in that
question that does not depend on t is worked out here, once, whenever the
store has changed (new versions of certificates: that is also when
signatures get verified again), and kept in these tables (schema:
`store._v3_trust`):

- `trust_keys`, `trust_user_ids`: small integer ids for certificates and
  their text user IDs (user attributes and non-UTF-8 user IDs are no bindings);
- `trust_key_phases`, `trust_user_id_phases`: the validity phases of each
  (`timeline`), one row per phase, so "the state at t" is one indexed lookup;
- `trust_certifications`: every good third-party certification of a user ID,
  grouped by (target, user ID, issuer), in the order target, issuer, user ID
  (ids follow fingerprint order), newest first within a group, with
  - `ends`: when it stops counting by itself — its expiry, or the day the
    policy stops accepting its hash for certifications, whichever is first;
  - `flags`: 1 exportable, 2 its issuer was usable (bound, alive, not
    revoked) when it was made, 4 so was the certified key;
  - `revoked` / `revoked_after`: the first revocation of it by its issuer
    made at or after / strictly after it;
  - `newer`: when the next newer certification in its group was made (the one
    before it in the group order), so "the newest made by t" is a filter;
  - depth, amount and regexes, with the defaults of a plain certification.

`trust_state` remembers what the tables were derived from (the number of
certificate versions, this module's derivation version and the policy's
cut-offs), so they are rebuilt exactly when that changes.
"""

from __future__ import annotations

import hashlib
import json

from .. import policy
from . import timeline

DERIVATION = "2"
GOOD_CERTIFICATIONS = (
    "SELECT cert_fingerprint, component, issuer, sig_type, created, expires, hash_algorithm, trust_depth,"
    " trust_amount, regexes, exportable, sig_digest FROM signatures"
    " WHERE status = 'good' AND sig_type IN (16, 17, 18, 19, 48) AND issuer IS NOT NULL"
    " AND issuer <> cert_fingerprint AND component LIKE 'uid:%'"
)
FLAG_EXPORTABLE, FLAG_ISSUER_USABLE, FLAG_TARGET_USABLE = 1, 2, 4


def _policy_fingerprint() -> str:
    described = repr(sorted(policy.HASH_CUTOFFS.items())) + repr(policy.REVOCATION_TOLERANCE)
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def _source(conn) -> str:
    versions = conn.execute("SELECT count(*) FROM cert_versions").fetchone()[0]
    return f"{versions}:{DERIVATION}:{_policy_fingerprint()}"


def refresh(store) -> bool:
    """Bring the trust tables up to date with the store; True when they were rebuilt."""
    conn = store.conn
    source = _source(conn)
    row = conn.execute("SELECT value FROM trust_state WHERE name = 'source'").fetchone()
    if row is not None and row[0] == source:
        return False
    previous_policy = conn.execute("SELECT value FROM trust_state WHERE name = 'policy'").fetchone()
    if previous_policy is not None and previous_policy[0] != _policy_fingerprint():
        with store.transaction() as writing:
            writing.execute("DELETE FROM trust_timelines")  # the phases depend on the policy's cut-offs
    timeline.refresh(store)
    lines = timeline.load(conn)
    with store.transaction() as writing:
        _rebuild(writing, lines)
        writing.executemany("INSERT OR REPLACE INTO trust_state (name, value) VALUES (?, ?)",
                            [("source", source), ("policy", _policy_fingerprint())])
    return True


def _rebuild(conn, lines: dict) -> None:
    for table in ("trust_keys", "trust_key_phases", "trust_user_ids", "trust_user_id_phases",
                  "trust_certifications"):
        conn.execute(f"DELETE FROM {table}")
    key_ids: dict[str, int] = {}
    user_ids: dict[tuple[str, bytes], int] = {}
    key_rows, key_phases, uid_rows, uid_phases = [], [], [], []
    for number, (fingerprint, line) in enumerate(sorted(lines.items()), 1):
        key_ids[fingerprint] = number
        key_rows.append((number, fingerprint, line.created))
        key_phases += [(number, p.start, int(p.bound), p.expires, p.revoked) for p in line.key_phases]
        for raw, (_, phases) in sorted(line.user_ids.items()):
            if not _is_text(raw):
                continue
            uid_number = len(uid_rows) + 1
            user_ids[(fingerprint, raw)] = uid_number
            uid_rows.append((uid_number, number, raw))
            uid_phases += [(uid_number, p.start, int(p.bound), int(p.revoked)) for p in phases]
    conn.executemany("INSERT INTO trust_keys (id, fingerprint, created) VALUES (?,?,?)", key_rows)
    conn.executemany("INSERT INTO trust_key_phases (key, start, bound, expires, revoked) VALUES (?,?,?,?,?)",
                     key_phases)
    conn.executemany("INSERT INTO trust_user_ids (id, key, raw) VALUES (?,?,?)", uid_rows)
    conn.executemany("INSERT INTO trust_user_id_phases (user_id, start, bound, revoked) VALUES (?,?,?,?)",
                     uid_phases)

    groups: dict[tuple[int, int, int], list[tuple]] = {}
    revocations: dict[tuple[int, int, int], list[int]] = {}
    for row in conn.execute(GOOD_CERTIFICATIONS):
        target, component, issuer = row[0], row[1], row[2]
        if target not in key_ids or issuer not in key_ids:
            continue
        uid = user_ids.get((target, bytes.fromhex(component[4:])))
        if uid is None:
            continue
        group = (key_ids[target], uid, key_ids[issuer])
        if row[3] == 0x30:
            revocations.setdefault(group, []).append(row[4])
        else:
            groups.setdefault(group, []).append(row)
    rows = []
    # Grouped by target, then issuer (ids follow fingerprint order: the order the path search visits them in).
    for group in sorted(groups, key=lambda g: (g[0], g[2], g[1])):
        revoked = sorted(revocations.get(group, ()))
        newer = None
        for row in sorted(groups[group], key=lambda r: (r[4], r[11]), reverse=True):
            rows.append(_certification_row(group, row, newer, revoked, lines))
            newer = row[4]
    conn.executemany(
        "INSERT INTO trust_certifications (target, user_id, issuer, created, ends, flags, depth, amount, regexes,"
        " revoked, revoked_after, newer) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)


def _certification_row(group: tuple[int, int, int], row: tuple, newer: int | None, revoked: list[int],
                       lines: dict) -> tuple:
    target, issuer, created, expires, hash_algorithm = row[0], row[2], row[4], row[5], row[6]
    trust_depth, trust_amount, regexes, exportable = row[7], row[8], row[9], row[10]
    ends = expires
    if hash_algorithm not in policy.HASH_CUTOFFS:
        ends = 0  # the policy knows nothing of it: never accepted
    else:
        cutoff = policy.HASH_CUTOFFS[hash_algorithm][0]
        if cutoff is not None and (ends is None or cutoff < ends):
            ends = cutoff
    flags = (FLAG_EXPORTABLE if exportable else 0)
    flags |= FLAG_ISSUER_USABLE if lines[issuer].usable_at(created) else 0
    flags |= FLAG_TARGET_USABLE if lines[target].usable_at(created) else 0
    if trust_depth is None:
        depth, amount, scope = 0, 120, None
    else:
        depth, amount = trust_depth, (trust_amount if trust_amount is not None else 120)
        scope = regexes if regexes and json.loads(regexes) else None
    at_or_after = next((r for r in revoked if r >= created), None)
    after = next((r for r in revoked if r > created), None)
    return (*group, created, ends, flags, depth, amount, scope, at_or_after, after, newer)


def _is_text(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
