"""Parsing a signature packet body (RFC 9580 §5.2) into the fields keywatch reasons about.

Only the *hashed* subpacket area is believed for anything that matters
(creation, expiry, trust depth/amount, regex, key flags, revocation reason):
the unhashed area can be rewritten by anyone. The issuer named in either area
is only a hint for finding the key; verification decides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..errors import MalformedPacket

# Signature types (RFC 9580 §5.2.1).
BINARY = 0x00
TEXT = 0x01
GENERIC_CERTIFICATION = 0x10
PERSONA_CERTIFICATION = 0x11
CASUAL_CERTIFICATION = 0x12
POSITIVE_CERTIFICATION = 0x13
SUBKEY_BINDING = 0x18
PRIMARY_KEY_BINDING = 0x19
DIRECT_KEY = 0x1F
KEY_REVOCATION = 0x20
SUBKEY_REVOCATION = 0x28
CERTIFICATION_REVOCATION = 0x30

CERTIFICATIONS = frozenset(
    {GENERIC_CERTIFICATION, PERSONA_CERTIFICATION, CASUAL_CERTIFICATION, POSITIVE_CERTIFICATION}
)

SIGNATURE_TYPE_NAMES = {
    BINARY: "binary",
    TEXT: "text",
    GENERIC_CERTIFICATION: "generic-certification",
    PERSONA_CERTIFICATION: "persona-certification",
    CASUAL_CERTIFICATION: "casual-certification",
    POSITIVE_CERTIFICATION: "positive-certification",
    SUBKEY_BINDING: "subkey-binding",
    PRIMARY_KEY_BINDING: "primary-key-binding",
    DIRECT_KEY: "direct-key",
    KEY_REVOCATION: "key-revocation",
    SUBKEY_REVOCATION: "subkey-revocation",
    CERTIFICATION_REVOCATION: "certification-revocation",
}

REVOCATION_REASONS = {
    0: "no reason specified",
    1: "key is superseded",
    2: "key material has been compromised",
    3: "key is retired and no longer used",
    32: "user ID information is no longer valid",
}

# Subpacket types (RFC 9580 §5.2.3.7) whose meaning we know; an unknown one marked
# critical makes the whole signature invalid.
SP_CREATION = 2
SP_SIG_EXPIRATION = 3
SP_EXPORTABLE = 4
SP_TRUST = 5
SP_REGEX = 6
SP_KEY_EXPIRATION = 9
SP_ISSUER_KEY_ID = 16
SP_NOTATION = 20
SP_PRIMARY_USER_ID = 25
SP_KEY_FLAGS = 27
SP_REVOCATION_REASON = 29
SP_EMBEDDED_SIGNATURE = 32
SP_ISSUER_FINGERPRINT = 33
KNOWN_SUBPACKETS = frozenset(
    {2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 37, 38, 39}
)
# Known subpackets that change nothing keywatch decides (preferences, features, keyserver hints, …): skipped
# first, as most subpackets of a real keyring are these.
_INERT_SUBPACKETS = KNOWN_SUBPACKETS - {
    SP_CREATION, SP_SIG_EXPIRATION, SP_EXPORTABLE, SP_TRUST, SP_REGEX, SP_KEY_EXPIRATION, SP_ISSUER_KEY_ID,
    SP_PRIMARY_USER_ID, SP_KEY_FLAGS, SP_REVOCATION_REASON, SP_EMBEDDED_SIGNATURE, SP_ISSUER_FINGERPRINT,
}

# Key flags (RFC 9580 §5.2.3.29), first octet.
FLAG_SIGN = 0x02


@dataclass(slots=True, eq=False)
class Signature:
    """One parsed signature packet in one place on a certificate.

    `digest` (SHA-256 of the body) names the packet; equality and hashing are
    by identity, because the same packet copied onto another user ID or key is
    a different signature to judge (and there it is a forgery).
    """

    body: bytes
    digest: str
    version: int
    sig_type: int
    pk_algorithm: int
    hash_algorithm: int
    hashed_part: bytes  # what the trailer hashes: v4/v6 header and hashed subpackets; v3 type+time
    left16: bytes
    salt: bytes
    fields: bytes  # algorithm-specific signature material
    created: int | None = None
    validity: int | None = None  # seconds after creation; None: does not expire
    key_validity: int | None = None  # seconds after key creation; 0 or None: does not expire
    issuer_fingerprint: bytes | None = None
    issuer_key_ids: tuple[bytes, ...] = ()
    exportable: bool = True
    trust_depth: int | None = None
    trust_amount: int | None = None
    regexes: tuple[str, ...] = ()
    key_flags: int | None = None
    primary_user_id: bool = False
    revocation_code: int | None = None
    revocation_text: str | None = None
    embedded: tuple["Signature", ...] = ()
    unknown_critical: tuple[int, ...] = field(default=())

    @property
    def type_name(self) -> str:
        return SIGNATURE_TYPE_NAMES.get(self.sig_type, f"0x{self.sig_type:02x}")

    @property
    def expires(self) -> int | None:
        """Absolute expiry in unix seconds, or None when the signature never expires."""
        if not self.validity or self.created is None:
            return None
        return self.created + self.validity

    @property
    def is_revocation(self) -> bool:
        return self.sig_type in (KEY_REVOCATION, SUBKEY_REVOCATION, CERTIFICATION_REVOCATION)

    @property
    def revocation_reason(self) -> str | None:
        if self.revocation_code is None:
            return None
        label = REVOCATION_REASONS.get(self.revocation_code, f"reason {self.revocation_code}")
        return f"{label}: {self.revocation_text}" if self.revocation_text else label

    @property
    def hard_revocation(self) -> bool:
        """A revocation without a 'superseded'/'retired'/'uid invalid' reason counts for all time."""
        return self.revocation_code not in (1, 3, 32)

    def trailer(self) -> bytes:
        """The bytes hashed after the signed content (RFC 9580 §5.2.4)."""
        if self.version == 3:
            return self.hashed_part
        return self.hashed_part + bytes([self.version, 0xFF]) + len(self.hashed_part).to_bytes(4, "big")


class _Reader:
    """Bounds-checked cursor over a packet body; every overrun is a MalformedPacket."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, count: int, what: str) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise MalformedPacket(f"signature packet truncated in {what}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")


