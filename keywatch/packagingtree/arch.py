"""Arch Linux packages: `PKGBUILD` (`validpgpkeys=`, `source=`) and `keys/pgp/<FINGERPRINT>.asc`.

The PKGBUILD is read by `bashvars`, never run. makepkg accepts a signature
when its key's fingerprint is in `validpgpkeys`; the key files under
`keys/pgp/` are what the packagers reviewed. Both are kept: the key files are
the approved keyring, the fingerprints are checked against them both ways
(see `baseline.check_declared`), and a `validpgpkeys` entry that is not a
full fingerprint is reported (makepkg refuses short IDs too).

`source=` (and `source_<arch>=`) entries are `[name::]url`; the first http(s)
archive is the tarball (index and pattern from it, as `releaseurl.derive`
states, with `pkgver`), and the entries naming it plus `.sig`/`.asc`/`.sign`
give the signature suffixes. A `git+…#tag=…?signed` entry gives a git
repository and a tag pattern: the tag with `pkgver` replaced by the version
group.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .bashvars import Script, Unknown, read_script, script_problems
from .findings import ProblemLog, UpstreamFinding
from .releaseurl import VERSION_GROUP, NotDerivable, derive, escape, is_archive, signature_suffixes, without_fragment

USED_VARIABLES = ("pkgbase", "pkgname", "pkgver", "validpgpkeys", "source")
_FINGERPRINT = re.compile(r"^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$")


def read_package(package: Path, problems: ProblemLog) -> list[UpstreamFinding]:
    pkgbuild = package / "PKGBUILD"
    text = problems.read_text(pkgbuild)
    if text is None:
        return []
    script = read_script(text)
    _report_script(script, pkgbuild, problems)
    name = _scalar(script, "pkgbase") or _scalar(script, "pkgname")
    if not name:
        problems.add(pkgbuild, None, "no readable pkgbase or pkgname: package not read")
        return []
    version = _scalar(script, "pkgver") or ""
    keys_dir = package / "keys" / "pgp"
    key_files = sorted(keys_dir.glob("*.asc")) if keys_dir.is_dir() else []
    if keys_dir.is_dir():
        for other in sorted(p for p in keys_dir.iterdir() if p.suffix != ".asc"):
            problems.add(other, None, "not a .asc key file: not read")
    declared = _list(script, "validpgpkeys")
    unreadable = isinstance(script.value("validpgpkeys"), Unknown)
    if not key_files:
        if declared or unreadable:
            problems.add(pkgbuild, _assigned_at(script, "validpgpkeys"),
                         "validpgpkeys names keys but there is no keys/pgp/*.asc: no keyring to import")
        else:
            problems.add(pkgbuild, None, "no validpgpkeys and no keys/pgp/: the package has no approved keyring")
        return []
    finding = UpstreamFinding(name=name, distribution="arch", package=package, keyring_files=key_files,
                              keyring_is_directory=True, keyring_format="arch", declared_in=pkgbuild)
    for entry in declared:
        compact = entry.replace(" ", "")
        if not _FINGERPRINT.match(compact):
            problems.add(pkgbuild, _line_of(text, entry), f"validpgpkeys entry '{entry}' is not a full "
                                                          "fingerprint (makepkg needs one)")
            continue
        fingerprint = compact.upper()
        if fingerprint not in finding.declared_fingerprints:
            finding.declared_fingerprints.append(fingerprint)
            finding.declared_lines[fingerprint] = _line_of(text, entry)
    if unreadable:
        problems.add(pkgbuild, _assigned_at(script, "validpgpkeys"), "validpgpkeys cannot be read, so the keys/pgp/ "
                                                               "files cannot be checked against it")
    elif not declared:
        problems.add(pkgbuild, None, "no validpgpkeys: makepkg checks no signature; the keys/pgp/ files "
                                     "are imported as the keyring")
    _sources(script, text, version, pkgbuild, finding, problems)
    return [finding]


def _report_script(script: Script, path: Path, problems: ProblemLog) -> None:
    """Everything the reader could not evaluate that could change a value we use."""
    for line, message in script_problems(script, lambda name: name in USED_VARIABLES or name.startswith("source_")):
        problems.add(path, line, message)

def _scalar(script: Script, name: str) -> str | None:
    value = script.value(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, str) and value else None


def _list(script: Script, name: str) -> list[str]:
    value = script.value(name)
    if isinstance(value, Unknown) or value is None:
        return []
    return value if isinstance(value, list) else [value]


def _assigned_at(script: Script, name: str) -> int | None:
    assignments = script.assignments_of(name)
    return assignments[0].line if assignments else None


def _line_of(text: str, needle: str) -> int | None:
    """The first line holding `needle` as a whole (a key ID inside a fingerprint does not count)."""
    match = re.search(rf"(?<![0-9A-Za-z_]){re.escape(needle)}(?![0-9A-Za-z_])", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _sources(script: Script, text: str, version: str, pkgbuild: Path, finding: UpstreamFinding,
             problems: ProblemLog) -> None:
    names = ["source"] + sorted(n for n in script.env if n.startswith("source_"))
    entries = [entry for name in names for entry in _list(script, name)]
    urls = [entry.split("::", 1)[1] if "::" in entry else entry for entry in entries]
    tarballs = [url for url in urls if re.match(r"^(https?|ftp)://", url) and is_archive(url)]
    source_line = _assigned_at(script, "source")
    if tarballs:
        tarball = tarballs[0]
        line = _line_of(text, tarball) or source_line
        try:
            source = derive(tarball, version)
        except NotDerivable as exc:
            problems.add(pkgbuild, line, str(exc))
            finding.release_url = without_fragment(tarball)
        else:
            finding.index, finding.pattern, finding.release_url = source.index, source.pattern, source.release_url
        suffixes = signature_suffixes(tarball, urls)
        if not suffixes:
            problems.add(pkgbuild, line, "no source entry is this tarball's signature (…sig/.asc): makepkg "
                                         "checks nothing; keywatch looks for .sig .asc .sign")
        finding.signature_suffixes = suffixes or [".sig", ".asc", ".sign"]
        for other in tarballs[1:]:
            finding.notes.append(f"another tarball, not watched: {other}")
    for url in urls:
        if url.startswith("git+") or url.startswith("git://"):
            _git_source(url, version, pkgbuild, _line_of(text, url.split("#")[0]) or None, finding, problems)
    if finding.index is None and finding.git is None:
        problems.add(pkgbuild, source_line, "no source entry is an http(s) tarball or a signed git "
                                                          "tag: releases cannot be found (keyring imported alone)")


def _git_source(url: str, version: str, pkgbuild: Path, line: int | None, finding: UpstreamFinding,
                problems: ProblemLog) -> None:
    signed = url.endswith("?signed")
    url = url[:-len("?signed")] if signed else url
    repository, _, fragment = url.removeprefix("git+").partition("#")
    kind, _, reference = fragment.partition("=")
    if finding.git is not None:
        finding.notes.append(f"another git source, not watched: {repository}")
        return
    if not signed:
        problems.add(pkgbuild, line, f"git source {repository} without ?signed: makepkg does not check its tags")
    if kind != "tag":
        problems.add(pkgbuild, line, f"git source {repository} follows {fragment or 'the default branch'}, not a "
                                     "tag: no releases to check")
        return
    if not version or version not in reference:
        problems.add(pkgbuild, line, f"git tag '{reference}' does not contain pkgver '{version}': "
                                     "no tag pattern derived")
        return
    if urlsplit(repository).scheme not in ("https", "http", "git", "ssh", "file"):
        problems.add(pkgbuild, line, f"git source {repository}: not a repository URL keywatch can read")
        return
    finding.git = repository
    finding.tag_pattern = VERSION_GROUP.join(escape(part) for part in reference.split(version, 1))
