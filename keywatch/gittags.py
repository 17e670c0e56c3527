"""Signed tags of an upstream's git repository, split into the exact bytes each signature covers.

Upstreams that publish no tarball signatures often sign their release tags, so
a tag's signer is the release signer. keywatch does not ask git to verify: it
takes each raw tag object apart the way git's ``verify-tag`` does and hands the
payload and the signature to its own verifier.

The repository is hostile until shown otherwise, and so is its server:

- Only ``http``, ``https`` and ``git`` URLs, or a local directory, are
  accepted. ``file://``, ``ssh`` and transport helpers (``ext::sh -c …``) can
  run commands or reach other repositories, and git is told to refuse every
  other protocol too, including through redirects.
- git runs with no system, global or user configuration (a fresh ``HOME``),
  no hooks, no terminal prompts, a timeout, and only the environment it needs.
- A local directory is cloned with ``--no-local``, through upload-pack, so
  its object store is never hard-linked or followed; its config is not ours.

Each repository is mirrored once into the cache as a bare, tree-less partial
clone (only tag and commit objects are read; trees and blobs are most of a
repository's size) named by a hash of its URL, and later calls fetch tags into
it, pruning tags that upstream deleted.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from .errors import InputError, KeywatchError
from .releases import compile_pattern
from .versions import version_key

NETWORK_TIMEOUT = 600  # seconds for a clone or fetch
LOCAL_TIMEOUT = 120  # seconds for reading the mirror

SignatureKind = Literal["openpgp", "ssh", "x509"]

_NETWORK_SCHEMES = ("http", "https", "git")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TRANSPORT_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # git's "<helper>::<address>"
_SAFE_GIT_OPTIONS = (
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.git.allow=always",
    "-c", "core.hooksPath=/dev/null",
    # Housekeeping after a fetch runs within our timeout, never as a process left behind.
    "-c", "gc.autoDetach=false",
    "-c", "maintenance.autoDetach=false",
)
_PASSED_ENVIRONMENT = ("PATH", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "http_proxy", "https_proxy",
                       "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")

# gpg-interface.c: a signature starts at the last line beginning with one of these.
_SIGNATURE_START = re.compile(rb"^-----BEGIN (PGP SIGNATURE|PGP MESSAGE|SIGNED MESSAGE|SSH SIGNATURE)-----",
                              re.MULTILINE)
_SIGNATURE_KINDS: dict[bytes, SignatureKind] = {
    b"PGP SIGNATURE": "openpgp", b"PGP MESSAGE": "openpgp", b"SIGNED MESSAGE": "x509", b"SSH SIGNATURE": "ssh",
}
_TAGGER_TIME = re.compile(rb"^tagger [^\n]*> (\d{1,18}) [+-]\d{4}$", re.MULTILINE)


class GitError(KeywatchError):
    """git could not mirror or read a repository; the message names it."""


@dataclass(frozen=True)
class GitTag:
    name: str
    version: str | None  # group 1 of the tag pattern; None without a pattern or when it does not match
    object: str  # the tag object's ID; for a lightweight tag, the object it names
    tagger_time: int | None
    payload: bytes  # exactly what the signature covers (empty for a lightweight tag)
    signature: bytes | None  # the armored signature block; None if unsigned
    signature_kind: SignatureKind | None


def read_signed_tags(repository: str, cache_dir: Path, tag_pattern: str | None = None) -> list[GitTag]:
    """Every tag of `repository`, mirrored into `cache_dir`, ordered by version (or name when none).

    Tags that do not match `tag_pattern` are kept, with version None: a new key
    signing any tag is worth seeing.
    """
    matcher = compile_pattern(tag_pattern) if tag_pattern is not None else None
    source, local = _checked_source(repository)
    with tempfile.TemporaryDirectory(prefix="keywatch-git-home-") as home:
        git = _Git(repository, home, local)
        mirror = _mirror(git, source, Path(cache_dir))
        tags = _read_tags(git, mirror)
    found = []
    for name, object_id, raw in tags:
        match = matcher.fullmatch(name) if matcher else None
        version = match.group(1) if match else None
        if raw is None:
            found.append(GitTag(name, version, object_id, None, b"", None, None))
        else:
            payload, signature, kind = split_signature(raw)
            found.append(GitTag(name, version, object_id, _tagger_time(raw), payload, signature, kind))
    return sorted(found, key=lambda tag: (version_key(tag.version if tag.version is not None else tag.name),
                                          tag.name))


def split_signature(raw: bytes) -> tuple[bytes, bytes | None, SignatureKind | None]:
    """(payload, signature, kind) of a raw tag object, as git's parse_signature() splits it.

    The signature runs from the last line that starts a known armor block to the
    end; the payload is everything before it, minus any ``gpgsig`` /
    ``gpgsig-sha256`` header (a signature over the other hash's form of the tag).
    """
    last = None
    for last in _SIGNATURE_START.finditer(raw):
        pass
    if last is None:
        return raw, None, None
    return _without_header_signatures(raw[:last.start()]), raw[last.start():], _SIGNATURE_KINDS[last.group(1)]


def _without_header_signatures(payload: bytes) -> bytes:
    """git's remove_signature(): drop gpgsig headers and their continuation lines from the header block."""
    kept = []
    in_signature = False
    position = 0
    while position < len(payload):
        newline = payload.find(b"\n", position)
        end = len(payload) if newline < 0 else newline + 1
        line = payload[position:end]
        if line == b"\n":  # the blank line ends the header; the message is kept whole
            kept.append(payload[position:])
            break
        if not (in_signature and line.startswith(b" ")):
            in_signature = line.startswith((b"gpgsig ", b"gpgsig-sha256 "))
            if not in_signature:
                kept.append(line)
        position = end
    return b"".join(kept)


def _tagger_time(raw: bytes) -> int | None:
    head = raw.partition(b"\n\n")[0]
    match = _TAGGER_TIME.search(head)
    return int(match.group(1)) if match else None


def _checked_source(repository: str) -> tuple[str, bool]:
    """The URL or absolute path git is given, and whether it is a local directory."""
    shown = _shown(repository)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in repository):
        raise InputError(f"repository {shown!r}: a URL or path cannot contain control characters")
    if _TRANSPORT_HELPER.match(repository):
        raise InputError(f"{shown}: git transport helpers ('<helper>::…') can run commands; "
                         "give an http(s):// or git:// URL or a local directory")
    scheme = _SCHEME.match(repository)
    if scheme:
        if scheme.group(1).lower() not in _NETWORK_SCHEMES:
            raise InputError(f"{shown}: only http://, https:// and git:// repository URLs are accepted")
        return repository, False
    path = Path(repository)
    if not path.is_dir():
        raise InputError(f"{shown}: not a directory, nor an http://, https:// or git:// URL")
    return str(path.resolve()), True


