"""OpenPGP public-key packets and signature verification over a precomputed digest.

The packet layer hands us the body of a public-key (tag 6) or public-subkey
(tag 14) packet; we parse it once into an immutable `PublicKey` that knows its
fingerprint and key ID, and that checks signatures over digests the caller has
already computed (RFC 9580 §5.2.4).  Keyrings hold every kind of key ever
made, so parsing never depends on understanding the algorithm, and `verify`
answers False instead of raising: a keyring import must never stop at one
hostile or exotic signature.

Verification uses `cryptography` (OpenSSL) where it accepts the key, because it
is several times faster than Python integers; the few keys and hashes OpenSSL
refuses (RIPEMD-160, DSA groups of unusual size, RSA exponents it rejects)
fall back to the textbook equations with `pow()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from ..errors import KeywatchError, MalformedPacket

__all__ = [
    "HASH_ALGORITHMS",
    "PublicKey",
    "UnsupportedAlgorithm",
    "new_hash",
    "parse_public_key",
]


class UnsupportedAlgorithm(KeywatchError):
    """An algorithm ID this installation cannot compute (unknown, or missing from hashlib)."""


# --- hash algorithms --------------------------------------------------------

HASH_ALGORITHMS: dict[int, str] = {
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

_HASHLIB_NAMES = {
    1: "md5",
    2: "sha1",
    3: "ripemd160",
    8: "sha256",
    9: "sha384",
    10: "sha512",
    11: "sha224",
    12: "sha3_256",
    14: "sha3_512",
}

_DIGEST_SIZES = {1: 16, 2: 20, 3: 20, 8: 32, 9: 48, 10: 64, 11: 28, 12: 32, 14: 64}

# EMSA-PKCS1-v1_5 DigestInfo prefixes (RFC 9580 §5.2.2); RSA and ElGamal
# signatures bind the hash algorithm through them.
_DIGEST_INFO = {
    1: bytes.fromhex("3020300c06082a864886f70d020505000410"),
    2: bytes.fromhex("3021300906052b0e03021a05000414"),
    3: bytes.fromhex("3021300906052b2403020105000414"),
    8: bytes.fromhex("3031300d060960864801650304020105000420"),
    9: bytes.fromhex("3041300d060960864801650304020205000430"),
    10: bytes.fromhex("3051300d060960864801650304020305000440"),
    11: bytes.fromhex("302d300d06096086480165030402040500041c"),
    12: bytes.fromhex("3031300d060960864801650304020805000420"),
    14: bytes.fromhex("3051300d060960864801650304020a05000440"),
}

# RIPEMD-160 is absent: `cryptography` has no such hash, so RSA takes the pow() path.
_RSA_PREHASHED = {
    1: Prehashed(hashes.MD5()),
    2: Prehashed(hashes.SHA1()),
    8: Prehashed(hashes.SHA256()),
    9: Prehashed(hashes.SHA384()),
    10: Prehashed(hashes.SHA512()),
    11: Prehashed(hashes.SHA224()),
    12: Prehashed(hashes.SHA3_256()),
    14: Prehashed(hashes.SHA3_512()),
}

# DSA and ECDSA sign the bare digest: only its length matters to OpenSSL, so a
# hash of the same size stands in for one it lacks (RIPEMD-160 -> SHA-1).
_DSS_PREHASHED = {
    16: Prehashed(hashes.MD5()),
    20: Prehashed(hashes.SHA1()),
    28: Prehashed(hashes.SHA224()),
    32: Prehashed(hashes.SHA256()),
    48: Prehashed(hashes.SHA384()),
    64: Prehashed(hashes.SHA512()),
}
_ECDSA = {size: ec.ECDSA(prehashed) for size, prehashed in _DSS_PREHASHED.items()}
_PKCS1V15 = padding.PKCS1v15()


def _hash_constructor(name: str) -> Callable[[], Any] | None:
    """hashlib's own constructor where it has one (cheaper than hashlib.new), None if unavailable."""
    constructor = getattr(hashlib, name, None)
    if constructor is not None:
        return constructor
    try:
        hashlib.new(name)
    except ValueError:
        return None
    return lambda: hashlib.new(name)


# Looked up for every signature checked (tens of thousands a keyring), so built once.
_HASH_CONSTRUCTORS = {algorithm: _hash_constructor(name) for algorithm, name in _HASHLIB_NAMES.items()}