def parse_signature(body: bytes) -> Signature:
    """Parse a signature packet body; raises MalformedPacket with what is wrong."""
    if not body:
        raise MalformedPacket("empty signature packet")
    version = body[0]
    if version == 3:
        return _parse_v3(body)
    if version in (4, 6):
        return _parse_v4_v6(body, version)
    raise MalformedPacket(f"unsupported signature version {version}")


def _parse_v3(body: bytes) -> Signature:
    reader = _Reader(body, 1)
    if reader.byte("hashed length") != 5:
        raise MalformedPacket("v3 signature with a hashed length other than 5")
    hashed_part = reader.take(5, "v3 hashed material")
    issuer = reader.take(8, "v3 issuer")
    pk_algorithm = reader.byte("public-key algorithm")
    hash_algorithm = reader.byte("hash algorithm")
    left16 = reader.take(2, "hash prefix")
    return Signature(
        body=body,
        digest=hashlib.sha256(body).hexdigest(),
        version=3,
        sig_type=hashed_part[0],
        pk_algorithm=pk_algorithm,
        hash_algorithm=hash_algorithm,
        hashed_part=hashed_part,
        left16=left16,
        salt=b"",
        fields=body[reader.pos :],
        created=int.from_bytes(hashed_part[1:5], "big"),
        issuer_key_ids=(issuer,),
    )


