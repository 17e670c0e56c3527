"""Writing packaging keyrings in each distribution's format, atomically.

| format | what is written |
| --- | --- |
| opensuse | one armored file, `NAME.keyring` |
| debian | one armored file, `debian/upstream/signing-key.asc` |
| arch | a directory `keys/pgp/` with one armored `<FINGERPRINT>.asc` per key |
| gentoo | one armored file, `openpgp-keys/NAME.asc` |
| binary | one binary file |

A file is written to a temporary name, fsynced and renamed; a directory is
built beside the target and swapped in as a whole, so a reader (or a crash)
only ever sees the old keyring or the new one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pysequoia

from .errors import InputError
from .openpgp.cert import Certificate

FORMATS = ("opensuse", "debian", "arch", "gentoo", "binary")


def armored(certs: list[Certificate]) -> bytes:
    return "".join(pysequoia.armor(cert.canonical_bytes(), pysequoia.ArmorKind.PublicKey)
                   for cert in sorted(certs, key=lambda c: c.fingerprint)).encode()


def render(certs: list[Certificate], keyring_format: str) -> bytes | dict[str, bytes]:
    """The keyring's bytes (file formats) or {file name: bytes} (arch's directory)."""
    if keyring_format == "arch":
        return {f"{cert.fingerprint}.asc": armored([cert]) for cert in certs}
    if keyring_format == "binary":
        return b"".join(cert.canonical_bytes() for cert in sorted(certs, key=lambda c: c.fingerprint))
    if keyring_format in FORMATS:
        return armored(certs)
    raise InputError(f"unknown keyring format {keyring_format!r} (one of {', '.join(FORMATS)})")


def default_path(keyring_format: str, name: str) -> str:
    return {"opensuse": f"{name}.keyring", "debian": "debian/upstream/signing-key.asc", "arch": "keys/pgp",
            "gentoo": f"openpgp-keys/{name}.asc", "binary": f"{name}.gpg"}[keyring_format]


def write_atomically(target: Path, content: bytes | dict[str, bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        _swap_directory(target, content)
    else:
        _replace_file(target, content)


def _replace_file(target: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        _fsync_directory(target.parent)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _swap_directory(target: Path, files: dict[str, bytes]) -> None:
    """Build the new directory beside the old one, then exchange them with two renames.

    Between the renames the target name is briefly absent; a reader retries,
    and a crash there leaves the complete old or new directory under a
    `.keywatch-*` name that the next write cleans up.
    """
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    for name, data in files.items():
        path = staging / name
        with path.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    _fsync_directory(staging)
    retired = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    _fsync_directory(target.parent)
    shutil.rmtree(retired, ignore_errors=True)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
