"""Verifications per second of keywatch.openpgp.keymaterial, on keys and signatures made by Sequoia.

Run: PYTHONPATH=. python bench/keymaterial_speed.py
The Debian keyring import verifies ~49k certifications; this shows whether
the per-signature cost keeps that within seconds.
"""

from __future__ import annotations

import time

import pysequoia
from pysequoia.packet import PacketPile

from keywatch.openpgp.keymaterial import new_hash, parse_public_key

DATA = b"benchmark document\n"
ROUNDS = 3
SECONDS_PER_ROUND = 1.0

CASES = {
    "RSA-2048 (v4)": (pysequoia.Profile.RFC4880, {"cipher_suite": pysequoia.CipherSuite.RSA2k}),
    "RSA-4096 (v4)": (pysequoia.Profile.RFC4880, {"cipher_suite": pysequoia.CipherSuite.RSA4k}),
    "EdDSALegacy Ed25519 (v4)": (pysequoia.Profile.RFC4880, {}),
    "ECDSA P-256 (v4)": (pysequoia.Profile.RFC4880, {"cipher_suite": pysequoia.CipherSuite.P256}),
    "Ed25519 (v6)": (pysequoia.Profile.RFC9580, {}),
    "Ed448 (v6)": (
        pysequoia.Profile.RFC9580,
        {"signing_algorithm": pysequoia.SigningAlgorithm.Ed448},
    ),
}


def signed(profile, options) -> tuple[bytes, int, bytes, bytes]:
    """(key body, hash id, digest, signature fields) of a detached signature over DATA."""
    tsk = pysequoia.Tsk.generate("bench <bench@keywatch.test>", profile=profile, **options)
    raw = pysequoia.sign(tsk.signer(), DATA, mode=pysequoia.SignatureMode.DETACHED, armor=False)
    signature = next(iter(PacketPile.from_bytes(raw)))
    key = next(
        p
        for p in PacketPile.from_bytes(bytes(tsk.extract_certificate()))
        if p.fingerprint == signature.issuer_fingerprint
    )
    body = signature.body
    size = 2 if body[0] == 4 else 4
    hashed_end = 4 + size + int.from_bytes(body[4 : 4 + size], "big")
    end = hashed_end + size + int.from_bytes(body[hashed_end : hashed_end + size], "big") + 2
    salt = b""
    if body[0] == 6:
        salt = body[end + 1 : end + 1 + body[end]]
        end += 1 + body[end]
    hasher = new_hash(body[3])
    hasher.update(
        salt + DATA + body[:hashed_end] + bytes([body[0], 0xFF]) + hashed_end.to_bytes(4, "big")
    )
    return key.body, body[3], hasher.digest(), body[end:]


def rate(function) -> float:
    """Best of ROUNDS calls-per-second measurements."""
    best = 0.0
    for _ in range(ROUNDS):
        count = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < SECONDS_PER_ROUND:
            for _ in range(100):
                function()
            count += 100
        best = max(best, count / elapsed)
    return best


def measure(body: bytes, hash_id: int, digest: bytes, fields: bytes) -> tuple[float, float, float]:
    """(cached verify, parse + first verify, parse) per second for one key and signature."""
    key = parse_public_key(body)
    assert key.verify(hash_id, digest, fields)
    return (
        rate(lambda: key.verify(hash_id, digest, fields)),
        rate(lambda: parse_public_key(body).verify(hash_id, digest, fields)),
        rate(lambda: parse_public_key(body)),
    )


def main() -> None:
    for name, (profile, options) in CASES.items():
        verify_rate, cold_rate, parse_rate = measure(*signed(profile, options))
        print(
            f"{name:26} verify {verify_rate:8.0f}/s   parse+first verify {cold_rate:8.0f}/s"
            f"   parse {parse_rate:8.0f}/s"
        )


if __name__ == "__main__":
    main()
