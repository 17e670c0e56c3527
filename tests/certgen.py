"""certgen -- make OpenPGP test certificates with real tools, forge them, ask oracles.

keywatch verifies every signature on a certificate itself.  Testing that
against certificates we build with the same code would prove nothing, so this
module makes certificates with independent, real implementations:

* ``sq`` 0.27 (Sequoia CLI) for key generation, certifications (trust depth,
  amount, regexes) and revocations at a chosen time;
* ``gpg`` 2.2 (GnuPG) for algorithms sq does not offer (RSA-2048, NIST, ...),
  SHA-1 self-signatures and gpg-style signatures (issuer key ID in the
  *unhashed* area), always with ``--faked-system-time`` so timestamps are
  exact;

and it forges certificates on raw packets (its own small OpenPGP packet
parser, independent from keywatch), so that tests can check that keywatch
rejects what a naive verifier would accept.  Finally it wraps two oracles:
``gpg --check-sigs`` (per-signature verdicts) and ``sq-wot`` (trust amounts).

Rules kept by every helper:

* Everything happens below the caller's ``workdir``.  gpg always runs with a
  fresh ``--homedir``/``GNUPGHOME`` made below ``workdir`` for that call
  (never ``~/.gnupg``); its gpg-agent is stopped again (``gpgconf --kill``
  for that home only) and the home removed when the call ends.
* Nothing touches the network (``--disable-dirmngr``, no key retrieval).
* Naive datetimes are taken as UTC; all datetimes returned are UTC-aware.
* Certificates go in and come out as *binary* OpenPGP (armor is accepted
  on input).  A tool's output is never returned as is: the new signature
  packets it made are spliced into the caller's certificate, so every other
  byte (including previously forged packets) is preserved.

Tests use it as a plain module: ``from certgen import ...``.

Tool quirks found while building this (sq 0.27.0, gpg 2.2.40, sq-wot 0.2.0):

* sq: ``--cipher-suite`` offers only cv25519, rsa3k, rsa4k.  Without
  ``--expires`` keys expire about 3 years and certifications 5 years after
  their (possibly past) creation time -- test data made "in 2020" would
  already be expired -- so we always pass an explicit value.  There is no command to change a key's
  expiry nor to revoke a certification (a third-party ``sq revoke userid
  --revocation-key`` is that 0x30 revocation).  ``sq revoke userid`` given a
  key echoes the *secret* key packet; ``sq revoke certificate`` emits a bare
  signature.  sq puts the issuer key ID and the back-signature of signing
  subkeys into the hashed area, adds a salt notation, and emits a
  direct-key self-signature.
* gpg: ``--faked-system-time 20200101T000000!`` (``!`` freezes the clock)
  replaces faketime(1) for gpg.  Expiry "YYYY-MM-DD" means *noon* of that
  day, so we pass ``seconds=N``.  ``--no-sig-cache`` makes ``--check-sigs``
  abort ("double free") as soon as an issuer key is missing and prints junk
  in field 13; we do not use it.  SHA-1 third-party signatures made after
  2019-01-19 get "%" unless ``--allow-weak-key-signatures``, which is also
  needed to *make* a SHA-1 back-signature.  ``--check-sigs`` never checks
  back-signatures.  gpg finds the verifying key via the hashed issuer
  fingerprint but prints the issuer key ID (field 5) from the *unhashed*
  area if there is one -- see :func:`forge_issuer`.  ``--quick-set-expire``
  does not touch a direct-key signature and gpg then keeps reporting the old
  expiry.  For subkeys a bare ECC curve name means ECDH: use "nistp256/ecdsa".
* faketime(1): an absolute time is frozen and read in local time: we run
  it with ``TZ=UTC``.
* sq-wot 0.2: no ``--time`` (faketime it); only fully trusted roots; prints
  human-readable text only, percentages as ``amount*100//120``; stops
  searching once the requested ``--trust-amount`` is reached (so a binding
  with two 60-paths shows 60 under ``-a 1``); ``list`` exits 1 when no
  binding reaches the requested amount (its help says 0).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

UTC = dt.timezone.utc

# --------------------------------------------------------------------------
# OpenPGP constants (RFC 4880 / RFC 9580) used below.

TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_MARKER = 10
TAG_TRUST = 12
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17

SIG_GENERIC_CERT = 0x10
SIG_PERSONA_CERT = 0x11
SIG_CASUAL_CERT = 0x12
SIG_POSITIVE_CERT = 0x13
SIG_SUBKEY_BINDING = 0x18
SIG_PRIMARY_KEY_BINDING = 0x19
SIG_DIRECT_KEY = 0x1F
SIG_KEY_REVOCATION = 0x20
SIG_SUBKEY_REVOCATION = 0x28
SIG_CERT_REVOCATION = 0x30
CERTIFICATION_TYPES = (SIG_GENERIC_CERT, SIG_PERSONA_CERT, SIG_CASUAL_CERT, SIG_POSITIVE_CERT)

SUB_CREATION_TIME = 2
SUB_SIG_EXPIRATION = 3
SUB_TRUST = 5
SUB_REGEX = 6
SUB_KEY_EXPIRATION = 9
SUB_ISSUER_KEY_ID = 16
SUB_EMBEDDED_SIGNATURE = 32
SUB_ISSUER_FINGERPRINT = 33

HASH_SHA1 = 2
HASH_SHA256 = 8
HASH_SHA512 = 10


class ToolError(RuntimeError):
    """A tool (sq, gpg, sq-wot, ...) failed; carries the command and its output."""

    def __init__(self, cmd: Sequence[str], returncode: int, stdout: bytes, stderr: bytes):
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"{cmd[0]} failed with exit status {returncode}: {' '.join(map(str, cmd))}\n"
            f"{stderr.decode('utf-8', 'replace')}"
        )


# --------------------------------------------------------------------------
# Time helpers


def utc(t: dt.datetime) -> dt.datetime:
    """Return ``t`` as an aware UTC datetime, seconds precision (OpenPGP has no more).

    Naive datetimes are interpreted as UTC, never as local time: the tools run
    with ``TZ=UTC`` and a test should not depend on the machine's zone.
    """
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).replace(microsecond=0)


def now() -> dt.datetime:
    """The current time, UTC, truncated to seconds."""
    return utc(dt.datetime.now(UTC))


def _sq_time(t: dt.datetime) -> str:
    """sq's ISO 8601 time argument (an explicit ``Z``: sq's default zone is UTC anyway)."""
    return utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gpg_time(t: dt.datetime) -> str:
    """gpg's ``--faked-system-time`` argument, frozen (``!``) so that timestamps are exact."""
    return utc(t).strftime("%Y%m%dT%H%M%S") + "!"


def _faketime_arg(t: dt.datetime) -> str:
    """faketime(1)'s absolute, frozen time; only meaningful together with ``TZ=UTC``."""
    return utc(t).strftime("%Y-%m-%d %H:%M:%S")


