"""Walking a packaging tree: which directory is which kind of package, and what each one yields.

A directory is
- a Debian source package when it has a `debian/` directory holding a
  `control`, `changelog`, `watch`, `upstream/` or `upstream-signing-key.pgp`;
- an Arch package when it holds a `PKGBUILD`;
- an openSUSE package when it holds `*.spec` files;
- a Gentoo package when it holds `*.ebuild` files (read together at the end,
  since an ebuild's keys live in another package, `sec-keys/openpgp-keys-*`).
One directory may be several. Hidden directories (`.git`, `.osc`) are not
entered; nothing else is passed over. Every package without a keyring, and
every file a reader could not understand, ends up in `problems`.

Upstream names must be unique and valid keywatch names; a second package with
the same name is reported, not merged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import arch, debian, gentoo, opensuse
from .baseline import check_declared, read_keyring
from .findings import Problem, ProblemLog, TreeScan, UpstreamFinding

_DEBIAN_MARKERS = ("control", "changelog", "watch", "upstream", "upstream-signing-key.pgp")
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")  # config.py's rule for upstream names


def scan_tree(root: Path, distfiles: Path | None = None) -> TreeScan:
    """Every upstream the packages under `root` describe, and every problem met on the way."""
    problems = ProblemLog(root)
    found: list[UpstreamFinding] = []
    ebuild_dirs: list[Path] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        here = Path(directory)
        if "debian" in subdirectories and any((here / "debian" / m).exists() for m in _DEBIAN_MARKERS):
            found += debian.read_package(here, problems)
            subdirectories.remove("debian")
        if "PKGBUILD" in files:
            found += arch.read_package(here, problems)
        specs = sorted(f for f in files if f.endswith(".spec"))
        if specs:
            found += opensuse.read_package(here, specs, problems)
        if any(f.endswith(".ebuild") for f in files):
            ebuild_dirs.append(here)
    found += gentoo.read_packages(root, ebuild_dirs, problems, distfiles)

    upstreams: list[UpstreamFinding] = []
    by_name: dict[str, UpstreamFinding] = {}
    for finding in found:
        where = finding.keyring_files[0] if finding.keyring_files else finding.package
        read_keyring(finding, problems)  # also for a duplicate: a broken keyring is reported either way
        if not _VALID_NAME.match(finding.name):
            problems.add(where, None, f"'{finding.name}' is not a valid upstream name: not imported")
            continue
        if finding.name in by_name:
            first = by_name[finding.name]
            same = set(first.fingerprints) == set(finding.fingerprints)
            problems.add(where, None, f"upstream '{finding.name}' was already found in "
                                      f"{problems.relative(first.package)} ({first.distribution}), "
                                      f"{'with the same keys' if same else 'with other keys'}: not imported twice")
            continue
        by_name[finding.name] = finding
        if finding.declared_fingerprints and finding.keyring_ok:
            check_declared(finding, problems)
        upstreams.append(finding)
    return TreeScan(root, upstreams, sorted(problems.items, key=problem_order))


def problem_order(problem: Problem) -> tuple[str, int]:
    """File by file, then by line (problems about a whole file first)."""
    return problem.file, problem.line or 0
