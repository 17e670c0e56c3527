"""Algorithm policy: which keys and hashes we still accept, and what we warn about.

The cut-off dates follow Sequoia's `StandardPolicy` (sequoia-openpgp 1.x,
`openpgp/src/policy.rs`), because sq and sq-wot — the tools packagers
compare us with — apply exactly these:

- MD5 stopped being collision resistant on 1997-02-01 and second-pre-image
  resistant on 2004-02-01 (Dobbertin 1996; Wang et al. 2004).
- SHA-1 stopped being collision resistant on 2013-02-01 (Stevens'
  chosen-prefix work, later SHAttered 2017 and "SHA-1 is a Shambles" 2020)
  and is accepted where only second-pre-image resistance matters until
  2023-02-01. RIPEMD-160 is rejected for both from 2013-02-01 (Sequoia 1.12's
  `SecondPreImageResistantHashCutoffList`).
- SHA-224 is accepted until 2026-02-01.
- Revocations get seven more years of tolerance: refusing to honour an old
  SHA-1 revocation would bring a dead key back to life.

Like Sequoia, we judge a hash by the *reference time* (the `at` of the
question), not by the signature's own creation time: anyone who breaks SHA-1
today can backdate a forged signature to 2010.

Which resistance a signature needs:
- self-signatures (user ID and subkey bindings, back-signatures, direct-key
  signatures) cover data the key holder chose: second-pre-image resistance;
- third-party certifications cover data the *certificate holder* chose, the
  collision attack setting: collision resistance.

Key findings (RFC 9580 §12, NIST SP 800-57 / 800-131A):
- RSA or DSA moduli under 2048 bits: error (NIST disallowed them in 2014).
- DSA signing keys: warning (FIPS 186-5, 2023, withdrew DSA for signing),
  ElGamal signing keys: error (RFC 9580 §9.1 forbids generating them).
- v3 keys: error (MD5 fingerprints, RFC 9580 §5.5.2 forbids them).
- no expiry on the primary key: info — a lost key stays valid forever.
- expiring within `expiry_warning_days` (default 60): warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: policy questions must not load the crypto stack
    from .openpgp.keymaterial import PublicKey

MD5, SHA1, RIPEMD160, SHA256, SHA384, SHA512, SHA224 = 1, 2, 3, 8, 9, 10, 11


def _ts(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=timezone.utc).timestamp())


# hash algorithm -> (collision resistance ends, second-pre-image resistance ends)
HASH_CUTOFFS: dict[int, tuple[int | None, int | None]] = {
    MD5: (_ts(1997, 2, 1), _ts(2004, 2, 1)),
    SHA1: (_ts(2013, 2, 1), _ts(2023, 2, 1)),
    RIPEMD160: (_ts(2013, 2, 1), _ts(2013, 2, 1)),
    SHA224: (_ts(2026, 2, 1), _ts(2026, 2, 1)),
    SHA256: (None, None),
    SHA384: (None, None),
    SHA512: (None, None),
    12: (None, None),  # SHA3-256
    14: (None, None),  # SHA3-512
}
REVOCATION_TOLERANCE = 7 * 365 * 24 * 3600

SEVERITIES = ("info", "warning", "error")
DEFAULT_EXPIRY_WARNING_DAYS = 60


def hash_rejection(hash_algorithm: int, at: int, *, third_party: bool, revocation: bool = False) -> str | None:
    """Why the policy rejects this hash for this kind of signature at time `at`, or None."""
    if hash_algorithm not in HASH_CUTOFFS:
        return f"hash algorithm {hash_algorithm} is unknown to the policy"
    collision, second_preimage = HASH_CUTOFFS[hash_algorithm]
    cutoff = collision if third_party else second_preimage
    if cutoff is None:
        return None
    if revocation:
        cutoff += REVOCATION_TOLERANCE
    if at >= cutoff:
        name = HASH_NAMES.get(hash_algorithm, str(hash_algorithm))
        since = datetime.fromtimestamp(cutoff, timezone.utc).date().isoformat()
        return f"{name} is not accepted in {'certifications' if third_party else 'self-signatures'} since {since}"
    return None


HASH_NAMES = {MD5: "MD5", SHA1: "SHA-1", RIPEMD160: "RIPEMD-160", SHA256: "SHA-256", SHA384: "SHA-384",
              SHA512: "SHA-512", SHA224: "SHA-224", 12: "SHA3-256", 14: "SHA3-512"}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str
    message: str
    subject: str  # the fingerprint of the key or subkey the finding is about

    def as_json(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message, "subject": self.subject}


def key_findings(key: PublicKey, subject: str, *, signing: bool) -> list[Finding]:
    """Findings about one key's algorithm and size (primary or subkey)."""
    found: list[Finding] = []
    if key.version == 3:
        found.append(Finding("v3-key", "error", "v3 key: MD5 fingerprint, forbidden by RFC 9580", subject))
    if key.algorithm_name in ("RSA", "DSA", "ElGamal") and key.bits is not None and key.bits < 2048:
        found.append(Finding("short-key", "error",
                             f"{key.algorithm_name} {key.bits} bits: under 2048 bits, disallowed since 2014", subject))
    if signing and key.algorithm_name == "DSA":
        found.append(Finding("dsa-signing", "warning", "DSA signing key: withdrawn by FIPS 186-5 (2023)", subject))
    if signing and key.algorithm_name == "ElGamal":
        found.append(Finding("elgamal-signing", "error", "ElGamal signing key: forbidden by RFC 9580", subject))
    if key.curve is not None and key.curve.startswith("unknown"):
        found.append(Finding("unknown-curve", "warning", f"unknown curve {key.curve}", subject))
    return found


