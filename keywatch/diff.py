"""What changed between two versions of one certificate.

Pure: takes two parsed certificates with their verdicts and a reference time
and says, in the words a packager uses, what happened — user IDs and subkeys
added, removed or revoked, expiry moved, the key revoked, certifications
added or removed and by whom. Monitoring turns these into events.
"""

from __future__ import annotations

from collections.abc import Callable

from .openpgp.cert import Certificate
from .openpgp.signature import CERTIFICATION_REVOCATION, CERTIFICATIONS, Signature
from .openpgp.validity import cert_state
from .openpgp.verify import Verdict
from .types import iso, key_id_from_bytes

VerdictOf = Callable[[Signature], Verdict]


def diff_certificates(old: Certificate, old_verdict: VerdictOf, new: Certificate, new_verdict: VerdictOf,
                      at: int) -> dict:
    """JSON-ready diff from `old` to `new`, both judged at `at`; empty lists mean no change."""
    old_state, new_state = cert_state(old, old_verdict, at), cert_state(new, new_verdict, at)
    old_uids = {u.component.value: u for u in old_state.user_ids}
    new_uids = {u.component.value: u for u in new_state.user_ids}
    old_subs = {s.component.fingerprint: s for s in old_state.subkeys}
    new_subs = {s.component.fingerprint: s for s in new_state.subkeys}
    result = {
        "user_ids_added": [new_uids[v].component.text for v in new_uids if v not in old_uids],
        "user_ids_removed": [old_uids[v].component.text for v in old_uids if v not in new_uids],
        "user_ids_revoked": [u.component.text for v, u in new_uids.items()
                             if u.revoked is not None and (v not in old_uids or old_uids[v].revoked is None)],
        "subkeys_added": [f for f in new_subs if f not in old_subs],
        "subkeys_removed": [f for f in old_subs if f not in new_subs],
        "subkeys_revoked": [f for f, s in new_subs.items()
                            if s.revoked is not None and (f not in old_subs or old_subs[f].revoked is None)],
        "subkey_expiry_changed": [{"fingerprint": f, "from": iso(old_subs[f].expires), "to": iso(s.expires)}
                                  for f, s in new_subs.items() if f in old_subs and old_subs[f].expires != s.expires],
        "expiry_changed": None,
        "primary_revoked": new_state.key.revoked is not None and old_state.key.revoked is None,
        "certifications_added": [],
        "certifications_removed": [],
    }
    if old_state.key.expires != new_state.key.expires:
        result["expiry_changed"] = {"from": iso(old_state.key.expires), "to": iso(new_state.key.expires)}
    old_certs = _third_party(old, old_verdict)
    new_certs = _third_party(new, new_verdict)
    result["certifications_added"] = [entry for key, entry in new_certs.items() if key not in old_certs]
    result["certifications_removed"] = [entry for key, entry in old_certs.items() if key not in new_certs]
    return result


def _third_party(cert: Certificate, verdict_of: VerdictOf) -> dict[tuple[bytes, str], dict]:
    """Third-party certifications and certification revocations, keyed by (user ID, signature)."""
    own = cert.fingerprint
    found = {}
    for uid in cert.user_ids:
        for sig in uid.signatures:
            if sig.sig_type not in CERTIFICATIONS and sig.sig_type != CERTIFICATION_REVOCATION:
                continue
            verdict = verdict_of(sig)
            if verdict.issuer == own:
                continue
            issuer = verdict.issuer or (key_id_from_bytes(sig.issuer_key_ids[0]) if sig.issuer_key_ids else None)
            found[(uid.value, sig.digest)] = {
                "user_id": uid.text,
                "issuer": issuer,
                "kind": "revocation" if sig.sig_type == CERTIFICATION_REVOCATION else "certification",
                "created": iso(sig.created),
                "status": verdict.status,
            }
    return found


def is_empty(diff: dict) -> bool:
    return not any(value for value in diff.values())