def _from_epoch(s: str) -> dt.datetime | None:
    """Parse a gpg colon-listing date (epoch seconds, or ISO ``YYYYMMDDTHHMMSS``)."""
    if not s:
        return None
    if "T" in s:
        return dt.datetime.strptime(s, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return dt.datetime.fromtimestamp(int(s), UTC)


# --------------------------------------------------------------------------
# Subprocess helpers


def _base_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env["LC_ALL"] = "C.UTF-8"
    env["LANG"] = "C.UTF-8"
    # Keep every tool away from the user's real configuration.
    env["HOME"] = str(workdir)
    env.pop("GNUPGHOME", None)
    env.pop("FAKETIME", None)
    env.pop("LD_PRELOAD", None)
    return env


def _run(
    cmd: Sequence[str],
    *,
    workdir: Path,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=workdir,
        env=env if env is not None else _base_env(workdir),
        input=input,
        capture_output=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise ToolError(cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc


def _sq(workdir: Path, args: Sequence[str], **kw) -> subprocess.CompletedProcess[bytes]:
    return _run(["sq", *args], workdir=workdir, **kw)


def _new_dir(workdir: Path, prefix: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=workdir))


# gpg-agent's socket path must fit into sun_path (108 bytes); the longest
# socket name gpg 2.2 puts into the home directory is "S.gpg-agent.browser".
_MAX_GPG_HOME = 107 - len("/S.gpg-agent.browser")


class GpgHome:
    """A throw-away GnuPG home directory; run gpg in it with :meth:`run`."""

    def __init__(self, workdir: Path, home: Path):
        self.workdir = workdir
        self.home = home

    def env(self) -> dict[str, str]:
        env = _base_env(self.workdir)
        env["GNUPGHOME"] = str(self.home)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        time: dt.datetime | str | None = None,
        secret: bool = False,
        input: bytes | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run gpg in this home; ``time`` fakes (and freezes) the system time.

        ``secret`` adds what is needed to use unprotected secret keys without a
        pinentry (loopback pinentry, empty passphrase).
        """
        cmd = [
            "gpg",
            "--homedir", str(self.home),
            "--batch", "--no-tty", "--yes",
            "--disable-dirmngr", "--no-auto-key-retrieve", "--no-auto-key-locate",
            "--trust-model", "always",
        ]
        if time is not None:
            cmd += ["--faked-system-time", time if isinstance(time, str) else _gpg_time(time)]
        if secret:
            cmd += ["--pinentry-mode", "loopback", "--passphrase", ""]
        return _run([*cmd, *args], workdir=self.workdir, env=self.env(), input=input, check=check)


@contextlib.contextmanager
def gpg_home(workdir: Path) -> Iterator[GpgHome]:
    """A fresh GNUPGHOME below ``workdir``; its agent is killed and the dir removed afterwards.

    If ``workdir`` is so deep that gpg-agent's socket path would not fit into
    ``sun_path``, the home is made in the system temporary directory instead
    (still private, still removed afterwards) rather than failing obscurely.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if len(str(workdir.resolve())) + 10 <= _MAX_GPG_HOME:
        home = Path(tempfile.mkdtemp(prefix="g", dir=workdir))
    else:
        home = Path(tempfile.mkdtemp(prefix="certgen-g"))
    os.chmod(home, 0o700)
    gh = GpgHome(workdir, home)
    try:
        yield gh
    finally:
        # Stops only the daemons (gpg-agent) that belong to *this* home dir.
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"],
            env=gh.env(), capture_output=True, timeout=30,
        )
        shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------
# Raw OpenPGP packets


def dearmor(data: bytes) -> bytes:
    """Binary OpenPGP from ``data``, which may be ASCII-armored (checksum not verified)."""
    stripped = data.lstrip()
    if not stripped.startswith(b"-----BEGIN PGP"):
        return data
    lines = stripped.decode("ascii").splitlines()
    body: list[str] = []
    in_headers = True
    for line in lines[1:]:
        line = line.strip()
        if line.startswith("-----END PGP"):
            break
        if in_headers:
            if line == "":
                in_headers = False
            elif ":" not in line:  # no headers at all
                in_headers = False
                body.append(line)
            continue
        if line.startswith("="):  # CRC-24
            continue
        body.append(line)
    return base64.b64decode("".join(body))


@dataclasses.dataclass(frozen=True)
class Packet:
    """One OpenPGP packet: ``raw`` is header+body exactly as it was read or written."""

    tag: int
    body: bytes
    raw: bytes

    @classmethod
    def make(cls, tag: int, body: bytes) -> Packet:
        """A packet with a new-format header (what RFC 9580 recommends)."""
        return cls(tag, body, encode_packet(tag, body))


def encode_packet(tag: int, body: bytes) -> bytes:
    """Serialize a packet with a new-format header and a definite length."""
    n = len(body)
    if n < 192:
        hdr = bytes([n])
    elif n < 8384:
        n2 = n - 192
        hdr = bytes([(n2 >> 8) + 192, n2 & 0xFF])
    else:
        hdr = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + hdr + body


def parse_packets(data: bytes) -> list[Packet]:
    """Split binary (or armored) OpenPGP data into packets.

    Handles old-format headers (1, 2, 4 byte and indeterminate lengths) and
    new-format headers (1, 2, 5 byte and partial body lengths).
    """
    data = dearmor(data)
    out: list[Packet] = []
    off = 0
    while off < len(data):
        start = off
        ctb = data[off]
        off += 1
        if not ctb & 0x80:
            raise ValueError(f"not an OpenPGP packet header at offset {start}: {ctb:#04x}")
        if ctb & 0x40:  # new format
            tag = ctb & 0x3F
            chunks: list[bytes] = []
            while True:
                l1 = data[off]
                if l1 < 192:
                    n, off = l1, off + 1
                elif l1 < 224:
                    n, off = ((l1 - 192) << 8) + data[off + 1] + 192, off + 2
                elif l1 == 255:
                    (n,), off = struct.unpack(">I", data[off + 1:off + 5]), off + 5
                else:  # partial body length
                    n = 1 << (l1 & 0x1F)
                    chunks.append(data[off + 1:off + 1 + n])
                    off += 1 + n
                    continue
                chunks.append(data[off:off + n])
                off += n
                break
            body = b"".join(chunks)
        else:  # old format
            tag = (ctb >> 2) & 0x0F
            ltype = ctb & 3
            if ltype == 3:
                n = len(data) - off
            else:
                size = (1, 2, 4)[ltype]
                n = int.from_bytes(data[off:off + size], "big")
                off += size
            body = data[off:off + n]
            off += n
        if off > len(data):
            raise ValueError(f"truncated packet (tag {tag}) at offset {start}")
        out.append(Packet(tag, body, data[start:off]))
    return out


# --------------------------------------------------------------------------
# Keys: fingerprints and public parts


def _mpi_len(b: bytes, off: int) -> int:
    bits = int.from_bytes(b[off:off + 2], "big")
    return 2 + (bits + 7) // 8


def public_key_body(body: bytes) -> bytes:
    """The public part of a v4 key packet body (a secret key packet's body is longer).

    Needed to compute a fingerprint from a secret-key packet, which tools emit
    when they are given a key (TSK) rather than a certificate.
    """
    if body[0] != 4:
        raise ValueError(f"only v4 keys are supported, got v{body[0]}")
    algo = body[5]
    off = 6
    if algo in (1, 2, 3):  # RSA: n, e
        nmpi = 2
    elif algo == 17:  # DSA: p, q, g, y
        nmpi = 4
    elif algo in (16, 20):  # Elgamal: p, g, y
        nmpi = 3
    elif algo in (18, 19, 22):  # ECDH, ECDSA, EdDSA(legacy): OID then point
        off += 1 + body[off]
        off += _mpi_len(body, off)
        if algo == 18:  # KDF parameters
            off += 1 + body[off]
        return body[:off]
    elif algo in (25, 26, 27, 28):  # X25519, X448, Ed25519, Ed448
        return body[:off + {25: 32, 26: 56, 27: 32, 28: 57}[algo]]
    else:
        raise ValueError(f"unsupported public-key algorithm {algo}")
    for _ in range(nmpi):
        off += _mpi_len(body, off)
    return body[:off]


def v4_fingerprint(key_body: bytes) -> str:
    """Upper-case hex v4 fingerprint of a (public or secret) key packet body."""
    pub = public_key_body(key_body)
    return hashlib.sha1(b"\x99" + struct.pack(">H", len(pub)) + pub).hexdigest().upper()


# --------------------------------------------------------------------------
# Signatures and subpackets


@dataclasses.dataclass(frozen=True)
class Subpacket:
    """A signature subpacket; ``raw`` keeps the signer's exact length encoding."""

    type: int
    critical: bool
    body: bytes
    raw: bytes

    @classmethod
    def make(cls, type: int, body: bytes, critical: bool = False) -> Subpacket:
        n = len(body) + 1
        if n < 192:
            hdr = bytes([n])
        elif n < 8384:
            n2 = n - 192
            hdr = bytes([(n2 >> 8) + 192, n2 & 0xFF])
        else:
            hdr = b"\xff" + struct.pack(">I", n)
        return cls(type, critical, body, hdr + bytes([type | (0x80 if critical else 0)]) + body)


def parse_subpackets(area: bytes) -> list[Subpacket]:
    out: list[Subpacket] = []
    off = 0
    while off < len(area):
        start = off
        l1 = area[off]
        if l1 < 192:
            n, off = l1, off + 1
        elif l1 < 255:
            n, off = ((l1 - 192) << 8) + area[off + 1] + 192, off + 2
        else:
            (n,), off = struct.unpack(">I", area[off + 1:off + 5]), off + 5
        t = area[off]
        out.append(Subpacket(t & 0x7F, bool(t & 0x80), area[off + 1:off + n], area[start:off + n]))
        off += n
    return out


@dataclasses.dataclass
class Signature:
    """A parsed v4 signature packet.

    ``hashed`` is what the signature covers; changing it (or the type,
    algorithms) invalidates the signature.  ``unhashed`` is not covered: it
    can be rewritten by anyone without breaking the math -- the basis of the
    issuer-spoofing forgeries below.
    """

    version: int
    sig_type: int
    pk_algo: int
    hash_algo: int
    hashed: list[Subpacket]
    unhashed: list[Subpacket]
    left16: bytes
    mpis: bytes

    @classmethod
    def parse(cls, data: bytes | Packet) -> Signature:
        """Parse a signature from a packet, its raw bytes, or its body."""
        if isinstance(data, Packet):
            body = data.body
        elif data and data[0] & 0x80:
            pkts = parse_packets(data)
            if len(pkts) != 1 or pkts[0].tag != TAG_SIGNATURE:
                raise ValueError("expected exactly one signature packet")
            body = pkts[0].body
        else:
            body = data
        if body[0] != 4:
            raise ValueError(f"only v4 signatures are supported, got v{body[0]}")
        hlen = struct.unpack(">H", body[4:6])[0]
        hashed = body[6:6 + hlen]
        off = 6 + hlen
        ulen = struct.unpack(">H", body[off:off + 2])[0]
        unhashed = body[off + 2:off + 2 + ulen]
        off += 2 + ulen
        return cls(
            version=body[0], sig_type=body[1], pk_algo=body[2], hash_algo=body[3],
            hashed=parse_subpackets(hashed), unhashed=parse_subpackets(unhashed),
            left16=body[off:off + 2], mpis=body[off + 2:],
        )

    def body(self) -> bytes:
        h = b"".join(s.raw for s in self.hashed)
        u = b"".join(s.raw for s in self.unhashed)
        return (
            bytes([self.version, self.sig_type, self.pk_algo, self.hash_algo])
            + struct.pack(">H", len(h)) + h
            + struct.pack(">H", len(u)) + u
            + self.left16 + self.mpis
        )

    def packet(self) -> Packet:
        return Packet.make(TAG_SIGNATURE, self.body())

    def to_bytes(self) -> bytes:
        """The signature as a raw packet (new-format header)."""
        return self.packet().raw

    # -- accessors --------------------------------------------------------
    def _all(self, t: int, *, hashed_only: bool = False) -> list[Subpacket]:
        subs = self.hashed if hashed_only else self.hashed + self.unhashed
        return [s for s in subs if s.type == t]

    @property
    def created(self) -> dt.datetime | None:
        s = self._all(SUB_CREATION_TIME, hashed_only=True)
        return dt.datetime.fromtimestamp(int.from_bytes(s[0].body, "big"), UTC) if s else None

    @property
    def expires(self) -> dt.datetime | None:
        """Signature expiration (absolute), from the hashed area."""
        s = self._all(SUB_SIG_EXPIRATION, hashed_only=True)
        if not s or self.created is None:
            return None
        secs = int.from_bytes(s[0].body, "big")
        return None if secs == 0 else self.created + dt.timedelta(seconds=secs)

    @property
    def key_expiration_seconds(self) -> int | None:
        s = self._all(SUB_KEY_EXPIRATION, hashed_only=True)
        return int.from_bytes(s[0].body, "big") if s else None

    @property
    def trust(self) -> tuple[int, int] | None:
        """(depth, amount) of a trust signature, hashed area only."""
        s = self._all(SUB_TRUST, hashed_only=True)
        return (s[0].body[0], s[0].body[1]) if s else None

    @property
    def regexes(self) -> list[str]:
        return [s.body.rstrip(b"\0").decode("utf-8") for s in self._all(SUB_REGEX, hashed_only=True)]

    @property
    def issuer_key_ids(self) -> list[str]:
        """All issuer key IDs, hashed area first, upper-case hex."""
        return [s.body.hex().upper() for s in self._all(SUB_ISSUER_KEY_ID)]

    @property
    def issuer_fingerprints(self) -> list[str]:
        """All issuer fingerprints (subpacket 33, version byte dropped), hashed area first."""
        return [s.body[1:].hex().upper() for s in self._all(SUB_ISSUER_FINGERPRINT)]

    @property
    def embedded(self) -> list[Signature]:
        return [Signature.parse(s.body) for s in self._all(SUB_EMBEDDED_SIGNATURE)]

    def same_math(self, other: Signature) -> bool:
        """True if both have identical signed content (type, algos, hashed area) and MPIs."""
        return (
            (self.sig_type, self.pk_algo, self.hash_algo, self.left16, self.mpis)
            == (other.sig_type, other.pk_algo, other.hash_algo, other.left16, other.mpis)
            and [s.raw for s in self.hashed] == [s.raw for s in other.hashed]
        )


def _sig_body(sig: bytes | Packet | Signature) -> bytes:
    if isinstance(sig, Signature):
        return sig.body()
    if isinstance(sig, Packet):
        return sig.body
    if sig and sig[0] & 0x80:
        pkts = parse_packets(sig)
        if len(pkts) != 1 or pkts[0].tag != TAG_SIGNATURE:
            raise ValueError("expected exactly one signature packet")
        return pkts[0].body
    return sig


# --------------------------------------------------------------------------
# Certificates as components


ComponentKind = Literal["primary", "uid", "uat", "subkey"]


@dataclasses.dataclass
class Component:
    """A key, user ID, user attribute or subkey packet and the signatures that follow it."""

    kind: ComponentKind
    packet: Packet
    sigs: list[Packet]

    @property
    def ident(self) -> str:
        """Fingerprint for keys, the user ID string for user IDs, a digest for attributes."""
        if self.kind in ("primary", "subkey"):
            return v4_fingerprint(self.packet.body)
        if self.kind == "uid":
            return self.packet.body.decode("utf-8", "replace")
        return "uat:" + hashlib.sha256(self.packet.body).hexdigest()

    @property
    def key(self) -> tuple[str, bytes | str]:
        """Identity used to match components between two serializations."""
        if self.kind in ("primary", "subkey"):
            return (self.kind, v4_fingerprint(self.packet.body))
        return (self.kind, self.packet.body)


_KIND_OF_TAG: dict[int, ComponentKind] = {
    TAG_PUBLIC_KEY: "primary", TAG_SECRET_KEY: "primary",
    TAG_USER_ID: "uid", TAG_USER_ATTRIBUTE: "uat",
    TAG_PUBLIC_SUBKEY: "subkey", TAG_SECRET_SUBKEY: "subkey",
}


def split_keyring(data: bytes) -> list[list[Component]]:
    """Split a keyring into certificates, each a list of components (primary first).

    Trust and marker packets are dropped.  Signatures that precede any key
    (a bare revocation certificate) are returned as a pseudo-certificate whose
    only component has kind ``"primary"`` and ``packet.tag == 0``.
    """
    certs: list[list[Component]] = []
    for p in parse_packets(data):
        if p.tag in (TAG_TRUST, TAG_MARKER):
            continue
        kind = _KIND_OF_TAG.get(p.tag)
        if kind == "primary":
            certs.append([Component("primary", p, [])])
        elif kind is not None:
            if not certs:
                raise ValueError("component packet before any primary key")
            certs[-1].append(Component(kind, p, []))
        elif p.tag == TAG_SIGNATURE:
            if not certs:
                certs.append([Component("primary", Packet(0, b"", b""), [])])
            certs[-1][-1].sigs.append(p)
        else:
            raise ValueError(f"unexpected packet tag {p.tag} in a certificate")
    return certs


def split_cert(data: bytes) -> list[Component]:
    """The components of exactly one certificate."""
    certs = split_keyring(data)
    if len(certs) != 1:
        raise ValueError(f"expected one certificate, found {len(certs)}")
    return certs[0]


def join_components(components: Iterable[Component]) -> bytes:
    return b"".join(c.packet.raw + b"".join(s.raw for s in c.sigs) for c in components)


def cert_fingerprint(cert: bytes) -> str:
    return split_cert(cert)[0].ident


def _find_component(comps: list[Component], on: str) -> Component:
    """Component named by ``on``: a user ID string, or a (primary/sub)key fingerprint/key ID."""
    for c in comps:
        if c.kind == "uid" and c.ident == on:
            return c
    want = on.replace(" ", "").upper()
    for c in comps:
        if c.kind in ("primary", "subkey") and re.fullmatch(r"[0-9A-F]{16,40}", want):
            if c.ident.endswith(want):
                return c
    raise KeyError(f"no component {on!r} in certificate {comps[0].ident}")


def signatures(
    cert: bytes,
    *,
    on: str | None = None,
    issuer: str | None = None,
    sig_type: int | Sequence[int] | None = None,
) -> list[bytes]:
    """Raw signature packets of ``cert``, optionally filtered.

    ``on``: user ID string or key fingerprint the signature sits on.
    ``issuer``: fingerprint or key ID named by the signature's issuer
    subpackets (as claimed, not verified).  ``sig_type``: one or more types.
    """
    types = (sig_type,) if isinstance(sig_type, int) else sig_type
    comps = split_cert(cert)
    if on is not None:
        comps = [_find_component(comps, on)]
    out = []
    want = issuer.replace(" ", "").upper() if issuer else None
    for c in comps:
        for p in c.sigs:
            s = Signature.parse(p)
            if types is not None and s.sig_type not in types:
                continue
            if want is not None and not any(
                x.endswith(want) or want.endswith(x)
                for x in s.issuer_fingerprints + s.issuer_key_ids
            ):
                continue
            out.append(p.raw)
    return out


def _locate(comps: list[Component], sig: bytes | Packet | Signature) -> tuple[Component, int]:
    body = _sig_body(sig)
    for c in comps:
        for i, p in enumerate(c.sigs):
            if p.body == body:
                return c, i
    raise KeyError("signature not found in certificate")


def _as_packet(sig: bytes | Packet | Signature) -> Packet:
    if isinstance(sig, Packet):
        return sig
    if isinstance(sig, Signature):
        return sig.packet()
    if sig and sig[0] & 0x80:
        pkts = parse_packets(sig)
        if len(pkts) != 1 or pkts[0].tag != TAG_SIGNATURE:
            raise ValueError("expected exactly one signature packet")
        return pkts[0]
    return Packet.make(TAG_SIGNATURE, sig)


def add_signature(cert: bytes, on: str, sig: bytes | Packet | Signature) -> bytes:
    """``cert`` with ``sig`` appended after the component named by ``on`` (uid or key fpr)."""
    comps = split_cert(cert)
    _find_component(comps, on).sigs.append(_as_packet(sig))
    return join_components(comps)


def replace_signature(cert: bytes, old: bytes | Packet | Signature, new: bytes | Packet | Signature | None) -> bytes:
    """``cert`` with signature ``old`` replaced by ``new`` in place (removed if ``new`` is None)."""
    comps = split_cert(cert)
    comp, i = _locate(comps, old)
    if new is None:
        del comp.sigs[i]
    else:
        comp.sigs[i] = _as_packet(new)
    return join_components(comps)


def remove_signature(cert: bytes, sig: bytes | Packet | Signature) -> bytes:
    return replace_signature(cert, sig, None)


def merge_new_signatures(original: bytes, produced: bytes) -> tuple[bytes, list[bytes]]:
    """Splice into ``original`` the signature packets of ``produced`` that it lacks.

    ``produced`` is whatever a tool emitted (a cert, a TSK, a bare revocation
    signature).  Signatures are matched by packet body, components by
    fingerprint / user ID, so header formats and packet order chosen by the
    tool do not matter and no byte of ``original`` changes.  New signatures
    on components absent from ``original`` come with their component.
    Returns (merged cert, raw packets of the added signatures).
    """
    comps = split_cert(original)
    have = {p.body for c in comps for p in c.sigs}
    by_key = {c.key: c for c in comps}
    added: list[bytes] = []
    for pc in split_keyring(produced):
        if pc[0].packet.tag == 0:  # bare signatures: belong to the primary key
            pc = [Component("primary", comps[0].packet, pc[0].sigs)] + pc[1:]
        elif pc[0].key != comps[0].key:
            continue  # some other certificate
        for c in pc:
            new = [p for p in c.sigs if p.body not in have]
            if not new:
                continue
            target = by_key.get(c.key)
            if target is None:
                if c.packet.tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
                    raise ValueError("tool added a new secret (sub)key; not supported")
                target = Component(c.kind, c.packet, [])
                pos = len(comps)
                if c.kind in ("uid", "uat"):
                    pos = max(i for i, x in enumerate(comps) if x.kind in ("primary", "uid", "uat")) + 1
                comps.insert(pos, target)
                by_key[c.key] = target
            for p in new:
                target.sigs.append(p)
                have.add(p.body)
                added.append(p.raw)
    return join_components(comps), added


def public_cert(data: bytes) -> bytes:
    """Strip secret parts: keep only what a certificate (no secrets) may contain.

    Secret-key packets are rewritten to public-key packets of the same key.
    """
    out = []
    for cert in split_keyring(data):
        for c in cert:
            pkt = c.packet
            if pkt.tag == TAG_SECRET_KEY:
                pkt = Packet.make(TAG_PUBLIC_KEY, public_key_body(pkt.body))
            elif pkt.tag == TAG_SECRET_SUBKEY:
                pkt = Packet.make(TAG_PUBLIC_SUBKEY, public_key_body(pkt.body))
            out.append(Component(c.kind, pkt, c.sigs))
    return join_components(out)


def write_keyring(path: Path, *certs: bytes) -> Path:
    """Concatenate binary certificates into a keyring file (for gpg/sq-wot); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(dearmor(c) for c in certs))
    return path


# --------------------------------------------------------------------------
# Keys


@dataclasses.dataclass(frozen=True)
class Key:
    """A generated key: its secret key (TSK) and certificate, both binary, plus files.

    ``cert`` is the certificate as generated; helpers that add signatures
    return new bytes, use :meth:`with_cert` to carry them along.
    """

    fingerprint: str  # upper-case hex, v4 (40 digits)
    key_id: str  # last 16 hex digits of the fingerprint
    tsk: bytes  # transferable secret key, binary, unprotected
    cert: bytes  # certificate (public), binary
    user_ids: list[str]
    key_path: Path  # file holding ``tsk``
    cert_path: Path  # file holding ``cert`` as generated
    created: dt.datetime
    expires: dt.datetime | None
    algorithm: str
    tool: str
    subkeys: list[str]  # subkey fingerprints, in certificate order

    def with_cert(self, cert: bytes) -> Key:
        """This key with ``cert`` as its current certificate (files are not rewritten)."""
        return dataclasses.replace(self, cert=cert)


# algorithm -> sq --cipher-suite (only what sq 0.27 offers)
_SQ_SUITES = {"ed25519": "cv25519", "cv25519": "cv25519", "rsa3072": "rsa3k", "rsa4096": "rsa4k"}
# algorithm -> gpg algorithm strings for (primary, signing/auth subkey, encryption subkey).
# For subkeys gpg reads a bare ECC curve name as ECDH, hence "/ecdsa".
_GPG_ALGOS = {
    "ed25519": ("ed25519", "ed25519", "cv25519"),
    "cv25519": ("ed25519", "ed25519", "cv25519"),
    "rsa2048": ("rsa2048", "rsa2048", "rsa2048"),
    "rsa3072": ("rsa3072", "rsa3072", "rsa3072"),
    "rsa4096": ("rsa4096", "rsa4096", "rsa4096"),
    "nistp256": ("nistp256", "nistp256/ecdsa", "nistp256"),
    "nistp384": ("nistp384", "nistp384/ecdsa", "nistp384"),
    "nistp521": ("nistp521", "nistp521/ecdsa", "nistp521"),
    "brainpoolP256r1": ("brainpoolP256r1", "brainpoolP256r1/ecdsa", "brainpoolP256r1"),
    "dsa2048": ("dsa2048", "dsa2048", "elg2048"),
}
ALGORITHMS = tuple(_GPG_ALGOS)

SubkeyPurpose = Literal["sign", "encrypt", "auth"]


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")[:24] or "key"


def _make_key(
    workdir: Path, tsk: bytes, cert: bytes, *, user_ids: list[str], created: dt.datetime,
    expires: dt.datetime | None, algorithm: str, tool: str,
) -> Key:
    comps = split_cert(cert)
    if comps[0].ident != split_cert(tsk)[0].ident:
        raise RuntimeError("certificate and secret key do not match")
    fpr = comps[0].ident
    stem = workdir / f"{_slug(user_ids[0] if user_ids else 'key')}-{fpr[-16:]}"
    key_path = stem.with_suffix(".key.pgp")
    cert_path = stem.with_suffix(".cert.pgp")
    key_path.write_bytes(tsk)
    cert_path.write_bytes(cert)
    return Key(
        fingerprint=fpr, key_id=fpr[-16:], tsk=tsk, cert=cert, user_ids=list(user_ids),
        key_path=key_path, cert_path=cert_path, created=created, expires=expires,
        algorithm=algorithm, tool=tool,
        subkeys=[c.ident for c in comps if c.kind == "subkey"],
    )


def generate_key(
    workdir: Path,
    user_ids: Sequence[str],
    *,
    created: dt.datetime | None = None,
    expires: dt.datetime | None = None,
    algorithm: str = "ed25519",
    tool: Literal["auto", "sq", "gpg"] = "auto",
    subkeys: Sequence[SubkeyPurpose] = ("sign", "encrypt"),
    gpg_extra_args: Sequence[str] = (),
) -> Key:
    """Generate a real key with ``sq key generate`` or ``gpg --quick-generate-key``.

    * ``created``: creation time of the key and of all its self-signatures
      (sq ``--creation-time``; gpg under ``--faked-system-time``).  Default: now.
    * ``expires``: absolute key (and subkey) expiration; ``None`` = never.
      (sq's own default would be "3 years", which silently expires keys
      created in the past -- we always pass an explicit value.)
    * ``algorithm``: one of :data:`ALGORITHMS`.  sq 0.27 only offers
      cv25519/ed25519 (``ed25519``), ``rsa3072`` and ``rsa4096``;
      ``tool="auto"`` uses sq when it can and gpg otherwise.
    * ``subkeys``: which subkeys to add besides the certification-only
      primary.  Default: one signing and one encryption subkey.
    * ``gpg_extra_args``: extra gpg options for every gpg invocation (e.g.
      ``--cert-digest-algo SHA1``); only with the gpg tool.

    sq-generated keys carry a direct-key self-signature, gpg-generated ones
    do not; gpg puts the issuer key ID in the unhashed area and the primary
    key binding (back-)signature of signing subkeys in the unhashed area,
    sq puts both into the hashed area.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not user_ids:
        raise ValueError("at least one user ID is needed")
    if algorithm not in _GPG_ALGOS:
        raise ValueError(f"unknown algorithm {algorithm!r}; one of {ALGORITHMS}")
    if tool == "auto":
        tool = "sq" if algorithm in _SQ_SUITES and not gpg_extra_args else "gpg"
    created = utc(created) if created is not None else now()
    if expires is not None:
        expires = utc(expires)
        if expires <= created:
            raise ValueError("expires must be after created")
    if tool == "sq":
        if algorithm not in _SQ_SUITES:
            raise ValueError(f"sq 0.27 cannot generate {algorithm!r} keys (only {sorted(_SQ_SUITES)}); use tool='gpg'")
        if gpg_extra_args:
            raise ValueError("gpg_extra_args need tool='gpg'")
        d = _new_dir(workdir, "sqgen")
        out = d / "key.asc"
        args = [
            "key", "generate",
            "--cipher-suite", _SQ_SUITES[algorithm],
            "--creation-time", _sq_time(created),
            "--expires", _sq_time(expires) if expires else "never",
            "--export", str(out),
            "--rev-cert", str(d / "key.rev"),
            "--can-sign" if "sign" in subkeys else "--cannot-sign",
            "--can-authenticate" if "auth" in subkeys else "--cannot-authenticate",
        ]
        args += ["--can-encrypt", "universal"] if "encrypt" in subkeys else ["--cannot-encrypt"]
        for uid in user_ids:
            args += ["--userid", uid]
        _sq(workdir, args)
        tsk = dearmor(out.read_bytes())
        cert = _sq(workdir, ["key", "extract-cert", "--binary", str(out)]).stdout
        shutil.rmtree(d, ignore_errors=True)
        return _make_key(workdir, tsk, cert, user_ids=list(user_ids), created=created,
                         expires=expires, algorithm=algorithm, tool="sq")
    if tool != "gpg":
        raise ValueError(f"unknown tool {tool!r}")
    primary_algo, sign_algo, enc_algo = _GPG_ALGOS[algorithm]
    exp = "never" if expires is None else f"seconds={int((expires - created).total_seconds())}"
    extra = list(gpg_extra_args)
    with gpg_home(workdir) as g:
        r = g.run([*extra, "--status-fd", "1", "--quick-generate-key", user_ids[0], primary_algo, "cert", exp],
                  time=created, secret=True)
        m = re.search(rb"KEY_CREATED \w+ ([0-9A-F]{40})", r.stdout)
        if not m:
            raise ToolError(["gpg", "--quick-generate-key"], 0, r.stdout, r.stderr)
        fpr = m.group(1).decode()
        for uid in user_ids[1:]:
            g.run([*extra, "--quick-add-uid", fpr, uid], time=created, secret=True)
        for purpose in subkeys:
            algo, usage = {"sign": (sign_algo, "sign"), "encrypt": (enc_algo, "encr"),
                           "auth": (sign_algo, "auth")}[purpose]
            g.run([*extra, "--quick-add-key", fpr, algo, usage, exp], time=created, secret=True)
        tsk = g.run(["--export-secret-keys", fpr], secret=True).stdout
        cert = g.run(["--export", fpr]).stdout
    return _make_key(workdir, tsk, cert, user_ids=list(user_ids), created=created,
                     expires=expires, algorithm=algorithm, tool="gpg")


def sha1_only_cert(
    workdir: Path,
    user_id: str | Sequence[str],
    *,
    created: dt.datetime = dt.datetime(2015, 3, 1, tzinfo=UTC),
    expires: dt.datetime | None = None,
    algorithm: str = "ed25519",
    subkeys: Sequence[SubkeyPurpose] = ("sign", "encrypt"),
) -> Key:
    """A key whose self-signatures all use SHA-1 (hash algorithm 2), made by gpg.

    User ID binding signatures, subkey binding signatures *and* the embedded
    primary-key binding (back-)signature of the signing subkey use SHA-1:
    gpg with ``--cert-digest-algo SHA1 --digest-algo SHA1``.  gpg 2.2 refuses
    to *make* the SHA-1 back-signature ("third-party key signatures using the
    SHA1 algorithm are rejected") unless ``--allow-weak-key-signatures`` is
    given, so it is.  Default creation date 2015-03-01: realistic for SHA-1
    and before the dates after which Sequoia's standard policy rejects SHA-1.
    """
    uids = [user_id] if isinstance(user_id, str) else list(user_id)
    return generate_key(
        workdir, uids, created=created, expires=expires, algorithm=algorithm, tool="gpg",
        subkeys=subkeys,
        gpg_extra_args=["--cert-digest-algo", "SHA1", "--digest-algo", "SHA1",
                        "--personal-digest-preferences", "SHA1", "--allow-weak-key-signatures"],
    )


# --------------------------------------------------------------------------
# Certifications, revocations, expiry


def _tmpfile(d: Path, name: str, data: bytes) -> Path:
    p = d / name
    p.write_bytes(data)
    return p


def certify(
    workdir: Path,
    certifier: Key,
    target_cert: bytes,
    user_id: str,
    *,
    time: dt.datetime | None = None,
    depth: int | None = None,
    amount: int | None = None,
    regex: Sequence[str] | None = None,
    expires: dt.datetime | None = None,
    tool: Literal["sq", "gpg"] = "sq",
    hash_algo: str | None = None,
) -> bytes:
    """``target_cert`` with a new certification of ``user_id`` by ``certifier`` merged in.

    Default tool is ``sq certify`` (``--time``, ``--depth``, ``--amount``,
    ``--regex`` repeated, ``--expires``, ``--allow-not-alive-certifier``);
    ``expires=None`` means a non-expiring certification (sq's own default is
    5 years).  ``depth``/``amount`` None leave sq's defaults (0 / 120).

    ``tool="gpg"`` makes a plain (level 0, class 0x10) certification with
    ``gpg --quick-sign-key`` under a faked time instead -- gpg-style
    signatures (issuer key ID in the unhashed area), and ``hash_algo`` (e.g.
    ``"SHA1"``) selects the digest.  It cannot make trust signatures.

    Use :func:`signatures` (``issuer=certifier.fingerprint``) or the second
    value of :func:`merge_new_signatures` to get at the new packet.
    """
    workdir = Path(workdir)
    target_cert = dearmor(target_cert)
    t = utc(time) if time is not None else now()
    if tool == "gpg":
        if depth or (amount is not None and amount != 120) or regex:
            raise ValueError("gpg --quick-sign-key cannot make trust signatures; use tool='sq'")
        target_fpr = cert_fingerprint(target_cert)
        with gpg_home(workdir) as g:
            g.run(["--import"], input=certifier.tsk, secret=True)
            g.run(["--import"], input=target_cert)
            args = ["-u", certifier.fingerprint + "!", "--default-cert-level", "0",
                    "--no-ask-cert-level", "--no-ask-cert-expire"]
            if expires is not None:
                args += ["--default-cert-expire", f"seconds={int((utc(expires) - t).total_seconds())}"]
            if hash_algo:
                args += ["--cert-digest-algo", hash_algo, "--allow-weak-key-signatures"]
            g.run([*args, "--quick-sign-key", target_fpr, user_id], time=t, secret=True)
            out = g.run(["--export", target_fpr]).stdout
        merged, added = merge_new_signatures(target_cert, out)
        if len(added) != 1:
            raise RuntimeError(f"expected gpg to make one certification, got {len(added)}")
        return merged
    if hash_algo is not None:
        raise ValueError("hash_algo is only supported with tool='gpg'")
    d = _new_dir(workdir, "certify")
    try:
        args = ["certify", "--binary", "--allow-not-alive-certifier", "--time", _sq_time(t),
                "--expires", _sq_time(expires) if expires is not None else "never"]
        if depth is not None:
            args += ["--depth", str(depth)]
        if amount is not None:
            args += ["--amount", str(amount)]
        for r in regex or ():
            args += ["--regex", r]
        args += [str(_tmpfile(d, "certifier.pgp", certifier.tsk)),
                 str(_tmpfile(d, "target.pgp", target_cert)), user_id]
        out = _sq(workdir, args).stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
    merged, added = merge_new_signatures(target_cert, out)
    if len(added) != 1:
        raise RuntimeError(f"expected sq to make one certification, got {len(added)}")
    return merged


def revoke_certification(
    workdir: Path,
    certifier: Key,
    target_cert: bytes,
    user_id: str,
    *,
    time: dt.datetime | None = None,
    reason: Literal["retired", "unspecified"] = "unspecified",
    message: str = "certification withdrawn",
) -> bytes:
    """``target_cert`` with a certification revocation (type 0x30) of ``user_id`` by ``certifier``.

    sq 0.27 has no "revoke certification" command; a *third-party* user ID
    revocation (``sq revoke userid --revocation-key CERTIFIER``) is exactly
    that: a 0x30 signature over (target key, user ID) issued by the
    certifier, which revokes the certifier's earlier certifications of that
    binding (RFC 4880 5.2.1).  Created at ``time``.
    """
    workdir = Path(workdir)
    target_cert = dearmor(target_cert)
    t = utc(time) if time is not None else now()
    d = _new_dir(workdir, "revcert")
    try:
        out = _sq(workdir, [
            "revoke", "userid", "--binary", "--time", _sq_time(t),
            "--revocation-key", str(_tmpfile(d, "certifier.pgp", certifier.tsk)),
            "--certificate", str(_tmpfile(d, "target.pgp", target_cert)),
            user_id, reason, message,
        ]).stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
    merged, added = merge_new_signatures(target_cert, out)
    if len(added) != 1:
        raise RuntimeError(f"expected one revocation, got {len(added)}")
    return merged


def _self_revoke(workdir: Path, key: Key, cert: bytes | None, args: list[str]) -> bytes:
    base = dearmor(cert) if cert is not None else key.cert
    d = _new_dir(workdir, "revoke")
    try:
        out = _sq(workdir, ["revoke", *args[:1], "--binary", "--certificate",
                            str(_tmpfile(d, "key.pgp", key.tsk)), *args[1:]]).stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
    merged, added = merge_new_signatures(base, out)
    if len(added) != 1:
        raise RuntimeError(f"expected one revocation, got {len(added)}")
    return merged


def revoke_user_id(
    workdir: Path,
    key: Key,
    user_id: str,
    *,
    time: dt.datetime | None = None,
    cert: bytes | None = None,
    reason: Literal["retired", "unspecified"] = "retired",
    message: str = "user ID retired",
) -> bytes:
    """``cert`` (default ``key.cert``) with a self-revocation (0x30) of ``user_id`` at ``time``.

    ``sq revoke userid --time``.  Note: for user IDs sq 0.27 accepts only
    the reasons "retired" and "unspecified".
    """
    t = utc(time) if time is not None else now()
    return _self_revoke(Path(workdir), key, cert, ["userid", "--time", _sq_time(t), user_id, reason, message])


def revoke_key(
    workdir: Path,
    key: Key,
    *,
    time: dt.datetime | None = None,
    cert: bytes | None = None,
    reason: Literal["compromised", "superseded", "retired", "unspecified"] = "compromised",
    message: str = "key revoked",
) -> bytes:
    """``cert`` (default ``key.cert``) with a key revocation (0x20) made at ``time``.

    ``sq revoke certificate --time`` (it emits a bare revocation signature,
    which is attached after the primary key's signatures).
    """
    t = utc(time) if time is not None else now()
    return _self_revoke(Path(workdir), key, cert, ["certificate", "--time", _sq_time(t), reason, message])


def revoke_subkey(
    workdir: Path,
    key: Key,
    subkey_fingerprint: str,
    *,
    time: dt.datetime | None = None,
    cert: bytes | None = None,
    reason: Literal["compromised", "superseded", "retired", "unspecified"] = "retired",
    message: str = "subkey revoked",
) -> bytes:
    """``cert`` (default ``key.cert``) with a subkey revocation (0x28) made at ``time``."""
    t = utc(time) if time is not None else now()
    return _self_revoke(Path(workdir), key, cert,
                        ["subkey", "--time", _sq_time(t), subkey_fingerprint, reason, message])


_PYSEQUOIA_SET_EXPIRATION = """
import datetime, sys, pysequoia
key = pysequoia.Cert.from_bytes(open(sys.argv[1], 'rb').read())
exp = None if sys.argv[3] == 'never' else datetime.datetime.fromtimestamp(int(sys.argv[3]), datetime.timezone.utc)
new = key.set_expiration(expiration=exp, certifier=key.secrets.certifier())
open(sys.argv[2], 'wb').write(bytes(new))
"""


def set_expiry(
    workdir: Path,
    key: Key,
    expires: dt.datetime | None,
    *,
    time: dt.datetime | None = None,
    cert: bytes | None = None,
    subkeys: bool = True,
) -> bytes:
    """``cert`` (default ``key.cert``) with new self-signatures, made at ``time``, setting the expiry.

    ``expires`` is absolute (``None``: never).  sq 0.27 has no command for
    this, so:

    * subkeys (``subkeys=True``) and, for certificates without a direct-key
      signature (gpg-made), the primary key: ``gpg --quick-set-expire``
      under ``--faked-system-time`` (new user ID self-signatures and subkey
      binding signatures; gpg copies the existing back-signature);
    * primary key of certificates *with* a direct-key self-signature
      (sq-made): gpg would leave the direct-key signature and its old key
      expiration untouched, and gpg itself then reports the *old* expiry
      while Sequoia reports the new one.  So Sequoia does it instead
      (pysequoia ``Cert.set_expiration`` in a subprocess under
      ``faketime``), which re-issues the direct-key signature and every
      user ID binding signature.  ``expires=None`` is not supported there
      (NotImplementedError).
    """
    workdir = Path(workdir)
    base = dearmor(cert) if cert is not None else key.cert
    t = utc(time) if time is not None else now()
    if expires is not None and utc(expires) <= t:
        # gpg refuses expiration dates in the past.
        raise ValueError("expires must be after time")
    secs = None if expires is None else int((utc(expires) - t).total_seconds())
    gexp = "never" if secs is None else f"seconds={secs}"
    has_direct = any(
        Signature.parse(p).sig_type == SIG_DIRECT_KEY for p in split_cert(key.cert)[0].sigs
    )
    if has_direct and expires is None:
        raise NotImplementedError(
            "cannot remove the expiry of a certificate with a direct-key signature: pysequoia's "
            "set_expiration needs a date, and gpg would leave the direct-key signature's expiry")
    produced: list[bytes] = []
    if has_direct:
        d = _new_dir(workdir, "expire")
        try:
            src = _tmpfile(d, "key.pgp", key.tsk)
            dst = d / "out.pgp"
            env = _base_env(workdir)
            _run(["faketime", _faketime_arg(t), sys.executable, "-c", _PYSEQUOIA_SET_EXPIRATION,
                  str(src), str(dst), "never" if expires is None else str(int(utc(expires).timestamp()))],
                 workdir=workdir, env=env)
            produced.append(dst.read_bytes())
        finally:
            shutil.rmtree(d, ignore_errors=True)
    if subkeys or not has_direct:
        with gpg_home(workdir) as g:
            g.run(["--import"], input=key.tsk, secret=True)
            if not has_direct:
                g.run(["--quick-set-expire", key.fingerprint, gexp], time=t, secret=True)
            if subkeys and key.subkeys:
                g.run(["--quick-set-expire", key.fingerprint, gexp, "*"], time=t, secret=True)
            produced.append(g.run(["--export", key.fingerprint]).stdout)
    merged = base
    for out in produced:
        merged, _ = merge_new_signatures(merged, out)
    return merged


# --------------------------------------------------------------------------
# Forgeries


@dataclasses.dataclass(frozen=True)
class Forgery:
    """A forged certificate and where the forged signature is.

    * ``cert``: the whole forged certificate (binary).
    * ``signature``: raw packet of the forged signature as it sits in ``cert``.
    * ``on``: the component it sits on -- user ID string or key fingerprint.
    * ``original``: raw packet of the genuine signature it was made from.
    * ``math_intact``: True if type, algorithms, hashed area and MPIs are
      those of the genuine signature -- it still verifies *over its original
      context* by its real issuer; only context (where it is attached) or
      unhashed metadata are lies.  False if the hashed area was changed so
      that no key verifies it.
    """

    cert: bytes
    signature: bytes
    on: str
    original: bytes
    math_intact: bool
    description: str


IssuerVariant = Literal["rewrite_all", "unhashed_only", "unhashed_only_drop_hashed"]


def _issuer_subpackets(key: Key) -> tuple[Subpacket, Subpacket]:
    fpr = bytes.fromhex(key.fingerprint)
    return (Subpacket.make(SUB_ISSUER_FINGERPRINT, b"\x04" + fpr),
            Subpacket.make(SUB_ISSUER_KEY_ID, fpr[-8:]))


def forge_issuer(
    cert: bytes,
    certification: bytes,
    claimed_issuer: Key,
    *,
    variant: IssuerVariant = "rewrite_all",
    keep_original: bool = False,
) -> Forgery:
    """Make a certification by X claim to be by Y (``claimed_issuer``).

    Variants (what a naive verifier could get wrong):

    * ``"rewrite_all"``: every Issuer Fingerprint (33) and Issuer Key ID (16)
      subpacket, hashed and unhashed, now names Y.  The hashed area changed,
      so the signature verifies under neither X nor Y.  Caught by anyone who
      checks the math; accepted by a verifier that only reads issuer
      subpackets (e.g. counts certifications without verifying).  gpg: "-"
      with Y's key in the keyring, "?" (no public key) without it.
    * ``"unhashed_only"``: the hashed area is untouched (still naming X if
      the signer put issuer subpackets there -- sq does); an *unhashed*
      Issuer Key ID naming Y replaces any unhashed one (gpg style) or is
      added.  The math is intact: it is a valid signature **by X**.  A
      verifier that takes the issuer from the unhashed area and reports
      "certified by Y" after verifying with X's key (or that trusts the
      unhashed key ID while checking with whatever key verifies) is fooled.
      gpg 2.2: on sq-made signatures (key ID hashed) it reports a good
      signature by X; on gpg-made ones (only the fingerprint hashed) it
      verifies with X's key, found via the hashed fingerprint, yet prints
      Y's key ID in field 5 ("good signature by Y"; field 13 says X) --
      and without X's key it tries Y's and says "-".
    * ``"unhashed_only_drop_hashed"``: hashed issuer subpackets removed, Y's
      fingerprint and key ID put into the unhashed area.  Hashed area
      changed: valid for nobody.

    The genuine signature is replaced unless ``keep_original``.
    """
    cert = dearmor(cert)
    comps = split_cert(cert)
    comp, _ = _locate(comps, certification)
    orig = Signature.parse(_sig_body(certification))
    sig = Signature.parse(orig.body())
    yfpr, ykid = _issuer_subpackets(claimed_issuer)
    if variant == "rewrite_all":
        def swap(subs: list[Subpacket]) -> list[Subpacket]:
            out = []
            for s in subs:
                if s.type == SUB_ISSUER_FINGERPRINT:
                    out.append(Subpacket.make(s.type, yfpr.body, s.critical))
                elif s.type == SUB_ISSUER_KEY_ID:
                    out.append(Subpacket.make(s.type, ykid.body, s.critical))
                else:
                    out.append(s)
            return out
        sig.hashed, sig.unhashed = swap(sig.hashed), swap(sig.unhashed)
        desc = "issuer fingerprint and key ID (hashed and unhashed) rewritten to the claimed issuer"
    elif variant == "unhashed_only":
        sig.unhashed = [s for s in sig.unhashed if s.type not in (SUB_ISSUER_KEY_ID, SUB_ISSUER_FINGERPRINT)]
        sig.unhashed.insert(0, ykid)
        desc = "unhashed issuer key ID names the claimed issuer; hashed area untouched"
    elif variant == "unhashed_only_drop_hashed":
        sig.hashed = [s for s in sig.hashed if s.type not in (SUB_ISSUER_KEY_ID, SUB_ISSUER_FINGERPRINT)]
        sig.unhashed = [s for s in sig.unhashed if s.type not in (SUB_ISSUER_KEY_ID, SUB_ISSUER_FINGERPRINT)]
        sig.unhashed[:0] = [yfpr, ykid]
        desc = "hashed issuer subpackets removed, claimed issuer put in the unhashed area"
    else:
        raise ValueError(f"unknown variant {variant!r}")
    new = sig.packet()
    forged = add_signature(cert, comp.ident, new) if keep_original else replace_signature(cert, certification, new)
    return Forgery(forged, new.raw, comp.ident, Packet.make(TAG_SIGNATURE, orig.body()).raw,
                   orig.same_math(sig), desc)


def transplant_to_user_id(cert: bytes, certification: bytes, other_user_id: str) -> Forgery:
    """A genuine certification over user ID U1 copied (byte for byte) under U2 of the same cert.

    The signature hashes the user ID, so on U2 it verifies for nobody --
    although its bytes, issuer and math are those of a valid signature (on
    U1, where it stays).  Works for self-signatures too.
    """
    cert = dearmor(cert)
    comps = split_cert(cert)
    src, i = _locate(comps, certification)
    pkt = src.sigs[i]
    forged = add_signature(cert, other_user_id, pkt)
    return Forgery(forged, pkt.raw, _find_component(split_cert(forged), other_user_id).ident,
                   pkt.raw, True, f"signature on {src.ident!r} copied to {other_user_id!r}")


def transplant_to_key(cert_a: bytes, certification: bytes, cert_b: bytes, user_id: str | None = None) -> Forgery:
    """A genuine certification of A's user ID copied onto certificate B carrying the same user ID.

    The signature hashes A's primary key, so on B it verifies for nobody.
    ``user_id`` defaults to the user ID the certification sits on in A.
    """
    cert_a, cert_b = dearmor(cert_a), dearmor(cert_b)
    src, i = _locate(split_cert(cert_a), certification)
    uid = user_id if user_id is not None else src.ident
    pkt = src.sigs[i]
    forged = add_signature(cert_b, uid, pkt)
    return Forgery(forged, pkt.raw, uid, pkt.raw, True,
                   f"signature on {src.ident!r} of {split_cert(cert_a)[0].ident} copied to {cert_fingerprint(cert_b)}")


def alter_hashed_area(
    cert: bytes,
    certification: bytes,
    *,
    field: Literal["creation_time", "trust_amount", "trust_depth"] = "creation_time",
    value: int | None = None,
    keep_original: bool = False,
) -> Forgery:
    """The certification with one hashed subpacket changed, left-16 bits and MPIs kept.

    ``field``: ``creation_time`` (default: +1 second), ``trust_amount``
    (default: 120) or ``trust_depth`` (default: 255).  Verifies for nobody.
    A verifier that only checks the left-16 "quick check" bits (or caches
    results by issuer/time) would accept it.  Replaces the genuine signature
    unless ``keep_original``.
    """
    cert = dearmor(cert)
    comp, _ = _locate(split_cert(cert), certification)
    orig = Signature.parse(_sig_body(certification))
    sig = Signature.parse(orig.body())
    for i, s in enumerate(sig.hashed):
        if field == "creation_time" and s.type == SUB_CREATION_TIME:
            v = value if value is not None else int.from_bytes(s.body, "big") + 1
            sig.hashed[i] = Subpacket.make(s.type, v.to_bytes(4, "big"), s.critical)
            break
        if field in ("trust_amount", "trust_depth") and s.type == SUB_TRUST:
            depth, amount = s.body[0], s.body[1]
            if field == "trust_amount":
                amount = value if value is not None else 120
            else:
                depth = value if value is not None else 255
            sig.hashed[i] = Subpacket.make(s.type, bytes([depth, amount]), s.critical)
            break
    else:
        raise ValueError(f"signature has no hashed subpacket for {field!r}")
    if sig.same_math(orig):
        raise ValueError("alteration did not change the hashed area (same value?)")
    new = sig.packet()
    forged = add_signature(cert, comp.ident, new) if keep_original else replace_signature(cert, certification, new)
    return Forgery(forged, new.raw, comp.ident, Packet.make(TAG_SIGNATURE, orig.body()).raw, False,
                   f"hashed {field} altered")


def _binding(comps: list[Component], subkey_fpr: str) -> tuple[Component, Packet]:
    sub = _find_component(comps, subkey_fpr)
    if sub.kind != "subkey":
        raise ValueError(f"{subkey_fpr} is not a subkey")
    for p in reversed(sub.sigs):
        if Signature.parse(p).sig_type == SIG_SUBKEY_BINDING:
            return sub, p
    raise ValueError(f"subkey {subkey_fpr} has no binding signature")


def signing_subkeys(cert: bytes) -> list[str]:
    """Fingerprints of subkeys whose binding signature has the signing key flag (0x02)."""
    out = []
    for c in split_cert(cert):
        if c.kind != "subkey":
            continue
        for p in c.sigs:
            s = Signature.parse(p)
            flags = [x for x in s.hashed if x.type == 27]
            if s.sig_type == SIG_SUBKEY_BINDING and flags and flags[0].body and flags[0].body[0] & 0x02:
                out.append(c.ident)
                break
    return out


def transplant_subkey_binding(
    cert: bytes, subkey_fpr: str, donor_cert: bytes, donor_subkey_fpr: str | None = None,
) -> Forgery:
    """Replace the binding signature of ``subkey_fpr`` by the (genuine) binding of another subkey.

    The donor binding (from ``donor_cert``, which may be ``cert`` itself with
    another subkey) hashes the donor's primary key and subkey, so here it
    verifies for nobody; the subkey is left without a valid binding.
    ``donor_subkey_fpr`` defaults to the donor's first subkey of the same
    kind (signing if ``subkey_fpr`` is a signing subkey).
    """
    cert, donor_cert = dearmor(cert), dearmor(donor_cert)
    comps = split_cert(cert)
    sub, old = _binding(comps, subkey_fpr)
    dcomps = split_cert(donor_cert)
    if donor_subkey_fpr is None:
        pool = signing_subkeys(donor_cert) if sub.ident in signing_subkeys(cert) else [
            c.ident for c in dcomps if c.kind == "subkey"]
        pool = [f for f in pool if f != sub.ident]
        if not pool:
            raise ValueError("donor has no suitable subkey")
        donor_subkey_fpr = pool[0]
    _, donor = _binding(dcomps, donor_subkey_fpr)
    forged = replace_signature(cert, old, donor)
    return Forgery(forged, donor.raw, sub.ident, donor.raw, True,
                   f"binding of subkey {donor_subkey_fpr} put on subkey {sub.ident}")


def transplant_subkey(cert: bytes, donor_cert: bytes, donor_subkey_fpr: str) -> Forgery:
    """Append another certificate's subkey, with its genuine binding signature(s), to ``cert``.

    The binding was made by the donor's primary key over (donor primary,
    subkey); in ``cert`` it verifies for nobody (and its issuer is not the
    primary key of ``cert``).  ``signature`` is the copied binding.
    """
    cert, donor_cert = dearmor(cert), dearmor(donor_cert)
    comps = split_cert(cert)
    sub, binding = _binding(split_cert(donor_cert), donor_subkey_fpr)
    comps.append(Component("subkey", sub.packet, list(sub.sigs)))
    return Forgery(join_components(comps), binding.raw, sub.ident, binding.raw, True,
                   f"subkey {sub.ident} with its binding copied from {cert_fingerprint(donor_cert)}")


def strip_backsig(cert: bytes, subkey_fpr: str) -> Forgery:
    """The signing subkey's binding signature without its embedded back-signature (subpacket 32).

    Where the back-signature was decides what this tests: gpg puts it in the
    *unhashed* area -- removing it keeps the binding valid, so the result is
    a validly bound signing subkey that never consented (must not be usable
    for signing).  sq puts it in the *hashed* area -- removing it breaks the
    binding itself (``math_intact`` False).
    """
    cert = dearmor(cert)
    comps = split_cert(cert)
    sub, old = _binding(comps, subkey_fpr)
    orig = Signature.parse(old)
    sig = Signature.parse(orig.body())
    n = len(sig.hashed) + len(sig.unhashed)
    sig.hashed = [s for s in sig.hashed if s.type != SUB_EMBEDDED_SIGNATURE]
    sig.unhashed = [s for s in sig.unhashed if s.type != SUB_EMBEDDED_SIGNATURE]
    if len(sig.hashed) + len(sig.unhashed) == n:
        raise ValueError(f"binding of {subkey_fpr} has no embedded signature")
    new = sig.packet()
    return Forgery(replace_signature(cert, old, new), new.raw, sub.ident, old.raw, orig.same_math(sig),
                   "primary key binding signature removed")


def swap_backsig(
    cert: bytes, subkey_fpr: str, donor_cert: bytes, donor_subkey_fpr: str | None = None,
) -> Forgery:
    """The signing subkey's back-signature replaced by the back-signature of another signing subkey.

    The donor back-signature (a genuine 0x19 by the donor subkey over the
    donor's primary and subkey) is put where the original was, same area.
    With gpg-made certs (unhashed back-signature) the binding stays valid
    but the back-signature is wrong -- a verifier that only checks "has a
    0x19 embedded signature" accepts it.  ``donor_cert`` may be ``cert``.
    """
    cert, donor_cert = dearmor(cert), dearmor(donor_cert)
    comps = split_cert(cert)
    sub, old = _binding(comps, subkey_fpr)
    if donor_subkey_fpr is None:
        pool = [f for f in signing_subkeys(donor_cert) if f != sub.ident]
        if not pool:
            raise ValueError("donor has no other signing subkey")
        donor_subkey_fpr = pool[0]
    _, donor_binding = _binding(split_cert(donor_cert), donor_subkey_fpr)
    dsig = Signature.parse(donor_binding)
    donor_emb = [s for s in dsig.hashed + dsig.unhashed if s.type == SUB_EMBEDDED_SIGNATURE]
    if not donor_emb:
        raise ValueError("donor binding has no back-signature")
    orig = Signature.parse(old)
    sig = Signature.parse(orig.body())
    found = False
    for area in (sig.hashed, sig.unhashed):
        for i, s in enumerate(area):
            if s.type == SUB_EMBEDDED_SIGNATURE:
                area[i] = Subpacket.make(s.type, donor_emb[0].body, s.critical)
                found = True
    if not found:
        raise ValueError(f"binding of {subkey_fpr} has no embedded signature")
    new = sig.packet()
    return Forgery(replace_signature(cert, old, new), new.raw, sub.ident, old.raw, orig.same_math(sig),
                   f"back-signature taken from subkey {donor_subkey_fpr}")


# --------------------------------------------------------------------------
# Oracle: gpg --check-sigs


_C_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "f": b"\f", "v": b"\v", "b": b"\b", "0": b"\0", "\\": b"\\"}


