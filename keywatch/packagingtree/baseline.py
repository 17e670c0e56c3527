"""The packaging keyring of one package: which certificates its files hold, and whether they hold up.

A keyring file that does not parse (or holds a secret key, or nothing) makes
the whole keyring unusable as a baseline, as `keywatch import` rejects a
malformed file whole: an approved baseline with a hole in it would approve
less than the packagers did, and nobody would notice.

Fingerprints a package *declares* (Arch's `validpgpkeys`) are checked against
the certificates its key files hold, in both directions: a declared key with
no file, and a key file that nothing declares, are both reported.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import KeywatchError
from ..ingest import read_input
from ..openpgp.cert import certificates_from_bytes
from .findings import ProblemLog, UpstreamFinding


def read_keyring(finding: UpstreamFinding, problems: ProblemLog) -> None:
    """Fill in `fingerprints` and `keyring_ok` from the finding's keyring files."""
    fingerprints: list[str] = []
    ok = bool(finding.keyring_files)
    for path in finding.keyring_files:
        try:
            certs = certificates_from_bytes(read_input(path), problems.relative(path))
        except KeywatchError as exc:
            problems.add(path, None, f"keyring does not parse: {exc}")
            ok = False
            continue
        if not certs:
            problems.add(path, None, "keyring holds no certificate")
            ok = False
        for cert in certs:
            if cert.fingerprint not in fingerprints:
                fingerprints.append(cert.fingerprint)
                finding.holders[cert.fingerprint] = path
        if finding.keyring_is_directory:
            _check_named_file(path, [c.fingerprint for c in certs], problems)
    finding.fingerprints = fingerprints
    finding.keyring_ok = ok and bool(fingerprints)


def _check_named_file(path: Path, held: list[str], problems: ProblemLog) -> None:
    """Arch names each key file after its fingerprint; a file holding another key misleads a reviewer."""
    stem = path.name[: -len(".asc")].upper() if path.name.endswith(".asc") else path.stem.upper()
    if held and stem not in held:
        problems.add(path, None, f"file is named {stem} but holds {', '.join(held)}")


def check_declared(finding: UpstreamFinding, problems: ProblemLog) -> None:
    """Declared fingerprints versus the keyring: each one missing on either side is a problem."""
    held = set(finding.fingerprints)
    for fingerprint in finding.declared_fingerprints:
        if fingerprint not in held:
            path, line = finding.declared_in or finding.package, finding.declared_lines.get(fingerprint)
            where = problems.relative(finding.keyring_directory) + "/" if finding.keyring_directory else "the keyring"
            problems.add(path, line, f"validpgpkeys names {fingerprint}, which is not in {where}")
    declared = set(finding.declared_fingerprints)
    for fingerprint in finding.fingerprints:
        if declared and fingerprint not in declared:
            problems.add(finding.holders[fingerprint], None, f"key {fingerprint} is in the keyring but not in "
                                                             "validpgpkeys (makepkg would not accept signatures by it)")
