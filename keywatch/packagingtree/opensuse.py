"""openSUSE (OBS) packages: `NAME.keyring` beside `NAME.spec`, and the spec's `Source:` URLs.

OBS's source validator checks `SourceN: …tar.xz.asc` (or `.sig`) against
`NAME.keyring`, NAME being the spec's `Name:`. So for each spec in a package
directory: the keyring is `<Name>.keyring` (or the `.keyring` the spec lists as
a source, or `<spec file name>.keyring`); the tarball is the first `Source`
that is an http(s) archive; its signature suffix is that of the source that
names the tarball plus `.asc`/`.sig`/`.sign`; index and pattern come from the
tarball URL as `releaseurl.derive` states.

Macros are expanded as rpm would for these lines: `%{name}`, `%{version}`,
`%{release}`, `%{url}` from the tags, `%define` and `%global` (later ones
win), `%name` without braces, `%{?m}`, `%{?m:text}`, `%{!?m:text}`, `%%`,
and `%{lower:…}`, `%{upper:…}`, `%{basename:…}`, `%{dirname:…}`. Shell
(`%(…)`), Lua and other built-ins, and macros defined outside the spec, are
not expanded: a line that needs one is reported. `%if` blocks are not
evaluated; a tag set inside one is used as written and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .findings import ProblemLog, UpstreamFinding
from .releaseurl import NotDerivable, derive, is_archive, signature_suffixes, without_fragment

_TAG = re.compile(r"^(Name|Version|Release|URL|Url|Source\d*)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_DEFINE = re.compile(r"^%(define|global)\s+(\w+)(?:\(.*?\))?\s+(.*?)\s*$")
_END_OF_PREAMBLE = re.compile(r"^%(prep|build|install|check|files|changelog)\b")
_WORD = re.compile(r"\w+")
_MAX_DEPTH = 20
_MAX_EXPANSION = 64 * 1024  # characters: nested macros can double at every level


class MacroError(ValueError):
    """A macro this reader does not expand; the message names it."""


@dataclass
class Spec:
    path: Path
    macros: dict[str, str] = field(default_factory=dict)
    tags: dict[str, tuple[str, int, bool]] = field(default_factory=dict)  # tag → (raw value, line, in %if)
    sources: dict[int, tuple[str, int, bool]] = field(default_factory=dict)  # number → (raw, line, in %if)
    twice: list[tuple[str, int]] = field(default_factory=list)

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise MacroError("macro expansion too deep (recursive definition?)")
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if c != "%":
                out.append(c)
                i += 1
                continue
            nxt = text[i + 1:i + 2]
            if nxt == "%":
                out.append("%")
                i += 2
            elif nxt == "{":
                end = _matching_brace(text, i + 1)
                out.append(self._braced(text[i + 2:end], depth))
                i = end + 1
            elif nxt == "(":
                raise MacroError(f"%({text[i + 2:].split(')')[0]}) runs a shell command, which is not done")
            elif re.match(r"[A-Za-z_]", nxt):
                name = _WORD.match(text, i + 1).group(0)
                out.append(self._value(name, depth))
                i += 1 + len(name)
            else:
                out.append(c)
                i += 1
            if len(out) > _MAX_EXPANSION or sum(map(len, out)) > _MAX_EXPANSION:
                raise MacroError(f"macro expansion longer than {_MAX_EXPANSION:,} characters")
        return "".join(out)

    def _braced(self, body: str, depth: int) -> str:
        conditional = re.match(r"^(!?)\?(\w+)(?::(.*))?$", body, re.DOTALL)
        if conditional:
            negate, name, text = conditional.groups()
            defined = name in self.macros
            if text is None:
                return "" if negate or not defined else self._value(name, depth)
            return self.expand(text, depth + 1) if defined != bool(negate) else ""
        builtin = re.match(r"^(\w+):(.*)$", body, re.DOTALL)
        if builtin:
            function, argument = builtin.groups()
            value = self.expand(argument, depth + 1)
            if function == "lower":
                return value.lower()
            if function == "upper":
                return value.upper()
            if function == "basename":
                return value.rsplit("/", 1)[-1]
            if function == "dirname":
                return value.rsplit("/", 1)[0] if "/" in value else "."
            raise MacroError(f"%{{{function}:…}} is not expanded")
        if not re.fullmatch(r"\w+", body):
            raise MacroError(f"%{{{body}}} is not expanded")
        return self._value(body, depth)

    def _value(self, name: str, depth: int) -> str:
        if name not in self.macros:
            raise MacroError(f"%{{{name}}} is not defined in the spec")
        return self.expand(self.macros[name], depth + 1)


def _matching_brace(text: str, start: int) -> int:
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise MacroError("%{ not closed")


def read_spec(path: Path, text: str | None = None) -> Spec:
    spec = Spec(path)
    lines = (text if text is not None else path.read_text(encoding="utf-8", errors="replace")).splitlines()
    depth = 0
    number = 0
    while number < len(lines):
        text = lines[number]
        number += 1
        start = number
        while text.endswith("\\") and number < len(lines):
            text = text[:-1] + "\n" + lines[number]
            number += 1
        stripped = text.strip()
        if _END_OF_PREAMBLE.match(stripped):
            break
        if re.match(r"^%if(arch|narch|os|nos)?\b", stripped):
            depth += 1
            continue
        if stripped.startswith("%endif"):
            depth = max(0, depth - 1)
            continue
        define = _DEFINE.match(stripped)
        if define:
            spec.macros[define.group(2)] = define.group(3)
            continue
        tag = _TAG.match(stripped)
        if not tag:
            continue
        key, value = tag.group(1).lower(), tag.group(2)
        if key.startswith("source"):
            index = int(key[6:] or 0)
            if index in spec.sources:
                spec.twice.append((f"Source{index}", start))
                continue
            spec.sources[index] = (value, start, depth > 0)
            continue
        if key in spec.tags:
            spec.twice.append((tag.group(1), start))
            continue
        spec.tags[key] = (value, start, depth > 0)
        spec.macros[key] = value  # rpm defines %{name}, %{version}, %{release}, %{url} from the tags
    return spec


def read_package(package: Path, spec_names: list[str], problems: ProblemLog) -> list[UpstreamFinding]:
    findings = []
    keyrings_used: set[Path] = set()
    for spec_name in spec_names:
        finding = _read_spec(package / spec_name, problems, keyrings_used)
        if finding is not None:
            findings.append(finding)
    for keyring in sorted(package.glob("*.keyring")):
        if keyring not in keyrings_used:
            problems.add(keyring, None, "no spec in this directory is named after this keyring: not imported")
    return findings


def _read_spec(path: Path, problems: ProblemLog, keyrings_used: set[Path]) -> UpstreamFinding | None:
    text = problems.read_text(path)
    if text is None:
        return None
    spec = read_spec(path, text)
    for tag, line in spec.twice:
        problems.add(path, line, f"{tag} is set again (%if blocks are not evaluated): the first one is used")

    def expanded(tag: str) -> str | None:
        if tag not in spec.tags:
            return None
        raw, line, conditional = spec.tags[tag]
        if conditional:
            problems.add(path, line, f"{tag.capitalize()}: is inside %if, which is not evaluated; used as written")
        try:
            return spec.expand(raw).strip()
        except MacroError as exc:
            problems.add(path, line, f"{tag.capitalize()}: {exc}")
            return None

    name = expanded("name")
    if not name:
        problems.add(path, None, "no Name: in the spec: not read")
        return None
    version = expanded("version")
    sources: list[tuple[str, int]] = []
    for number in sorted(spec.sources):
        raw, line, conditional = spec.sources[number]
        try:
            value = spec.expand(raw).strip()
        except MacroError as exc:
            problems.add(path, line, f"Source{number}: {exc}")
            continue
        if conditional:
            problems.add(path, line, f"Source{number} is inside %if, which is not evaluated; used as written")
        sources.append((value, line))
    keyring = _keyring(path, name, [value for value, _ in sources])
    if keyring is None:
        problems.add(path, None, f"no {name}.keyring beside the spec: the package has no approved keyring, "
                                 "so there is no baseline to import")
        return None
    keyrings_used.add(keyring)
    finding = UpstreamFinding(name=name, distribution="opensuse", package=path.parent, keyring_files=[keyring],
                              keyring_format="opensuse")
    urls = [(value, line) for value, line in sources if re.match(r"^(https?|ftp)://", value)]
    tarballs = [(value, line) for value, line in urls if is_archive(value)]
    if not tarballs:
        problems.add(path, None, "no Source: is an http(s) tarball URL: releases cannot be found "
                                 "(keyring imported alone)")
        return finding
    tarball, line = tarballs[0]
    for other, other_line in tarballs[1:]:
        finding.notes.append(f"{problems.relative(path)}:{other_line}: another tarball, not watched: {other}")
    try:
        source = derive(tarball, version or "")
    except NotDerivable as exc:
        problems.add(path, line, str(exc))
        finding.release_url = without_fragment(tarball)
    else:
        finding.index, finding.pattern, finding.release_url = source.index, source.pattern, source.release_url
    suffixes = signature_suffixes(tarball, [value for value, _ in sources])
    if not suffixes:
        problems.add(path, line, "no Source: is this tarball's signature (…tar.xz.asc or .sig): OBS checks "
                                 "nothing; keywatch looks for .sig .asc .sign")
    finding.signature_suffixes = suffixes or [".sig", ".asc", ".sign"]
    return finding


def _keyring(spec_path: Path, name: str, sources: list[str]) -> Path | None:
    directory = spec_path.parent
    candidates = [directory / f"{name}.keyring"]
    candidates += [directory / without_fragment(s).rsplit("/", 1)[-1] for s in sources if s.endswith(".keyring")]
    candidates.append(directory / f"{spec_path.stem}.keyring")
    return next((c for c in candidates if c.is_file()), None)
