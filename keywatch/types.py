"""Domain words as types, so signatures say what flows through them.

Fingerprints are upper-case hex without spaces, resolved once at the edge
(`parse_fingerprint`); key IDs are only ever used to *find* candidate keys,
never to decide that two keys are the same.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import NewType

from .errors import InputError

Fingerprint = NewType("Fingerprint", str)
KeyId = NewType("KeyId", str)

_HEX = re.compile(r"^(?:0x)?([0-9A-Fa-f]+)$")


def fingerprint_from_bytes(raw: bytes) -> Fingerprint:
    return Fingerprint(raw.hex().upper())


def key_id_from_bytes(raw: bytes) -> KeyId:
    return KeyId(raw.hex().upper())


def parse_fingerprint(text: str) -> Fingerprint:
    """Accept a fingerprint as users type it (spaces, 0x, any case); refuse anything else."""
    compact = text.replace(" ", "").strip()
    match = _HEX.match(compact)
    if not match or len(match.group(1)) not in (32, 40, 64):
        raise InputError(f"not an OpenPGP fingerprint: {text!r}")
    return Fingerprint(match.group(1).upper())


def parse_key_handle(text: str) -> str:
    """A fingerprint or a 16-hex-digit key ID, upper-case; used for look-ups only."""
    compact = text.replace(" ", "").strip()
    match = _HEX.match(compact)
    if not match or len(match.group(1)) not in (16, 32, 40, 64):
        raise InputError(f"not a fingerprint or key ID: {text!r}")
    return match.group(1).upper()


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; a date means its midnight UTC, a naive time means UTC."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"not an ISO 8601 date or date-time: {text!r} (e.g. 2023-05-04 or 2023-05-04T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def iso(ts: int | None) -> str | None:
    """Unix seconds to ISO 8601 UTC, the one format every JSON output uses."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_ts() -> int:
    return int(datetime.now(timezone.utc).timestamp())
