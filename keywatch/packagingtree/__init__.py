"""Bootstrapping upstreams from packaging trees: `keywatch import-tree DIR`.

Distributions already keep a keyring per upstream; this package reads them
where they are, with what each packaging format says about where releases
and their signatures come from, and turns each into an `[[upstream]]` whose
keyring is the approved baseline.

| module | concern |
| --- | --- |
| `scan.py` | walks the tree, dispatches per package kind, collects findings and problems |
| `debian.py` | `debian/upstream/signing-key.asc` and `debian/watch` (uscan formats 2–4) |
| `opensuse.py` | `NAME.keyring` and the spec's `Source:` URLs (rpm macros) |
| `arch.py` | `PKGBUILD` `validpgpkeys`/`source` and `keys/pgp/*.asc` |
| `gentoo.py` | verify-sig ebuilds and `sec-keys/openpgp-keys-*` |
| `bashvars.py` | PKGBUILD and ebuild variables, read without running bash |
| `perlregex.py` | uscan's Perl patterns and `s///` rules in Python |
| `releaseurl.py` | index, pattern and signature suffixes from a tarball URL |
| `baseline.py` | the certificates in a package's keyring, and declared fingerprints |
| `importer.py` | copy, import, configure, audit — the only part that writes |
| `findings.py` | the types: findings and problems |
"""

from .findings import Problem, TreeScan, UpstreamFinding
from .importer import Outcome, default_actor, import_tree
from .scan import scan_tree

__all__ = ["Outcome", "Problem", "TreeScan", "UpstreamFinding", "default_actor", "import_tree", "scan_tree"]
