"""Detached signatures over files agree with gpg --verify and pysequoia.verify on the same files.

Signatures are made by gpg (RSA primary, binary and text mode, ECDSA subkey)
and sq (Ed25519 signing subkey); keywatch's verdicts are compared with the
two independent verifiers, then judged at signing time.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pysequoia
import pytest

import certgen
from keywatch.datasig import digests_of, judge, read_detached_signatures, SignerIndex
from keywatch.errors import InputError
from keywatch.ingest import import_bytes
from keywatch.keyview import CertificateReader
from keywatch.store import Store

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def gpg(home: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback",
                           "--passphrase", "", *args], input=data, capture_output=True)


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A file with signatures by gpg (RSA, binary and text mode; ECDSA subkey) and sq (Ed25519 subkey)."""
    work = tmp_path_factory.mktemp("datasig")
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    gpg(home, "--quick-generate-key", "Rsa <rsa@example.org>", "rsa2048", "sign,cert", "2y")
    gpg(home, "--quick-generate-key", "Ec <ec@example.org>", "nistp256/ecdsa", "cert", "2y")
    ec_fpr = gpg(home, "--with-colons", "--list-keys", "ec@example.org").stdout.decode().split("fpr:::::::::")[1][:40]
    gpg(home, "--quick-add-key", ec_fpr, "nistp256/ecdsa", "sign", "2y")
    sq_key = certgen.generate_key(work, ["Ed <ed@example.org>"], created=NOW - dt.timedelta(days=2),
                                  expires=NOW + dt.timedelta(days=700), tool="sq")
    data = work / "release.tar"
    data.write_bytes(os.urandom(300_000) + b"line one\nline two\r\nlast")
    text = work / "NEWS"
    text.write_bytes(b"Release notes\n\nUnix line\nWindows line\r\nno newline at the end")
    sigs = {}
    for name, args, target in (("rsa", ["-u", "rsa@example.org"], data),
                               ("rsa-text", ["-u", "rsa@example.org", "--textmode"], text),
                               ("ec", ["-u", "ec@example.org"], data)):
        out = work / f"{name}.sig"
        result = gpg(home, *args, "--detach-sign", "-o", str(out), str(target))
        assert result.returncode == 0, result.stderr
        sigs[name] = out.read_bytes()
    sigs["ed"] = subprocess.run(["sq", "sign", "--detached", "--binary", "--signer-key", str(sq_key.key_path),
                                 str(data)], capture_output=True, check=True).stdout
    gpg(home, "--import", data=sq_key.cert)
    certs = gpg(home, "--export").stdout + sq_key.cert
    return {"work": work, "home": home, "data": data, "text": text, "sigs": sigs, "certs": certs, "sq_key": sq_key}


def _signed_file(signed: dict, name: str) -> Path:
    return signed["text"] if name == "rsa-text" else signed["data"]


def verdicts(tmp_path: Path, certs: bytes, signature: bytes, data: bytes):
    store = Store(tmp_path / "v.db")
    if certs:
        import_bytes(store, certs, "certs")
    sigs = read_detached_signatures(signature, "sig")
    digests, _ = digests_of(sigs, [data[i:i + 65536] for i in range(0, len(data), 65536)])
    found = judge(sigs, digests, SignerIndex.from_store(store), CertificateReader(store).state,
                  int(NOW.timestamp()))
    store.close()
    return found


def gpg_verify(home: Path, signature: bytes, data: Path) -> bool:
    sig_file = data.with_suffix(".check.sig")
    sig_file.write_bytes(signature)
    return gpg(home, "--verify", str(sig_file), str(data)).returncode == 0


def sequoia_verify(certs: bytes, signature: bytes, data: bytes) -> bool:
    cert_list = pysequoia.Cert.split_bytes(certs)
    try:
        result = pysequoia.verify(bytes=data, signature=pysequoia.Sig.from_bytes(signature),
                                  store=lambda ids: cert_list)
    except Exception:  # noqa: BLE001 - pysequoia raises on any invalid signature
        return False
    return bool(result.valid_sigs)


@pytest.mark.parametrize("name", ["rsa", "rsa-text", "ec", "ed"])
def test_good_signatures_agree_with_gpg_and_sequoia(signed, tmp_path, name):
    path = _signed_file(signed, name)
    data = path.read_bytes()
    [verdict] = verdicts(tmp_path, signed["certs"], signed["sigs"][name], data)
    assert gpg_verify(signed["home"], signed["sigs"][name], path)
    assert sequoia_verify(signed["certs"], signed["sigs"][name], data)
    assert verdict.status == "good" and verdict.holds, verdict
    if name in ("ec", "ed"):
        assert verdict.signing_key != verdict.signer  # made by the signing subkey


@pytest.mark.parametrize("name", ["rsa", "rsa-text", "ec", "ed"])
def test_tampered_file_is_bad_for_all_three(signed, tmp_path, name):
    tampered = bytearray(_signed_file(signed, name).read_bytes())
    tampered[10] ^= 1
    path = tmp_path / "tampered.tar"
    path.write_bytes(bytes(tampered))
    [verdict] = verdicts(tmp_path, signed["certs"], signed["sigs"][name], bytes(tampered))
    assert not gpg_verify(signed["home"], signed["sigs"][name], path)
    assert not sequoia_verify(signed["certs"], signed["sigs"][name], bytes(tampered))
    assert verdict.status == "bad" and not verdict.holds


def test_several_signatures_in_one_file_each_get_a_verdict(signed, tmp_path):
    both = signed["sigs"]["rsa"] + signed["sigs"]["ed"]
    found = verdicts(tmp_path, signed["certs"], both, signed["data"].read_bytes())
    assert [v.status for v in found] == ["good", "good"]
    assert len({v.signer for v in found}) == 2


def test_unknown_signer_is_named_by_key_id(signed, tmp_path):
    [verdict] = verdicts(tmp_path, b"", signed["sigs"]["ed"], signed["data"].read_bytes())
    assert verdict.status == "issuer-unknown" and verdict.key_id is not None and not verdict.holds


def test_revoked_key_signature_does_not_hold(signed, tmp_path):
    key = signed["sq_key"]
    revoked = certgen.revoke_key(signed["work"], key, time=NOW - dt.timedelta(days=1), reason="compromised")
    [verdict] = verdicts(tmp_path, revoked, signed["sigs"]["ed"], signed["data"].read_bytes())
    assert verdict.status == "good" and not verdict.holds and "revoked" in verdict.why_invalid


def test_not_a_signature_is_refused(signed):
    with pytest.raises(InputError, match="not a detached signature"):
        read_detached_signatures(signed["certs"], "KEYS")
