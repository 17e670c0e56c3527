"""The build-time check: is this file signed by a key of the approved keyring, valid when it signed?

Like gpgv, openSUSE's source validator or makepkg's `validpgpkeys`, but
stricter where they are silent: by default an *extra* signature by a key
outside the keyring fails the check (makepkg accepts a file if any one
signature is by a `validpgpkeys` key, so a second signer slips in unnoticed),
and so does a signature by a key that was expired or revoked when it signed. The file is
streamed in 1 MiB chunks, so a 4 GB tarball costs little memory. A signature
made over the uncompressed contents of a .gz, .xz, .bz2 or .zst tarball is
accepted too, as OBS does; the raw file is tried first.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .datasig import SignerIndex, SignerVerdict, digests_of, judge, read_detached_signatures
from .errors import InputError
from .ingest import read_input
from .openpgp.cert import Certificate, certificates_from_bytes
from .openpgp.validity import cert_state
from .openpgp.verify import IssuerIndex, Verifier
from .types import Fingerprint, iso, now_ts

CHUNK = 1024 * 1024
SIGNATURE_SUFFIXES = (".sig", ".asc", ".sign")
COMPRESSIONS = {".gz": "gzip", ".tgz": "gzip", ".xz": "xz", ".bz2": "bzip2", ".zst": "zstd"}


def load_keyring(path: Path) -> list[Certificate]:
    """A packaging keyring in any format: one file (armored or binary), or a directory of .asc files (Arch)."""
    files = sorted(path.glob("*.asc")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no .asc files in this keyring directory")
    certs: list[Certificate] = []
    for file in files:
        certs += certificates_from_bytes(read_input(file), str(file))
    return certs


def find_signature(path: Path) -> Path:
    for suffix in SIGNATURE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            return candidate
    raise InputError(f"{path}: no signature found ({', '.join(path.name + s for s in SIGNATURE_SUFFIXES)}): "
                     "the file is unsigned")


def _raw_chunks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


_DECOMPRESSORS = {"gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
                  "xz": lzma.LZMADecompressor, "bzip2": bz2.BZ2Decompressor}


def _decompressed_chunks(path: Path, kind: str) -> Iterator[bytes]:
    """The uncompressed contents, streamed; gzip, xz and bzip2 files may hold several concatenated members."""
    if kind == "zstd":
        yield from _zstd_chunks(path)
        return
    new = _DECOMPRESSORS[kind]
    decompressor = new()
    try:
        for chunk in _raw_chunks(path):
            while chunk:
                yield decompressor.decompress(chunk)
                if not decompressor.eof:
                    break
                chunk, decompressor = decompressor.unused_data, new()
    except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not valid {kind} data ({exc})") from None


def _zstd_chunks(path: Path) -> Iterator[bytes]:
    """The standard library has no zstd: the `zstd` tool streams it."""
    if shutil.which("zstd") is None:
        raise InputError(f"{path}: checking a signature over zstd contents needs the zstd command")
    with subprocess.Popen(["zstd", "-dc", "--", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(CHUNK):
            yield chunk
    if proc.returncode != 0:
        raise InputError(f"{path}: not valid zstd data")


@dataclass
class FileVerdict:
    file: str
    signature: str
    good: bool
    over: str  # "file" or the compression whose contents were signed
    signers: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def signed_content_note(self) -> str | None:
        return None if self.over == "file" else f"(the signature covers the {self.over}-decompressed contents)"

    def as_json(self) -> dict:
        return {"file": self.file, "signature": self.signature, "good": self.good, "signed_content": self.over,
                "signers": self.signers, "problems": self.problems}


def verify_file(path: Path, signature_path: Path | None, keyring: list[Certificate], *,
                allow_extra_signers: bool = False, at: int | None = None) -> FileVerdict:
    """Verify `path` against the approved `keyring` (nothing else is trusted)."""
    signature_path = signature_path or find_signature(path)
    sigs = read_detached_signatures(read_input(signature_path, 1024 * 1024), str(signature_path))
    at = at if at is not None else now_ts()
    by_fingerprint = {cert.fingerprint: cert for cert in keyring}
    issuers = IssuerIndex()
    issuers.add_certificates(keyring)
    verdicts = Verifier(issuers).verify_certificates(keyring)

    def state_of(fingerprint: Fingerprint, moment: int):
        return cert_state(by_fingerprint[fingerprint], verdicts.__getitem__, moment)

    signer_index = SignerIndex()
    for cert in keyring:
        signer_index.add(cert.primary, cert.fingerprint)
        for sub in cert.subkeys:
            signer_index.add(sub.key, cert.fingerprint)
    digests, _ = digests_of(sigs, _raw_chunks(path))
    found = judge(sigs, digests, signer_index, state_of, at)
    over = "file"
    kind = COMPRESSIONS.get(path.suffix)
    if kind is not None and not any(v.status == "good" for v in found):
        digests, _ = digests_of(sigs, _decompressed_chunks(path, kind))
        inner = judge(sigs, digests, signer_index, state_of, at)
        if any(v.status == "good" for v in inner):
            found, over = inner, kind
    return _conclude(path, signature_path, found, by_fingerprint, over, allow_extra_signers)


def _conclude(path: Path, signature_path: Path, found: list[SignerVerdict], keyring: dict[str, Certificate],
              over: str, allow_extra_signers: bool) -> FileVerdict:
    verdict = FileVerdict(str(path), str(signature_path), False, over)
    for item in found:
        cert = keyring.get(item.signer) if item.signer else None
        verdict.signers.append({
            "fingerprint": item.signer, "signing_key": item.signing_key, "key_id": item.key_id,
            "user_id": _primary_user_id(cert), "created": iso(item.sig.created), "status": item.status,
            "in_keyring": cert is not None, "valid_at_signing": item.valid_at_signing,
            "problem": item.reason if item.status != "good" else item.why_invalid,
        })
    holding = [v for v in found if v.holds]
    outsiders = [v for v in found if v.status == "issuer-unknown"]
    broken = [v for v in found if v.status == "bad" or (v.status == "good" and not v.valid_at_signing)]
    if not holding:
        verdict.problems.append("no signature by a key of the keyring holds")
    for item in broken:
        verdict.problems.append(f"signature by {item.signer or item.key_id}: {item.reason or item.why_invalid}")
    if outsiders and not allow_extra_signers:
        names = ", ".join(v.key_id or "?" for v in outsiders)
        verdict.problems.append(f"extra signature by a key outside the keyring ({names}); "
                                "use --allow-extra-signers to accept it")
    verdict.good = bool(holding) and not broken and (allow_extra_signers or not outsiders)
    return verdict


def _primary_user_id(cert: Certificate | None) -> str | None:
    if cert is None or not cert.user_ids:
        return None
    return cert.user_ids[0].text
