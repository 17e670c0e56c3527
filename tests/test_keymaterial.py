"""keymaterial against real keys and signatures made by GnuPG, Sequoia, OpenSSL and libgcrypt.

GnuPG (`gpg --with-colons`) and Sequoia (pysequoia packet accessors) are the
independent oracles for fingerprints, key IDs, sizes and curves; the signatures
they make are the oracle for verification.  What this file computes itself is
the digest a signature covers (RFC 9580 §5.2.4), checked against the "left 16
bits" field the signer wrote; for keys no current OpenPGP tool makes (v3, v5,
ElGamal signing, odd RSA exponents) it restates the spec's formulas and lets
OpenSSL or libgcrypt make the signatures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import math
import os
import pickle
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pysequoia
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pysequoia.packet import PacketPile

from keywatch.errors import KeywatchError, MalformedPacket
from keywatch.openpgp import keymaterial
from keywatch.openpgp.keymaterial import (
    HASH_ALGORITHMS,
    PublicKey,
    UnsupportedAlgorithm,
    new_hash,
    parse_public_key,
)


HASH_IDS = {
    "MD5": 1,
    "SHA1": 2,
    "RIPEMD160": 3,
    "SHA256": 8,
    "SHA384": 9,
    "SHA512": 10,
    "SHA224": 11,
}
HASHLIB_NAMES = {
    1: "md5",
    2: "sha1",
    3: "ripemd160",
    8: "sha256",
    9: "sha384",
    10: "sha512",
    11: "sha224",
}

# gpg's --with-colons curve names -> ours
GPG_CURVES = {
    "nistp256": "NIST P-256",
    "nistp384": "NIST P-384",
    "nistp521": "NIST P-521",
    "brainpoolP256r1": "brainpoolP256r1",
    "brainpoolP384r1": "brainpoolP384r1",
    "brainpoolP512r1": "brainpoolP512r1",
    "secp256k1": "secp256k1",
    "ed25519": "Ed25519",
    "cv25519": "Curve25519",
}

# gpg algorithm spec -> digest algorithms to sign with (DSA and ECDSA get a
# hash longer than q / the curve order, to exercise truncation).
GPG_KEYS = {
    "rsa2048": ["SHA256", "SHA1", "SHA224", "SHA384", "SHA512", "RIPEMD160", "MD5"],
    "rsa4096": ["SHA512"],
    "dsa1024": ["SHA1", "SHA256"],
    "dsa2048": ["SHA256", "SHA512"],
    "nistp256": ["SHA256", "SHA512"],
    "nistp384": ["SHA384"],
    "nistp521": ["SHA512"],
    "brainpoolP256r1": ["SHA256"],
    "brainpoolP384r1": ["SHA384"],
    "brainpoolP512r1": ["SHA512"],
    "secp256k1": ["SHA256"],
    "ed25519": ["SHA256", "SHA512"],
    "ed25519-twin": ["SHA256"],
}
KEYGEN_TIMEOUT_SECONDS = 300  # RSA-4096 on a busy machine; a hang fails the test instead of skipping it
DATA = b"keywatch signs this \x00\xff document\n"


# --- RFC 9580 §5.2.4: what a signature's digest covers ---------------------


@dataclass(frozen=True)
class Signature:
    body: bytes
    hash_id: int
    hashed: bytes  # version .. end of hashed subpackets
    salt: bytes
    left16: bytes
    fields: bytes  # algorithm-specific part, what keymaterial verifies

    def digest(self, signed: bytes, hash_id: int | None = None) -> bytes:
        """Digest over `signed` (document, or key || user ID), optionally with another hash."""
        version = self.body[0]
        hasher = hashlib.new(HASHLIB_NAMES[hash_id or self.hash_id])
        hasher.update(self.salt + signed + self.hashed)
        hasher.update(bytes([version, 0xFF]) + len(self.hashed).to_bytes(4, "big"))
        return hasher.digest()


def split_signature(body: bytes) -> Signature:
    version = body[0]
    size = 2 if version == 4 else 4
    hashed_end = 4 + size + int.from_bytes(body[4 : 4 + size], "big")
    unhashed_end = hashed_end + size + int.from_bytes(body[hashed_end : hashed_end + size], "big")
    left16 = body[unhashed_end : unhashed_end + 2]
    salt = b""
    fields_start = unhashed_end + 2
    if version == 6:
        salt_size = body[fields_start]
        salt = body[fields_start + 1 : fields_start + 1 + salt_size]
        fields_start += 1 + salt_size
    return Signature(body, body[3], body[:hashed_end], salt, left16, body[fields_start:])


def key_prefix(key: PublicKey) -> bytes:
    """How a primary key enters a certification digest."""
    if key.version == 6:
        return b"\x9b" + len(key.body).to_bytes(4, "big") + key.body
    return b"\x99" + len(key.body).to_bytes(2, "big") + key.body


def uid_prefix(uid: bytes) -> bytes:
    return b"\xb4" + len(uid).to_bytes(4, "big") + uid


def packets(data: bytes) -> list:
    return list(PacketPile.from_bytes(data))


def sequoia_algorithm(packet) -> str:
    return str(packet.key_algorithm).removeprefix("PublicKeyAlgorithm.")


def is_key(packet) -> bool:
    return packet.tag in (pysequoia.packet.Tag.PublicKey, pysequoia.packet.Tag.PublicSubkey)


# --- GnuPG -------------------------------------------------------------------


class Gpg:
    """A throw-away GNUPGHOME with unprotected keys."""

    def __init__(self, home: Path) -> None:
        home.chmod(0o700)
        self.env = {**os.environ, "GNUPGHOME": str(home)}
        self.home = home

    def run(self, *args: str, timeout: float = 60) -> bytes:
        command = ["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
        result = subprocess.run(
            command + list(args), env=self.env, capture_output=True, check=True, timeout=timeout
        )
        return result.stdout

    def generate(self, label: str) -> str:
        """Fingerprint of a new key, or None if generating it took too long."""
        algorithm = label.removesuffix("-twin")
        uid = f"{label} <{label}@keywatch.test>"
        self.run("--quick-generate-key", uid, algorithm, "sign", "never", timeout=KEYGEN_TIMEOUT_SECONDS)
        return self.colons(uid)[1][9]

    def colons(self, handle: str) -> list[list[str]]:
        out = self.run("--with-colons", "--fixed-list-mode", "--list-keys", handle)
        return [
            line.split(":")
            for line in out.decode().splitlines()
            if line[:4] in ("pub:", "sub:", "fpr:")
        ]

    def sign(self, fingerprint: str, digest_algo: str, data: bytes) -> bytes:
        document = self.home / "document"
        document.write_bytes(data)
        return self.run(
            "--allow-weak-digest-algos",
            "--digest-algo",
            digest_algo,
            "-u",
            fingerprint + "!",
            "--detach-sign",
            "-o",
            "-",
            str(document),
        )

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True)


@dataclass
class GpgKey:
    label: str
    fingerprint: str
    export: bytes
    signatures: dict[str, Signature]  # digest algo -> detached signature over DATA

    @property
    def key(self) -> PublicKey:
        return parse_public_key(packets(self.export)[0].body)


@pytest.fixture(scope="module")
def gpg(tmp_path_factory: pytest.TempPathFactory):
    home = Gpg(tmp_path_factory.mktemp("gnupg"))
    yield home
    home.close()


@pytest.fixture(scope="module")
def gpg_keys(gpg: Gpg) -> dict[str, GpgKey]:
    keys = {}
    for label, digests in GPG_KEYS.items():
        fingerprint = gpg.generate(label)
        signatures = {
            digest: split_signature(packets(gpg.sign(fingerprint, digest, DATA))[0].body)
            for digest in digests
        }
        keys[label] = GpgKey(label, fingerprint, gpg.run("--export", fingerprint), signatures)
    return keys


def gpg_key(gpg_keys: dict[str, GpgKey], label: str) -> GpgKey:
    return gpg_keys[label]


def other_key_of_same_algorithm(gpg_keys: dict[str, GpgKey], label: str) -> PublicKey:
    mine = gpg_keys[label].key
    for other in gpg_keys.values():
        if other.label != label and other.key.algorithm == mine.algorithm:
            return other.key
    raise AssertionError(f"no second key with algorithm {mine.algorithm}")


SIGNATURE_CASES = [(label, digest) for label, digests in GPG_KEYS.items() for digest in digests]


# --- key properties against gpg ----------------------------------------------


@pytest.mark.parametrize("label", list(GPG_KEYS))
def test_primary_key_matches_gpg(gpg: Gpg, gpg_keys: dict[str, GpgKey], label: str) -> None:
    entry = gpg_key(gpg_keys, label)
    pub, fpr = gpg.colons(entry.fingerprint)[:2]
    key = entry.key
    assert key.version == 4
    assert key.fingerprint.hex().upper() == fpr[9]
    assert key.key_id.hex().upper() == pub[4]
    assert key.created == int(pub[5])
    assert key.algorithm == int(pub[3])
    assert key.bits == int(pub[2])
    assert key.curve == (GPG_CURVES[pub[16]] if pub[16] else None)
    assert key.v3_expiration_days is None
    assert key.can_sign()


def test_encryption_subkeys_match_gpg(gpg: Gpg, gpg_keys: dict[str, GpgKey]) -> None:
    """ElGamal and ECDH subkeys parse to what gpg says; ECDH cannot verify anything."""
    fingerprint = gpg.generate("rsa2048-twin")
    assert fingerprint
    gpg.run("--quick-add-key", fingerprint, "elg2048", "encr", "never")
    gpg.run("--quick-add-key", fingerprint, "cv25519", "encr", "never")
    gpg.run("--quick-add-key", fingerprint, "nistp384", "encr", "never")
    colons = gpg.colons(fingerprint)
    subs = [(colons[i], colons[i + 1]) for i in range(len(colons)) if colons[i][0] == "sub"]
    bodies = [
        p.body
        for p in packets(gpg.run("--export", fingerprint))
        if p.tag == pysequoia.packet.Tag.PublicSubkey
    ]
    assert len(bodies) == len(subs) == 3
    signature = gpg_keys["rsa2048"].signatures["SHA256"]
    for body, (sub, fpr) in zip(bodies, subs, strict=True):
        key = parse_public_key(body)
        assert key.fingerprint.hex().upper() == fpr[9]
        assert (key.algorithm, key.bits) == (int(sub[3]), int(sub[2]))
        assert key.curve == (GPG_CURVES[sub[16]] if sub[16] else None)
        assert not key.verify(8, signature.digest(DATA), signature.fields)
    elgamal, ecdh, ecdh_nist = (parse_public_key(body) for body in bodies)
    assert (elgamal.algorithm_name, ecdh.algorithm_name) == ("ElGamal", "ECDH")
    assert elgamal.can_sign()  # GnuPG 1.x made ElGamal signatures with such keys
    assert not ecdh.can_sign() and not ecdh_nist.can_sign()


# --- signatures made by gpg ----------------------------------------------------


@pytest.mark.parametrize(("label", "digest_algo"), SIGNATURE_CASES)
def test_gpg_signature_verifies(gpg_keys: dict[str, GpgKey], label: str, digest_algo: str) -> None:
    entry = gpg_key(gpg_keys, label)
    signature = entry.signatures[digest_algo]
    digest = signature.digest(DATA)
    assert signature.hash_id == HASH_IDS[digest_algo]
    assert digest[:2] == signature.left16
    assert entry.key.verify(signature.hash_id, digest, signature.fields)


@pytest.mark.parametrize("label", list(GPG_KEYS))
def test_gpg_signature_rejections(gpg_keys: dict[str, GpgKey], label: str) -> None:
    entry = gpg_key(gpg_keys, label)
    key = entry.key
    digest_algo = next(iter(entry.signatures))
    signature = entry.signatures[digest_algo]
    hash_id = signature.hash_id
    digest = signature.digest(DATA)
    fields = signature.fields
    other_hash = 10 if hash_id != 10 else 8

    assert not key.verify(hash_id, signature.digest(DATA + b"!"), fields)
    for position in (3, -1):  # inside the first and the last value
        altered = bytearray(fields)
        altered[position] ^= 0x01
        assert not key.verify(hash_id, digest, bytes(altered))
    assert not other_key_of_same_algorithm(gpg_keys, label).verify(hash_id, digest, fields)
    assert not key.verify(other_hash, signature.digest(DATA, other_hash), fields)
    assert not key.verify(other_hash, digest, fields)  # digest of the wrong length
    assert not key.verify(hash_id, digest[:-1], fields)
    assert not key.verify(99, digest, fields)
    for bad in (
        fields[:-1],
        fields + b"\0",
        fields[:2],
        b"",
        bytes(len(fields)),
        b"\xff" * len(fields),
    ):
        assert not key.verify(hash_id, digest, bad)


def test_rsa_hash_id_is_bound_by_the_signature(gpg_keys: dict[str, GpgKey]) -> None:
    """SHA-256 and SHA3-256 digests have one length; PKCS#1's DigestInfo tells them apart."""
    signature = gpg_keys["rsa2048"].signatures["SHA256"]
    key = gpg_keys["rsa2048"].key
    assert key.verify(8, signature.digest(DATA), signature.fields)
    assert not key.verify(12, signature.digest(DATA), signature.fields)


