"""What a certificate says *as of a given time*: current self-signatures, expiry, revocation,
and which third-party certifications count.

Every question takes `at` (unix seconds). Rules, in the order they are applied:

Self-signatures. A self-signature is usable at `at` when it verified good,
was made at or before `at`, has not expired by `at`, and its hash is still
accepted by the policy at `at` (second-pre-image resistance). The *current*
binding of a user ID or subkey is its newest usable binding signature.

Revocation. A hard revocation of a key (no reason, or "compromised") revokes
it for all time, before its own date too: once a key is known compromised,
nothing it signed can be trusted. A soft revocation (superseded, retired,
user ID no longer valid) takes effect at its creation time, and is undone by
a newer binding signature made after it.

Expiry. A key's expiry comes from its current binding (for the primary key:
the primary user ID's binding, else the newest direct-key signature).

Certifications. A third-party certification counts at `at` when: it verified
good; it was made at or before `at`; it has not expired; its hash is accepted
for certifications (collision resistance) at `at`; it is the newest
certification its issuer made on that user ID by `at`; its issuer did not
revoke it by `at`; and its issuer is, at `at`, a valid key that is neither
revoked nor expired. Otherwise `why_not` names the first rule it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import policy
from ..types import Fingerprint
from .cert import Certificate, SubkeyComponent, UserIdComponent
from .keymaterial import PublicKey
from .signature import (
    CERTIFICATION_REVOCATION,
    CERTIFICATIONS,
    DIRECT_KEY,
    KEY_REVOCATION,
    SUBKEY_BINDING,
    SUBKEY_REVOCATION,
    Signature,
)
from .verify import GOOD, Verdict

VerdictOf = Callable[[Signature], Verdict]


@dataclass(slots=True)
class Revocation:
    created: int
    reason: str | None
    hard: bool


@dataclass(slots=True)
class KeyState:
    """The primary key at one moment."""

    fingerprint: Fingerprint
    created: int
    expires: int | None
    revoked: Revocation | None
    binding: Signature | None  # the self-signature its properties come from
    primary_user_id: bytes | None

    def alive(self, at: int) -> bool:
        return self.created <= at and (self.expires is None or at < self.expires)

    def valid(self, at: int) -> bool:
        return self.binding is not None and self.alive(at) and self.revoked is None


@dataclass(slots=True)
class UserIdState:
    component: UserIdComponent
    binding: Signature | None
    revoked: Revocation | None


@dataclass(slots=True)
class SubkeyState:
    component: SubkeyComponent
    binding: Signature | None
    expires: int | None
    revoked: Revocation | None


@dataclass(slots=True)
class CertificationState:
    sig: Signature
    verdict: Verdict
    counts: bool
    why_not: str | None


@dataclass(slots=True)
class CertState:
    """Everything `key show` needs about one certificate at one time."""

    cert: Certificate
    at: int
    key: KeyState
    user_ids: list[UserIdState] = field(default_factory=list)
    subkeys: list[SubkeyState] = field(default_factory=list)


def _is_self(sig: Signature, verdict: Verdict, primary: PublicKey) -> bool:
    return verdict.status == GOOD and verdict.issuer == primary.hex_fingerprint


def _usable_self_signature(sig: Signature, verdict: Verdict, primary: PublicKey, at: int) -> bool:
    if not _is_self(sig, verdict, primary) or sig.created is None:
        return False
    if sig.created > at or sig.created < primary.created:
        return False
    if sig.expires is not None and sig.expires <= at:
        return False
    return policy.hash_rejection(sig.hash_algorithm, at, third_party=False, revocation=sig.is_revocation) is None


def _newest(sigs: list[Signature]) -> Signature | None:
    # Ties on creation time are broken by the signature bytes, so the choice is deterministic.
    return max(sigs, key=lambda s: (s.created or 0, s.body), default=None)


def _revocation(revocations: list[Signature], binding: Signature | None, at: int) -> Revocation | None:
    for rev in sorted(revocations, key=lambda s: s.created or 0):
        hard = rev.hard_revocation and rev.sig_type != CERTIFICATION_REVOCATION
        if hard:
            return Revocation(rev.created or 0, rev.revocation_reason, True)
        rebound = binding is not None and (binding.created or 0) > (rev.created or 0)
        if (rev.created or 0) <= at and not rebound:
            return Revocation(rev.created or 0, rev.revocation_reason, False)
    return None


def _usable(sigs: list[Signature], types: set[int] | frozenset[int], cert: Certificate, verdict_of: VerdictOf,
            at: int) -> list[Signature]:
    return [s for s in sigs if s.sig_type in types and _usable_self_signature(s, verdict_of(s), cert.primary, at)]


def _revocations_for_key(sigs: list[Signature], rev_type: int, cert: Certificate, verdict_of: VerdictOf) -> list[Signature]:
    # Hard revocations count whatever the reference time, so only their authenticity is checked here.
    return [s for s in sigs if s.sig_type == rev_type and _is_self(s, verdict_of(s), cert.primary)
            and policy.hash_rejection(s.hash_algorithm, s.created or 0, third_party=False, revocation=True) is None]


def cert_state(cert: Certificate, verdict_of: VerdictOf, at: int) -> CertState:
    """The certificate as it stands at `at`."""
    user_ids = [_user_id_state(uid, cert, verdict_of, at) for uid in cert.user_ids]
    primary_uid = _primary_user_id(user_ids)
    direct = _newest(_usable(cert.direct, {DIRECT_KEY}, cert, verdict_of, at))
    binding = primary_uid.binding if primary_uid is not None else direct
    key_validity = None
    for sig in (binding, direct):
        if sig is not None and sig.key_validity:
            key_validity = sig.key_validity
            break
    if cert.primary.version in (2, 3) and cert.primary.v3_expiration_days:
        key_validity = cert.primary.v3_expiration_days * 86400
    revocations = _revocations_for_key(cert.direct, KEY_REVOCATION, cert, verdict_of)
    key = KeyState(
        fingerprint=cert.fingerprint,
        created=cert.primary.created,
        expires=cert.primary.created + key_validity if key_validity else None,
        revoked=_revocation(revocations, binding, at),
        binding=binding,
        primary_user_id=primary_uid.component.value if primary_uid is not None else None,
    )
    subkeys = [_subkey_state(sub, cert, verdict_of, at) for sub in cert.subkeys]
    return CertState(cert=cert, at=at, key=key, user_ids=user_ids, subkeys=subkeys)


def _user_id_state(uid: UserIdComponent, cert: Certificate, verdict_of: VerdictOf, at: int) -> UserIdState:
    binding = _newest(_usable(uid.signatures, CERTIFICATIONS, cert, verdict_of, at))
    revocations = [s for s in _usable(uid.signatures, {CERTIFICATION_REVOCATION}, cert, verdict_of, at)]
    return UserIdState(component=uid, binding=binding, revoked=_revocation(revocations, binding, at))


def _primary_user_id(states: list[UserIdState]) -> UserIdState | None:
    bound = [s for s in states if s.binding is not None and s.revoked is None and not s.component.is_attribute]
    if not bound:
        bound = [s for s in states if s.binding is not None and not s.component.is_attribute]
    return max(bound, key=lambda s: (s.binding.primary_user_id, s.binding.created or 0, s.component.value),
               default=None)


def _subkey_state(sub: SubkeyComponent, cert: Certificate, verdict_of: VerdictOf, at: int) -> SubkeyState:
    binding = _newest(_usable(sub.signatures, {SUBKEY_BINDING}, cert, verdict_of, at))
    expires = None
    if binding is not None and binding.key_validity:
        expires = sub.key.created + binding.key_validity
    revocations = _revocations_for_key(sub.signatures, SUBKEY_REVOCATION, cert, verdict_of)
    return SubkeyState(component=sub, binding=binding, expires=expires, revoked=_revocation(revocations, binding, at))


def certification_states(uid: UserIdComponent, cert: Certificate, verdict_of: VerdictOf, at: int,
                         issuer_state: Callable[[Fingerprint], KeyState | None]) -> list[CertificationState]:
    """Every third-party certification on `uid`, with whether it counts at `at` and why not."""
    own = cert.fingerprint
    third_party = [(s, verdict_of(s)) for s in uid.signatures
                   if s.sig_type in CERTIFICATIONS and not _claims_self(s, verdict_of(s), own)]
    revocations = [(s, verdict_of(s)) for s in uid.signatures
                   if s.sig_type == CERTIFICATION_REVOCATION and verdict_of(s).status == GOOD]
    newest_by_issuer: dict[Fingerprint, Signature] = {}
    for sig, verdict in third_party:
        if verdict.status == GOOD and sig.created is not None and sig.created <= at:
            best = newest_by_issuer.get(verdict.issuer)
            if best is None or (sig.created, sig.body) > (best.created or 0, best.body):
                newest_by_issuer[verdict.issuer] = sig
    states = []
    for sig, verdict in third_party:
        why = _why_certification_does_not_count(sig, verdict, at, newest_by_issuer, revocations, issuer_state)
        states.append(CertificationState(sig=sig, verdict=verdict, counts=why is None, why_not=why))
    return states


def _claims_self(sig: Signature, verdict: Verdict, own: Fingerprint) -> bool:
    return verdict.issuer == own


def _why_certification_does_not_count(sig: Signature, verdict: Verdict, at: int,
                                      newest_by_issuer: dict[Fingerprint, Signature],
                                      revocations: list[tuple[Signature, Verdict]],
                                      issuer_state: Callable[[Fingerprint], KeyState | None]) -> str | None:
    if verdict.status != GOOD:
        return "issuer unknown: cannot be verified" if verdict.status == "issuer-unknown" else \
            f"bad signature: {verdict.reason or 'does not verify'}"
    if not sig.exportable:
        return "local (non-exportable) certification"
    if sig.created > at:
        return "made after the reference time"
    if sig.expires is not None and sig.expires <= at:
        return "certification expired"
    rejected = policy.hash_rejection(sig.hash_algorithm, at, third_party=True)
    if rejected:
        return f"hash algorithm rejected by the policy: {rejected}"
    if newest_by_issuer.get(verdict.issuer) is not sig:
        return "superseded by a newer certification from the same issuer"
    for rev, rev_verdict in revocations:
        if rev_verdict.issuer == verdict.issuer and sig.created <= (rev.created or 0) <= at:
            return "revoked by its issuer"
    issuer = issuer_state(verdict.issuer)
    if issuer is None:
        return "issuer certificate not available"
    if issuer.revoked is not None and (issuer.revoked.hard or issuer.revoked.created <= sig.created):
        return "issuer revoked at that time"
    if issuer.binding is None:
        return "issuer has no valid self-signature at that time"
    if not issuer.alive(at):
        return "issuer expired at that time"
    return None