def gpg_unescape(s: str) -> str:
    """Undo gpg's C-style quoting of colon-listing strings (``\\x3a`` for ':', ...)."""
    out = bytearray()
    raw = s.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):
            n = chr(raw[i + 1])
            if n == "x" and re.fullmatch(rb"[0-9A-Fa-f]{2}", raw[i + 2:i + 4]):
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
                continue
            if n in _C_ESCAPES:
                out += _C_ESCAPES[n]
                i += 2
                continue
        out.append(c)
        i += 1
    return out.decode("utf-8", "replace")


def _pct_unescape(s: str) -> bytes:
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode("latin-1", "replace"))


@dataclasses.dataclass(frozen=True)
class GpgSubpacket:
    """An ``spk`` record: a subpacket of the preceding signature as gpg saw it."""

    type: int
    hashed: bool
    critical: bool
    data: bytes


@dataclasses.dataclass(frozen=True)
class GpgSigCheck:
    """gpg's verdict on one signature (a ``sig``/``rev`` record of ``--check-sigs``)."""

    cert_fingerprint: str  # primary key of the certificate the signature is on
    on_kind: Literal["key", "uid", "uat", "subkey"]
    on: str  # user ID (unescaped) or (sub)key fingerprint
    on_validity: str  # field 2 of the pub/uid/sub record above it
    record: str  # "sig", "rev" or "rvs"
    validity: str  # "!" good, "-" bad, "?" no public key/unusable, "%" other error
    pk_algo: int
    issuer_key_id: str
    created: dt.datetime | None
    expires: dt.datetime | None
    trust_depth: int | None
    trust_amount: int | None
    trust_regex: str | None  # field 9 for trust signatures with a regex
    issuer_uid: str  # field 10: gpg's idea of the issuer's user ID
    sig_class: int
    exportable: bool
    revocation_reason: int | None
    issuer_fingerprint: str | None  # field 13: the key gpg verified with (may disagree with field 5!)
    hash_algo: int | None
    subpackets: tuple[GpgSubpacket, ...] = ()

    @property
    def good(self) -> bool:
        return self.validity == "!"