def test_rsa_signature_mpi_with_leading_zero_octet(gpg_keys: dict[str, GpgKey]) -> None:
    """A non-minimal MPI (a zero octet in front) carries the same value and still verifies."""
    key = gpg_keys["rsa2048"].key
    for signature in gpg_keys["rsa2048"].signatures.values():
        bits = int.from_bytes(signature.fields[:2], "big")
        padded = (bits + 8).to_bytes(2, "big") + b"\0" + signature.fields[2:]
        assert key.verify(signature.hash_id, signature.digest(DATA), padded)


def test_rsa_pow_fallback_agrees_with_gpg(gpg_keys: dict[str, GpgKey]) -> None:
    """The pure-Python RSA path (used when OpenSSL refuses a key) accepts gpg's signatures."""
    for label in ("rsa2048", "rsa4096"):
        if label not in gpg_keys:
            continue
        n, e = (int.from_bytes(value, "big") for value in gpg_keys[label].key._material)
        for signature in gpg_keys[label].signatures.values():
            digest = signature.digest(DATA)
            s = int.from_bytes(signature.fields[2:], "big")
            assert keymaterial._rsa_verify_pow(n, e, signature.hash_id, digest, s)
            assert not keymaterial._rsa_verify_pow(n, e, signature.hash_id, digest, s ^ 1)


