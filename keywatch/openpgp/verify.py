"""Cryptographic verification of every signature on a certificate.

pysequoia cannot check third-party certifications, so we compute the signed
hash ourselves (RFC 9580 §5.2.4; RFC 4880 §5.2.4 for v3/v4) and check it
with the issuer's public key (`keymaterial`). The verdict of a signature is:

- ``good``: some known key whose fingerprint or key ID the signature names
  made exactly this signature over exactly this content (primary key, and
  the user ID or subkey it sits on);
- ``bad``: a key it names is known but the math fails — a forgery, a
  signature copied onto another user ID or key, an altered hashed area, a
  signing subkey without a valid back-signature, an unsupported algorithm;
- ``issuer-unknown``: no key it names is known. Never counted as good.

Results are cached by what the cryptographic check takes in: the signature
packet, the digest of the content it signs and the issuer's key material.
The same packet transplanted elsewhere has another content digest, so the
cache can never turn a forgery good, and a signature whose issuer shows up
later is simply checked then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from ..types import Fingerprint, fingerprint_from_bytes
from .cert import Certificate, UserIdComponent
from .keymaterial import PublicKey, UnsupportedAlgorithm, new_hash
from .signature import (
    CERTIFICATION_REVOCATION,
    CERTIFICATIONS,
    DIRECT_KEY,
    FLAG_SIGN,
    KEY_REVOCATION,
    PRIMARY_KEY_BINDING,
    SUBKEY_BINDING,
    SUBKEY_REVOCATION,
    Signature,
)

_DIRECT_TYPES = frozenset({DIRECT_KEY, KEY_REVOCATION})
_USER_ID_TYPES = CERTIFICATIONS | {CERTIFICATION_REVOCATION}
_SUBKEY_TYPES = frozenset({SUBKEY_BINDING, SUBKEY_REVOCATION})

GOOD = "good"
BAD = "bad"
ISSUER_UNKNOWN = "issuer-unknown"

@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    issuer: Fingerprint | None  # the key that made it (good), or the one it claims (otherwise)
    reason: str | None = None  # why it is bad


class IssuerIndex:
    """Certification-capable (primary) keys we know, found by fingerprint or key ID."""

    def __init__(self) -> None:
        self.by_fingerprint: dict[bytes, PublicKey] = {}
        self.by_key_id: dict[bytes, list[PublicKey]] = {}

    def add(self, key: PublicKey) -> None:
        if key.fingerprint in self.by_fingerprint:
            return
        self.by_fingerprint[key.fingerprint] = key
        self.by_key_id.setdefault(key.key_id, []).append(key)

    def add_certificates(self, certs: Iterable[Certificate]) -> None:
        for cert in certs:
            self.add(cert.primary)

    def candidates(self, sig: Signature) -> list[PublicKey]:
        """Keys that might have made `sig`; a named fingerprint narrows it to that key alone."""
        if sig.issuer_fingerprint is not None:
            key = self.by_fingerprint.get(sig.issuer_fingerprint)
            return [key] if key is not None else []
        found: list[PublicKey] = []
        for key_id in sig.issuer_key_ids:
            found += self.by_key_id.get(key_id, [])
        return found


def key_hash_prefix(key: PublicKey) -> bytes:
    """How a key packet enters a signature hash (RFC 9580 §5.2.4): v6 uses a 4-octet length."""
    if key.version == 6:
        return b"\x9b" + len(key.body).to_bytes(4, "big") + key.body
    return b"\x99" + len(key.body).to_bytes(2, "big") + key.body


def user_id_hash_header(uid: UserIdComponent) -> bytes:
    """How a user ID or attribute enters a v4/v6 signature hash; v3 signatures hash the bare value."""
    return (b"\xd1" if uid.is_attribute else b"\xb4") + len(uid.value).to_bytes(4, "big") + uid.value


def signature_digest(sig: Signature, signed_content: bytes) -> bytes | None:
    """The digest the issuer signed, or None when the hash algorithm is unknown to us."""
    try:
        hasher = new_hash(sig.hash_algorithm)
    except UnsupportedAlgorithm:
        return None
    hasher.update(sig.salt)
    hasher.update(signed_content)
    hasher.update(sig.trailer())
    return hasher.digest()


def check_digest(sig: Signature, digest: bytes | None, key: PublicKey) -> bool:
    """Does `key` make `sig` over the content `digest` was computed from? Pure: safe in worker processes."""
    if digest is None or digest[:2] != sig.left16 or (sig.version == 6 and key.version != 6):
        return False
    return key.verify(sig.hash_algorithm, digest, sig.fields)


def cache_key(sig: Signature, digest: bytes, key: PublicKey) -> bytes:
    """Names exactly the inputs of the cryptographic check: this signature packet, this content, this key.

    `digest` covers the signed content (primary key, user ID or subkey), the
    hashed subpackets and the salt; `sig.digest` the whole packet, signature
    values included; `key.body_digest` the issuer's key material. A signature
    moved onto other content has another digest, so a cached `good` can never
    vouch for it; nor can a key that only shares the issuer's fingerprint.
    """
    return hashlib.sha256(sig.digest.encode() + digest + key.body_digest).digest()


@dataclass(slots=True)
class _Plan:
    """What one signature's verdict needs: the cache keys of each candidate issuer, then of back-signatures."""

    sig: Signature
    candidates: list[PublicKey]
    implied_issuer: Fingerprint | None  # who made it when it names nobody (bindings: the primary key)
    problem: str | None
    keys: list[bytes | None]  # None: the check fails without any key (unknown hash algorithm)
    needs_back_signature: bool = False

    @property
    def claimed(self) -> Fingerprint | None:
        """The issuer a failed signature claims, for the record (only a hint: it is not verified)."""
        if self.sig.issuer_fingerprint is not None:
            return fingerprint_from_bytes(self.sig.issuer_fingerprint)
        return self.implied_issuer


