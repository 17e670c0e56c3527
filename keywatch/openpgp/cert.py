"""The certificate model: a primary key, its user IDs and subkeys, and every signature in its place.

Certificates are assembled from a flat packet list the way RFC 9580 §10.1
lays out a Transferable Public Key. The same certificate seen twice in one
input (split across files, or partly refreshed) is merged, and its
canonical form — components sorted, duplicates dropped, new-format headers —
is what we hash to identify a *version* of that certificate: identical
content gives identical bytes, whatever order a keyserver returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MalformedPacket
from ..types import Fingerprint
from .keymaterial import PublicKey, parse_public_key
from .packets import (
    TAG_MARKER,
    TAG_PADDING,
    TAG_TRUST,
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ATTRIBUTE,
    TAG_USER_ID,
    Packet,
    read_packets,
    serialize,
)
from .signature import Signature, parse_signature

# Packets that may sit in a keyring but carry nothing we keep (trust, marker, padding).
_IGNORED_TAGS = frozenset({TAG_MARKER, TAG_TRUST, TAG_PADDING})


@dataclass(slots=True)
class UserIdComponent:
    """A user ID (or user attribute) and the signatures over it; `value` is untrusted bytes."""

    value: bytes
    is_attribute: bool = False
    signatures: list[Signature] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Display text: never trusted, undecodable bytes replaced."""
        if self.is_attribute:
            return f"[user attribute, {len(self.value)} bytes]"
        return self.value.decode("utf-8", "replace")

    @property
    def packet_tag(self) -> int:
        return TAG_USER_ATTRIBUTE if self.is_attribute else TAG_USER_ID


@dataclass(slots=True)
class SubkeyComponent:
    key: PublicKey
    signatures: list[Signature] = field(default_factory=list)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.key.hex_fingerprint)


@dataclass(slots=True)
class Certificate:
    primary: PublicKey
    direct: list[Signature] = field(default_factory=list)
    user_ids: list[UserIdComponent] = field(default_factory=list)
    subkeys: list[SubkeyComponent] = field(default_factory=list)
    unparsed_signatures: int = 0  # signature packets we could not parse, dropped with a count

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.primary.hex_fingerprint)

    def canonical_bytes(self) -> bytes:
        """The certificate as one canonical packet sequence: same content, same bytes."""
        out = [serialize(TAG_PUBLIC_KEY, self.primary.body)]
        out += _signature_packets(self.direct)
        for uid in sorted(self.user_ids, key=lambda u: (u.is_attribute, u.value)):
            out.append(serialize(uid.packet_tag, uid.value))
            out += _signature_packets(uid.signatures)
        for sub in sorted(self.subkeys, key=lambda s: s.key.fingerprint):
            out.append(serialize(TAG_PUBLIC_SUBKEY, sub.key.body))
            out += _signature_packets(sub.signatures)
        return b"".join(out)

    def merge(self, other: "Certificate") -> None:
        """Fold another copy of the same certificate into this one (union of all packets)."""
        _merge_signatures(self.direct, other.direct)
        for uid in other.user_ids:
            mine = self.user_id(uid.value, uid.is_attribute)
            if mine is None:
                self.user_ids.append(uid)
            else:
                _merge_signatures(mine.signatures, uid.signatures)
        for sub in other.subkeys:
            mine_sub = self.subkey(sub.key.fingerprint)
            if mine_sub is None:
                self.subkeys.append(sub)
            else:
                _merge_signatures(mine_sub.signatures, sub.signatures)
        self.unparsed_signatures += other.unparsed_signatures

    def user_id(self, value: bytes, is_attribute: bool = False) -> UserIdComponent | None:
        for uid in self.user_ids:
            if uid.value == value and uid.is_attribute == is_attribute:
                return uid
        return None

    def subkey(self, fingerprint: bytes) -> SubkeyComponent | None:
        for sub in self.subkeys:
            if sub.key.fingerprint == fingerprint:
                return sub
        return None


def _signature_packets(signatures: list[Signature]) -> list[bytes]:
    unique = {sig.body: sig for sig in signatures}
    return [serialize(TAG_SIGNATURE, body) for body in sorted(unique)]