def test_dsa_pow_fallback_agrees_with_gpg(gpg_keys: dict[str, GpgKey]) -> None:
    """The pure-Python DSA path (used for groups OpenSSL refuses) accepts gpg's signatures."""
    for label in ("dsa1024", "dsa2048"):
        p, q, g, y = (int.from_bytes(value, "big") for value in gpg_keys[label].key._material)
        for signature in gpg_keys[label].signatures.values():
            digest = signature.digest(DATA)
            r, s = keymaterial._mpi_ints(signature.fields, 2)
            assert keymaterial._dsa_verify_pow(p, q, g, y, digest, r, s)
            assert not keymaterial._dsa_verify_pow(p, q, g, y, digest, r, s + 1)


@pytest.mark.parametrize("label", list(GPG_KEYS))
def test_gpg_self_certification_verifies(gpg_keys: dict[str, GpgKey], label: str) -> None:
    """The user ID binding gpg made at key generation: the import's real workload."""
    entry = gpg_key(gpg_keys, label)
    pile = packets(entry.export)
    key = parse_public_key(pile[0].body)
    uid = next(p for p in pile if p.tag == pysequoia.packet.Tag.UserID)
    binding = split_signature(pile[pile.index(uid) + 1].body)
    signed = key_prefix(key) + uid_prefix(uid.body)
    digest = binding.digest(signed)
    assert digest[:2] == binding.left16
    assert key.verify(binding.hash_id, digest, binding.fields)
    assert not key.verify(binding.hash_id, binding.digest(signed + b" "), binding.fields)