class GpgSigChecks(list):
    """A list of :class:`GpgSigCheck`, plus gpg's stderr and a finder."""

    stderr: str = ""
    stdout: str = ""

    def find(self, **kw) -> list[GpgSigCheck]:
        """Records whose attributes equal the keyword arguments.

        ``issuer_key_id`` also accepts a fingerprint (compared on the last 16
        hex digits); ``cert_fingerprint`` is compared case-insensitively.
        """
        def match(r: GpgSigCheck, k: str, v) -> bool:
            have = getattr(r, k)
            if k == "issuer_key_id":
                return have.upper()[-16:] == v.upper()[-16:]
            if k == "cert_fingerprint":
                return have.upper() == v.upper()
            return have == v
        return [r for r in self if all(match(r, k, v) for k, v in kw.items())]

    def one(self, **kw) -> GpgSigCheck:
        found = self.find(**kw)
        if len(found) != 1:
            raise AssertionError(f"expected one gpg record matching {kw}, found {len(found)}: {found}")
        return found[0]


def parse_gpg_colons(text: str) -> GpgSigChecks:
    """Parse ``gpg --with-colons --with-fingerprint --with-fingerprint --check-sigs`` output."""
    out = GpgSigChecks()
    cert_fpr = ""
    kind = "key"
    on = ""
    on_validity = ""
    last = ""
    for line in text.splitlines():
        f = line.split(":")
        t = f[0]
        if t == "pub":
            kind, on, on_validity, cert_fpr = "key", "", f[1], ""
        elif t == "sub":
            kind, on, on_validity = "subkey", "", f[1]
        elif t == "fpr":
            if last == "pub":
                cert_fpr = on = f[9]
            elif last == "sub":
                on = f[9]
        elif t in ("uid", "uat"):
            kind, on_validity = t, f[1]
            on = gpg_unescape(f[9])
        elif t in ("sig", "rev", "rvs"):
            f += [""] * (21 - len(f))
            cls_field = f[10]
            cls_hex, _, reason = cls_field.partition(",")
            trust = f[7].split()
            out.append(GpgSigCheck(
                cert_fingerprint=cert_fpr, on_kind=kind, on=on, on_validity=on_validity,
                record=t, validity=f[1][:1], pk_algo=int(f[3] or 0), issuer_key_id=f[4],
                created=_from_epoch(f[5]), expires=_from_epoch(f[6]),
                trust_depth=int(trust[0]) if len(trust) == 2 else None,
                trust_amount=int(trust[1]) if len(trust) == 2 else None,
                trust_regex=gpg_unescape(f[8]) if len(trust) == 2 and f[8] else None,
                issuer_uid=gpg_unescape(f[9]),
                sig_class=int(cls_hex[:2], 16) if cls_hex else 0,
                exportable=cls_hex.endswith("x"),
                revocation_reason=int(reason, 16) if reason else None,
                issuer_fingerprint=f[12] or None,
                hash_algo=int(f[15]) if f[15] else None,
            ))
        elif t == "spk" and out and last in ("sig", "rev", "rvs", "spk"):
            flags = int(f[2], 16)
            prev = out[-1]
            out[-1] = dataclasses.replace(prev, subpackets=prev.subpackets + (
                GpgSubpacket(int(f[1]), bool(flags & 1), bool(flags & 2), _pct_unescape(":".join(f[4:]))),))
        if t != "fpr":
            last = t
    return out


