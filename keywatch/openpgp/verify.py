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

Results are cached per (signature, signed content, issuer key): the same
signature packet transplanted elsewhere is a different question, so the
cache can never turn a forgery good, and a signature whose issuer shows up
later is simply checked then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

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


def user_id_hash_prefix(uid: UserIdComponent, sig: Signature) -> bytes:
    if sig.version == 3:
        return uid.value
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


def check(sig: Signature, signed_content: bytes, key: PublicKey) -> bool:
    """Does `key` sign exactly `signed_content` in `sig`? Pure function: safe in worker processes."""
    if sig.version == 6 and key.version != 6:
        return False
    digest = signature_digest(sig, signed_content)
    if digest is None or digest[:2] != sig.left16:
        return False
    return key.verify(sig.hash_algorithm, digest, sig.fields)


@dataclass(slots=True)
class _Job:
    """One signature to check: where it sits, what it covers, and who might have made it."""

    sig: Signature
    content: bytes
    candidates: list[PublicKey]
    claimed: Fingerprint | None
    problem: str | None = None  # a structural defect that makes it bad whatever the math says
    needs_back_signature: bool = False
    checks: list[tuple[bytes, tuple[Signature, bytes, PublicKey]]] = field(default_factory=list)


def cache_key(sig: Signature, content: bytes, key: PublicKey) -> bytes:
    return hashlib.sha256(sig.body + b"\x00" + content + b"\x00" + key.fingerprint).digest()


class Verifier:
    """Verifies all signatures of certificates against an issuer index, with a result cache.

    `cache` maps `cache_key(...)` to the crypto result; callers persist it
    (the store does) so a re-import verifies nothing twice.
    """

    def __init__(self, issuers: IssuerIndex, cache: dict[bytes, bool] | None = None) -> None:
        self.issuers = issuers
        self.cache: dict[bytes, bool] = cache if cache is not None else {}
        self.new_results: dict[bytes, bool] = {}

    def verify_certificates(self, certs: list[Certificate], progress=None) -> dict[Signature, Verdict]:
        """Verdict for every signature, keyed by the signature object itself (one per place it sits)."""
        jobs: list[_Job] = []
        for cert in certs:
            jobs += self._jobs_for(cert)
        pending: dict[bytes, tuple[Signature, bytes, PublicKey]] = {}
        for job in jobs:
            for key_digest, triple in job.checks:
                if key_digest not in self.cache:
                    pending[key_digest] = triple
        results = _run_checks(list(pending.values()), progress)
        for key_digest, ok in zip(pending, results):
            self.cache[key_digest] = ok
            self.new_results[key_digest] = ok
        return {job.sig: self._verdict(job) for job in jobs}

    def _verdict(self, job: _Job) -> Verdict:
        if job.problem:
            return Verdict(BAD, job.claimed, job.problem)
        if not job.candidates:
            return Verdict(ISSUER_UNKNOWN, job.claimed)
        for key, (key_digest, _) in zip(job.candidates, job.checks):
            if self.cache[key_digest]:
                issuer = fingerprint_from_bytes(key.fingerprint)
                backs = job.checks[len(job.candidates):]
                if job.needs_back_signature and not any(self.cache[d] for d, _ in backs):
                    return Verdict(BAD, issuer, "signing subkey without a valid back-signature")
                return Verdict(GOOD, issuer)
        return Verdict(BAD, job.claimed, "signature does not verify")

    def _jobs_for(self, cert: Certificate) -> list[_Job]:
        primary = cert.primary
        prefix = key_hash_prefix(primary)
        jobs = [self._job(sig, prefix, cert, _DIRECT_TYPES) for sig in cert.direct]
        for uid in cert.user_ids:
            for sig in uid.signatures:
                content = prefix + user_id_hash_prefix(uid, sig)
                jobs.append(self._job(sig, content, cert, _USER_ID_TYPES))
        for job in jobs:
            self._plan_checks(job, None)
        for sub in cert.subkeys:
            content = prefix + key_hash_prefix(sub.key)
            for sig in sub.signatures:
                job = self._job(sig, content, cert, _SUBKEY_TYPES, self_only=True)
                signing = sig.sig_type == SUBKEY_BINDING and sig.key_flags is not None and sig.key_flags & FLAG_SIGN
                job.needs_back_signature = bool(signing)
                self._plan_checks(job, sub.key if signing else None)
                jobs.append(job)
        return jobs

    def _job(self, sig: Signature, content: bytes, cert: Certificate, allowed: set[int] | frozenset[int],
             self_only: bool = False) -> _Job:
        claimed = _claimed_issuer(sig)
        candidates = self._candidates(sig, cert, self_only)
        problem = None
        if sig.sig_type not in allowed:
            problem = f"a {sig.type_name} signature does not belong here"
        elif sig.unknown_critical:
            problem = f"unknown critical subpacket {sig.unknown_critical[0]}"
        elif sig.created is None:
            problem = "no signature creation time"
        return _Job(sig, content, candidates, claimed or (cert.fingerprint if self_only else None), problem)

    @staticmethod
    def _plan_checks(job: _Job, back_signer: PublicKey | None) -> None:
        """The (cache key, check) pairs a verdict needs: each candidate issuer, then back-signatures."""
        if job.problem:
            return
        triples = [(job.sig, job.content, key) for key in job.candidates]
        if back_signer is not None:
            triples += [(back, job.content, back_signer) for back in job.sig.embedded
                        if back.sig_type == PRIMARY_KEY_BINDING]
        job.checks = [(cache_key(*t), t) for t in triples]

    def _candidates(self, sig: Signature, cert: Certificate, self_only: bool) -> list[PublicKey]:
        primary = cert.primary
        names_primary = sig.issuer_fingerprint == primary.fingerprint or primary.key_id in sig.issuer_key_ids
        names_nobody = sig.issuer_fingerprint is None and not sig.issuer_key_ids
        if self_only:
            # Bindings and subkey revocations can only be made by the primary key.
            return [primary] if (names_primary or names_nobody) else []
        if names_primary or names_nobody:
            others = [k for k in self.issuers.candidates(sig) if k.fingerprint != primary.fingerprint]
            return [primary] + others
        return self.issuers.candidates(sig)


def _claimed_issuer(sig: Signature) -> Fingerprint | None:
    if sig.issuer_fingerprint is not None:
        return fingerprint_from_bytes(sig.issuer_fingerprint)
    return None


def _run_checks(work: list[tuple[Signature, bytes, PublicKey]], progress=None) -> list[bool]:
    results = []
    for triple in work:
        results.append(check(*triple))
        if progress is not None:
            progress(1)
    return results