def test_verifier_is_loaded_once(gpg_keys: dict[str, GpgKey]) -> None:
    key = gpg_keys["ed25519"].key
    signature = gpg_keys["ed25519"].signatures["SHA256"]
    assert key.verify(8, signature.digest(DATA), signature.fields)
    verifier = key._verifier
    assert verifier is not None
    assert key.verify(8, signature.digest(DATA), signature.fields)
    assert key._verifier is verifier


def test_public_key_pickles_after_verify(gpg_keys: dict[str, GpgKey]) -> None:
    """Keys cross process boundaries; the cached OpenSSL key must not stop that."""
    key = gpg_keys["rsa2048"].key
    signature = gpg_keys["rsa2048"].signatures["SHA256"]
    assert key.verify(8, signature.digest(DATA), signature.fields)
    copy = pickle.loads(pickle.dumps(key))
    assert (copy.fingerprint, copy.body, copy.bits) == (key.fingerprint, key.body, key.bits)
    assert copy.verify(8, signature.digest(DATA), signature.fields)


# --- keys and signatures made by Sequoia (v6 and v4) --------------------------


@dataclass
class SequoiaKey:
    cert: bytes
    signing_key: PublicKey
    signing_packet: object
    signature: Signature


def sequoia_key(profile, **options) -> SequoiaKey:
    tsk = pysequoia.Tsk.generate("Sequoia <sq@keywatch.test>", profile=profile, **options)
    detached = pysequoia.sign(
        tsk.signer(), DATA, mode=pysequoia.SignatureMode.DETACHED, armor=False
    )
    sig_packet = packets(detached)[0]
    cert = bytes(tsk.extract_certificate())
    signer = next(
        p for p in packets(cert) if is_key(p) and p.fingerprint == sig_packet.issuer_fingerprint
    )
    return SequoiaKey(cert, parse_public_key(signer.body), signer, split_signature(sig_packet.body))


SEQUOIA_KEYS = {
    "v6-ed25519": (pysequoia.Profile.RFC9580, {}),
    "v6-ed448": (
        pysequoia.Profile.RFC9580,
        {"signing_algorithm": pysequoia.SigningAlgorithm.Ed448},
    ),
    "v6-p384": (pysequoia.Profile.RFC9580, {"cipher_suite": pysequoia.CipherSuite.P384}),
    "v4-ed25519": (pysequoia.Profile.RFC4880, {}),
    "v4-rsa2k": (pysequoia.Profile.RFC4880, {"cipher_suite": pysequoia.CipherSuite.RSA2k}),
}
SEQUOIA_EXPECTED = {  # label -> (version, algorithm, algorithm_name, curve, bits)
    "v6-ed25519": (6, 27, "Ed25519", "Ed25519", 255),
    "v6-ed448": (6, 28, "Ed448", "Ed448", 456),
    "v6-p384": (6, 19, "ECDSA", "NIST P-384", 384),
    "v4-ed25519": (4, 22, "EdDSALegacy", "Ed25519", 255),
    "v4-rsa2k": (4, 1, "RSA", None, 2048),
}


@pytest.fixture(scope="module")
def sequoia_keys() -> dict[str, SequoiaKey]:
    keys = {
        label: sequoia_key(profile, **options) for label, (profile, options) in SEQUOIA_KEYS.items()
    }
    keys["v6-ed25519-twin"] = sequoia_key(pysequoia.Profile.RFC9580)
    return keys


@pytest.mark.parametrize("label", list(SEQUOIA_KEYS))
def test_sequoia_key_properties(sequoia_keys: dict[str, SequoiaKey], label: str) -> None:
    entry = sequoia_keys[label]
    key = entry.signing_key
    assert key.fingerprint.hex() == entry.signing_packet.fingerprint
    assert key.key_id.hex() == entry.signing_packet.key_id
    assert key.created == int(entry.signing_packet.key_created.timestamp())
    assert (
        key.version,
        key.algorithm,
        key.algorithm_name,
        key.curve,
        key.bits,
    ) == SEQUOIA_EXPECTED[label]
    assert key.can_sign()


@pytest.mark.parametrize("label", list(SEQUOIA_KEYS))
def test_sequoia_signature(sequoia_keys: dict[str, SequoiaKey], label: str) -> None:
    entry = sequoia_keys[label]
    key, signature = entry.signing_key, entry.signature
    digest = signature.digest(DATA)
    assert digest[:2] == signature.left16
    assert key.verify(signature.hash_id, digest, signature.fields)

    altered = bytearray(signature.fields)
    altered[-5] ^= 0x40
    assert not key.verify(signature.hash_id, signature.digest(DATA + b"!"), signature.fields)
    assert not key.verify(signature.hash_id, digest, bytes(altered))
    assert not key.verify(8, signature.digest(DATA, 8), signature.fields)
    for bad in (
        signature.fields[:-1],
        signature.fields + b"\0",
        b"",
        bytes(len(signature.fields)),
    ):
        assert not key.verify(signature.hash_id, digest, bad)