def new_hash(hash_algorithm: int) -> Any:
    """A fresh hashlib object for an OpenPGP hash ID, so callers never map IDs themselves."""
    constructor = _HASH_CONSTRUCTORS.get(hash_algorithm)
    if constructor is not None:
        return constructor()
    if hash_algorithm not in _HASHLIB_NAMES:
        raise UnsupportedAlgorithm(f"unknown OpenPGP hash algorithm {hash_algorithm}")
    raise UnsupportedAlgorithm(f"hash algorithm {HASH_ALGORITHMS[hash_algorithm]} is not available in this Python")


# --- public-key algorithms and curves ---------------------------------------

_ALGORITHM_NAMES = {
    1: "RSA",
    2: "RSA",
    3: "RSA",
    16: "ElGamal",
    17: "DSA",
    18: "ECDH",
    19: "ECDSA",
    20: "ElGamal",
    22: "EdDSALegacy",
    25: "X25519",
    26: "X448",
    27: "Ed25519",
    28: "Ed448",
}

# Curve OID body -> (name, bits).  Bits follow GnuPG (255 for the 25519
# curves, 456 for Ed448) so our numbers match what `gpg --list-keys` shows.
_CURVES: dict[bytes, tuple[str, int]] = {
    bytes.fromhex("2a8648ce3d030107"): ("NIST P-256", 256),
    bytes.fromhex("2b81040022"): ("NIST P-384", 384),
    bytes.fromhex("2b81040023"): ("NIST P-521", 521),
    bytes.fromhex("2b2403030208010107"): ("brainpoolP256r1", 256),
    bytes.fromhex("2b240303020801010b"): ("brainpoolP384r1", 384),
    bytes.fromhex("2b240303020801010d"): ("brainpoolP512r1", 512),
    bytes.fromhex("2b8104000a"): ("secp256k1", 256),
    bytes.fromhex("2b06010401da470f01"): ("Ed25519", 255),
    bytes.fromhex("2b6570"): ("Ed25519", 255),
    bytes.fromhex("2b060104019755010501"): ("Curve25519", 255),
    bytes.fromhex("2b656e"): ("Curve25519", 255),
    bytes.fromhex("2b6571"): ("Ed448", 456),
    bytes.fromhex("2b656f"): ("X448", 448),
}

_ECDSA_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "NIST P-256": ec.SECP256R1,
    "NIST P-384": ec.SECP384R1,
    "NIST P-521": ec.SECP521R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
    "secp256k1": ec.SECP256K1,
}

# Native (RFC 9580) algorithms: fixed-size key octets -> (curve, bits, key size).
_NATIVE = {
    25: ("Curve25519", 255, 32),
    26: ("X448", 448, 56),
    27: ("Ed25519", 255, 32),
    28: ("Ed448", 456, 57),
}

_RSA_ALGORITHMS = frozenset({1, 2, 3})
_ELGAMAL_ALGORITHMS = frozenset({16, 20})
# OpenSSL loads an RSA key with a public exponent above 64 bits and a modulus
# above 3072 bits, then fails every verification with it; such keys take pow().
_OPENSSL_RSA_SMALL_MODULUS_BITS = 3072
_OPENSSL_RSA_MAX_EXPONENT_BITS = 64
# The pow() fallbacks stop at 4096-bit moduli, the largest any real legacy key
# used: beyond that one hostile key could cost seconds per signature.
_POW_MAX_BITS = 4096


# --- reading packet bodies --------------------------------------------------


