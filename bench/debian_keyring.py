"""The benchmark input: Debian's debian-keyring.gpg, version 2022.12.24, cached under bench/data/.

Both benchmarks must measure exactly the same bytes on every machine, so the
file is fetched with the ordinary Debian tools (`apt-get download`,
`dpkg-deb -x`) from the pinned package version and checked against its
SHA-256 before use; later runs reuse the cached copy.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PACKAGE_VERSION = "2022.12.24"
KEYRING_SHA256 = "115140a66a82e8aff366b5f322e1b2ff0aea610b88b02474e1a27dcd600aabe5"
KEYRING = DATA_DIR / f"debian-keyring-{PACKAGE_VERSION}.gpg"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def debian_keyring() -> Path:
    """Path of the pinned keyring, downloading and unpacking the .deb on first use."""
    if not KEYRING.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp).chmod(0o755)  # apt's unprivileged _apt user downloads into it
            subprocess.run(["apt-get", "download", f"debian-keyring={PACKAGE_VERSION}"], cwd=tmp, check=True)
            deb = next(Path(tmp).glob("debian-keyring_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), f"{tmp}/root"], check=True)
            shutil.copyfile(f"{tmp}/root/usr/share/keyrings/debian-keyring.gpg", KEYRING)
    digest = sha256_of(KEYRING)
    if digest != KEYRING_SHA256:
        raise SystemExit(f"{KEYRING}: SHA-256 {digest}, expected {KEYRING_SHA256}; delete it to fetch again")
    return KEYRING