def gpg_check_sigs(
    workdir: Path,
    keyring_bytes: bytes,
    *,
    faked_time: str | dt.datetime | None = None,
    allow_weak_key_signatures: bool = False,
    extra_args: Sequence[str] = (),
) -> GpgSigChecks:
    """Ask gpg for a verdict on every signature of every certificate in ``keyring_bytes``.

    Runs ``gpg --no-default-keyring --keyring FILE --with-colons
    --with-fingerprint --with-fingerprint --no-sig-cache --list-options
    show-sig-subpackets --check-sigs`` in a fresh home.  The keyring file is
    read in place (not imported), so gpg does not clean anything away.
    Issuers must be in ``keyring_bytes`` for a "!"/"-" verdict, else "?".

    ``faked_time``: gpg's ``--faked-system-time`` (a string such as
    ``"20221224T000000"`` is passed as is; a datetime is frozen).
    ``allow_weak_key_signatures``: accept SHA-1 third-party signatures
    (gpg 2.2 rejects those made after 2019-01-19 by default).
    """
    workdir = Path(workdir)
    with gpg_home(workdir) as g:
        kr = g.home / "keyring.gpg"
        # Ring trust packets (tag 12) could carry a cached verdict: drop them.
        kr.write_bytes(b"".join(p.raw for p in parse_packets(keyring_bytes) if p.tag != TAG_TRUST))
        # Not --no-sig-cache: gpg 2.2.40 aborts ("double free") with it as
        # soon as an issuer key is missing.  The fresh home and a keyring
        # without trust packets leave gpg no cached verdict to reuse.
        args = ["--no-default-keyring", "--keyring", str(kr), "--with-colons",
                "--with-fingerprint", "--with-fingerprint",
                "--list-options", "show-sig-subpackets", "--fixed-list-mode"]
        if allow_weak_key_signatures:
            args.append("--allow-weak-key-signatures")
        r = g.run([*args, *extra_args, "--check-sigs"], time=faked_time, check=False)
    text = r.stdout.decode("utf-8", "surrogateescape")
    res = parse_gpg_colons(text)
    res.stdout = text
    res.stderr = r.stderr.decode("utf-8", "replace")
    if r.returncode not in (0, 1, 2) or (r.returncode != 0 and not res):
        raise ToolError(["gpg", "--check-sigs"], r.returncode, r.stdout, r.stderr)
    return res


