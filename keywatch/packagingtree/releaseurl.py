"""From the tarball URL a package builds to the index and pattern keywatch polls.

The rule, for a spec's `Source:`, a PKGBUILD's `source=` or an ebuild's
`SRC_URI`, expanded with the packaged version:

- the index is the directory of the tarball URL (everything up to the last
  `/`), without query or fragment (`#/name.tar.gz` renames are dropped);
- the pattern is the file name, regex-escaped, with the packaged version
  replaced by a capture group (group 1, as `releases.py` expects); a second
  occurrence of the version becomes a back-reference;
- the version is found where it stands as a whole: after a separator (or a
  `v` after one) and not followed by a digit or `.digit`, so `foo1-1.tar.gz`
  at version 1 matches the second `1`, and `v1.2/foo-1.2.tar.gz` both.

When the version is not in the file name the pattern cannot be derived, and
when it is in the directory as well the index would show only this version's
files: both are problems for the caller to report, not guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

# uscan's @ANY_VERSION@ without its leading separator: a digit, then version characters.
VERSION_GROUP = r"(\d[-+.~\dA-Za-z]*)"
SIGNATURE_SUFFIXES = (".sig", ".asc", ".sign", ".gpg", ".pgp")
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar.lz", ".tar.lzma", ".tgz", ".txz", ".tbz",
                    ".tbz2", ".tar", ".zip", ".gz", ".xz", ".bz2", ".zst")
# Gentoo's thirdpartymirrors and the usual mirror:// names, to real directories.
MIRRORS = {
    "gnu": "https://ftp.gnu.org/gnu/",
    "gnupg": "https://gnupg.org/ftp/gcrypt/",
    "kernel": "https://www.kernel.org/pub/",
    "savannah": "https://download.savannah.gnu.org/releases/",
    "sourceforge": "https://downloads.sourceforge.net/",
    "sourceware": "https://sourceware.org/pub/",
    "apache": "https://downloads.apache.org/",
    "cpan": "https://www.cpan.org/",
    "xorg": "https://www.x.org/releases/",
    "gnome": "https://download.gnome.org/",
}


def escape(text: str) -> str:
    """Like re.escape, but only the characters that mean something in a pattern (`-` and `~` stay)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


class NotDerivable(ValueError):
    """The index or pattern cannot be derived from this URL; the message says why."""


@dataclass(frozen=True)
class ReleaseSource:
    index: str
    pattern: str
    release_url: str


def resolve_mirror(url: str) -> str:
    """mirror://gnu/xz/… → https://ftp.gnu.org/gnu/xz/…; unknown mirrors raise NotDerivable."""
    if not url.startswith("mirror://"):
        return url
    name, _, rest = url[len("mirror://"):].partition("/")
    if name not in MIRRORS:
        raise NotDerivable(f"unknown mirror://{name}/ (known: {', '.join(sorted(MIRRORS))})")
    return MIRRORS[name] + rest


def without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def is_archive(url: str) -> bool:
    name = without_fragment(url).rsplit("/", 1)[-1].lower()
    return name.endswith(ARCHIVE_SUFFIXES) and not name.endswith(SIGNATURE_SUFFIXES)


def _version_spans(text: str, version: str) -> list[tuple[int, int]]:
    """Where `version` stands as a whole: after a separator (or a `v` after one), before no digit or `.digit`."""
    spans = []
    start = text.find(version)
    while start >= 0:
        end = start + len(version)
        before = text[:start]
        after = text[end:end + 2]
        separated = not before or not before[-1].isalnum() or (
            before[-1] in "vV" and (len(before) == 1 or not before[-2].isalnum()))
        glued = after[:1].isdigit() or (after[:1] == "." and after[1:2].isdigit())
        if separated and not glued and not before.endswith("."):
            spans.append((start, end))
        start = text.find(version, start + 1)
    return spans


def derive(url: str, version: str) -> ReleaseSource:
    """Index and pattern for `url`, the tarball of `version`."""
    url = without_fragment(resolve_mirror(url))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise NotDerivable(f"{url}: keywatch polls http(s) index pages only, not {parts.scheme or 'a local file'}")
    directory, _, name = url.rpartition("/")
    if not version:
        raise NotDerivable(f"{url}: no version to find in the file name")
    spans = _version_spans(name, version)
    if not spans:
        raise NotDerivable(f"{url}: the file name does not contain the version {version}")
    if _version_spans(directory, version):
        raise NotDerivable(f"{url}: the directory changes with every version ({version} is in it), "
                           "so no single index page lists the releases")
    pattern, cursor = [], 0
    for number, (start, end) in enumerate(spans):
        pattern.append(escape(name[cursor:start]))
        pattern.append(VERSION_GROUP if number == 0 else r"\1")
        cursor = end
    pattern.append(escape(name[cursor:]))
    return ReleaseSource(directory + "/", "".join(pattern), url)


def signature_suffixes(tarball: str, others: list[str]) -> list[str]:
    """Suffixes of the entries that name the tarball's signature: `…tar.xz.sig` beside `…tar.xz`."""
    base = without_fragment(tarball)
    name = base.rsplit("/", 1)[-1]
    found = []
    for other in others:
        candidate = without_fragment(other)
        for suffix in SIGNATURE_SUFFIXES:
            if candidate in (base + suffix, name + suffix) and suffix not in found:
                found.append(suffix)
    return found
