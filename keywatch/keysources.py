"""Where an upstream's keys come from: a KEYS/.asc URL, WKD, or a keyserver (VKS or HKP).

keywatch.toml names each source as a *spec*: `https://…/KEYS`, `wkd:user@domain`,
`vks:FINGERPRINT` or `hkp:FINGERPRINT`. This module turns a spec into URLs,
fetches them through the one Fetcher, and insists that what came back is
OpenPGP keys: an HTML error page served with status 200 is reported as what
it is, never taken for an upstream that has no keys any more.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from urllib.parse import quote

from .errors import ConfigError, InputError, MalformedPacket
from .fetch import CannotConnect, Fetcher, FetchError
from .openpgp.packets import TAG_PUBLIC_KEY, read_packets
from .types import parse_fingerprint
from .untrusted import for_terminal

DEFAULT_KEYSERVER = "https://keys.openpgp.org"
DEFAULT_MAX_KEY_BYTES = 2 * 1024 * 1024

_ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title)[\s>]")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class SourceSettings:
    """Where specs point: the keyserver for vks: and hkp:, and WKD host overrides (mirrors, tests).

    A `wkd_servers` entry for a domain is a base URL that replaces both
    https://openpgpkey.<domain> (advanced method) and https://<domain>
    (direct method); an entry for openpgpkey.<domain> replaces only the former.
    """

    keyserver: str = DEFAULT_KEYSERVER
    wkd_servers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeySourceResult:
    """The keys one spec gave, as served (armored or binary), and the URL that served them."""

    spec: str
    url: str
    data: bytes
    not_modified: bool


def zbase32(data: bytes) -> str:
    """z-base-32, the encoding of WKD hashes: 5 bits a character, most significant first, the last zero-padded."""
    count = -(-len(data) * 8 // 5)
    number = int.from_bytes(data, "big") << (count * 5 - len(data) * 8)
    return "".join(_ZBASE32[(number >> 5 * i) & 31] for i in reversed(range(count)))


def wkd_urls(email: str, settings: SourceSettings) -> tuple[str, str]:
    """The (advanced, direct) WKD URLs for `email`, per draft-koch-openpgp-webkey-service §3.1.

    The hash is the SHA-1 of the local part with only ASCII letters
    lower-cased (the draft's rule; other characters stay as they are), in
    z-base-32. The local part as written goes, percent-encoded, in `?l=` for
    servers that map addresses themselves; the domain is lower-cased.
    """
    local, at, domain = email.rpartition("@")
    domain = domain.lower()
    if not at or not local or not _DOMAIN.match(domain) or any(c.isspace() or not c.isprintable() for c in local):
        raise InputError(f"not an e-mail address for WKD: {email!r}")
    digest = zbase32(hashlib.sha1(local.translate(_ASCII_LOWER).encode()).digest())
    query = "?l=" + quote(local, safe="")
    servers = settings.wkd_servers
    advanced = servers.get(f"openpgpkey.{domain}") or servers.get(domain) or f"https://openpgpkey.{domain}"
    direct = servers.get(domain) or f"https://{domain}"
    return (f"{advanced.rstrip('/')}/.well-known/openpgpkey/{domain}/hu/{digest}{query}",
            f"{direct.rstrip('/')}/.well-known/openpgpkey/hu/{digest}{query}")


def source_url(spec: str, settings: SourceSettings) -> str | list[str]:
    """The URL a spec is fetched from; for wkd:, the advanced and the direct URL, tried in that order."""
    if spec.lower().startswith(("https://", "http://")):
        return spec
    kind, _, value = spec.partition(":")
    keyserver = settings.keyserver.rstrip("/")
    try:
        match kind.lower():
            case "wkd":
                return list(wkd_urls(value, settings))
            case "vks":
                return f"{keyserver}/vks/v1/by-fingerprint/{parse_fingerprint(value)}"
            case "hkp":
                return f"{keyserver}/pks/lookup?op=get&options=mr&search=0x{parse_fingerprint(value)}"
    except InputError as exc:
        raise ConfigError(f"key source {spec!r}: {exc}") from None
    raise ConfigError(f"key source {spec!r}: unknown form; use an https:// URL, wkd:user@domain, "
                      "vks:FINGERPRINT or hkp:FINGERPRINT")


async def fetch_key_source(fetcher: Fetcher, spec: str, settings: SourceSettings, *,
                           max_bytes: int = DEFAULT_MAX_KEY_BYTES) -> KeySourceResult:
    """Fetch one key source and check that it holds OpenPGP keys (also when unchanged: a 304 may keep a bad page).

    WKD tries the advanced method, then the direct one when the openpgpkey
    host cannot be reached or has no such key (404), as the draft says; an
    advanced host that answers anything else is reported, not bypassed.
    A 404 from the last URL tried surfaces as FetchError with status 404.
    """
    target = source_url(spec, settings)
    if isinstance(target, str):
        fetched = await fetcher.get(target, max_bytes=max_bytes)
    else:
        advanced, direct = target
        try:
            fetched = await fetcher.get(advanced, max_bytes=max_bytes)
        except FetchError as exc:
            if not (isinstance(exc, CannotConnect) or exc.status == 404):
                raise
            fetched = await fetcher.get(direct, max_bytes=max_bytes)
    _check_keys(fetched.body, fetched.url)
    return KeySourceResult(spec, fetched.url, fetched.body, fetched.not_modified)


def _check_keys(data: bytes, url: str) -> None:
    """OpenPGP with at least one public key, or an error saying what came instead. Secret keys are refused."""
    try:
        packets = read_packets(data, url)
    except MalformedPacket:
        looks_like = _what_it_looks_like(data)
        if looks_like is None:
            raise
        raise FetchError(url, f"expected OpenPGP keys, got {looks_like}") from None
    if not any(packet.tag == TAG_PUBLIC_KEY for packet in packets):
        raise FetchError(url, "expected OpenPGP keys, got OpenPGP data without a public key")


def _what_it_looks_like(data: bytes) -> str | None:
    """A short description of an answer that is not OpenPGP; None when it may be damaged OpenPGP.

    For damaged OpenPGP (armor, or binary data), Sequoia's own message says
    more than a guess would.
    """
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        return "an empty answer"
    if _HTML.search(head.lower()):
        title = _TITLE.search(head)
        text = " ".join(title.group(1).decode("utf-8", "replace").split()) if title else ""
        return f'HTML ("{for_terminal(text, 80)}")' if text else "HTML"
    if b"-----BEGIN PGP" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return f'text ("{for_terminal(text.strip().splitlines()[0], 80)}")'
