"""Finding releases and their signatures on an upstream's download page, as a Debian watch file does.

A pattern is a regular expression matched (whole, not searched) against each
link's file name — the last path segment, percent-decoded — or, when the
pattern contains a ``/``, against the whole absolute URL (percent-decoded), so
a pattern does not depend on whether the page writes its links relative or
absolute. Group 1 is the version.

Links come from ``<a href>`` in HTML (autoindex pages of Apache, nginx and
lighttpd, GitHub release pages, hand-written pages, broken HTML alike) or, when
the body is not HTML, from a plain listing: the last whitespace-separated field
of each line, which also reads ``ls -l`` output and SHA256SUMS files.

One version is one release even when it is published in several compressions.
Its ``artifact_url`` is chosen by a stable preference, so the same page always
gives the same answer whatever order it lists files in: an artifact with a
signature beside it before one without (an unsigned ``.tar.xz`` next to a signed
``.tar.gz`` is still a signed release), then ``.xz``, ``.bz2``, ``.gz`` and
anything else — the order in which distributions prefer source tarballs — then
the order on the page. A signature is the artifact's own URL plus one of the
given suffixes (``.sig``, ``.asc``, ``.sign``; uscan looks in the same place),
listed on the page; files ending in such a suffix are never artifacts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from .errors import ConfigError
from .versions import version_key

MAX_LINKS = 100_000  # a hostile page can hold millions; real release pages hold thousands

_HTML = re.compile(r"<\s*(?:!doctype\s+html|html|head|body|a)[\s>]", re.IGNORECASE)
_COMPRESSION_PREFERENCE = ((".xz", ".txz"), (".bz2", ".tbz", ".tbz2"), (".gz", ".tgz"))


@dataclass(frozen=True)
class Release:
    version: str
    artifact_url: str
    signature_urls: tuple[str, ...]  # in the order of the suffixes asked for


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A release or tag pattern, compiled; without a group 1 it could never yield a version."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    if compiled.groups < 1:
        raise ConfigError(f"pattern {pattern!r} has no group 1 to capture the version")
    return compiled


def find_releases(page: bytes | str, base_url: str, pattern: str,
                  signature_suffixes: Sequence[str]) -> list[Release]:
    """Every release on `page` whose link matches `pattern`, oldest first by version_key."""
    matcher = compile_pattern(pattern)
    match_whole_url = "/" in pattern
    text = page.decode("utf-8", errors="replace") if isinstance(page, bytes) else page
    links = list(dict.fromkeys(_resolved_links(text, base_url)))
    on_page = set(links)

    suffixes = tuple(suffix for suffix in signature_suffixes if suffix)
    candidates: dict[str, list[tuple[tuple[int, int, int], str, tuple[str, ...]]]] = {}
    for position, url in enumerate(links):
        name = _file_name(url)
        if name.endswith(suffixes):
            continue
        match = matcher.fullmatch(unquote(url) if match_whole_url else name)
        if not match or not match.group(1):
            continue
        signatures = tuple(url + suffix for suffix in suffixes if url + suffix in on_page)
        preference = (0 if signatures else 1, _compression_rank(name), position)
        candidates.setdefault(match.group(1), []).append((preference, url, signatures))

    releases = []
    for version, found in candidates.items():
        _, artifact_url, signatures = min(found)
        releases.append(Release(version, artifact_url, signatures))
    return sorted(releases, key=lambda release: version_key(release.version))


def _resolved_links(text: str, base_url: str) -> Iterator[str]:
    """Absolute http(s) URLs without fragment, at most MAX_LINKS of them, in page order."""
    base = base_url
    if _HTML.search(text):
        collector = _LinkCollector()
        # html.parser raises on malformed "<![" marked sections; as text they are harmless.
        collector.feed(text.replace("<![", "&lt;!["))
        collector.close()
        base = _join(base_url, collector.base_href or "") or base_url
        hrefs: Iterable[str] = collector.hrefs
    else:
        hrefs = (line.split()[-1] for line in text.splitlines() if line.strip())
    for href in itertools.islice(hrefs, MAX_LINKS):
        href = href.strip()
        if not href or href.startswith(("#", "?")):
            continue
        url = _join(base, href)
        if url and urlsplit(url).scheme in ("http", "https"):
            yield url


def _join(base: str, href: str) -> str | None:
    """`href` made absolute and stripped of its fragment; None if it is not a URL at all."""
    try:
        url, _ = urldefrag(urljoin(base, href))
    except ValueError:  # e.g. an unclosed IPv6 host
        return None
    return url


def _file_name(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _compression_rank(name: str) -> int:
    for rank, suffixes in enumerate(_COMPRESSION_PREFERENCE):
        if name.endswith(suffixes):
            return rank
    return len(_COMPRESSION_PREFERENCE)


class _LinkCollector(HTMLParser):
    """Collects `<a href>` values (entities already decoded) and the first `<base href>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = next((value for name, value in attrs if name == "href" and value), None)
        if href is None:
            return
        if tag == "a" and len(self.hrefs) < MAX_LINKS:
            self.hrefs.append(href)
        elif tag == "base" and self.base_href is None:
            self.base_href = href