class _Reader:
    """Bounds-checked cursor over a body; every short read is a MalformedPacket."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, size: int, what: str) -> bytes:
        if size > self.left():
            raise MalformedPacket(
                f"public key truncated: {what} needs {size} bytes at offset {self.pos}, "
                f"{self.left()} left"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def mpi(self, what: str) -> bytes:
        """The magnitude octets of an MPI (leading zero octets, if any, are kept)."""
        bits = self.uint(2, f"{what} MPI length")
        return self.take((bits + 7) // 8, f"{what} MPI")

    def oid(self) -> bytes:
        size = self.uint(1, "curve OID length")
        if size in (0, 0xFF):
            raise MalformedPacket(f"public key has reserved curve OID length {size}")
        return self.take(size, "curve OID")


def _dotted_oid(oid: bytes) -> str:
    """Dotted form of a DER OID body, for naming curves we do not know."""
    if oid[-1] & 0x80:
        return oid.hex()  # last arc unterminated: not an OID, show the octets
    arcs: list[int] = []
    value = 0
    for octet in oid:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def _curve(oid: bytes) -> tuple[str, int | None]:
    known = _CURVES.get(oid)
    return known if known else (f"unknown-oid({_dotted_oid(oid)})", None)


# --- key material -----------------------------------------------------------

# A parser reads one algorithm's public fields and returns
# (material, bits, curve); material is what the verifier is later built from.
_Material = tuple[Any, ...]
_Parsed = tuple[_Material, int | None, str | None]


def _parse_rsa(reader: _Reader) -> _Parsed:
    n = reader.mpi("RSA n")
    e = reader.mpi("RSA e")
    return (n, e), _bit_length(n), None


def _parse_dsa(reader: _Reader) -> _Parsed:
    p, q, g, y = (reader.mpi(f"DSA {name}") for name in "pqgy")
    return (p, q, g, y), _bit_length(p), None


def _parse_elgamal(reader: _Reader) -> _Parsed:
    p, g, y = (reader.mpi(f"ElGamal {name}") for name in "pgy")
    return (p, g, y), _bit_length(p), None


def _parse_ec(reader: _Reader) -> _Parsed:
    oid = reader.oid()
    point = reader.mpi("EC point")
    name, bits = _curve(oid)
    return (point,), bits, name


def _parse_ecdh(reader: _Reader) -> _Parsed:
    material, bits, name = _parse_ec(reader)
    reader.take(reader.uint(1, "ECDH KDF parameters length"), "ECDH KDF parameters")
    return material, bits, name


def _native_parser(algorithm: int) -> Callable[[_Reader], _Parsed]:
    name, bits, size = _NATIVE[algorithm]

    def parse(reader: _Reader) -> _Parsed:
        return (reader.take(size, f"{name} public key"),), bits, name

    return parse


_PARSERS: dict[int, Callable[[_Reader], _Parsed]] = {
    1: _parse_rsa,
    2: _parse_rsa,
    3: _parse_rsa,
    16: _parse_elgamal,
    17: _parse_dsa,
    18: _parse_ecdh,
    19: _parse_ec,
    20: _parse_elgamal,
    22: _parse_ec,
    **{algorithm: _native_parser(algorithm) for algorithm in _NATIVE},
}


def _bit_length(magnitude: bytes) -> int:
    return int.from_bytes(magnitude, "big").bit_length()


def _parse_material(algorithm: int, reader: _Reader) -> _Parsed:
    """Parse the algorithm fields, which must fill the rest of what the reader holds.

    Unknown algorithms keep their octets opaque: a keyring with an exotic key
    must still load, and its fingerprint only needs the body.
    """
    parser = _PARSERS.get(algorithm)
    if parser is None:
        return (reader.take(reader.left(), "key material"),), None, None
    parsed = parser(reader)
    if reader.left():
        raise MalformedPacket(
            f"public key has {reader.left()} unexpected bytes after the "
            f"{_ALGORITHM_NAMES[algorithm]} key material"
        )
    return parsed


# --- signature fields -------------------------------------------------------


def _mpis(fields: bytes, count: int) -> list[bytes] | None:
    """Split exactly `count` MPIs off `fields`; None if they do not fill it exactly."""
    values = []
    pos = 0
    for _ in range(count):
        if pos + 2 > len(fields):
            return None
        end = pos + 2 + (((fields[pos] << 8) | fields[pos + 1]) + 7) // 8
        if end > len(fields):
            return None
        values.append(fields[pos + 2 : end])
        pos = end
    return values if pos == len(fields) else None


def _mpi_ints(fields: bytes, count: int) -> list[int] | None:
    values = _mpis(fields, count)
    return None if values is None else [int.from_bytes(value, "big") for value in values]


def _fixed(value: bytes, size: int) -> bytes | None:
    """An MPI magnitude as exactly `size` octets (MPIs drop leading zeros); None if too big."""
    value = value.lstrip(b"\0")
    return value.rjust(size, b"\0") if len(value) <= size else None


# --- verifiers --------------------------------------------------------------

# (hash algorithm, digest, signature fields) -> valid?  The digest length has
# already been checked against the hash algorithm.
_Verifier = Callable[[int, bytes, bytes], bool]


def _reject(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
    """Verifier for keys that cannot sign or that we cannot use: nothing is valid."""
    return False


def _emsa_pkcs1_v15(hash_algorithm: int, digest: bytes, size: int) -> int | None:
    """The EMSA-PKCS1-v1_5 encoded digest as an integer; None if `size` octets cannot hold it."""
    payload = _DIGEST_INFO[hash_algorithm] + digest
    padding_length = size - len(payload) - 3
    if padding_length < 8:
        return None
    return int.from_bytes(b"\x00\x01" + b"\xff" * padding_length + b"\x00" + payload, "big")


def _rsa_verify_pow(n: int, e: int, hash_algorithm: int, digest: bytes, signature: int) -> bool:
    """RSASSA-PKCS1-v1_5 with Python integers, for what OpenSSL will not do."""
    if n.bit_length() > _POW_MAX_BITS:
        return False
    expected = _emsa_pkcs1_v15(hash_algorithm, digest, (n.bit_length() + 7) // 8)
    return expected is not None and 0 < signature < n and pow(signature, e, n) == expected


def _load_rsa(n: int, e: int) -> rsa.RSAPublicKey | None:
    """The OpenSSL key, or None where OpenSSL would refuse to verify with it."""
    if (
        n.bit_length() > _OPENSSL_RSA_SMALL_MODULUS_BITS
        and e.bit_length() > _OPENSSL_RSA_MAX_EXPONENT_BITS
    ):
        return None
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:  # even or tiny exponent, degenerate modulus
        return None


def _rsa_verifier(material: _Material) -> _Verifier:
    n, e = (int.from_bytes(value, "big") for value in material)
    size = (n.bit_length() + 7) // 8
    key = _load_rsa(n, e)

    def verify(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
        values = _mpis(fields, 1)
        signature = None if values is None else _fixed(values[0], size)
        if signature is None:
            return False
        prehashed = _RSA_PREHASHED.get(hash_algorithm)
        if key is None or prehashed is None:
            return _rsa_verify_pow(n, e, hash_algorithm, digest, int.from_bytes(signature, "big"))
        try:
            key.verify(signature, digest, _PKCS1V15, prehashed)
        except InvalidSignature:
            return False
        return True

    return verify


def _dsa_verify_pow(p: int, q: int, g: int, y: int, digest: bytes, r: int, s: int) -> bool:
    """FIPS 186 DSA verification with Python integers, for groups OpenSSL refuses."""
    if q < 2 or p < 2 or p.bit_length() > _POW_MAX_BITS:
        return False
    try:
        w = pow(s, -1, q)
    except ValueError:  # s shares a factor with a composite q
        return False
    z = int.from_bytes(digest, "big") >> max(0, 8 * len(digest) - q.bit_length())
    v = pow(g, z * w % q, p) * pow(y, r * w % q, p) % p % q
    return v == r


def _load_dsa(p: int, q: int, g: int, y: int) -> dsa.DSAPublicKey | None:
    try:
        return dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
    except ValueError:  # p or q of a size OpenSSL does not accept
        return None


def _dsa_verifier(material: _Material) -> _Verifier:
    p, q, g, y = (int.from_bytes(value, "big") for value in material)
    key = _load_dsa(p, q, g, y)

    def verify(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
        values = _mpi_ints(fields, 2)
        if values is None:
            return False
        r, s = values
        if not (0 < r < q and 0 < s < q):
            return False
        if key is None:
            return _dsa_verify_pow(p, q, g, y, digest, r, s)
        try:
            key.verify(encode_dss_signature(r, s), digest, _DSS_PREHASHED[len(digest)])
        except InvalidSignature:
            return False
        return True

    return verify


def _elgamal_verifier(material: _Material) -> _Verifier:
    """ElGamal signatures as GnuPG 1.x made them: over the PKCS#1-encoded digest.

    No current tool makes them and OpenSSL has no ElGamal, so this is the
    textbook check g^H = y^r * r^s (mod p) with Python integers.
    """
    p, g, y = (int.from_bytes(value, "big") for value in material)

    def verify(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
        values = _mpi_ints(fields, 2)
        if values is None:
            return False
        r, s = values
        if not (0 < r < p and 0 < s < p - 1) or p.bit_length() > _POW_MAX_BITS:
            return False
        h = _emsa_pkcs1_v15(hash_algorithm, digest, (p.bit_length() + 7) // 8)
        return h is not None and pow(g, h, p) == pow(y, r, p) * pow(r, s, p) % p

    return verify


def _ecdsa_verifier(material: _Material, curve: str | None) -> _Verifier:
    (point,) = material
    curve_class = _ECDSA_CURVES.get(curve or "")
    if curve_class is None:
        return _reject
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve_class(), point)
    except ValueError:  # not a point on the curve
        return _reject

    def verify(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
        values = _mpi_ints(fields, 2)
        if values is None or not (values[0] and values[1]):
            return False
        try:
            key.verify(encode_dss_signature(*values), digest, _ECDSA[len(digest)])
        except InvalidSignature:
            return False
        return True

    return verify


_EdKey = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
# curve -> (loader of the native public key, native key size; signatures are twice that)
_ED_CURVES: dict[str, tuple[Callable[[bytes], _EdKey], int]] = {
    "Ed25519": (ed25519.Ed25519PublicKey.from_public_bytes, 32),
    "Ed448": (ed448.Ed448PublicKey.from_public_bytes, 57),
}


def _load_ed(curve: str | None, raw: bytes) -> tuple[_EdKey, int] | None:
    """The OpenSSL key and its native size, or None for another curve or a bad key."""
    entry = _ED_CURVES.get(curve or "")
    if entry is None or len(raw) != entry[1]:
        return None
    loader, size = entry
    try:
        return loader(raw), size
    except ValueError:
        return None


def _eddsa_legacy_verifier(material: _Material, curve: str | None) -> _Verifier:
    """EdDSALegacy (22): point is 0x40 || native key; signature is R and S as MPIs."""
    (point,) = material
    loaded = _load_ed(curve, point[1:]) if point[:1] == b"\x40" else None
    if loaded is None:
        return _reject
    key, half = loaded

    def verify(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
        values = _mpis(fields, 2)
        if values is None:
            return False
        r, s = (_fixed(value, half) for value in values)
        if r is None or s is None:
            return False
        try:
            key.verify(r + s, digest)
        except InvalidSignature:
            return False
        return True

    return verify


def _native_ed_verifier(material: _Material, curve: str | None) -> _Verifier:
    """Ed25519 (27) / Ed448 (28): native key octets; signature is a fixed octet string."""
    loaded = _load_ed(curve, material[0])
    if loaded is None:
        return _reject
    key, size = loaded

    def verify(hash_algorithm: int, digest: bytes, fields: bytes) -> bool:
        if len(fields) != 2 * size:
            return False
        try:
            key.verify(fields, digest)
        except InvalidSignature:
            return False
        return True

    return verify


def _make_verifier(algorithm: int, material: _Material, curve: str | None) -> _Verifier:
    if algorithm in _RSA_ALGORITHMS:
        return _rsa_verifier(material)
    if algorithm == 17:
        return _dsa_verifier(material)
    if algorithm in _ELGAMAL_ALGORITHMS:
        return _elgamal_verifier(material)
    if algorithm == 19:
        return _ecdsa_verifier(material, curve)
    if algorithm == 22:
        return _eddsa_legacy_verifier(material, curve)
    if algorithm in (27, 28):
        return _native_ed_verifier(material, curve)
    return _reject


def _can_sign(algorithm: int, curve: str | None) -> bool:
    if algorithm in _RSA_ALGORITHMS or algorithm in _ELGAMAL_ALGORITHMS or algorithm == 17:
        return True
    if algorithm == 19:
        return curve in _ECDSA_CURVES
    if algorithm in (22, 27, 28):
        return curve in _ED_CURVES
    return False


# --- the public key ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PublicKey:
    """One parsed public-key packet body; `verify` lazily builds and caches its verifier.

    The cryptography key object is loaded on the first `verify`, not at parse
    time: most keys of a keyring never issue a certification we check, and the
    ones that do are checked many times against the same loaded key.
    """

    version: int
    created: int
    algorithm: int
    algorithm_name: str
    bits: int | None
    curve: str | None
    v3_expiration_days: int | None
    body: bytes
    fingerprint: bytes
    key_id: bytes
    hex_fingerprint: str  # upper-case hex, the `Fingerprint` form; kept because every verdict names its issuer
    body_digest: bytes  # SHA-256 of the body: names this exact key material (a fingerprint is SHA-1 for v4)
    _material: _Material = field(repr=False)
    _verifier: _Verifier | None = field(default=None, repr=False)

    def can_sign(self) -> bool:
        """Whether `verify` can ever return True: a signing algorithm on a curve we support."""
        return _can_sign(self.algorithm, self.curve)

    def verify(self, hash_algorithm: int, digest: bytes, signature_fields: bytes) -> bool:
        """True only if `signature_fields` is a valid signature by this key over `digest`.

        Never raises: a malformed signature, a digest of the wrong length for
        `hash_algorithm`, or a key that cannot sign all give False.
        """
        if _DIGEST_SIZES.get(hash_algorithm) != len(digest):
            return False
        verifier = self._verifier
        if verifier is None:
            verifier = _make_verifier(self.algorithm, self._material, self.curve)
            object.__setattr__(self, "_verifier", verifier)
        return verifier(hash_algorithm, digest, signature_fields)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the cached verifier: OpenSSL keys do not pickle; it is rebuilt lazily."""
        return {**self.__dict__, "_verifier": None}