# --------------------------------------------------------------------------
# Oracle: sq-wot


@dataclasses.dataclass(frozen=True)
class WotEdge:
    """One certification along a path as sq-wot prints it."""

    target: str  # fingerprint of the certified certificate
    amount: int  # the certification's trust amount
    depth: int  # trust depth (0 for the last hop usually)


@dataclasses.dataclass(frozen=True)
class WotPath:
    """A path from a root; ``amount`` is what sq-wot credits to this path."""

    root: str
    edges: tuple[WotEdge, ...]
    amount: int


@dataclasses.dataclass(frozen=True)
class WotBinding:
    """sq-wot's result for one (certificate, user ID) binding."""

    fingerprint: str
    user_id: str
    amount: int  # aggregated trust amount (0..; 120 = fully, 240 = doubly)
    percent: int  # as printed: amount * 100 // 120
    level: str  # "doubly", "fully", "partially", "marginally", "not"
    authenticated: bool  # amount >= the trust amount asked for (the "[✓]" mark)
    paths: tuple[WotPath, ...]


_WOT_HEADER = re.compile(
    r"^\[(?P<ok>.)\] (?P<fpr>[0-9A-F]{16,40}) (?P<uid>.*): "
    r"(?P<level>doubly|fully|partially|marginally|not) authenticated \((?P<pct>\d+)%\)$"
)
_WOT_PATHNO = re.compile(r"^\s*Path #(\d+) of (\d+), trust amount (\d+):$")
_WOT_ROOT = re.compile(r"^\s*◯ ([0-9A-F]{16,40})")
_WOT_CERTIFIED = re.compile(r"│\s+(?:partially certified \(amount: (\d+) of 120\)|certified) the following")
_WOT_DEPTH = re.compile(r"\(depth: (\d+)\)")
_WOT_TARGET = re.compile(r"^\s*[├└] ([0-9A-F]{16,40})")