def expiry_findings(subject: str, expires: int | None, at: int,
                    warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS) -> list[Finding]:
    if expires is None:
        return [Finding("no-expiry", "info", "primary key never expires", subject)]
    if expires <= at:
        return [Finding("expired", "error", "primary key has expired", subject)]
    days_left = (expires - at) // 86400
    if days_left < warning_days:
        return [Finding("expiring-soon", "warning", f"primary key expires in {days_left} days", subject)]
    return []


def weak_self_signature_finding(subject: str, hash_algorithm: int, at: int) -> Finding | None:
    """A binding that rests only on a hash the policy rejects (now) or will reject."""
    reason = hash_rejection(hash_algorithm, at, third_party=False)
    name = HASH_NAMES.get(hash_algorithm, str(hash_algorithm))
    if reason is not None:
        return Finding("weak-self-signature", "error", f"bound only by a {name} self-signature: {reason}", subject)
    if hash_algorithm in (MD5, SHA1, RIPEMD160):
        return Finding("weak-self-signature", "warning", f"bound only by a {name} self-signature", subject)
    return None


def certificate_findings(cert, state, at: int, expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS) -> list[Finding]:
    """Findings for a certificate (`openpgp.cert.Certificate`) in its `validity.CertState` at `at`.

    Subkeys are judged only while bound and not revoked: a retired weak subkey is history, not risk.
    """
    fpr = cert.fingerprint
    findings = key_findings(cert.primary, fpr, signing=True)
    for sub_state in state.subkeys:
        sub = sub_state.component
        flags = sub_state.binding.key_flags if sub_state.binding is not None else None
        signing = bool(flags is not None and flags & 0x02)
        if sub_state.binding is not None and sub_state.revoked is None:
            findings += key_findings(sub.key, sub.fingerprint, signing=signing)
    if state.key.revoked is not None:
        findings.append(Finding("revoked", "error", f"key revoked: {state.key.revoked.reason}", fpr))
    if state.key.binding is None:
        # Without a valid binding the expiry is unknown: "never expires" would be a false comfort.
        findings.append(Finding("no-valid-binding", "error", "no self-signature is valid at this time", fpr))
    else:
        if state.key.revoked is None:
            findings += expiry_findings(fpr, state.key.expires, at, expiry_warning_days)
        weak = weak_self_signature_finding(fpr, state.key.binding.hash_algorithm, at)
        if weak is not None:
            findings.append(weak)
    if cert.unparsed_signatures:
        findings.append(Finding("unparsed-signatures", "warning",
                                f"{cert.unparsed_signatures} signature packets could not be parsed", fpr))
    return findings