def _shown(repository: str) -> str:
    """The repository as it may appear in a message: without a password in the URL."""
    try:
        parts = urlsplit(repository)
    except ValueError:
        return repository
    if parts.password is None:
        return repository
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class _Git:
    """Runs git for one repository with no configuration, hooks or prompts of the user's."""

    def __init__(self, repository: str, home: str, local: bool) -> None:
        self.shown = _shown(repository)
        # A local directory is reached through the "file" protocol, allowed for it alone.
        self.options = _SAFE_GIT_OPTIONS + (("-c", "protocol.file.allow=always") if local else ())
        self.env = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
        self.env.update(HOME=home, XDG_CONFIG_HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
                        GIT_TERMINAL_PROMPT="0", LC_ALL="C")

    def __call__(self, command: str, *args: str, git_dir: Path | None = None, timeout: int,
                 input: bytes | None = None) -> bytes:
        location = ("--git-dir", str(git_dir)) if git_dir else ()
        try:
            done = subprocess.run(["git", *self.options, *location, command, *args], input=input,
                                  capture_output=True, env=self.env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GitError(f"{self.shown}: git {command} took longer than {timeout} s") from None
        except OSError as exc:
            raise GitError(f"{self.shown}: cannot run git: {exc.strerror}") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines() or ["no message"]
            raise GitError(f"{self.shown}: git {command} failed: {lines[-1][:300]}")
        return done.stdout


def _mirror(git: _Git, source: str, cache_dir: Path) -> Path:
    """The up-to-date bare mirror of `source`: cloned the first time, fetched after."""
    mirror = cache_dir / f"{hashlib.sha256(source.encode()).hexdigest()[:32]}.git"
    if mirror.is_dir():
        # --prune alone spares tags; --prune-tags makes a tag deleted upstream disappear here too.
        git("fetch", "--quiet", "--tags", "--force", "--prune", "--prune-tags", "origin", git_dir=mirror,
            timeout=NETWORK_TIMEOUT)
        return mirror
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Clone beside the mirror and rename, so an interrupted clone is never mistaken for one.
        partial = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".cloning-"))
    except OSError as exc:
        raise GitError(f"{git.shown}: cannot create the mirror in {cache_dir}: {exc.strerror}") from None
    try:
        git("clone", "--bare", "--quiet", "--no-local", "--filter=tree:0", "--", source, str(partial),
            timeout=NETWORK_TIMEOUT)
        partial.rename(mirror)
    except OSError as exc:
        if not mirror.is_dir():  # else a concurrent call finished first: use its mirror
            raise GitError(f"{git.shown}: cannot create the mirror {mirror}: {exc.strerror}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return mirror


def _read_tags(git: _Git, mirror: Path) -> list[tuple[str, str, bytes | None]]:
    """(name, object ID, raw tag object or None for a lightweight tag) for every tag."""
    listing = git("for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", "refs/tags/",
                  git_dir=mirror, timeout=LOCAL_TIMEOUT)
    refs = []
    for line in listing.splitlines():
        object_id, object_type, refname = line.decode("utf-8", errors="replace").split(" ", 2)
        refs.append((refname.removeprefix("refs/tags/"), object_id, object_type == "tag"))
    annotated = [object_id for _, object_id, is_tag in refs if is_tag]
    objects = _cat_tags(git, mirror, annotated) if annotated else {}
    return [(name, object_id, objects[object_id] if is_tag else None) for name, object_id, is_tag in refs]


def _cat_tags(git: _Git, mirror: Path, object_ids: list[str]) -> dict[str, bytes]:
    """Raw tag objects, read in one `git cat-file --batch` rather than one process per tag."""
    output = git("cat-file", "--batch", input="\n".join(object_ids).encode() + b"\n", git_dir=mirror,
                 timeout=LOCAL_TIMEOUT)
    objects = {}
    position = 0
    for object_id in object_ids:
        header_end = output.find(b"\n", position)
        fields = output[position:header_end].decode("ascii", errors="replace").split(" ")
        if header_end < 0 or fields[:2] != [object_id, "tag"] or len(fields) != 3:
            raise GitError(f"{git.shown}: git cat-file did not return tag object {object_id}")
        start = header_end + 1
        objects[object_id] = output[start:start + int(fields[2])]
        position = start + int(fields[2]) + 1
    return objects
