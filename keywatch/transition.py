"""Transition statements: an upstream's cleartext-signed "we moved to key NEW", checked as handover evidence.

An upstream may publish, at a URL in its config (`transition_statement`), an
OpenPGP cleartext-signed message (RFC 9580 §7) in which the outgoing key
announces the incoming one. keywatch fetches it, parses the cleartext
framework itself (the document is untrusted: capped, strict, every oddity a
`problem`, never an exception but a KeywatchError from fetching) and checks
the signature with `datasig` against the keys in the store, judged at signing
time like release signatures. The result answers what a reviewer asks:

* `valid`: at least one signature holds (made by a known key over exactly this
  text, the key valid when it signed) and none is bad;
* `signed_by`: the certificates whose signatures hold;
* `by_previous_key`: one of them is a key the packagers already trust;
* `names_new_key`: the new key's full fingerprint is in the signed text
  (spaces ignored, any case, not part of a longer hex string).

Only the signed text is shown (first 4000 characters): nothing outside the
signed part may pass for part of the statement, so anything but whitespace
before the header or after the signature makes the document malformed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from .datasig import SignerIndex, digests_of, judge, read_detached_signatures
from .errors import KeywatchError
from .fetch import Fetcher
from .keyview import CertificateReader
from .openpgp.verify import BAD
from .store import Store
from .types import Fingerprint, now_ts

MAX_STATEMENT_BYTES = 256 * 1024
TEXT_SHOWN = 4000
CLOCK_SKEW = 300  # a signature dated further in the future than this is not accepted

_BEGIN = b"-----BEGIN PGP SIGNED MESSAGE-----"
_SIG_BEGIN = b"-----BEGIN PGP SIGNATURE-----"
_SIG_END = b"-----END PGP SIGNATURE-----"
# Hash header names (RFC 9580 §6.2.2.3 / §9.5) to algorithm IDs.
_HASHES = {"MD5": 1, "SHA1": 2, "RIPEMD160": 3, "SHA256": 8, "SHA384": 9, "SHA512": 10, "SHA224": 11,
           "SHA3-256": 12, "SHA3-512": 14}
_WS = b" \t\r"


class Malformed(Exception):
    """Internal: the document is not a cleartext-signed message (becomes `problem`)."""


async def fetch_statement(fetcher: Fetcher, url: str, max_bytes: int = MAX_STATEMENT_BYTES) -> bytes:
    """The document at `url` (redirects http(s) only, body cut at `max_bytes`); FetchError otherwise."""
    fetched = await fetcher.get(url, max_bytes=max_bytes, conditional=False)
    return fetched.body


def load_statement(url: str, *, timeout: float = 20.0, retries: int = 1,
                   max_bytes: int = MAX_STATEMENT_BYTES) -> bytes:
    """`fetch_statement` for synchronous callers (no event loop may be running)."""
    async def run() -> bytes:
        async with Fetcher(None, timeout=timeout, retries=retries, max_bytes=max_bytes) as fetcher:
            return await fetch_statement(fetcher, url, max_bytes)
    return asyncio.run(run())


def statement_checker(store: Store, url: str, *, at: int | None = None, timeout: float = 20.0,
                      fetch: Callable[[str], bytes] | None = None) -> Callable[[list[Fingerprint], Fingerprint], dict]:
    """`check(previous, new) -> dict` for one upstream's statement, fetched once on first use.

    A fetch failure does not raise: every result then says `could not fetch …`.
    """
    loaded: list[bytes | str] = []

    def check(previous: list[Fingerprint], new: Fingerprint) -> dict:
        if not loaded:
            try:
                loaded.append(fetch(url) if fetch else load_statement(url, timeout=timeout))
            except KeywatchError as exc:
                loaded.append(f"could not fetch the transition statement: {exc}")
        if isinstance(loaded[0], str):
            return _result(url, problem=loaded[0])
        return check_statement(store, loaded[0], previous, new, now_ts() if at is None else at, url=url)

    return check


def check_statement(store: Store, text: bytes, previous: list[Fingerprint], new: Fingerprint, at: int,
                    url: str | None = None) -> dict:
    """Verify a cleartext-signed statement against the store's keys; see the module docstring."""
    if len(text) > MAX_STATEMENT_BYTES:
        return _result(url, problem=f"the statement is {len(text):,} bytes, over the limit of "
                                    f"{MAX_STATEMENT_BYTES:,}")
    try:
        hashes, signed, armored = parse_cleartext(text)
    except Malformed as exc:
        return _result(url, problem=f"not a cleartext-signed OpenPGP message: {exc}")
    shown = signed.decode("utf-8", errors="replace").replace("\r\n", "\n")[:TEXT_SHOWN]
    names_new = _names(signed, new)
    try:
        sigs = read_detached_signatures(armored, "transition statement signature")
    except KeywatchError as exc:
        return _result(url, text=shown, names_new_key=names_new, problem=f"unreadable signature: {exc}")
    index = SignerIndex.from_store(store)
    digests, _ = digests_of(sigs, [signed])
    verdicts = judge(sigs, digests, index, CertificateReader(store).state, at)
    signed_by: list[str] = []
    reasons: list[str] = []
    bad = False
    for sig, verdict in zip(sigs, verdicts):
        who = verdict.signer or f"key ID {verdict.key_id or '?'}"
        if hashes is not None and sig.hash_algorithm not in hashes:
            bad = True
            reasons.append(f"{who}: hash algorithm {sig.hash_algorithm} not announced in the Hash header")
        elif verdict.status == BAD:
            bad = True
            reasons.append(f"{who}: {verdict.reason}")
        elif sig.created is not None and sig.created > at + CLOCK_SKEW:
            reasons.append(f"{who}: signature dated in the future")
        elif verdict.holds:
            if verdict.signer not in signed_by:
                signed_by.append(verdict.signer)
        else:
            reasons.append(f"{who}: {verdict.why_invalid}")
    valid = bool(signed_by) and not bad
    by_previous = valid and any(fpr in set(previous) for fpr in signed_by)
    if not valid:
        problem = "the signature does not hold: " + "; ".join(reasons or ["no signature"])
    elif not by_previous:
        problem = "not signed by a previous key"
    elif not names_new:
        problem = f"the signed text does not name the new key {new}"
    else:
        problem = None
    return _result(url, signed_by=signed_by if valid else [], by_previous_key=by_previous,
                   names_new_key=names_new, valid=valid, problem=problem, text=shown)