def _v4_fingerprint(body: bytes) -> tuple[bytes, bytes]:
    if len(body) > 0xFFFF:
        raise MalformedPacket(f"public key body of {len(body)} bytes is too long for a v4 key")
    fingerprint = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest()
    return fingerprint, fingerprint[-8:]


def _sha256_fingerprint(prefix: bytes, body: bytes) -> tuple[bytes, bytes]:
    """v5 and v6 fingerprints; their key ID is the leading 8 octets."""
    fingerprint = hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).digest()
    return fingerprint, fingerprint[:8]


def _v3_fingerprint(algorithm: int, material: _Material, body: bytes) -> tuple[bytes, bytes]:
    """PGP 2 style for RSA: MD5 over n and e, key ID the low 64 bits of n.

    v3 keys of other algorithms are fingerprinted like v4 keys, as GnuPG does.
    """
    if algorithm not in _RSA_ALGORITHMS:
        return _v4_fingerprint(body)
    n, e = material
    return hashlib.md5(n + e).digest(), n[-8:].rjust(8, b"\0")


def _parse_v3(body: bytes) -> PublicKey:
    reader = _Reader(body, 1)
    created = reader.uint(4, "creation time")
    days = reader.uint(2, "validity period")
    algorithm = reader.uint(1, "algorithm")
    material, bits, curve = _parse_material(algorithm, reader)
    fingerprint, key_id = _v3_fingerprint(algorithm, material, body)
    return _key(body, created, algorithm, material, bits, curve, fingerprint, key_id, days)