class Verifier:
    """Verifies all signatures of certificates against an issuer index, with a result cache.

    `cache` maps `cache_key(...)` to the crypto result; callers persist it
    (the store does) so a re-import verifies nothing twice.
    """

    def __init__(self, issuers: IssuerIndex, cache: dict[bytes, bool] | None = None) -> None:
        self.issuers = issuers
        self.cache: dict[bytes, bool] = cache if cache is not None else {}
        self.new_results: dict[bytes, bool] = {}

    def verify_certificates(self, certs: list[Certificate]) -> dict[Signature, Verdict]:
        """Verdict for every signature, keyed by the signature object itself (one per place it sits)."""
        pending: dict[bytes, tuple[Signature, bytes, PublicKey]] = {}
        plans: list[_Plan] = []
        for cert in certs:
            self._plan_certificate(cert, plans, pending)
        cache, new_results = self.cache, self.new_results
        for key_digest, (sig, digest, key) in pending.items():
            cache[key_digest] = new_results[key_digest] = check_digest(sig, digest, key)
        return {plan.sig: self._verdict(plan) for plan in plans}

    def _verdict(self, plan: _Plan) -> Verdict:
        if plan.problem:
            return Verdict(BAD, plan.claimed, plan.problem)
        if not plan.candidates:
            return Verdict(ISSUER_UNKNOWN, plan.claimed)
        cache = self.cache
        for key, key_digest in zip(plan.candidates, plan.keys):
            if key_digest is not None and cache[key_digest]:
                issuer = Fingerprint(key.hex_fingerprint)
                backs = plan.keys[len(plan.candidates):]
                if plan.needs_back_signature and not any(d is not None and cache[d] for d in backs):
                    return Verdict(BAD, issuer, "signing subkey without a valid back-signature")
                return Verdict(GOOD, issuer)
        return Verdict(BAD, plan.claimed, "signature does not verify")

    def _plan_certificate(self, cert: Certificate, plans: list[_Plan],
                          pending: dict[bytes, tuple[Signature, bytes, PublicKey]]) -> None:
        primary = cert.primary
        prefix = key_hash_prefix(primary)
        for sig in cert.direct:
            plans.append(self._plan(sig, prefix, cert, _DIRECT_TYPES, pending))
        for uid in cert.user_ids:
            header = user_id_hash_header(uid)
            for sig in uid.signatures:
                content = prefix + (uid.value if sig.version == 3 else header)
                plans.append(self._plan(sig, content, cert, _USER_ID_TYPES, pending))
        for sub in cert.subkeys:
            content = prefix + key_hash_prefix(sub.key)
            for sig in sub.signatures:
                signing = bool(sig.sig_type == SUBKEY_BINDING and sig.key_flags and sig.key_flags & FLAG_SIGN)
                plans.append(self._plan(sig, content, cert, _SUBKEY_TYPES, pending, self_only=True,
                                        back_signer=sub.key if signing else None))

    def _plan(self, sig: Signature, content: bytes, cert: Certificate, allowed: frozenset[int],
              pending: dict[bytes, tuple[Signature, bytes, PublicKey]], self_only: bool = False,
              back_signer: PublicKey | None = None) -> _Plan:
        candidates = self._candidates(sig, cert.primary, self_only)
        if sig.sig_type not in allowed:
            problem = f"a {sig.type_name} signature does not belong here"
        elif sig.unknown_critical:
            problem = f"unknown critical subpacket {sig.unknown_critical[0]}"
        elif sig.created is None:
            problem = "no signature creation time"
        else:
            problem = None
        plan = _Plan(sig, candidates, cert.fingerprint if self_only else None, problem, [])
        if problem or not candidates:
            return plan
        self._add_checks(plan, sig, content, candidates, pending)
        if back_signer is not None:
            plan.needs_back_signature = True
            for back in sig.embedded:
                if back.sig_type == PRIMARY_KEY_BINDING:
                    self._add_checks(plan, back, content, [back_signer], pending)
        return plan

    def _add_checks(self, plan: _Plan, sig: Signature, content: bytes, keys: list[PublicKey],
                    pending: dict[bytes, tuple[Signature, bytes, PublicKey]]) -> None:
        digest = signature_digest(sig, content)
        for key in keys:
            if digest is None:
                plan.keys.append(None)
                continue
            key_digest = cache_key(sig, digest, key)
            plan.keys.append(key_digest)
            if key_digest not in self.cache:
                pending[key_digest] = (sig, digest, key)

    def _candidates(self, sig: Signature, primary: PublicKey, self_only: bool) -> list[PublicKey]:
        named = sig.issuer_fingerprint
        key_ids = sig.issuer_key_ids
        if named == primary.fingerprint or primary.key_id in key_ids or (named is None and not key_ids):
            # Names the certificate's own key, or nobody: a self-signature unless another known key matches.
            if self_only:
                return [primary]
            return [primary] + [k for k in self.issuers.candidates(sig) if k.fingerprint != primary.fingerprint]
        if self_only:
            return []  # bindings and subkey revocations can only be made by the primary key
        return self.issuers.candidates(sig)
