"""`keywatch verify`: the build-time check, compared with gpgv where gpgv's answer is right.

Keys and signatures are made by sq (certgen); each case runs the real CLI and
gpgv on the same files.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import certgen
from test_monitoring import sign_detached

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
T0 = NOW - dt.timedelta(days=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("verify")
    maintainer = certgen.generate_key(work, ["Maintainer <m@example.org>"], created=T0, expires=None, tool="sq")
    stranger = certgen.generate_key(work, ["Stranger <s@example.org>"], created=T0, expires=None, tool="sq")
    keyring = work / "upstream.keyring"
    keyring.write_bytes(maintainer.cert)
    tarball = work / "pkg-1.0.tar"
    tarball.write_bytes(os.urandom(200_000))
    return {"work": work, "maintainer": maintainer, "stranger": stranger, "keyring": keyring, "tarball": tarball}


def gpgv(keyring: Path, signature: Path, data: Path) -> int:
    return subprocess.run(["gpgv", "--keyring", str(keyring), str(signature), str(data)],
                          capture_output=True).returncode


def signed_copy(world, name: str, *signers, data: bytes | None = None) -> tuple[Path, Path]:
    path = world["work"] / name
    path.write_bytes(data if data is not None else world["tarball"].read_bytes())
    signature = path.with_name(path.name + ".sig")
    signature.write_bytes(b"".join(sign_detached(world["work"], key, path.read_bytes(), NOW) for key in signers))
    return path, signature


def test_good_signature_passes_like_gpgv(kw, world):
    path, signature = signed_copy(world, "good.tar", world["maintainer"])
    result = kw("verify", "--keyring", str(world["keyring"]), str(path), "--json")
    document = result.json()
    assert document["good"] and document["signers"][0]["fingerprint"] == world["maintainer"].fingerprint
    assert document["signers"][0]["user_id"] == "Maintainer <m@example.org>"
    assert gpgv(world["keyring"], signature, path) == 0


def test_tampered_file_fails_like_gpgv(kw, world):
    path, signature = signed_copy(world, "bad.tar", world["maintainer"])
    path.write_bytes(path.read_bytes() + b"\0")
    result = kw("verify", "--keyring", str(world["keyring"]), str(path), check=False)
    assert result.code == 1 and "FAILED" in result.stdout
    assert gpgv(world["keyring"], signature, path) != 0


def test_unsigned_file_fails(kw, world):
    path = world["work"] / "unsigned.tar"
    path.write_bytes(b"no signature here")
    result = kw("verify", "--keyring", str(world["keyring"]), str(path), check=False)
    assert result.code == 1 and "unsigned" in result.stderr and "Traceback" not in result.stderr


def test_signature_by_a_stranger_fails_like_gpgv(kw, world):
    path, signature = signed_copy(world, "stranger.tar", world["stranger"])
    assert kw("verify", "--keyring", str(world["keyring"]), str(path), check=False).code == 1
    assert gpgv(world["keyring"], signature, path) != 0


def test_extra_signer_fails_unless_allowed(kw, world):
    path, signature = signed_copy(world, "extra.tar", world["maintainer"], world["stranger"])
    strict = kw("verify", "--keyring", str(world["keyring"]), str(path), "--json", check=False)
    assert strict.code == 1 and any("extra signature" in p for p in strict.json()["problems"])
    relaxed = kw("verify", "--keyring", str(world["keyring"]), str(path), "--allow-extra-signers", check=False)
    assert relaxed.code == 0
    # gpgv 2.2 exits 2 here ("No public key" for the second signature); makepkg, which only asks for one
    # good signature from validpgpkeys, accepts the file.
    assert gpgv(world["keyring"], signature, path) == 2


def test_revoked_key_fails(kw, world, tmp_path):
    path, signature = signed_copy(world, "revoked.tar", world["maintainer"])
    revoked = tmp_path / "revoked.keyring"
    revoked.write_bytes(certgen.revoke_key(world["work"], world["maintainer"], time=NOW - dt.timedelta(days=1),
                                           reason="compromised"))
    result = kw("verify", "--keyring", str(revoked), str(path), "--json", check=False)
    assert result.code == 1 and "revoked" in result.json()["signers"][0]["problem"]


def test_key_expired_at_signing_time_fails(kw, world, tmp_path):
    """The certificate says the key expired on day 1; the signature was made on day 10."""
    path, signature = signed_copy(world, "expired.tar", world["maintainer"])
    expired = certgen.set_expiry(world["work"], world["maintainer"], T0 + dt.timedelta(days=1),
                                 time=T0 + dt.timedelta(hours=1))
    keyring = tmp_path / "expired.keyring"
    keyring.write_bytes(expired)
    result = kw("verify", "--keyring", str(keyring), str(path), "--json", check=False)
    assert result.code == 1 and "expired" in result.json()["signers"][0]["problem"]


@pytest.mark.parametrize("suffix,compress", [(".gz", gzip.compress), (".xz", lzma.compress),
                                             (".bz2", bz2.compress), (".zst", None)])
def test_signature_over_uncompressed_contents_of_a_tarball(kw, world, suffix, compress):
    contents = world["tarball"].read_bytes()
    path = world["work"] / f"inner{suffix}"
    if compress is None:  # tests/setup.sh installs the zstd command
        subprocess.run(["zstd", "-q", "-f", "-o", str(path)], input=contents, check=True)
    else:
        path.write_bytes(compress(contents) + (compress(b"second member") if suffix != ".xz" else b""))
        contents += b"second member" if suffix != ".xz" else b""
    signature = path.with_name(path.name + ".sig")
    signature.write_bytes(sign_detached(world["work"], world["maintainer"], contents, NOW))
    document = kw("verify", "--keyring", str(world["keyring"]), str(path), "--json").json()
    assert document["good"] and document["signed_content"] != "file"


def test_verify_with_an_upstream_keyring_from_the_config(kw, world):
    keyrings = kw.workspace / "keyrings"
    shutil.copy(world["keyring"], keyrings / "pkg.keyring")
    kw("upstream", "add", "pkg", "--keyring", "keyrings/pkg.keyring")
    path, _ = signed_copy(world, "cfg.tar", world["maintainer"])
    assert kw("verify", "--upstream", "pkg", str(path)).code == 0
    usage = kw("verify", str(path), check=False)
    assert usage.code == 2 and "exactly one of" in usage.stderr


def test_large_file_is_streamed(kw, world, tmp_path):
    """300 MB through a 1 MiB buffer: peak memory of the check stays far below the file size."""
    path = tmp_path / "big.tar"
    with path.open("wb") as out:
        block = os.urandom(1 << 20)
        for _ in range(300):
            out.write(block)
    signature = tmp_path / "big.tar.sig"
    signature.write_bytes(subprocess.run(
        ["sq", "sign", "--detached", "--binary", "--signer-key", str(world["maintainer"].key_path), str(path)],
        capture_output=True, check=True).stdout)
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "keywatch", "verify", "--keyring", str(world["keyring"]),
                           str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    assert peak_kb < 150_000