def split_mpis(fields: bytes) -> list[bytes]:
    values = []
    while fields:
        end = 2 + (int.from_bytes(fields[:2], "big") + 7) // 8
        values.append(fields[2:end])
        fields = fields[end:]
    return values


def sign_until_short_mpi(tsk, size: int) -> tuple[object, bytes]:
    """A real signature packet with an MPI that lost leading zero octets, and the data it signs.

    One signature in 256 has that; signing in-process makes finding one cheap.
    """
    for counter in range(5000):
        data = DATA + counter.to_bytes(4, "big")
        detached = pysequoia.sign(
            tsk.signer(), data, mode=pysequoia.SignatureMode.DETACHED, armor=False
        )
        packet = packets(detached)[0]
        if any(len(value) < size for value in split_mpis(split_signature(packet.body).fields)):
            return packet, data
    raise AssertionError("no signature with a short MPI in 5000 tries")


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({"profile": pysequoia.Profile.RFC4880, "cipher_suite": pysequoia.CipherSuite.RSA2k}, 256),
        ({"profile": pysequoia.Profile.RFC4880}, 32),
    ],
    ids=["rsa2048", "eddsa-legacy"],
)
def test_short_mpi_signatures_verify(options: dict, size: int) -> None:
    """RSA signatures shorter than the modulus, EdDSA R/S shorter than 32 octets: left-padded."""
    tsk = pysequoia.Tsk.generate("Short <short@keywatch.test>", **options)
    packet, data = sign_until_short_mpi(tsk, size)
    cert = packets(bytes(tsk.extract_certificate()))
    issuer = next(p for p in cert if is_key(p) and p.fingerprint == packet.issuer_fingerprint)
    key = parse_public_key(issuer.body)
    signature = split_signature(packet.body)
    digest = signature.digest(data)
    assert digest[:2] == signature.left16
    assert key.verify(signature.hash_id, digest, signature.fields)


def test_v6_signature_rejected_by_another_v6_key(sequoia_keys: dict[str, SequoiaKey]) -> None:
    signature = sequoia_keys["v6-ed25519"].signature
    twin = sequoia_keys["v6-ed25519-twin"].signing_key
    assert twin.algorithm == 27
    assert not twin.verify(signature.hash_id, signature.digest(DATA), signature.fields)


def test_v6_certificate_bindings(sequoia_keys: dict[str, SequoiaKey]) -> None:
    """Every key of a v6 certificate parses like Sequoia says, and the user ID binding verifies."""
    for label in ("v6-ed25519", "v6-ed448", "v6-p384"):
        pile = packets(sequoia_keys[label].cert)
        for packet in filter(is_key, pile):
            key = parse_public_key(packet.body)
            assert key.fingerprint.hex() == packet.fingerprint
            assert key.algorithm_name == sequoia_algorithm(packet)
        primary = parse_public_key(pile[0].body)
        uid = next(p for p in pile if p.tag == pysequoia.packet.Tag.UserID)
        binding = split_signature(pile[pile.index(uid) + 1].body)
        digest = binding.digest(key_prefix(primary) + uid_prefix(uid.body))
        assert digest[:2] == binding.left16
        assert primary.verify(binding.hash_id, digest, binding.fields)


def test_v6_x25519_subkey(sequoia_keys: dict[str, SequoiaKey]) -> None:
    pile = packets(sequoia_keys["v6-ed25519"].cert)
    x25519 = [
        parse_public_key(p.body) for p in pile if is_key(p) and sequoia_algorithm(p) == "X25519"
    ]
    assert len(x25519) == 1
    key = x25519[0]
    assert (key.algorithm, key.algorithm_name, key.curve, key.bits) == (
        25,
        "X25519",
        "Curve25519",
        255,
    )
    assert not key.can_sign()
    signature = sequoia_keys["v6-ed25519"].signature
    assert not key.verify(signature.hash_id, signature.digest(DATA), signature.fields)


# --- keys no current OpenPGP tool makes: signed by OpenSSL and libgcrypt ------


def mpi(value: int) -> bytes:
    return value.bit_length().to_bytes(2, "big") + value.to_bytes(
        (value.bit_length() + 7) // 8, "big"
    )


CREATED = (1_000_000_000).to_bytes(4, "big")
DIGEST = hashlib.sha256(DATA).digest()
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 9580 §5.2.2


def openssl_rsa_signature(
    private_key: rsa.RSAPrivateKey, digest: bytes, algorithm: hashes.HashAlgorithm
) -> bytes:
    return mpi(
        int.from_bytes(private_key.sign(digest, padding.PKCS1v15(), Prehashed(algorithm)), "big")
    )


def rsa_v4_body(private_key: rsa.RSAPrivateKey) -> bytes:
    numbers = private_key.public_key().public_numbers()
    return b"\x04" + CREATED + b"\x01" + mpi(numbers.n) + mpi(numbers.e)


def test_rsa_512_from_openssl() -> None:
    pem = subprocess.run(["openssl", "genrsa", "512"], capture_output=True, check=True).stdout
    private_key = serialization.load_pem_private_key(pem, None, unsafe_skip_rsa_key_validation=True)
    key = parse_public_key(rsa_v4_body(private_key))
    assert key.bits == 512
    assert key.verify(8, DIGEST, openssl_rsa_signature(private_key, DIGEST, hashes.SHA256()))
    assert not key.verify(8, bytes(32), openssl_rsa_signature(private_key, DIGEST, hashes.SHA256()))


