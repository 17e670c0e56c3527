"""Turning bytes (armored or binary) into a flat list of OpenPGP packets.

De-armoring and framing are pysequoia's job (Sequoia's parser is the one
distributions already trust), except for plainly framed binary keyrings,
whose header walk the import does itself (`binary_frames`). We keep only
each packet's tag and body, and re-serialise with new-format headers so
that the same packets always give the same bytes, whatever header style the
source used.
"""

from __future__ import annotations

from dataclasses import dataclass

import pysequoia.packet as sequoia_packet

from ..errors import InputError, MalformedPacket, SecretKeyRefused

# Packet tags (RFC 9580 §5).
TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_MARKER = 10
TAG_TRUST = 12
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17
TAG_PADDING = 21

SECRET_TAGS = frozenset({TAG_SECRET_KEY, TAG_SECRET_SUBKEY})

# pysequoia's `int(Tag)` is its own enum index, not the RFC tag number: map by name.
_RFC_TAG_NUMBERS = {
    "PKESK": 1, "Signature": 2, "SKESK": 3, "OnePassSig": 4, "SecretKey": 5, "PublicKey": 6,
    "SecretSubkey": 7, "CompressedData": 8, "SED": 9, "Marker": 10, "Literal": 11, "Trust": 12,
    "UserID": 13, "PublicSubkey": 14, "UserAttribute": 17, "SEIP": 18, "MDC": 19, "AED": 20, "Padding": 21,
}
_TAG_NUMBER = {int(getattr(sequoia_packet.Tag, name)): number for name, number in _RFC_TAG_NUMBERS.items()}

# A keyring bigger than this is refused before parsing: Debian's whole keyring is 28 MB.
DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Packet:
    tag: int
    body: bytes


ARMOR_BEGIN = b"-----BEGIN PGP "


def read_packets(data: bytes, source: str, max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> list[Packet]:
    """Parse armored or binary OpenPGP data into packets, or raise one clear error naming `source`.

    Armored input is cut at every armor header and each block parsed on its
    own: Sequoia's reader stops after the first block when the next header
    follows on the same line, and a keyring must never lose a key silently.
    """
    if len(data) > max_bytes:
        raise InputError(f"{source}: {len(data):,} bytes is over the {max_bytes:,}-byte limit for key files")
    if not data.strip():
        raise MalformedPacket(f"{source}: empty file, no OpenPGP data")
    if data.lstrip().startswith(ARMOR_BEGIN):
        blocks = [ARMOR_BEGIN + block for block in data.lstrip()[len(ARMOR_BEGIN):].split(ARMOR_BEGIN)]
    else:
        blocks = [data]
    packets = [packet for block in blocks for packet in _parse_block(block, source)]
    if not packets:
        raise MalformedPacket(f"{source}: no OpenPGP packets found")
    return packets


def _parse_block(data: bytes, source: str) -> list[Packet]:
    try:
        pile = sequoia_packet.PacketPile.from_bytes(data)
        packets = []
        for parsed in pile:
            tag = _TAG_NUMBER.get(int(parsed.tag), 0)
            if tag in SECRET_TAGS:
                raise SecretKeyRefused(
                    f"{source}: contains secret key material (key {(parsed.fingerprint or '?').upper()}); "
                    "keywatch never stores secret keys: give it the public certificate "
                    "(sq key extract-cert, or gpg --export)"
                )
            packets.append(Packet(tag, parsed.body))
    except (RuntimeError, ValueError) as exc:
        raise MalformedPacket(f"{source}: not valid OpenPGP data: {_first_line(exc)}") from None
    return packets


def _first_line(exc: BaseException) -> str:
    # Sequoia errors carry a Rust backtrace after the first line when RUST_BACKTRACE is set.
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def serialize(tag: int, body: bytes) -> bytes:
    """New-format packet header (RFC 9580 §4.2.1) followed by the body."""
    length = len(body)
    if length < 192:
        header = bytes([length])
    elif length < 8384:
        length -= 192
        header = bytes([(length >> 8) + 192, length & 0xFF])
    else:
        header = b"\xff" + length.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + header + body


def binary_frames(data: bytes) -> list[tuple[int, int, int]] | None:
    """(tag, body start, body end) of every packet of a plainly framed binary keyring; None otherwise.

    A binary keyring's framing is a walk over packet headers (RFC 9580
    §4.2), which the import needs anyway to cut the keyring into runs of
    whole certificates for its workers; every body is then parsed by
    keywatch's own key and signature parsers. Only that walk is done here.
    Anything but plain framing — armor, partial or indeterminate lengths, a
    truncated packet, secret-key packets — gives None: Sequoia then parses
    the input and reports its errors exactly.
    """
    frames: list[tuple[int, int, int]] = []
    append = frames.append  # ~55,000 packets in the Debian keyring: this loop is the serial start of an import
    pos, end = 0, len(data)
    while pos < end:
        first = data[pos]
        if first & 0xC0 == 0xC0:  # new format
            tag = first & 0x3F
            if pos + 2 > end:
                return None
            octet = data[pos + 1]
            if octet < 192:
                start, length = pos + 2, octet
            elif octet < 224:
                if pos + 3 > end:
                    return None
                start, length = pos + 3, ((octet - 192) << 8) + data[pos + 2] + 192
            elif octet == 255:
                if pos + 6 > end:
                    return None
                start, length = pos + 6, int.from_bytes(data[pos + 2 : pos + 6], "big")
            else:
                return None  # partial body lengths never appear in keyrings
        elif first & 0x80:  # old format: a 1-, 2- or 4-octet length, or indeterminate
            tag = (first >> 2) & 0x0F
            length_type = first & 0x03
            if length_type == 0:
                if pos + 2 > end:
                    return None
                start, length = pos + 2, data[pos + 1]
            elif length_type == 1:
                if pos + 3 > end:
                    return None
                start, length = pos + 3, (data[pos + 1] << 8) | data[pos + 2]
            elif length_type == 2:
                if pos + 5 > end:
                    return None
                start, length = pos + 5, int.from_bytes(data[pos + 1 : pos + 5], "big")
            else:
                return None
        else:
            return None  # not a packet header: armor, or not OpenPGP at all
        pos = start + length
        if pos > end or tag in SECRET_TAGS:
            return None
        append((tag, start, pos))
    return frames