def parse_sq_wot_output(text: str) -> list[WotBinding]:
    """Parse sq-wot 0.2's human-readable output (the only format it has).

    Output per binding: a header ``[✓] FPR UID: fully authenticated (100%)``
    (percent = amount*100//120, integer division, so it alone is lossy),
    then the paths; if more than one, each is introduced by ``Path #i of
    n, trust amount X:``.  Edges read ``│   certified the following ...`` (amount
    120) or ``│   partially certified (amount: X of 120) the following ...``,
    optionally ``as a ... introducer (depth: D)``.  The amount of a lone
    path is the minimum of its edges (roots are fully trusted in 0.2).  The
    reconstructed amount is cross-checked against the printed percentage.
    ``authenticated`` reflects the ``[✓]`` mark, i.e. the amount sq-wot was
    asked for (the wrappers recompute it against the caller's threshold).
    """
    bindings: list[WotBinding] = []
    cur: dict | None = None

    def close_path():
        if cur is not None and cur["path"] is not None:
            p = cur["path"]
            amount = p["amount"] if p["amount"] is not None else min([e.amount for e in p["edges"]] + [120])
            cur["paths"].append(WotPath(p["root"], tuple(p["edges"]), amount))
            cur["path"] = None

    def close_binding():
        nonlocal cur
        if cur is None:
            return
        close_path()
        amount = sum(p.amount for p in cur["paths"])
        if amount * 100 // 120 != cur["pct"]:
            raise ValueError(f"could not reconstruct the trust amount of {cur['fpr']} {cur['uid']!r}: "
                             f"paths sum to {amount}, sq-wot says {cur['pct']}%")
        bindings.append(WotBinding(cur["fpr"], cur["uid"], amount, cur["pct"], cur["level"],
                                   cur["ok"] == "✓", tuple(cur["paths"])))
        cur = None

    for line in text.splitlines():
        m = _WOT_HEADER.match(line)
        if m:
            close_binding()
            cur = dict(fpr=m["fpr"], uid=m["uid"], level=m["level"], pct=int(m["pct"]), ok=m["ok"],
                       paths=[], path=None, pending=None)
            continue
        if cur is None:
            continue
        m = _WOT_PATHNO.match(line)
        if m:
            close_path()
            cur["pending"] = int(m.group(3))
            continue
        m = _WOT_ROOT.match(line)
        if m:
            close_path()
            cur["path"] = dict(root=m.group(1), edges=[], amount=cur["pending"], next_amount=None, next_depth=0)
            cur["pending"] = None
            continue
        p = cur["path"]
        if p is None:
            continue
        m = _WOT_CERTIFIED.search(line)
        if m:
            p["next_amount"] = int(m.group(1)) if m.group(1) else 120
            d = _WOT_DEPTH.search(line)
            p["next_depth"] = int(d.group(1)) if d else 0
            continue
        m = _WOT_TARGET.match(line)
        if m and p["next_amount"] is not None:
            p["edges"].append(WotEdge(m.group(1), p["next_amount"], p["next_depth"]))
            p["next_amount"] = None
    close_binding()
    return bindings