def test_rsa_with_exponent_openssl_will_not_verify() -> None:
    """A >3072-bit key with an exponent above 64 bits: OpenSSL signs but will not verify.

    keymaterial must notice and verify with pow() instead.
    """
    generated = rsa.generate_private_key(65537, 3104).private_numbers()
    p, q = generated.p, generated.q
    phi = (p - 1) * (q - 1)
    e = (1 << 100) + 1
    while math.gcd(e, phi) != 1:
        e += 2
    d = pow(e, -1, phi)
    private_key = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    ).private_key(unsafe_skip_rsa_key_validation=True)
    key = parse_public_key(rsa_v4_body(private_key))
    fields = openssl_rsa_signature(private_key, DIGEST, hashes.SHA256())
    assert key.verify(8, DIGEST, fields)
    assert not key.verify(8, hashlib.sha256(DATA + b"!").digest(), fields)
    assert not key.verify(12, DIGEST, fields)


def test_v3_rsa_key() -> None:
    """PGP 2 keys: fingerprint MD5(n || e) and key ID the low 64 bits of n (RFC 4880 §12.2)."""
    private_key = rsa.generate_private_key(65537, 1024)
    numbers = private_key.public_key().public_numbers()
    n = numbers.n.to_bytes(128, "big")
    e = numbers.e.to_bytes(3, "big")
    body = b"\x03" + CREATED + (30).to_bytes(2, "big") + b"\x01" + mpi(numbers.n) + mpi(numbers.e)
    key = parse_public_key(body)
    assert (key.version, key.created, key.v3_expiration_days) == (3, 1_000_000_000, 30)
    assert (key.algorithm, key.bits) == (1, 1024)
    assert key.fingerprint == hashlib.md5(n + e).digest()
    assert key.key_id == n[-8:]
    md5 = hashlib.md5(DATA).digest()
    assert key.verify(1, md5, openssl_rsa_signature(private_key, md5, hashes.MD5()))
    assert not key.verify(
        2, hashlib.sha1(DATA).digest(), openssl_rsa_signature(private_key, md5, hashes.MD5())
    )


def test_v5_key() -> None:
    """LibrePGP v5 keys: no tool here makes them, so the expected values restate its formulas."""
    native = bytes(range(32))
    body = b"\x05" + CREATED + b"\x1b" + (32).to_bytes(4, "big") + native
    key = parse_public_key(body)
    assert (key.version, key.created, key.algorithm, key.curve) == (5, 1_000_000_000, 27, "Ed25519")
    fingerprint = hashlib.sha256(b"\x9a" + len(body).to_bytes(4, "big") + body).digest()
    assert (key.fingerprint, key.key_id) == (fingerprint, fingerprint[:8])


class Libgcrypt:
    """Just enough of libgcrypt (the library GnuPG signs with) to make ElGamal signatures."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.gcry_check_version.restype = ctypes.c_char_p
        lib.gcry_check_version(None)
        handle = ctypes.POINTER(ctypes.c_void_p)
        lib.gcry_sexp_new.argtypes = [handle, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        lib.gcry_sexp_find_token.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.gcry_sexp_find_token.restype = ctypes.c_void_p
        lib.gcry_sexp_nth_mpi.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.gcry_sexp_nth_mpi.restype = ctypes.c_void_p
        size = ctypes.POINTER(ctypes.c_size_t)
        lib.gcry_mpi_print.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_size_t,
            size,
            ctypes.c_void_p,
        ]
        lib.gcry_pk_genkey.argtypes = [handle, ctypes.c_void_p]
        lib.gcry_pk_sign.argtypes = [handle, ctypes.c_void_p, ctypes.c_void_p]
        self.lib = lib

    def sexp(self, text: str) -> ctypes.c_void_p:
        result = ctypes.c_void_p()
        assert self.lib.gcry_sexp_new(ctypes.byref(result), text.encode(), 0, 1) == 0
        return result

    def values(self, sexp: ctypes.c_void_p, *names: str) -> list[int]:
        """The named MPIs of an S-expression, e.g. p, g, y of a key or r, s of a signature."""
        result = []
        for name in names:
            token = self.lib.gcry_sexp_find_token(sexp, name.encode(), 0)
            value = self.lib.gcry_sexp_nth_mpi(token, 1, 5)  # GCRYMPI_FMT_USG
            buffer = ctypes.create_string_buffer(4096)
            written = ctypes.c_size_t()
            assert (
                self.lib.gcry_mpi_print(5, buffer, len(buffer), ctypes.byref(written), value) == 0
            )
            result.append(int.from_bytes(buffer.raw[: written.value], "big"))
        return result

    def elgamal_key(self, bits: int) -> ctypes.c_void_p:
        key = ctypes.c_void_p()
        spec = self.sexp(f"(genkey (elg (nbits {len(str(bits))}:{bits})))")
        assert self.lib.gcry_pk_genkey(ctypes.byref(key), spec) == 0
        return key

    def sign(self, key: ctypes.c_void_p, value: int) -> list[int]:
        secret = self.lib.gcry_sexp_find_token(key, b"private-key", 0)
        data = self.sexp(
            f"(data (flags raw) (value #{value:0{(value.bit_length() + 7) // 8 * 2}X}#))"
        )
        signature = ctypes.c_void_p()
        assert self.lib.gcry_pk_sign(ctypes.byref(signature), data, secret) == 0
        return self.values(signature, "r", "s")


def gnupg_frame(digest_info: bytes, digest: bytes, nbits: int) -> int:
    """What GnuPG 1.x signed with ElGamal: the digest in a PKCS#1 v1.5 frame of the size of p."""
    size = (nbits + 7) // 8
    payload = digest_info + digest
    return int.from_bytes(
        b"\x00\x01" + b"\xff" * (size - len(payload) - 3) + b"\x00" + payload, "big"
    )