def parse_cleartext(data: bytes) -> tuple[set[int] | None, bytes, bytes]:
    """(hash IDs from the Hash headers or None, the signed text, the armored signature block)."""
    lines = data.split(b"\n")
    first = 0
    while first < len(lines) and not lines[first].strip(_WS):
        first += 1
    if first == len(lines) or lines[first].rstrip(_WS) != _BEGIN:
        raise Malformed("it does not start with -----BEGIN PGP SIGNED MESSAGE-----")
    pos = first + 1
    hashes: set[int] | None = None
    while True:
        if pos == len(lines):
            raise Malformed("the headers do not end")
        line = lines[pos].rstrip(_WS)
        pos += 1
        if not line:
            break
        name, sep, value = line.partition(b": ")
        if name != b"Hash" or not sep:
            raise Malformed(f"unexpected header line {_quote(line)}")
        for item in value.split(b","):
            algorithm = _HASHES.get(item.strip(_WS).decode("ascii", "replace").upper())
            if algorithm is None:
                raise Malformed(f"unknown hash {_quote(item.strip(_WS))} in the Hash header")
            hashes = (hashes or set()) | {algorithm}
    body: list[bytes] = []
    while True:
        if pos == len(lines):
            raise Malformed("no -----BEGIN PGP SIGNATURE----- after the text")
        line = lines[pos].rstrip(_WS)
        pos += 1
        if line == _SIG_BEGIN:
            break
        if line.startswith(b"- "):
            line = line[2:].rstrip(_WS)
        elif line.startswith(b"-"):
            raise Malformed(f"a line of the text starts with '-' but is not dash-escaped: {_quote(line)}")
        body.append(line)
    start = pos - 1
    while pos < len(lines) and lines[pos].rstrip(_WS) != _SIG_END:
        pos += 1
    if pos == len(lines):
        raise Malformed("the signature block does not end")
    if any(line.strip(_WS) for line in lines[pos + 1:]):
        raise Malformed("there is more after -----END PGP SIGNATURE-----")
    armored = b"\n".join(line.rstrip(_WS) for line in lines[start:pos + 1]) + b"\n"
    return hashes, b"\r\n".join(body), armored


def _names(signed: bytes, new: Fingerprint) -> bool:
    compact = re.sub(rb"[ \t]", b"", signed).upper()
    return re.search(rb"(?<![0-9A-F])" + re.escape(new.upper().encode()) + rb"(?![0-9A-F])", compact) is not None


def _quote(line: bytes) -> str:
    return repr(line[:60].decode("utf-8", "replace"))


def _result(url: str | None, *, signed_by: list[str] | None = None, by_previous_key: bool = False,
            names_new_key: bool = False, valid: bool = False, problem: str | None = None, text: str = "") -> dict:
    return {"url": url, "signed_by": signed_by or [], "by_previous_key": by_previous_key,
            "names_new_key": names_new_key, "valid": valid, "problem": problem, "text": text}