def _parse_v4(body: bytes) -> PublicKey:
    reader = _Reader(body, 1)
    created = reader.uint(4, "creation time")
    algorithm = reader.uint(1, "algorithm")
    material, bits, curve = _parse_material(algorithm, reader)
    fingerprint, key_id = _v4_fingerprint(body)
    return _key(body, created, algorithm, material, bits, curve, fingerprint, key_id)


def _parse_v5_v6(body: bytes) -> PublicKey:
    """v5 and v6 share a layout: the key material is preceded by its 4-octet length."""
    reader = _Reader(body, 1)
    created = reader.uint(4, "creation time")
    algorithm = reader.uint(1, "algorithm")
    length = reader.uint(4, "key material length")
    if length != reader.left():
        raise MalformedPacket(
            f"public key material length says {length} bytes, body has {reader.left()}"
        )
    material, bits, curve = _parse_material(algorithm, reader)
    fingerprint, key_id = _sha256_fingerprint(b"\x9b" if body[0] == 6 else b"\x9a", body)
    return _key(body, created, algorithm, material, bits, curve, fingerprint, key_id)


def _key(
    body: bytes,
    created: int,
    algorithm: int,
    material: _Material,
    bits: int | None,
    curve: str | None,
    fingerprint: bytes,
    key_id: bytes,
    v3_expiration_days: int | None = None,
) -> PublicKey:
    return PublicKey(
        version=body[0],
        created=created,
        algorithm=algorithm,
        algorithm_name=_ALGORITHM_NAMES.get(algorithm, f"unknown({algorithm})"),
        bits=bits,
        curve=curve,
        v3_expiration_days=v3_expiration_days,
        body=body,
        fingerprint=fingerprint,
        key_id=key_id,
        hex_fingerprint=fingerprint.hex().upper(),
        body_digest=hashlib.sha256(body).digest(),
        _material=material,
    )


_VERSION_PARSERS: dict[int, Callable[[bytes], PublicKey]] = {
    2: _parse_v3,  # PGP 2.x wrote version 2 with the v3 layout
    3: _parse_v3,
    4: _parse_v4,
    5: _parse_v5_v6,
    6: _parse_v5_v6,
}


def parse_public_key(body: bytes) -> PublicKey:
    """Parse the body of a public-key or public-subkey packet (RFC 9580 §5.5.2).

    Raises MalformedPacket, and nothing else, for any body that does not parse.
    """
    body = bytes(body)
    if not body:
        raise MalformedPacket("public key packet is empty")
    parser = _VERSION_PARSERS.get(body[0])
    if parser is None:
        raise MalformedPacket(f"unsupported public key version {body[0]}")
    return parser(body)