def _wot_roots(roots: Sequence[str] | Sequence[tuple[str, int]]) -> list[str]:
    out = []
    for r in roots:
        if isinstance(r, tuple):
            fpr, amount = r
            if amount != 120:
                raise ValueError("sq-wot 0.2 only has fully trusted roots (--trust-root); amount must be 120")
            r = fpr
        out += ["--trust-root", r]
    return out


# sq-wot stops looking for more paths as soon as the requested --trust-amount
# is reached, so the amount it reports depends on the request (with "-a 1" a
# binding reachable over two 60-paths shows 60, with "-a 120" it shows 120).
# To learn the full amount, ask for an unreachable one: bindings below it are
# still printed (marked "[ ]"), each with every path found.
EXHAUSTIVE_AMOUNT = 120_000


def _sq_wot(
    workdir: Path, keyrings: Path | Sequence[Path], roots, args: list[str], at: dt.datetime | None,
) -> subprocess.CompletedProcess[bytes]:
    kr = [keyrings] if isinstance(keyrings, (str, Path)) else list(keyrings)
    cmd = ["sq-wot"]
    for k in kr:
        cmd += ["--keyring", str(k)]
    cmd += _wot_roots(roots) + args
    if at is not None:
        # sq-wot 0.2 has no --time: fake the clock.  faketime's absolute
        # timestamp is frozen and read in local time, hence TZ=UTC (set by
        # _base_env for every tool).
        cmd = ["faketime", _faketime_arg(at), *cmd]
    return _run(cmd, workdir=Path(workdir), check=False)


def sq_wot_authenticate(
    keyring_path: Path | Sequence[Path],
    roots: Sequence[str] | Sequence[tuple[str, int]],
    fingerprint: str,
    user_id: str,
    at: dt.datetime | None = None,
    *,
    trust_amount: int = 120,
    exhaustive: bool = True,
    workdir: Path | None = None,
) -> WotBinding:
    """``sq-wot authenticate USERID FPR`` -> the binding's aggregated trust amount and paths.

    ``roots``: fingerprints (or ``(fingerprint, 120)``; sq-wot 0.2 cannot
    express partially trusted roots).  ``at``: reference time (via
    faketime; default now).  ``authenticated`` is ``amount >= trust_amount``.
    ``exhaustive`` (default) makes sq-wot look for all paths
    (``--trust-amount`` :data:`EXHAUSTIVE_AMOUNT`), so ``amount`` is the
    maximum sq-wot can find; with ``exhaustive=False`` it is asked for
    ``trust_amount`` and stops as soon as that is reached, exactly like the
    command line.  No path -> amount 0, no paths.
    """
    kp = keyring_path if isinstance(keyring_path, (str, Path)) else keyring_path[0]
    wd = Path(workdir) if workdir is not None else Path(kp).parent
    ask = EXHAUSTIVE_AMOUNT if exhaustive else trust_amount
    r = _sq_wot(wd, keyring_path, roots,
                ["authenticate", "--trust-amount", str(ask), user_id, fingerprint], at)
    if r.returncode not in (0, 1):
        raise ToolError(["sq-wot", "authenticate"], r.returncode, r.stdout, r.stderr)
    found = [b for b in parse_sq_wot_output(r.stdout.decode("utf-8", "replace"))
             if b.user_id == user_id and b.fingerprint.endswith(fingerprint.upper()[-16:])]
    if not found:
        return WotBinding(fingerprint.upper(), user_id, 0, 0, "not", trust_amount <= 0, ())
    return dataclasses.replace(found[0], authenticated=found[0].amount >= trust_amount)


def sq_wot_list(
    keyring_path: Path | Sequence[Path],
    roots: Sequence[str] | Sequence[tuple[str, int]],
    *,
    at: dt.datetime | None = None,
    pattern: str | None = None,
    trust_amount: int = 1,
    workdir: Path | None = None,
) -> dict[tuple[str, str], int]:
    """``sq-wot list`` -> {(fingerprint, user ID): aggregated trust amount}.

    Runs exhaustively (see :func:`sq_wot_authenticate`) and keeps bindings
    whose amount is at least ``trust_amount`` (default 1: every binding with
    a path).  Bindings with no path are absent.  Use
    :func:`sq_wot_list_bindings` for the paths.
    """
    return {(b.fingerprint, b.user_id): b.amount
            for b in sq_wot_list_bindings(keyring_path, roots, at=at, pattern=pattern,
                                          trust_amount=trust_amount, workdir=workdir)}


def sq_wot_list_bindings(
    keyring_path: Path | Sequence[Path],
    roots: Sequence[str] | Sequence[tuple[str, int]],
    *,
    at: dt.datetime | None = None,
    pattern: str | None = None,
    trust_amount: int = 1,
    workdir: Path | None = None,
) -> list[WotBinding]:
    """Like :func:`sq_wot_list` but returns the parsed :class:`WotBinding` records."""
    kp = keyring_path if isinstance(keyring_path, (str, Path)) else keyring_path[0]
    wd = Path(workdir) if workdir is not None else Path(kp).parent
    args = ["list", "--trust-amount", str(EXHAUSTIVE_AMOUNT)]
    if pattern:
        args.append(pattern)
    r = _sq_wot(wd, keyring_path, roots, args, at)
    # Exit status 1 just means "no binding reached the (unreachable) amount asked for".
    if r.returncode not in (0, 1) or (r.returncode == 1 and r.stderr.strip()):
        raise ToolError(["sq-wot", "list"], r.returncode, r.stdout, r.stderr)
    return [dataclasses.replace(b, authenticated=b.amount >= trust_amount)
            for b in parse_sq_wot_output(r.stdout.decode("utf-8", "replace"))
            if b.amount >= trust_amount]


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "base64", "contextlib", "dataclasses", "dt", "hashlib", "os", "re", "shutil",
    "struct", "subprocess", "sys", "tempfile", "Iterable", "Iterator", "Sequence", "Literal", "Path")]