def _parse_v4_v6(body: bytes, version: int) -> Signature:
    size = 2 if version == 4 else 4
    end = len(body)
    pos = 4 + size
    if pos > end:
        raise MalformedPacket("signature packet truncated in its header")
    hashed_end = pos + int.from_bytes(body[4:pos], "big")
    if hashed_end + size > end:
        raise MalformedPacket("signature packet truncated in hashed subpackets")
    unhashed_end = hashed_end + size + int.from_bytes(body[hashed_end : hashed_end + size], "big")
    if unhashed_end + 2 > end:
        raise MalformedPacket("signature packet truncated in unhashed subpackets")
    fields_start = unhashed_end + 2
    salt = b""
    if version == 6:
        if fields_start >= end or fields_start + 1 + body[fields_start] > end:
            raise MalformedPacket("signature packet truncated in salt")
        salt = body[fields_start + 1 : fields_start + 1 + body[fields_start]]
        fields_start += 1 + len(salt)
    sig = Signature(
        body=body,
        digest=hashlib.sha256(body).hexdigest(),
        version=version,
        sig_type=body[1],
        pk_algorithm=body[2],
        hashed_part=body[:hashed_end],
        hash_algorithm=body[3],
        left16=body[unhashed_end : unhashed_end + 2],
        salt=salt,
        fields=body[fields_start:],
    )
    issuer_ids: list[bytes] = []
    for kind, critical, value in _subpackets(body, pos, hashed_end):
        if kind in _INERT_SUBPACKETS:
            continue
        if kind == SP_CREATION and len(value) == 4:
            sig.created = int.from_bytes(value, "big")
        elif kind == SP_ISSUER_KEY_ID:
            if len(value) == 8:
                issuer_ids.append(value)
        elif kind == SP_ISSUER_FINGERPRINT:
            if len(value) >= 21:
                sig.issuer_fingerprint = value[1:]
        elif kind == SP_EMBEDDED_SIGNATURE:
            _embed(sig, value)
        else:
            _apply_hashed(sig, kind, critical, value)
    # The unhashed area can be rewritten by anyone: only hints for finding the issuer, and back-signatures.
    for kind, _, value in _subpackets(body, hashed_end + size, unhashed_end):
        if kind == SP_ISSUER_KEY_ID:
            if len(value) == 8:
                issuer_ids.append(value)
        elif kind == SP_ISSUER_FINGERPRINT:
            if len(value) >= 21 and sig.issuer_fingerprint is None:
                sig.issuer_fingerprint = value[1:]
        elif kind == SP_EMBEDDED_SIGNATURE:
            _embed(sig, value)
    if issuer_ids:
        sig.issuer_key_ids = tuple(dict.fromkeys(issuer_ids)) if len(issuer_ids) > 1 else (issuer_ids[0],)
    return sig


def _subpackets(body: bytes, pos: int, end: int) -> list[tuple[int, bool, bytes]]:
    """(type, critical, value) of each subpacket in body[pos:end]; flat because it runs ~250,000 times a keyring."""
    found = []
    while pos < end:
        first = body[pos]
        if first < 192:
            length, pos = first, pos + 1
        elif first < 255:
            if pos + 2 > end:
                raise MalformedPacket("signature packet truncated in subpacket length")
            length, pos = ((first - 192) << 8) + body[pos + 1] + 192, pos + 2
        else:
            if pos + 5 > end:
                raise MalformedPacket("signature packet truncated in subpacket length")
            length, pos = int.from_bytes(body[pos + 1 : pos + 5], "big"), pos + 5
        if length == 0 or pos + length > end:
            raise MalformedPacket("signature packet truncated in subpacket")
        kind = body[pos]
        found.append((kind & 0x7F, kind >= 0x80, body[pos + 1 : pos + length]))
        pos += length
    return found


def _embed(sig: Signature, value: bytes) -> None:
    """Back-signatures are unhashed by design; they are verified in their own right."""
    try:
        sig.embedded = sig.embedded + (parse_signature(value),)
    except MalformedPacket:
        pass


def _apply_hashed(sig: Signature, kind: int, critical: bool, value: bytes) -> None:
    if kind == SP_SIG_EXPIRATION and len(value) == 4:
        sig.validity = int.from_bytes(value, "big")
    elif kind == SP_KEY_EXPIRATION and len(value) == 4:
        sig.key_validity = int.from_bytes(value, "big")
    elif kind == SP_EXPORTABLE and len(value) == 1:
        sig.exportable = value[0] != 0
    elif kind == SP_TRUST and len(value) == 2:
        sig.trust_depth, sig.trust_amount = value[0], value[1]
    elif kind == SP_REGEX:
        # RFC 4880 regexes are NUL-terminated; anything undecodable is kept so it can never match.
        sig.regexes = sig.regexes + (value.rstrip(b"\x00").decode("utf-8", "replace"),)
    elif kind == SP_KEY_FLAGS:
        sig.key_flags = value[0] if value else 0
    elif kind == SP_PRIMARY_USER_ID and len(value) == 1:
        sig.primary_user_id = value[0] != 0
    elif kind == SP_REVOCATION_REASON and value:
        sig.revocation_code = value[0]
        sig.revocation_text = value[1:].decode("utf-8", "replace")
    elif critical and (kind not in KNOWN_SUBPACKETS or kind == SP_NOTATION):
        # Critical notations are refused too: we interpret no notation names.
        sig.unknown_critical = sig.unknown_critical + (kind,)