@pytest.fixture(scope="module")
def libgcrypt() -> Libgcrypt:
    path = ctypes.util.find_library("gcrypt")
    assert path is not None, "libgcrypt is missing: tests/setup.sh installs gnupg, which brings it"
    return Libgcrypt(path)


@pytest.mark.parametrize("algorithm", [16, 20])
def test_elgamal_signature_made_by_libgcrypt(libgcrypt: Libgcrypt, algorithm: int) -> None:
    secret = libgcrypt.elgamal_key(1024)
    p, g, y = libgcrypt.values(secret, "p", "g", "y")
    r, s = libgcrypt.sign(secret, gnupg_frame(SHA256_DIGEST_INFO, DIGEST, p.bit_length()))
    key = parse_public_key(b"\x04" + CREATED + bytes([algorithm]) + mpi(p) + mpi(g) + mpi(y))
    assert (key.algorithm_name, key.bits) == ("ElGamal", 1024)
    assert key.verify(8, DIGEST, mpi(r) + mpi(s))
    assert not key.verify(8, hashlib.sha256(DATA + b"!").digest(), mpi(r) + mpi(s))
    assert not key.verify(8, DIGEST, mpi(r) + mpi(s + 1))
    assert not key.verify(12, DIGEST, mpi(r) + mpi(s))
    assert not key.verify(8, DIGEST, mpi(r + p) + mpi(s))
    assert not key.verify(8, DIGEST, mpi(r))


# --- hostile bodies and signature fields ---------------------------------------


def real_bodies(
    gpg_keys: dict[str, GpgKey], sequoia_keys: dict[str, SequoiaKey]
) -> dict[str, bytes]:
    return {
        "rsa2048": gpg_keys["rsa2048"].key.body,
        "dsa1024": gpg_keys["dsa1024"].key.body,
        "ed25519": gpg_keys["ed25519"].key.body,
        "nistp521": gpg_keys["nistp521"].key.body,
        "v6-ed25519": sequoia_keys["v6-ed25519"].signing_key.body,
        "v6-ed448": sequoia_keys["v6-ed448"].signing_key.body,
    }


def test_every_truncation_is_malformed(
    gpg_keys: dict[str, GpgKey], sequoia_keys: dict[str, SequoiaKey]
) -> None:
    for body in real_bodies(gpg_keys, sequoia_keys).values():
        for end in range(len(body)):
            with pytest.raises(MalformedPacket):
                parse_public_key(body[:end])


def test_trailing_bytes_are_malformed(
    gpg_keys: dict[str, GpgKey], sequoia_keys: dict[str, SequoiaKey]
) -> None:
    for body in real_bodies(gpg_keys, sequoia_keys).values():
        with pytest.raises(MalformedPacket):
            parse_public_key(body + b"\0")


def test_malformed_messages_are_precise(gpg_keys: dict[str, GpgKey]) -> None:
    with pytest.raises(MalformedPacket, match="empty"):
        parse_public_key(b"")
    with pytest.raises(MalformedPacket, match="unsupported public key version 7"):
        parse_public_key(b"\x07" + gpg_keys["ed25519"].key.body[1:])
    huge_mpi = b"\x04\x00\x00\x00\x00\x01" + b"\xff\xff" + b"\x01" * 100
    with pytest.raises(MalformedPacket, match="RSA n MPI needs 8192 bytes"):
        parse_public_key(huge_mpi)
    with pytest.raises(MalformedPacket, match="reserved curve OID length 0"):
        parse_public_key(b"\x04\x00\x00\x00\x00\x13\x00")


def new_format_packet(tag: int, body: bytes) -> bytes:
    assert len(body) < 192
    return bytes([0xC0 | tag, len(body)]) + body


@pytest.mark.parametrize("version", [4, 6])
def test_unknown_algorithm_still_parses(sequoia_keys: dict[str, SequoiaKey], version: int) -> None:
    """An exotic key keeps its place in the keyring: Sequoia agrees on its fingerprint."""
    material = bytes(range(40))
    created = (1_700_000_000).to_bytes(4, "big")
    if version == 4:
        body = b"\x04" + created + b"\x63" + material
    else:
        body = b"\x06" + created + b"\x63" + len(material).to_bytes(4, "big") + material
    key = parse_public_key(body)
    assert (key.version, key.created, key.algorithm) == (version, 1_700_000_000, 99)
    assert (key.algorithm_name, key.bits, key.curve) == ("unknown(99)", None, None)
    assert not key.can_sign()
    sequoia_view = packets(new_format_packet(6, body))[0]
    assert key.fingerprint.hex() == sequoia_view.fingerprint
    assert key.key_id.hex() == sequoia_view.key_id
    signature = sequoia_keys["v6-ed25519"].signature
    assert not key.verify(signature.hash_id, signature.digest(DATA), signature.fields)