def _merge_signatures(target: list[Signature], extra: list[Signature]) -> None:
    seen = {sig.digest for sig in target}
    for sig in extra:
        if sig.digest not in seen:
            target.append(sig)
            seen.add(sig.digest)



def certificates_from_bytes(data: bytes, source: str) -> list[Certificate]:
    """Every certificate in `data` (armored or binary keyring), merged by fingerprint, in input order."""
    return assemble(read_packets(data, source), source)


def assemble(packets: list[Packet], source: str, first_index: int = 0) -> list[Certificate]:
    """Certificates from a packet list; `first_index` is the first packet's number in the input, for errors."""
    by_fingerprint: dict[bytes, Certificate] = {}
    current: Certificate | None = None
    # Where the next signature goes: the cert's direct list, a user ID or a subkey.
    target: list[Signature] | None = None
    for index, packet in enumerate(packets, first_index):
        tag = packet.tag
        if tag == TAG_PUBLIC_KEY:
            primary = _parse_key(packet, index, source)
            current = Certificate(primary=primary)
            target = current.direct
            existing = by_fingerprint.get(primary.fingerprint)
            if existing is not None:
                # Merge at the end so the running `current` stays simple.
                by_fingerprint[primary.fingerprint + b"#%d" % index] = current
            else:
                by_fingerprint[primary.fingerprint] = current
        elif tag in _IGNORED_TAGS:
            continue
        elif current is None:
            raise MalformedPacket(
                f"{source}: not valid OpenPGP certificate data: packet {index} (tag {tag}) comes before any public key"
            )
        elif tag in (TAG_USER_ID, TAG_USER_ATTRIBUTE):
            uid = UserIdComponent(value=packet.body, is_attribute=tag == TAG_USER_ATTRIBUTE)
            current.user_ids.append(uid)
            target = uid.signatures
        elif tag == TAG_PUBLIC_SUBKEY:
            sub = SubkeyComponent(key=_parse_key(packet, index, source))
            current.subkeys.append(sub)
            target = sub.signatures
        elif tag == TAG_SIGNATURE:
            try:
                target.append(parse_signature(packet.body))
            except MalformedPacket:
                current.unparsed_signatures += 1
        else:
            raise MalformedPacket(
                f"{source}: not valid OpenPGP certificate data: packet {index} has tag {tag}, "
                "which does not belong in a certificate"
            )
    return _merge_duplicates(by_fingerprint)


def _merge_duplicates(by_key: dict[bytes, Certificate]) -> list[Certificate]:
    merged: dict[bytes, Certificate] = {}
    for cert in by_key.values():
        fpr = cert.primary.fingerprint
        if fpr in merged:
            merged[fpr].merge(cert)
        else:
            merged[fpr] = cert
    for cert in merged.values():
        _dedupe_components(cert)
    return list(merged.values())


def _dedupe_components(cert: Certificate) -> None:
    """The same user ID or subkey listed twice in one cert becomes one component."""
    user_ids: list[UserIdComponent] = []
    for uid in cert.user_ids:
        same = next((u for u in user_ids if u.value == uid.value and u.is_attribute == uid.is_attribute), None)
        if same is None:
            user_ids.append(uid)
        else:
            _merge_signatures(same.signatures, uid.signatures)
    cert.user_ids = user_ids
    subkeys: dict[bytes, SubkeyComponent] = {}
    for sub in cert.subkeys:
        if sub.key.fingerprint in subkeys:
            _merge_signatures(subkeys[sub.key.fingerprint].signatures, sub.signatures)
        else:
            subkeys[sub.key.fingerprint] = sub
    cert.subkeys = list(subkeys.values())
    for sigs in [cert.direct] + [u.signatures for u in cert.user_ids] + [s.signatures for s in cert.subkeys]:
        unique = list({sig.digest: sig for sig in sigs}.values())
        sigs[:] = unique


def _parse_key(packet: Packet, index: int, source: str) -> PublicKey:
    try:
        return parse_public_key(packet.body)
    except MalformedPacket as exc:
        raise MalformedPacket(f"{source}: not valid OpenPGP certificate data: key packet {index}: {exc}") from None
