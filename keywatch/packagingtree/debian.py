"""Debian source packages: `debian/upstream/signing-key.asc` and `debian/watch`.

The keyring is the first of `debian/upstream/signing-key.asc`,
`debian/upstream/signing-key.pgp` and `debian/upstream-signing-key.pgp` that
exists, in that order, as uscan picks it; a second one is reported, since
uscan ignores it.

The watch file is read as uscan reads it (devscripts' Uscan/WatchFile.pm and
WatchLine.pm), for formats 2, 3 and 4:

- `#` lines and blank lines are skipped; a line ending in `\\` continues on
  the next (format 4 drops the next line's leading blanks);
- `@PACKAGE@`, `@ANY_VERSION@`, `@ARCHIVE_EXT@`, `@SIGNATURE_EXT@` and
  `@DEB_EXT@` are substituted;
- `opts=…` or `opts="…"` (also `options=`) comes first, split at commas, each
  `*mangle` value at `;`;
- then `URL [pattern [version [script]]]`; when the URL's last path segment
  holds a `(…)` group it is the pattern, and the fields shift.

Each usable line gives an index and a pattern the way `releases.py` reads
them: the index is the line's directory URL; a pattern without `/` is
matched against link file names (uscan matches the same name, relative or
below the index), a pattern with `/` gets `(?:.*/)?` in front and is matched
against the whole URL. The signature suffix comes from `pgpsigurlmangle`
(applied to sample tarball URLs: a rule must append a suffix, as keywatch
looks for the signature at the artifact URL plus a suffix); `pgpmode=auto`
means uscan's list `.asc .gpg .pgp .sig .sign`. `mode=git` lines become a git
repository and a tag pattern.

keywatch watches one release source per upstream: the first line that yields
one is used; every other line, and everything a line asks for that keywatch
does not do (a pattern in the directory part, ftp, several version groups,
`downloadurlmangle`, signatures from another line…) is a problem. Options
that only concern the Debian side (`dversionmangle`, `repacksuffix`,
`compression`…) become notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import perlregex
from .findings import ProblemLog, UpstreamFinding

KEYRING_FILES = ("debian/upstream/signing-key.asc", "debian/upstream/signing-key.pgp",
                 "debian/upstream-signing-key.pgp")
WATCH_FILE = "debian/watch"

# uscan's substitutions (WatchFile.pm), in Python syntax.
_ANY_VERSION = r"(?:[-_]?(\d[\-+\.:\~\da-zA-Z]*))"
_ARCHIVE_EXT = r"(?i:\.(?:tar\.xz|tar\.bz2|tar\.gz|tar\.zstd?|zip|tgz|tbz|txz))"
_SUBSTITUTIONS = {
    "@ANY_VERSION@": _ANY_VERSION,
    "@ARCHIVE_EXT@": _ARCHIVE_EXT,
    "@SIGNATURE_EXT@": _ARCHIVE_EXT + r"(?:\.(?:asc|pgp|gpg|sig|sign))",
    "@DEB_EXT@": r"(?:[\+~](debian|dfsg|ds|deb)(\.)?(\d+)?$)",
}
AUTO_SIGNATURE_SUFFIXES = [".asc", ".gpg", ".pgp", ".sig", ".sign"]  # uscan's pgpmode=auto order
_FLAG_OPTIONS = {"pasv", "passive", "active", "nopasv", "nopassive", "bare", "decompress", "repack"}
_VALUE_OPTIONS = {"component", "date", "gitmode", "hrefdecode", "mode", "pgpmode", "pretty", "repacksuffix",
                  "unzipopt", "compression", "searchmode", "gitexport", "ctype", "user-agent", "useragent",
                  "uversionmangle", "dversionmangle", "versionmangle", "pgpsigurlmangle", "dirversionmangle",
                  "downloadurlmangle", "filenamemangle", "pagemangle", "oversionmangle", "http-header"}
# Options that only shape the Debian side (the orig tarball, its version, the download).
_DEBIAN_SIDE = {"pasv", "passive", "active", "nopasv", "nopassive", "bare", "decompress", "repack", "repacksuffix",
                "compression", "date", "pretty", "gitmode", "gitexport", "unzipopt", "dversionmangle",
                "oversionmangle", "user-agent", "useragent", "http-header"}
# Options that change which URL is fetched: keywatch cannot follow them.
_URL_CHANGING = {"downloadurlmangle", "filenamemangle", "pagemangle", "dirversionmangle"}
_SAMPLE_TARBALLS = ("https://example.org/dist/NAME-1.2.3.tar.gz", "https://example.org/dist/NAME-1.2.3.tar.xz",
                    "https://example.org/dist/NAME-1.2.3.tar.bz2", "https://example.org/dist/NAME-1.2.3.zip",
                    "https://example.org/dist/NAME-1.2.3.tgz")


@dataclass
class WatchLine:
    line: int  # first physical line
    options: dict[str, str | list[str]] = field(default_factory=dict)
    base: str = ""
    filepattern: str | None = None
    version_field: str = ""
    action: str = ""


@dataclass
class WatchFile:
    version: int | None
    lines: list[WatchLine]
    problems: list[tuple[int | None, str]]


def package_name(package: Path, problems: ProblemLog) -> str:
    """The source package: debian/control's Source:, else debian/changelog's first word, else the directory."""
    control = package / "debian" / "control"
    if control.is_file():
        match = re.search(r"^Source:\s*(\S+)", problems.read_text(control) or "", re.MULTILINE)
        if match:
            return match.group(1)
    changelog = package / "debian" / "changelog"
    if changelog.is_file():
        match = re.match(r"\s*([a-z0-9][a-z0-9.+-]+)\s+\(", problems.read_text(changelog) or "")
        if match:
            return match.group(1)
    # `apt-get source` unpacks into NAME-VERSION
    return re.sub(r"-\d[\w.+~]*$", "", package.name) or package.name


def parse_watch(text: str, package: str) -> WatchFile:
    problems: list[tuple[int | None, str]] = []
    version: int | None = None
    lines: list[WatchLine] = []
    physical = text.splitlines()
    number = 0
    while number < len(physical):
        start = number + 1
        raw = physical[number]
        number += 1
        if re.match(r"^\s*#", raw) or not raw.strip():
            continue
        current = raw.lstrip()
        while re.search(r"(?<!\\)\\$", current):
            if number >= len(physical):
                problems.append((start, "the file ends with a line continuation '\\'; last line not read"))
                current = None
                break
            nxt = physical[number]
            number += 1
            current = current[:-1] + (nxt.lstrip() if (version or 0) > 3 else nxt)
        if current is None:
            break
        if version is None:
            match = re.match(r"^version\s*=\s*(\d+)(\s|$)", current)
            if not match:
                problems.append((start, "no 'version=' line first: a version 1 watch file, which is not read"))
                return WatchFile(None, [], problems)
            version = int(match.group(1))
            if version < 2 or version > 4:
                what = "a version 5 (deb822) watch file" if version == 5 else f"watch file version {version}"
                problems.append((start, f"{what} is not supported (versions 2, 3 and 4 are)"))
                return WatchFile(version, [], problems)
            continue
        current = current.replace("@PACKAGE@", package)
        for token, replacement in _SUBSTITUTIONS.items():
            current = current.replace(token, replacement)
        try:
            lines.append(_parse_line(current, start))
        except ValueError as exc:
            problems.append((start, str(exc)))
    if version is None:
        problems.append((None, "empty watch file"))
    return WatchFile(version, lines, problems)


def _parse_line(text: str, number: int) -> WatchLine:
    line = WatchLine(number)
    match = re.match(r"^opt(?:ion)?s\s*=\s*", text)
    if match:
        text = text[match.end():]
        quoted = re.match(r'^"(.*?)"(?:\s+|$)', text)
        bare = re.match(r'^([^"\s]\S*)(?:\s+|$)', text)
        if quoted:
            opts, text = quoted.group(1), text[quoted.end():]
        elif bare:
            opts, text = bare.group(1), text[bare.end():]
        else:
            raise ValueError(f"malformed opts=… (uscan skips this line): '{text[:80]}'")
        line.options = _parse_options(opts)
    if not text.strip():
        raise ValueError("a line with opts=… and no URL")
    fields = text.split(None, 3)
    base = fields[0]
    rest = fields[1:]
    split = re.match(r"^(.*/)([^/]*\([^/]*\)[^/]*)$", base)
    if split:
        base, line.filepattern = split.group(1), split.group(2)
        rest = text.split(None, 2)[1:]
    elif rest:
        line.filepattern = rest.pop(0)
    line.base = base
    if rest:
        line.version_field = rest[0]
    if len(rest) > 1:
        line.action = rest[1]
    return line


def _parse_options(opts: str) -> dict[str, str | list[str]]:
    options: dict[str, str | list[str]] = {}
    agent = re.match(r"^\s*user-?agent\s*=\s*(.+?)\s*$", opts)
    if agent:  # uscan: a user agent string may hold commas, so it takes the whole value
        return {"user-agent": agent.group(1)}
    for opt in opts.split(","):
        match = re.match(r"^\s*([a-z-]+)\s*(?:=\s*(.*?)\s*)?$", opt)
        if not match or (match.group(2) is None and match.group(1) not in _FLAG_OPTIONS) or (
                match.group(2) is not None and match.group(1) not in _VALUE_OPTIONS):
            if match and match.group(1) in _FLAG_OPTIONS | _VALUE_OPTIONS:
                raise ValueError(f"option '{opt.strip()}' is malformed")
            options.setdefault("unrecognised", []).append(opt.strip())
            continue
        name, value = match.group(1), match.group(2)
        if name.endswith("mangle"):
            rules = value.split(";")
            if name == "versionmangle":
                options["uversionmangle"] = rules
                options["dversionmangle"] = rules
            else:
                options[name] = rules
        else:
            options[name] = value if value is not None else ""
    return options


@dataclass
class _Derived:
    index: str | None = None
    pattern: str | None = None
    git: str | None = None
    tag_pattern: str | None = None
    suffixes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.index is not None or self.git is not None


def derive_line(line: WatchLine) -> _Derived:
    """What keywatch can watch from one watch line, and what it cannot."""
    out = _Derived()
    options = line.options
    for option in options.get("unrecognised", []):
        out.problems.append(f"unrecognised option '{option}' (uscan ignores it with a warning)")
    for name in sorted(_URL_CHANGING & options.keys()):
        out.problems.append(f"{name} changes which URL uscan fetches; keywatch cannot follow it, "
                            "so the index or pattern may not find the releases")
    debian_side = sorted(_DEBIAN_SIDE & options.keys())
    if debian_side:
        out.notes.append(f"line {line.line}: Debian-side options not needed to watch releases: "
                         f"{', '.join(debian_side)}")
    for rule in options.get("uversionmangle", []):
        try:
            perlregex.parse_rule(rule)
        except ValueError as exc:
            out.problems.append(f"uversionmangle: {exc}")
    if options.get("uversionmangle"):
        out.notes.append(f"line {line.line}: uversionmangle {';'.join(options['uversionmangle'])} not applied: "
                         "keywatch orders upstream versions itself, as uscan does after mangling")
    if options.get("ctype"):
        out.problems.append(f"ctype={options['ctype']} (versions from a package registry) is not supported")
    mode = options.get("mode") or ("git" if line.base.endswith(".git") and options.get("pgpmode") == "gittag"
                                   else None)
    if line.filepattern is None:
        out.problems.append(f"no pattern with a (…) version group in '{line.base}'")
        return out
    if mode == "git":
        _derive_git(line, out)
        return out
    if mode not in (None, "", "http", "ftp", "LWP"):
        out.problems.append(f"mode={mode} is not supported (http, https and git are)")
        return out
    scheme = re.match(r"^(\w+)://", line.base)
    if not scheme:
        out.problems.append(f"'{line.base}' is not a URL")
        return out
    if scheme.group(1) not in ("http", "https"):
        out.problems.append(f"{scheme.group(1)}:// is not polled (keywatch reads http(s) index pages only)")
        return out
    directory = re.sub(r"^\w+://[^/]+", "", line.base)
    if "(" in directory:
        out.problems.append(f"the directory part of '{line.base}' is a pattern (uscan searches the newest "
                            "matching directory); keywatch polls one fixed index page, so no index was set")
        return out
    try:
        pattern = perlregex.to_python(line.filepattern)
        compiled = re.compile(pattern)
    except (ValueError, re.error) as exc:
        out.problems.append(f"pattern '{line.filepattern}' cannot be used: {exc}")
        return out
    if compiled.groups == 0:
        out.problems.append(f"pattern '{line.filepattern}' has no (…) group for the version")
        return out
    if compiled.groups > 1:
        out.problems.append(f"pattern '{line.filepattern}' has {compiled.groups} groups: uscan joins them with "
                            "'.', keywatch takes the version from group 1 only")
    if "/" in pattern and not re.match(r"^https?:", pattern):
        pattern = "(?:.*/)?" + pattern
    out.index, out.pattern = line.base, pattern
    _derive_signatures(line, out)
    return out


def _derive_git(line: WatchLine, out: _Derived) -> None:
    tag = line.filepattern or ""
    if tag == "HEAD" or tag.startswith("heads/"):
        out.problems.append(f"git {tag}: untagged snapshots are not releases keywatch can check")
        return
    tag = re.sub(r"^refs/tags/", "", tag)
    try:
        compiled = re.compile(perlregex.to_python(tag))
    except (ValueError, re.error) as exc:
        out.problems.append(f"tag pattern '{tag}' cannot be used: {exc}")
        return
    if compiled.groups < 1:
        out.problems.append(f"tag pattern '{tag}' has no (…) group for the version")
        return
    out.git, out.tag_pattern = line.base, compiled.pattern
    if line.options.get("pgpmode") != "gittag":
        out.problems.append("git tags are not checked by uscan here (no pgpmode=gittag)")


def _derive_signatures(line: WatchLine, out: _Derived) -> None:
    options = line.options
    mode = str(options.get("pgpmode") or "")
    rules = options.get("pgpsigurlmangle") or []
    out.suffixes = list(AUTO_SIGNATURE_SUFFIXES)  # unless a pgpsigurlmangle says exactly which
    if mode.startswith("au"):
        return
    if rules and not mode or mode.startswith("ma"):
        if not rules:
            out.problems.append("pgpmode=mangle without pgpsigurlmangle: uscan checks no signature")
            return
        try:
            compiled = [perlregex.parse_rule(rule) for rule in rules]
        except ValueError as exc:
            out.problems.append(f"pgpsigurlmangle: {exc}")
            return
        suffixes: list[str] = []
        for sample in _SAMPLE_TARBALLS:
            mangled = sample
            for rule in compiled:
                mangled = rule.apply(mangled)
            if mangled == sample:
                continue
            if not mangled.startswith(sample):
                out.problems.append(f"pgpsigurlmangle {';'.join(rules)} does not append a suffix "
                                    f"({sample} → {mangled}); keywatch looks for the signature at the "
                                    "tarball URL plus .asc .gpg .pgp .sig or .sign")
                return
            if mangled[len(sample):] not in suffixes:
                suffixes.append(mangled[len(sample):])
        if not suffixes:
            out.problems.append(f"pgpsigurlmangle {';'.join(rules)} changes none of the usual tarball names")
            return
        out.suffixes = suffixes
        return
    if mode.startswith("no"):
        out.problems.append("pgpmode=none: uscan checks no signature for this package")
    elif mode.startswith("ne") or mode.startswith("pr"):
        out.problems.append(f"pgpmode={mode}: the signature comes from another watch line; keywatch looks for "
                            "it beside the tarball (.asc .gpg .pgp .sig .sign)")
    elif mode.startswith("se"):
        out.problems.append("pgpmode=self: the release is a signed archive, not a file with a detached "
                            "signature; keywatch checks detached signatures only")
    elif mode.startswith("gi"):
        out.problems.append("pgpmode=gittag on a line that is not mode=git")
    else:
        out.problems.append("no pgpsigurlmangle or pgpmode=auto: uscan does not check signatures here; "
                            "keywatch looks for .asc .gpg .pgp .sig .sign beside each tarball")


def read_package(package: Path, problems: ProblemLog) -> list[UpstreamFinding]:
    """The upstream of one Debian source package (the directory holding debian/)."""
    name = package_name(package, problems)
    keyrings = [package / relative for relative in KEYRING_FILES if (package / relative).is_file()]
    watch_path = package / WATCH_FILE
    if not keyrings:
        if watch_path.is_file():
            problems.add(watch_path, None, "no debian/upstream/signing-key.asc: the package has no approved "
                                           "keyring, so there is no baseline to import")
        return []
    for extra in keyrings[1:]:
        problems.add(extra, None, f"not used: uscan reads {problems.relative(keyrings[0])} first")
    finding = UpstreamFinding(name=name, distribution="debian", package=package, keyring_files=keyrings[:1],
                              keyring_format="debian")
    if not watch_path.is_file():
        problems.add(package / "debian", None, "no debian/watch: releases cannot be found (keyring imported alone)")
        return [finding]
    text = problems.read_text(watch_path)
    if text is None:
        return [finding]
    watch = parse_watch(text, name)
    for line, message in watch.problems:
        problems.add(watch_path, line, message)
    chosen: WatchLine | None = None
    for line in watch.lines:
        derived = derive_line(line)
        for message in derived.problems:
            problems.add(watch_path, line.line, message)
        if chosen is None and derived.usable and not line.options.get("component"):
            chosen = line
            finding.index, finding.pattern = derived.index, derived.pattern
            finding.git, finding.tag_pattern = derived.git, derived.tag_pattern
            finding.signature_suffixes = derived.suffixes
            finding.notes += derived.notes
        elif line.options.get("component"):
            problems.add(watch_path, line.line, f"component '{line.options['component']}': keywatch watches the "
                                                "main tarball only; this one is not watched")
        elif derived.usable:
            problems.add(watch_path, line.line, f"not used: keywatch watches one release source per upstream "
                                                f"(line {chosen.line} is used)")
    if chosen is None and watch.lines:
        problems.add(watch_path, None, "no watch line could be used: releases cannot be found "
                                       "(keyring imported alone)")
    if chosen is not None and finding.index is not None and not finding.index.endswith("/"):
        finding.notes.append(f"index {finding.index} is a page, not a directory")
    return [finding]
