"""What reading a packaging tree yields: upstreams found, and problems named by file and line.

A problem is anything the reader could not understand or could not carry over
into keywatch: a watch line it cannot parse, a PKGBUILD array it cannot read,
a keyring that does not parse, a `validpgpkeys` fingerprint that no key file
holds. Nothing is dropped without one. A *note* is different: something
understood and deliberately not carried over (a Debian-side `dversionmangle`,
say); notes stay with their upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Packaging files are small; a bigger one is not read (a tree is untrusted input).
MAX_PACKAGING_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    file: str  # relative to the tree, '/'-separated
    line: int | None
    message: str

    def as_json(self) -> dict:
        return {"file": self.file, "line": self.line, "message": self.message}


class ProblemLog:
    """Collects problems for one tree, naming files relative to its root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[Problem] = []

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def add(self, path: Path, line: int | None, message: str) -> None:
        self.items.append(Problem(self.relative(path), line, message))

    def read_text(self, path: Path) -> str | None:
        """A packaging file's text (invalid UTF-8 replaced), or None with the reason recorded as a problem."""
        try:
            size = path.stat().st_size
            if size > MAX_PACKAGING_FILE_BYTES:
                self.add(path, None, f"{size:,} bytes is over the {MAX_PACKAGING_FILE_BYTES:,}-byte limit for "
                                     "packaging files: not read")
                return None
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            self.add(path, None, f"cannot read: {exc.strerror}")
            return None


@dataclass
class UpstreamFinding:
    """One upstream as a package in the tree describes it, before anything is written."""

    name: str
    distribution: str
    package: Path  # the package directory
    keyring_files: list[Path] = field(default_factory=list)  # in the tree; several for Arch's keys/pgp/
    keyring_is_directory: bool = False  # Arch: keys/pgp/ is copied as a directory
    keyring_format: str = "binary"
    fingerprints: list[str] = field(default_factory=list)  # certificates in the keyring, file order
    holders: dict[str, Path] = field(default_factory=dict)  # fingerprint → the keyring file holding it
    declared_fingerprints: list[str] = field(default_factory=list)  # e.g. Arch validpgpkeys
    declared_in: Path | None = None  # the file that declares them, and the line of each
    declared_lines: dict[str, int | None] = field(default_factory=dict)
    keyring_ok: bool = False  # every keyring file parsed and holds at least one certificate
    index: str | None = None
    pattern: str | None = None
    signature_suffixes: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # key sources (URLs)
    git: str | None = None
    tag_pattern: str | None = None
    release_url: str | None = None  # the release the packaging builds now, when it names one
    notes: list[str] = field(default_factory=list)

    @property
    def keyring_directory(self) -> Path | None:
        return self.keyring_files[0].parent if self.keyring_is_directory and self.keyring_files else None

    def config_values(self, keyring: str | None) -> dict:
        """The [[upstream]] table, as `upstreams.add_upstream` takes it."""
        return {"name": self.name, "keyring": keyring, "keyring_format": self.keyring_format,
                "index": self.index, "pattern": self.pattern, "signature_suffixes": self.signature_suffixes,
                "keys": self.keys, "git": self.git, "tag_pattern": self.tag_pattern}


@dataclass
class TreeScan:
    root: Path
    upstreams: list[UpstreamFinding]
    problems: list[Problem]