def test_post_quantum_certificate_loads() -> None:
    """A real ML-DSA-65+Ed25519 certificate (algorithms we cannot verify) still parses."""
    tsk = pysequoia.Tsk.generate(
        "PQC <pqc@keywatch.test>",
        profile=pysequoia.Profile.RFC9580,
        signing_algorithm=pysequoia.SigningAlgorithm.MLDSA65_Ed25519,
    )
    pile = packets(bytes(tsk.extract_certificate()))
    keys = [p for p in pile if is_key(p) and sequoia_algorithm(p).startswith("MLDSA")]
    assert len(keys) == 2  # primary and signing subkey
    for packet in keys:
        key = parse_public_key(packet.body)
        assert key.version == 6
        assert key.fingerprint.hex() == packet.fingerprint
        assert key.algorithm_name == f"unknown({key.algorithm})"
        assert not key.can_sign()


def test_unknown_curve_is_named_by_its_oid() -> None:
    oid = bytes.fromhex("2b0601040182371402")  # 1.3.6.1.4.1.311.20.2, not a curve
    body = b"\x04\x00\x00\x00\x01\x13" + bytes([len(oid)]) + oid + b"\x00\x08\x04"
    key = parse_public_key(body)
    assert key.curve == "unknown-oid(1.3.6.1.4.1.311.20.2)"
    assert key.bits is None
    assert not key.can_sign()
    assert not key.verify(8, bytes(32), b"\x00\x08\x01\x00\x08\x01")


def test_fuzzed_bodies_raise_only_malformed(
    gpg_keys: dict[str, GpgKey], sequoia_keys: dict[str, SequoiaKey]
) -> None:
    """Random corruption either parses or is MalformedPacket; parsed keys never raise in verify."""
    rng = random.Random(9580)
    signature = gpg_keys["rsa2048"].signatures["SHA256"]
    digest = signature.digest(DATA)
    for body in real_bodies(gpg_keys, sequoia_keys).values():
        for _ in range(300):
            mutated = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            try:
                key = parse_public_key(bytes(mutated))
            except MalformedPacket:
                continue
            key.can_sign()
            assert key.verify(8, digest, signature.fields) in (True, False)


def test_fuzzed_signature_fields_never_raise(
    gpg_keys: dict[str, GpgKey], sequoia_keys: dict[str, SequoiaKey]
) -> None:
    rng = random.Random(4880)
    keys = [entry.key for entry in gpg_keys.values()] + [
        entry.signing_key for entry in sequoia_keys.values()
    ]
    for key in keys:
        for size in (0, 1, 2, 3, 34, 66, 114, 258, 514):
            for _ in range(5):
                fields = bytes(rng.randrange(256) for _ in range(size))
                for hash_id in (2, 8, 10):
                    digest = bytes(
                        rng.randrange(256) for _ in range(keymaterial._DIGEST_SIZES[hash_id])
                    )
                    assert key.verify(hash_id, digest, fields) is False


def test_degenerate_keys_never_raise() -> None:
    """Keys no tool would make (zero modulus, zero group order, off-curve points) verify nothing."""
    zero = b"\x00\x00"
    one = b"\x00\x01\x01"
    created_algo = b"\x04\x00\x00\x00\x00"
    p256 = bytes.fromhex("2a8648ce3d030107")
    ed_legacy = bytes.fromhex("2b06010401da470f01")
    bodies = [
        created_algo + b"\x01" + zero + zero,
        created_algo + b"\x01" + one + one,
        created_algo + b"\x11" + zero + zero + zero + zero,
        created_algo + b"\x11" + one + one + one + one,
        created_algo + b"\x10" + zero + zero + zero,
        created_algo + b"\x13" + bytes([len(p256)]) + p256 + b"\x00\x03\x04",
        created_algo + b"\x16" + bytes([len(ed_legacy)]) + ed_legacy + b"\x00\x08\x40",
        created_algo + b"\x1b" + b"\xff" * 32,
    ]
    for body in bodies:
        key = parse_public_key(body)
        for fields in (b"", one, one + one, b"\x00\x09\x01\x00", bytes(64)):
            assert key.verify(8, bytes(32), fields) is False


# --- hashes ----------------------------------------------------------------------


def test_hash_table_and_new_hash() -> None:
    assert HASH_ALGORITHMS == {
        1: "MD5",
        2: "SHA1",
        3: "RIPEMD160",
        8: "SHA256",
        9: "SHA384",
        10: "SHA512",
        11: "SHA224",
        12: "SHA3-256",
        14: "SHA3-512",
    }
    for hash_id, name in HASH_ALGORITHMS.items():
        try:
            hasher = new_hash(hash_id)
        except UnsupportedAlgorithm:
            assert hash_id == 3  # RIPEMD-160 depends on the OpenSSL build
            continue
        hasher.update(DATA)
        reference = hashlib.new(name.lower().replace("-", "_"), DATA).digest()
        assert hasher.digest() == reference
        assert keymaterial._DIGEST_SIZES[hash_id] == len(reference)


@pytest.mark.parametrize("hash_id", [0, 4, 5, 6, 7, 13, 99, 255])
def test_new_hash_unknown(hash_id: int) -> None:
    with pytest.raises(UnsupportedAlgorithm) as error:
        new_hash(hash_id)
    assert isinstance(error.value, KeywatchError)
