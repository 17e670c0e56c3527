"""Gentoo: ebuilds that `inherit verify-sig`, and the `sec-keys/openpgp-keys-*` packages that hold the keys.

An ebuild names its key file by the path the key package installs it to
(`VERIFY_SIG_OPENPGP_KEY_PATH=/usr/share/openpgp-keys/NAME.asc`) and depends
on that package (`BDEPEND="verify-sig? ( sec-keys/openpgp-keys-X )"`). So:

1. per package directory, the newest ebuild is read (live `9999` ebuilds only
   when there is nothing else), by `bashvars` with `P PN PV PR PVR PF
   CATEGORY` set from its path — never run;
2. the key package is the `sec-keys/…` atom in BDEPEND, else the key package
   whose ebuild installs NAME.asc, else `sec-keys/openpgp-keys-NAME`;
3. its key file is found in the tree — the key package directory (e.g.
   `files/`) — or in `--distfiles`: by the name it is installed as, by its
   distfile name (`SRC_URI="… -> NAME"`), or as the package's only `.asc`.
   The key package's http(s) `SRC_URI` becomes a key source of the upstream;
4. `SRC_URI` gives the tarball (the first archive outside `verify-sig? ( )`)
   and its signature (inside it); `mirror://` is resolved for the usual mirrors;
   the version in the file name is looked for as PV, then as PV without `_`,
   then as the value of a `MY_PV`-style variable.

Key packages are not upstreams themselves; one that no ebuild uses is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..versions import version_key
from .bashvars import Script, read_script, script_problems
from .findings import ProblemLog, UpstreamFinding
from .releaseurl import NotDerivable, derive, is_archive, resolve_mirror, signature_suffixes, without_fragment

KEY_CATEGORY = "sec-keys"
USED_VARIABLES = ("SRC_URI", "VERIFY_SIG_OPENPGP_KEY_PATH", "BDEPEND")
_EBUILD = re.compile(r"^(?P<pn>.+?)-(?P<pv>\d[\w.]*?(?:_(?:alpha|beta|pre|rc|p)\d*)*)(?:-(?P<pr>r\d+))?\.ebuild$")
_KEY_ATOM = re.compile(r"sec-keys/([A-Za-z0-9+_-]+?)(?:-\d[\w.]*(?:-r\d+)?)?(?=[\s\[:)]|$)")


@dataclass
class Ebuild:
    path: Path
    category: str
    pn: str
    pv: str
    pr: str

    @property
    def live(self) -> bool:
        return "9999" in self.pv

    def initial_env(self) -> dict[str, str]:
        p, pvr = f"{self.pn}-{self.pv}", self.pv + (f"-{self.pr}" if self.pr != "r0" else "")
        return {"P": p, "PN": self.pn, "PV": self.pv, "PR": self.pr, "PVR": pvr, "PF": f"{self.pn}-{pvr}",
                "CATEGORY": self.category, "BROOT": "", "EPREFIX": "", "ESYSROOT": "", "SYSROOT": "",
                "DISTDIR": "${DISTDIR}", "WORKDIR": "${WORKDIR}", "FILESDIR": "${FILESDIR}", "EAPI": ""}


def newest_ebuild(package: Path, problems: ProblemLog) -> Ebuild | None:
    ebuilds = []
    for path in sorted(package.glob("*.ebuild")):
        match = _EBUILD.match(path.name)
        if not match or match.group("pn") != package.name:
            problems.add(path, None, f"ebuild name is not {package.name}-VERSION.ebuild: not read")
            continue
        ebuilds.append(Ebuild(path, package.parent.name, match.group("pn"), match.group("pv"),
                              match.group("pr") or "r0"))
    released = [e for e in ebuilds if not e.live] or ebuilds
    return max(released, key=lambda e: (version_key(e.pv), version_key(e.pr))) if released else None


def read_packages(root: Path, packages: list[Path], problems: ProblemLog,
                  distfiles: Path | None = None) -> list[UpstreamFinding]:
    key_packages = {p.name: p for p in packages if p.parent.name == KEY_CATEGORY}
    key_scripts: dict[str, tuple[Ebuild, Script]] = {}
    for name, package in key_packages.items():
        ebuild = newest_ebuild(package, problems)
        text = problems.read_text(ebuild.path) if ebuild is not None else None
        if ebuild is not None and text is not None:
            key_scripts[name] = (ebuild, read_script(text, ebuild.initial_env()))
    used: set[str] = set()
    findings = []
    for package in packages:
        if package.parent.name == KEY_CATEGORY:
            continue
        finding = _read_package(package, key_packages, key_scripts, distfiles, problems, used)
        if finding is not None:
            findings.append(finding)
    for name in sorted(set(key_packages) - used):
        problems.add(key_packages[name], None, "key package not used by any verify-sig ebuild in the tree")
    return findings


def _read_package(package: Path, key_packages: dict[str, Path], key_scripts: dict[str, tuple[Ebuild, Script]],
                  distfiles: Path | None, problems: ProblemLog, used: set[str]) -> UpstreamFinding | None:
    ebuild = newest_ebuild(package, problems)
    if ebuild is None:
        return None
    text = problems.read_text(ebuild.path)
    if text is None:
        return None
    script = read_script(text, ebuild.initial_env())
    _report_script(script, ebuild.path, problems)
    inherits = {word for command in script.commands if (words := script.command_words(command))
                and words[0] == "inherit" for word in words[1:]}
    key_path = script.value("VERIFY_SIG_OPENPGP_KEY_PATH")
    if "verify-sig" not in inherits and not isinstance(key_path, str):
        problems.add(ebuild.path, None, "does not inherit verify-sig: the package has no approved keyring")
        return None
    if not isinstance(key_path, str) or not key_path:
        problems.add(ebuild.path, _assigned_at(script, "VERIFY_SIG_OPENPGP_KEY_PATH"),
                     "inherits verify-sig but VERIFY_SIG_OPENPGP_KEY_PATH is not readable: no keyring")
        return None
    installed_name = key_path.rsplit("/", 1)[-1]
    key_package = _key_package(script, installed_name, key_packages, key_scripts)
    if key_package is None:
        problems.add(ebuild.path, _assigned_at(script, "VERIFY_SIG_OPENPGP_KEY_PATH"),
                     f"no sec-keys package in the tree provides {installed_name}: no keyring")
        return None
    used.add(key_package)
    key_file, key_urls = _key_file(key_package, installed_name, key_packages, key_scripts, distfiles, problems)
    if key_file is None:
        return None
    finding = UpstreamFinding(name=ebuild.pn, distribution="gentoo", package=package, keyring_files=[key_file],
                              keyring_format="gentoo", keys=key_urls)
    finding.notes.append(f"ebuild {problems.relative(ebuild.path)}, keys from {KEY_CATEGORY}/{key_package}")
    _release_source(script, ebuild, finding, problems)
    return finding


def _report_script(script: Script, path: Path, problems: ProblemLog) -> None:
    """Everything the reader could not evaluate that could change a value we use."""
    for line, message in script_problems(script, USED_VARIABLES.__contains__):
        problems.add(path, line, message)

def _assigned_at(script: Script, name: str) -> int | None:
    assignments = script.assignments_of(name)
    return assignments[0].line if assignments else None


def _key_package(script: Script, installed_name: str, key_packages: dict[str, Path],
                 key_scripts: dict[str, tuple[Ebuild, Script]]) -> str | None:
    bdepend = script.value("BDEPEND")
    if isinstance(bdepend, str):
        for atom in _KEY_ATOM.findall(bdepend):
            if atom in key_packages:
                return atom
    for name, (ebuild, _) in key_scripts.items():
        if installed_name in {target for _, target in _installs(ebuild)}:
            return name
    fallback = f"openpgp-keys-{installed_name.rsplit('.', 1)[0]}"
    return fallback if fallback in key_packages else None


def _installs(ebuild: Ebuild) -> list[tuple[str, str]]:
    """(distfile, installed name) pairs from `newins "${DISTDIR}/X" Y` lines in src_install."""
    try:
        text = ebuild.path.read_text(encoding="utf-8", errors="replace")  # read (and size-checked) before
    except OSError:
        return []
    pairs = []
    for match in re.finditer(r"^\s*newins\s+(\S+)\s+(\S+)\s*$", text, re.MULTILINE):
        words = read_script(f"_w=({match.group(1)} {match.group(2)})", ebuild.initial_env()).value("_w")
        if isinstance(words, list) and len(words) == 2:
            pairs.append((words[0].rsplit("/", 1)[-1], words[1]))
    for match in re.finditer(r"^\s*doins\s+(.+?)\s*$", text, re.MULTILINE):
        words = read_script(f"_w=({match.group(1)})", ebuild.initial_env()).value("_w")
        if isinstance(words, list):
            pairs += [(word.rsplit("/", 1)[-1], word.rsplit("/", 1)[-1]) for word in words]
    return pairs


def _src_uri(value: str) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """SRC_URI as (url, renamed-to, enclosing USE conditions)."""
    tokens = value.split()
    out: list[tuple[str, str | None, tuple[str, ...]]] = []
    stack: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.endswith("?") and i + 1 < len(tokens) and tokens[i + 1] == "(":
            stack.append(token[:-1])
            i += 2
            continue
        if token == "(":
            stack.append("")
        elif token == ")":
            if stack:
                stack.pop()
        elif token == "->" and out and i + 1 < len(tokens):
            url, _, conditions = out[-1]
            out[-1] = (url, tokens[i + 1], conditions)
            i += 2
            continue
        else:
            out.append((token, None, tuple(stack)))
        i += 1
    return out


def _key_file(key_package: str, installed_name: str, key_packages: dict[str, Path],
              key_scripts: dict[str, tuple[Ebuild, Script]], distfiles: Path | None,
              problems: ProblemLog) -> tuple[Path | None, list[str]]:
    directory = key_packages[key_package]
    ebuild, script = key_scripts.get(key_package, (None, None))
    wanted: list[str] = [installed_name]
    key_urls: list[str] = []
    if ebuild is not None and script is not None:
        src_uri = script.value("SRC_URI")
        if isinstance(src_uri, str):
            for url, renamed, _ in _src_uri(src_uri):
                if re.match(r"^https?://", url):
                    key_urls.append(url)
                wanted.append(renamed or without_fragment(url).rsplit("/", 1)[-1])
        wanted += [distfile for distfile, target in _installs(ebuild) if target == installed_name]
    places = [p for p in sorted(directory.rglob("*")) if p.is_file() and not p.name.endswith(".ebuild")
              and p.name != "Manifest" and p.name != "metadata.xml"]
    if distfiles is not None:
        places += [distfiles / name for name in wanted if (distfiles / name).is_file()]
    for name in wanted:
        for place in places:
            if place.name == name:
                return place, key_urls
    ascs = [p for p in places if p.suffix == ".asc"]
    if len(ascs) == 1:
        return ascs[0], key_urls
    problems.add(directory, None, f"key file for {installed_name} not found in the tree"
                                  f"{' or in ' + str(distfiles) if distfiles else ''} (looked for "
                                  f"{', '.join(dict.fromkeys(wanted))}; pass --distfiles DIR): no keyring")
    return None, key_urls


def _release_source(script: Script, ebuild: Ebuild, finding: UpstreamFinding,
                    problems: ProblemLog) -> None:
    src_uri = script.value("SRC_URI")
    line = _assigned_at(script, "SRC_URI")
    if not isinstance(src_uri, str):
        problems.add(ebuild.path, line, "SRC_URI is not readable: releases cannot be found (keyring imported alone)")
        return
    entries = _src_uri(src_uri)
    urls = []
    for url, renamed, conditions in entries:
        try:
            urls.append((resolve_mirror(url), renamed, conditions))
        except NotDerivable as exc:
            problems.add(ebuild.path, line, str(exc))
    tarballs = [(u, r) for u, r, c in urls if "verify-sig" not in c and re.match(r"^https?://", u) and is_archive(u)]
    signatures = [u for u, _, c in urls if "verify-sig" in c]
    if not tarballs:
        problems.add(ebuild.path, line, "no http(s) tarball in SRC_URI: releases cannot be found "
                                        "(keyring imported alone)")
        return
    tarball = tarballs[0][0]
    for other, _ in tarballs[1:]:
        finding.notes.append(f"another tarball, not watched: {other}")
    candidates = [ebuild.pv, ebuild.pv.replace("_", "")]
    candidates += [v for k, v in sorted(script.env.items()) if re.fullmatch(r"MY_?PV\w*", k) and isinstance(v, str)]
    last_error = None
    for version in dict.fromkeys(candidates):
        try:
            source = derive(tarball, version)
        except NotDerivable as exc:
            last_error = exc
            continue
        finding.index, finding.pattern, finding.release_url = source.index, source.pattern, source.release_url
        break
    else:
        problems.add(ebuild.path, line, str(last_error))
        finding.release_url = without_fragment(tarball)
    suffixes = signature_suffixes(tarball, signatures)
    if not suffixes:
        problems.add(ebuild.path, line, "no verify-sig? ( ) entry in SRC_URI is this tarball's signature: "
                                        "keywatch looks for .sig .asc .sign")
    finding.signature_suffixes = suffixes or [".sig", ".asc", ".sign"]
