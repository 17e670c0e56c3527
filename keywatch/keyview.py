"""What `key show` reports: a certificate as of a time, every certification with its verdict.

The certificate shown is the merge of every version ever seen (see
`ingest.load_certificate`), so a stale copy served later cannot hide a
revocation. Verification comes from the cache: nothing is verified twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from . import policy
from .ingest import issuer_index_from_store, load_certificate
from .openpgp.cert import Certificate
from .openpgp.keymaterial import HASH_ALGORITHMS, PublicKey
from .openpgp.validity import CertState, KeyState, cert_state, certification_states
from .openpgp.verify import Verdict, Verifier
from .store import Store
from .types import Fingerprint, fingerprint_from_bytes, iso, key_id_from_bytes

KEY_FLAG_NAMES = ((0x01, "certify"), (0x02, "sign"), (0x04, "encrypt-communications"),
                  (0x08, "encrypt-storage"), (0x20, "authenticate"))


class CertificateReader:
    """Loads certificates from the store with their verdicts, caching issuer states per reference time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.verifier = Verifier(issuer_index_from_store(store), store.verification_cache())
        self._issuer_states: dict[tuple[Fingerprint, int], KeyState | None] = {}

    def load(self, fingerprint: Fingerprint) -> tuple[Certificate, Callable]:
        cert = load_certificate(self.store, fingerprint)
        verdicts = self.verifier.verify_certificates([cert])
        return cert, verdicts.__getitem__

    def state(self, fingerprint: Fingerprint, at: int) -> CertState:
        cert, verdict_of = self.load(fingerprint)
        return cert_state(cert, verdict_of, at)

    def issuer_state(self, fingerprint: Fingerprint, at: int) -> KeyState | None:
        cache_key = (fingerprint, at)
        if cache_key not in self._issuer_states:
            try:
                self._issuer_states[cache_key] = self.state(fingerprint, at).key
            except Exception:  # noqa: BLE001 - an issuer we cannot load simply does not count
                self._issuer_states[cache_key] = None
        return self._issuer_states[cache_key]


def _key_json(key: PublicKey) -> dict:
    return {
        "fingerprint": fingerprint_from_bytes(key.fingerprint),
        "key_id": key_id_from_bytes(key.key_id),
        "version": key.version,
        "algorithm": key.algorithm_name,
        "bits": key.bits,
        "curve": key.curve,
        "created": iso(key.created),
    }


def _flags(value: int | None) -> list[str]:
    if value is None:
        return []
    return [name for bit, name in KEY_FLAG_NAMES if value & bit]


def _revocation_json(revocation) -> dict | None:
    if revocation is None:
        return None
    return {"created": iso(revocation.created), "reason": revocation.reason, "hard": revocation.hard}


def describe(reader: CertificateReader, fingerprint: Fingerprint, at: int,
             expiry_warning_days: int = policy.DEFAULT_EXPIRY_WARNING_DAYS) -> dict:
    """The `key show --json` document (fields documented in README.md)."""
    cert, verdict_of = reader.load(fingerprint)
    state = cert_state(cert, verdict_of, at)
    findings = policy.certificate_findings(cert, state, at, expiry_warning_days)
    names = _issuer_names(reader.store)
    user_ids = []
    for uid_state in state.user_ids:
        uid = uid_state.component
        certifications = certification_states(uid, cert, verdict_of, at,
                                              lambda f: reader.issuer_state(f, at))
        user_ids.append({
            "value": uid.text,
            "is_attribute": uid.is_attribute,
            "primary": uid.value == state.key.primary_user_id,
            "valid": uid_state.binding is not None and uid_state.revoked is None,
            "revoked": uid_state.revoked is not None,
            "revocation": _revocation_json(uid_state.revoked),
            "self_signature": _self_signature_json(uid_state.binding),
            "certifications": [_certification_json(c.sig, c.verdict, c.counts, c.why_not, names)
                               for c in sorted(certifications, key=lambda c: (c.sig.created or 0))],
        })
    subkeys = []
    for sub_state in state.subkeys:
        sub = sub_state.component
        binding = sub_state.binding
        subkeys.append({
            **_key_json(sub.key),
            "expires": iso(sub_state.expires),
            "flags": _flags(binding.key_flags if binding is not None else None),
            "valid": binding is not None and sub_state.revoked is None
                     and (sub_state.expires is None or at < sub_state.expires),
            "revoked": sub_state.revoked is not None,
            "revocation": _revocation_json(sub_state.revoked),
        })
    return {
        **_key_json(cert.primary),
        "at": iso(at),
        "expires": iso(state.key.expires),
        "revoked": state.key.revoked is not None,
        "revocation": _revocation_json(state.key.revoked),
        "valid": state.key.valid(at),
        "primary_user_id": state.key.primary_user_id.decode("utf-8", "replace")
        if state.key.primary_user_id is not None else None,
        "findings": [f.as_json() for f in findings],
        "subkeys": subkeys,
        "user_ids": user_ids,
        "versions": len(reader.store.version_bytes_of(fingerprint)),
    }


def _self_signature_json(sig) -> dict | None:
    if sig is None:
        return None
    return {"created": iso(sig.created), "hash_algorithm": HASH_ALGORITHMS.get(sig.hash_algorithm, str(sig.hash_algorithm)),
            "expires": iso(sig.expires)}


def _certification_json(sig, verdict: Verdict, counts: bool, why_not: str | None, names: dict) -> dict:
    issuer = verdict.issuer
    if issuer is None and sig.issuer_key_ids:
        issuer = key_id_from_bytes(sig.issuer_key_ids[0])
    return {
        "issuer": issuer,
        "issuer_user_id": names.get(issuer),
        "created": iso(sig.created),
        "expires": iso(sig.expires),
        "hash_algorithm": HASH_ALGORITHMS.get(sig.hash_algorithm, str(sig.hash_algorithm)),
        "trust_depth": sig.trust_depth,
        "trust_amount": sig.trust_amount,
        "regexes": list(sig.regexes),
        "status": verdict.status,
        "counts": counts,
        "why_not": why_not,
    }


def _issuer_names(store: Store) -> dict[str, str | None]:
    return {row[0]: row[1] for row in store.conn.execute("SELECT fingerprint, primary_user_id FROM certs")}


def list_keys(store: Store) -> list[dict]:
    """`key list`: one summary per certificate, as recorded at its last import."""
    out = []
    for row in store.cert_rows():
        out.append({
            "fingerprint": row["fingerprint"],
            "primary_user_id": row["primary_user_id"],
            "algorithm": row["algorithm"],
            "bits": row["bits"],
            "curve": row["curve"],
            "created": iso(row["created"]),
            "expires": iso(row["expires"]),
            "revoked": bool(row["revoked"]),
            "valid": bool(row["valid"]),
            "findings": json.loads(row["findings"] or "[]"),
            "first_seen": iso(row["first_seen"]),
            "last_seen": iso(row["last_seen"]),
        })
    return out
