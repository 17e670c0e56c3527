"""Detached signatures over release files: who signed, did it verify, was the key valid then.

pysequoia's `verify` answers only "which signatures are valid now under the
standard policy": it cannot say who made a signature that does not verify,
judge a key as of the time it signed (a 2019 release signed by a key that
expired in 2024 was fine), or hash a multi-gigabyte tarball once for several
signatures. So the data is streamed through one hasher per (hash, salt, mode)
and each signature is checked with `keymaterial`, like certifications.

A signature's verdict is `good` (a known key it names made it over these
bytes), `bad` (a named key is known, the math fails) or `issuer-unknown`.
A good signature is then judged at its creation time: the signing key must
be a bound, unexpired, unrevoked (hard revocations: ever) key whose flags
allow signing, on a valid certificate; the hash must still be accepted for
data signatures (collision resistance) at the reference time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import policy
from .errors import InputError, MalformedPacket
from .openpgp.keymaterial import PublicKey, UnsupportedAlgorithm, new_hash, parse_public_key
from .openpgp.packets import TAG_SIGNATURE, read_packets
from .openpgp.signature import BINARY, FLAG_SIGN, TEXT, Signature, parse_signature
from .openpgp.validity import CertState
from .openpgp.verify import BAD, GOOD, ISSUER_UNKNOWN
from .store import Store
from .types import Fingerprint, fingerprint_from_bytes, key_id_from_bytes

MAX_SIGNATURES = 64  # more than this in one .sig file is an attack, not a release


def read_detached_signatures(data: bytes, source: str) -> list[Signature]:
    """The signature packets of a detached signature file (armored or binary)."""
    packets = read_packets(data, source)
    if any(p.tag != TAG_SIGNATURE for p in packets):
        raise InputError(f"{source}: not a detached signature (it holds packets other than signatures)")
    if len(packets) > MAX_SIGNATURES:
        raise InputError(f"{source}: {len(packets)} signatures in one file is over the limit of {MAX_SIGNATURES}")
    sigs = []
    for number, packet in enumerate(packets, 1):
        try:
            sig = parse_signature(packet.body)
        except MalformedPacket as exc:
            raise MalformedPacket(f"{source}: signature {number}: {exc}") from None
        if sig.sig_type not in (BINARY, TEXT):
            raise InputError(f"{source}: signature {number} is a {sig.type_name} signature, not one over a file")
        sigs.append(sig)
    return sigs


class DataHasher:
    """Feeds the signed data once to every hash the signatures need (shared where possible)."""

    def __init__(self, sigs: list[Signature]) -> None:
        self._sigs = sigs
        self._hashers: dict[tuple[int, bytes, bool], object] = {}
        self._pending_cr: dict[tuple[int, bytes, bool], bool] = {}
        for sig in sigs:
            key = (sig.hash_algorithm, sig.salt, sig.sig_type == TEXT)
            if key in self._hashers:
                continue
            try:
                hasher = new_hash(sig.hash_algorithm)
            except UnsupportedAlgorithm:
                continue
            hasher.update(sig.salt)
            self._hashers[key] = hasher
            self._pending_cr[key] = False
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        for key, hasher in self._hashers.items():
            if key[2]:
                hasher.update(self._canonical_text(key, chunk))
            else:
                hasher.update(chunk)

    def _canonical_text(self, key, chunk: bytes) -> bytes:
        # Text signatures hash CRLF line endings (RFC 9580 §5.2.1.2), whatever the file uses.
        if self._pending_cr[key]:
            chunk = b"\r" + chunk
        self._pending_cr[key] = chunk.endswith(b"\r")
        if self._pending_cr[key]:
            chunk = chunk[:-1]
        return chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def digests(self) -> dict[Signature, bytes | None]:
        out: dict[Signature, bytes | None] = {}
        for sig in self._sigs:
            key = (sig.hash_algorithm, sig.salt, sig.sig_type == TEXT)
            hasher = self._hashers.get(key)
            if hasher is None:
                out[sig] = None
                continue
            final = hasher.copy()
            if key[2] and self._pending_cr[key]:
                final.update(b"\r\n")
            final.update(sig.trailer())
            out[sig] = final.digest()
        return out


def digests_of(sigs: list[Signature], chunks: Iterable[bytes]) -> tuple[dict[Signature, bytes | None], int]:
    hasher = DataHasher(sigs)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digests(), hasher.size


class SignerIndex:
    """Every key (primary and subkey) we know, with the certificate it belongs to."""

    def __init__(self) -> None:
        self.by_fingerprint: dict[bytes, tuple[PublicKey, Fingerprint]] = {}
        self.by_key_id: dict[bytes, list[tuple[PublicKey, Fingerprint]]] = {}

    @classmethod
    def from_store(cls, store: Store) -> "SignerIndex":
        index = cls()
        for body, cert_fpr in store.conn.execute("SELECT body, cert_fingerprint FROM keys"):
            try:
                index.add(parse_public_key(body), Fingerprint(cert_fpr))
            except MalformedPacket:
                continue
        return index

    def add(self, key: PublicKey, cert: Fingerprint) -> None:
        if key.fingerprint not in self.by_fingerprint:
            self.by_fingerprint[key.fingerprint] = (key, cert)
            self.by_key_id.setdefault(key.key_id, []).append((key, cert))

    def candidates(self, sig: Signature) -> list[tuple[PublicKey, Fingerprint]]:
        if sig.issuer_fingerprint is not None:
            found = self.by_fingerprint.get(sig.issuer_fingerprint)
            return [found] if found else []
        out: list[tuple[PublicKey, Fingerprint]] = []
        for key_id in sig.issuer_key_ids:
            out += self.by_key_id.get(key_id, [])
        return out


@dataclass(frozen=True)
class SignerVerdict:
    """One signature on a release: who made it and whether it holds."""

    sig: Signature
    status: str  # good | bad | issuer-unknown
    signer: Fingerprint | None  # the certificate (primary key fingerprint)
    signing_key: Fingerprint | None  # the key that signed (primary or subkey)
    key_id: str | None  # as named by the signature
    reason: str | None  # why bad
    valid_at_signing: bool
    why_invalid: str | None

    @property
    def holds(self) -> bool:
        return self.status == GOOD and self.valid_at_signing


def judge(sigs: list[Signature], digests: dict[Signature, bytes | None], index: SignerIndex,
          state_of: Callable[[Fingerprint, int], CertState], at: int) -> list[SignerVerdict]:
    """A verdict per signature; `state_of(cert, time)` gives a certificate's state at a time."""
    return [_judge_one(sig, digests.get(sig), index, state_of, at) for sig in sigs]


def _judge_one(sig: Signature, digest: bytes | None, index: SignerIndex,
               state_of: Callable[[Fingerprint, int], CertState], at: int) -> SignerVerdict:
    named = sig.issuer_fingerprint or (sig.issuer_key_ids[0] if sig.issuer_key_ids else None)
    key_id = key_id_from_bytes(named[-8:]) if named else None
    candidates = index.candidates(sig)
    if not candidates:
        return SignerVerdict(sig, ISSUER_UNKNOWN, None, None, key_id, None, False, "signing key not known")
    if digest is None:
        return SignerVerdict(sig, BAD, candidates[0][1], None, key_id,
                             f"unsupported hash algorithm {sig.hash_algorithm}", False, "bad signature")
    for key, cert in candidates:
        if digest[:2] == sig.left16 and key.verify(sig.hash_algorithm, digest, sig.fields):
            signing_key = fingerprint_from_bytes(key.fingerprint)
            why = _why_invalid_at_signing(sig, key, cert, state_of, at)
            return SignerVerdict(sig, GOOD, cert, signing_key, key_id, None, why is None, why)
    return SignerVerdict(sig, BAD, candidates[0][1], fingerprint_from_bytes(candidates[0][0].fingerprint), key_id,
                         "signature does not verify over this file", False, "bad signature")


def _why_invalid_at_signing(sig: Signature, key: PublicKey, cert: Fingerprint,
                            state_of: Callable[[Fingerprint, int], CertState], at: int) -> str | None:
    rejected = policy.hash_rejection(sig.hash_algorithm, at, third_party=True)
    if rejected:
        return rejected
    if sig.unknown_critical:
        return f"unknown critical subpacket {sig.unknown_critical[0]}"
    created = sig.created or 0
    state = state_of(cert, created)
    if state.key.revoked is not None:
        return f"key revoked ({state.key.revoked.reason or 'no reason given'})"
    if state.key.binding is None:
        return "certificate had no valid self-signature when it signed"
    if not state.key.alive(created):
        return "certificate had expired (or did not exist yet) when it signed"
    if sig.expires is not None and sig.expires <= at:
        return "signature expired"
    if key.fingerprint == state.cert.primary.fingerprint:
        flags = state.key.binding.key_flags
        if flags is not None and not flags & FLAG_SIGN:
            return "primary key is not marked for signing"
        return None
    sub = next((s for s in state.subkeys if s.component.key.fingerprint == key.fingerprint), None)
    if sub is None or sub.binding is None:
        return "subkey was not bound when it signed"
    if sub.revoked is not None:
        return "subkey revoked"
    if sub.expires is not None and sub.expires <= created:
        return "subkey had expired when it signed"
    if sub.binding.key_flags is None or not sub.binding.key_flags & FLAG_SIGN:
        return "subkey is not marked for signing"
    return None
