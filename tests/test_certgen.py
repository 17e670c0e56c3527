"""Tests for the certgen toolkit: each helper is checked against an independent tool.

Oracles: ``gpg --check-sigs`` (per-signature verdicts), ``sq inspect`` /
``sq packet dump`` (Sequoia's view), pysequoia's packet parser, and sq-wot.
The keys are ed25519 and shared per module to keep the whole file fast.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from certgen import (  # noqa: E402
    SIG_CERT_REVOCATION,
    SIG_GENERIC_CERT,
    SIG_KEY_REVOCATION,
    SIG_POSITIVE_CERT,
    SIG_SUBKEY_BINDING,
    SIG_SUBKEY_REVOCATION,
    SUB_EMBEDDED_SIGNATURE,
    SUB_ISSUER_FINGERPRINT,
    SUB_ISSUER_KEY_ID,
    SUB_REGEX,
    TAG_PUBLIC_KEY,
    TAG_SECRET_KEY,
    UTC,
    Key,
    Signature,
    ToolError,
    alter_hashed_area,
    certify,
    encode_packet,
    forge_issuer,
    generate_key,
    gpg_check_sigs,
    gpg_unescape,
    join_components,
    parse_packets,
    parse_sq_wot_output,
    public_cert,
    revoke_certification,
    revoke_key,
    revoke_subkey,
    revoke_user_id,
    set_expiry,
    sha1_only_cert,
    signatures,
    signing_subkeys,
    split_cert,
    sq_wot_authenticate,
    sq_wot_list,
    strip_backsig,
    swap_backsig,
    transplant_subkey,
    transplant_subkey_binding,
    transplant_to_key,
    transplant_to_user_id,
    write_keyring,
)


def T(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


CREATED = T(2020, 1, 1)
U1 = "Alice <alice@example.org>"
# A colon, to exercise gpg's \x3a escaping in colon listings.
U2 = "Alice: ops <alice@work.example>"
TRUST_TIME = T(2021, 1, 1, 12, 30, 5)
TRUST_EXPIRES = T(2030, 6, 1)
REGEX = r"<[^>]+[@.]example\.org>$"


def sq_inspect(workdir: Path, data: bytes, *args: str) -> str:
    p = workdir / "inspect.pgp"
    p.write_bytes(data)
    return subprocess.run(["sq", "inspect", *args, str(p)], capture_output=True, text=True,
                          check=True).stdout


def sq_dump(workdir: Path, data: bytes) -> str:
    p = workdir / "dump.pgp"
    p.write_bytes(data)
    return subprocess.run(["sq", "packet", "dump", str(p)], capture_output=True, text=True,
                          check=True).stdout


# --------------------------------------------------------------------------
# Shared keys


class World:
    """Keys shared by the tests of this module."""

    def __init__(self, wd: Path):
        self.wd = wd
        self.y = generate_key(wd, ["Yvonne Trusted <y@example.org>"], created=CREATED)
        self.x = generate_key(wd, ["Xavier <x@example.org>"], created=CREATED)
        self.alice = generate_key(wd, [U1, U2], created=CREATED, expires=T(2035, 1, 1))
        self.bob = generate_key(wd, [U1], created=CREATED)  # same user ID as Alice
        self.gina = generate_key(wd, ["Gina <g@example.org>"], created=CREATED, tool="gpg")
        self.hugo = generate_key(wd, ["Hugo <h@example.org>"], created=CREATED, tool="gpg")
        c = certify(wd, self.y, self.alice.cert, U1, time=TRUST_TIME, depth=1, amount=60,
                    regex=[REGEX], expires=TRUST_EXPIRES)
        c = certify(wd, self.x, c, U1, time=T(2021, 2, 1))
        c = certify(wd, self.gina, c, U1, time=T(2021, 3, 1), tool="gpg")
        self.alice_cert = c
        self.sig_y = signatures(c, on=U1, issuer=self.y.fingerprint)[0]
        self.sig_x = signatures(c, on=U1, issuer=self.x.fingerprint)[0]
        self.sig_g = signatures(c, on=U1, issuer=self.gina.fingerprint)[0]

    def issuers(self, *skip: Key) -> bytes:
        return b"".join(k.cert for k in (self.y, self.x, self.gina, self.hugo) if k not in skip)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("world"))


@pytest.fixture
def wd(tmp_path) -> Path:
    return tmp_path


# --------------------------------------------------------------------------
# Packets


def test_packet_split_matches_pysequoia_and_roundtrips(world):
    from pysequoia.packet import PacketPile

    # sq writes new-format headers, gpg old-format ones.
    for cert in (world.alice_cert, world.gina.cert, world.alice.tsk):
        mine = parse_packets(cert)
        theirs = list(PacketPile.from_bytes(cert))
        assert [p.tag for p in mine] == [int(p.tag) for p in theirs]
        assert [p.body for p in mine] == [bytes(p.body) for p in theirs]
        assert b"".join(p.raw for p in mine) == cert
        assert join_components(split_cert(cert)) == cert
    assert parse_packets(world.gina.cert)[0].raw[0] & 0x40 == 0  # gpg: old format
    assert parse_packets(world.alice.cert)[0].raw[0] & 0x40  # sq: new format


@pytest.mark.parametrize("n", [0, 191, 192, 8383, 8384, 70000])
def test_packet_lengths(n):
    body = bytes(range(256)) * (n // 256) + bytes(n % 256)
    raw = encode_packet(13, body)
    [p] = parse_packets(raw)
    assert (p.tag, p.body, p.raw) == (13, body, raw)


def test_old_format_and_partial_lengths():
    body = b"x" * 300
    old2 = bytes([0x80 | (13 << 2) | 1]) + len(body).to_bytes(2, "big") + body
    old4 = bytes([0x80 | (13 << 2) | 2]) + len(body).to_bytes(4, "big") + body
    old_indet = bytes([0x80 | (11 << 2) | 3]) + body
    # new format, partial body: 256 bytes chunk (0xE8 = 2^8) then 44 bytes final.
    partial = bytes([0xC0 | 11, 0xE8]) + body[:256] + bytes([44]) + body[256:]
    for raw, tag in ((old2, 13), (old4, 13), (old_indet, 11), (partial, 11)):
        [p] = parse_packets(raw)
        assert (p.tag, p.body) == (tag, body)


# --------------------------------------------------------------------------
# Key generation


def test_generate_sq_key(world, wd):
    k = world.alice
    assert k.tool == "sq" and re.fullmatch(r"[0-9A-F]{40}", k.fingerprint)
    assert k.key_id == k.fingerprint[-16:]
    assert k.key_path.read_bytes() == k.tsk and k.cert_path.read_bytes() == k.cert
    assert parse_packets(k.tsk)[0].tag == TAG_SECRET_KEY
    assert {p.tag for p in parse_packets(k.cert)} & {5, 7} == set()
    assert parse_packets(k.cert)[0].tag == TAG_PUBLIC_KEY
    assert len(k.subkeys) == 2 and signing_subkeys(k.cert) == [k.subkeys[0]]
    pub = split_cert(public_cert(k.tsk))
    assert [c.ident for c in pub] == [c.ident for c in split_cert(k.cert)]

    out = sq_inspect(wd, k.cert)
    assert f"Fingerprint: {k.fingerprint}" in out
    assert out.count("Creation time: 2020-01-01 00:00:00 UTC") == 3
    assert out.count("Expiration time: 2035-01-01 00:00:00 UTC") == 3
    assert f"UserID: {U1}" in out and f"UserID: {U2}" in out

    res = gpg_check_sigs(wd, k.cert)
    assert {r.cert_fingerprint for r in res} == {k.fingerprint}
    assert all(r.good for r in res)
    uid_sigs = res.find(on_kind="uid", sig_class=SIG_POSITIVE_CERT)
    assert sorted(r.on for r in uid_sigs) == sorted([U1, U2])  # \x3a unescaped
    assert {r.created for r in res} == {CREATED}
    pub = next(line for line in res.stdout.splitlines() if line.startswith("pub:")).split(":")
    assert int(pub[5]) == int(CREATED.timestamp())
    assert int(pub[6]) == int(T(2035, 1, 1).timestamp())


def test_default_sq_key_never_expires(world, wd):
    assert "Expiration time" not in sq_inspect(wd, world.y.cert)


@pytest.mark.parametrize("algorithm, pk_algo, bits", [("rsa2048", 1, 2048), ("nistp256", 19, 256)])
def test_generate_gpg_algorithms(wd, algorithm, pk_algo, bits):
    created = T(2019, 6, 1, 8, 0, 0)
    k = generate_key(wd, ["Algo <algo@example.org>", "Second <second@example.org>"],
                     created=created, expires=T(2029, 6, 1), algorithm=algorithm,
                     subkeys=("sign",))
    assert k.tool == "gpg"  # sq 0.27 cannot make these
    res = gpg_check_sigs(wd, k.cert)
    assert res and all(r.good and r.created == created and r.pk_algo == pk_algo for r in res)
    assert sorted(r.on for r in res.find(on_kind="uid")) == sorted(k.user_ids)
    pub = next(line for line in res.stdout.splitlines() if line.startswith("pub:")).split(":")
    assert (int(pub[2]), int(pub[3]), int(pub[5]), int(pub[6])) == (
        bits, pk_algo, int(created.timestamp()), int(T(2029, 6, 1).timestamp()))
    assert len(k.subkeys) == 1 and signing_subkeys(k.cert) == k.subkeys


def test_generate_rejects_unsupported():
    with pytest.raises(ValueError):
        generate_key(Path("/nonexistent"), ["a"], algorithm="rsa2048", tool="sq")
    with pytest.raises(ValueError):
        generate_key(Path("/nonexistent"), ["a"], algorithm="rot13")


# --------------------------------------------------------------------------
# Certifications


def test_certify_trust_signature(world, wd):
    res = gpg_check_sigs(wd, world.alice_cert + world.issuers())
    r = res.one(cert_fingerprint=world.alice.fingerprint, on=U1, issuer_key_id=world.y.key_id)
    assert r.good and r.record == "sig" and r.sig_class == SIG_GENERIC_CERT and r.exportable
    assert r.created == TRUST_TIME and r.expires == TRUST_EXPIRES
    assert (r.trust_depth, r.trust_amount, r.trust_regex) == (1, 60, REGEX)
    regex_spk = [s for s in r.subpackets if s.type == SUB_REGEX]
    assert [(s.hashed, s.critical, s.data) for s in regex_spk] == [(True, True, REGEX.encode() + b"\0")]

    out = sq_inspect(wd, world.alice_cert, "--certifications")
    block = out[out.index("Certification: Creation time: 2021-01-01 12:30:05 UTC"):]
    block = block[:block.index("Hash algorithm")]
    assert "Trust depth: 1" in block and "Trust amount: 60" in block
    assert 'Regular expression: "<[^>]+[@.]example\\\\.org>$"' in block
    assert f"Alleged certifier: {world.y.fingerprint}" in block
    assert "Expiration time: 2030-06-01 00:00:00 UTC" in block

    # The helper's own parser agrees.
    s = Signature.parse(world.sig_y)
    assert (s.trust, s.regexes, s.created, s.expires) == ((1, 60), [REGEX], TRUST_TIME, TRUST_EXPIRES)


def test_certify_defaults_and_gpg_style(world, wd):
    res = gpg_check_sigs(wd, world.alice_cert + world.issuers())
    rx = res.one(on=U1, issuer_key_id=world.x.key_id)
    assert rx.good and rx.expires is None and rx.trust_depth is None  # never expires (sq default: 5y)
    rg = res.one(on=U1, issuer_key_id=world.gina.key_id)
    assert rg.good and rg.created == T(2021, 3, 1) and rg.sig_class == SIG_GENERIC_CERT
    # gpg puts the issuer key ID into the unhashed area, sq into the hashed one.
    sg, sx = Signature.parse(world.sig_g), Signature.parse(world.sig_x)
    assert [p.type for p in sg.unhashed] == [SUB_ISSUER_KEY_ID]
    assert SUB_ISSUER_KEY_ID in [p.type for p in sx.hashed]


def test_certify_preserves_existing_bytes(world, wd):
    forged = transplant_to_user_id(world.alice_cert, world.sig_y, U2).cert
    again = certify(wd, world.hugo, forged, U2, time=T(2022, 1, 1))
    # sq itself would canonicalize (and drop the bad copy); certify() splices
    # only sq's new signature into our bytes, so the forgery survives.
    assert again.count(world.sig_y) == 2
    before, after = parse_packets(forged), parse_packets(again)
    new = [p for p in after if p not in before]
    assert [p for p in after if p in before] == before and len(new) == 1
    assert Signature.parse(new[0]).issuer_key_ids[0] == world.hugo.key_id
    assert split_cert(again)[2].ident == U2 and split_cert(again)[2].sigs[-1] == new[0]


def test_certify_sha1_with_gpg(world, wd):
    c = certify(wd, world.gina, world.bob.cert, U1, time=T(2021, 5, 1), tool="gpg", hash_algo="SHA1")
    [sig] = signatures(c, issuer=world.gina.fingerprint)
    assert Signature.parse(sig).hash_algo == 2
    # gpg 2.2 rejects SHA-1 third-party signatures made after 2019-01-19 ('%')
    # unless --allow-weak-key-signatures.
    r = gpg_check_sigs(wd, c + world.gina.cert).one(issuer_key_id=world.gina.key_id, on=U1)
    assert r.validity == "%" and r.hash_algo == 2
    assert "SHA1" in gpg_check_sigs(wd, c + world.gina.cert).stderr
    r = gpg_check_sigs(wd, c + world.gina.cert, allow_weak_key_signatures=True).one(
        issuer_key_id=world.gina.key_id, on=U1)
    assert r.good


# --------------------------------------------------------------------------
# Revocations and expiry


def test_revocations_at_chosen_times(world, wd):
    a = world.alice
    c = revoke_certification(wd, world.y, world.alice_cert, U1, time=T(2022, 3, 1))
    c = revoke_user_id(wd, a, U2, time=T(2022, 4, 1), cert=c)
    c = revoke_subkey(wd, a, a.subkeys[1], time=T(2022, 4, 2), cert=c)
    c = revoke_key(wd, a, time=T(2022, 5, 1, 6, 7, 8), cert=c)
    assert c.startswith(parse_packets(world.alice_cert)[0].raw)

    res = gpg_check_sigs(wd, c + world.issuers())
    mine = res.find(cert_fingerprint=a.fingerprint)
    revs = [r for r in mine if r.record == "rev"]
    assert all(r.good for r in revs) and len(revs) == 4
    cr = res.one(record="rev", on=U1)
    assert (cr.sig_class, cr.issuer_key_id, cr.created) == (SIG_CERT_REVOCATION, world.y.key_id, T(2022, 3, 1))
    ur = res.one(record="rev", on=U2)
    assert (ur.sig_class, ur.issuer_key_id, ur.created, ur.revocation_reason) == (
        SIG_CERT_REVOCATION, a.key_id, T(2022, 4, 1), 0x20)
    sr = res.one(record="rev", on_kind="subkey")
    assert (sr.on, sr.sig_class, sr.created) == (a.subkeys[1], SIG_SUBKEY_REVOCATION, T(2022, 4, 2))
    kr = res.one(record="rev", on_kind="key")
    assert (kr.sig_class, kr.created, kr.revocation_reason) == (SIG_KEY_REVOCATION, T(2022, 5, 1, 6, 7, 8), 0x02)
    assert {r.on_validity for r in mine} == {"r"}  # gpg: key revoked

    out = sq_inspect(wd, c)
    assert "Key material has been compromised" in out and "User ID information is no longer valid" in out


@pytest.mark.parametrize("which", ["sq", "gpg"])
def test_set_expiry(world, wd, which):
    k = world.alice if which == "sq" else world.gina
    when, new_exp = T(2023, 1, 1, 1, 2, 3), T(2028, 2, 3, 4, 5, 6)
    c = set_expiry(wd, k, new_exp, time=when)
    assert c.startswith(k.cert[:len(parse_packets(k.cert)[0].raw)])
    res = gpg_check_sigs(wd, c)
    assert all(r.good for r in res)
    # faketime lets the clock run from `when`: a slow machine may be a second or two past it
    new = [r for r in res if r.created is not None and abs((r.created - when).total_seconds()) <= 5]
    # every user ID and subkey got a new self-signature made at `when`
    assert {r.on for r in new if r.on_kind == "uid"} == set(k.user_ids)
    assert {r.on for r in new if r.on_kind == "subkey"} == set(k.subkeys)
    expiry = int(new_exp.timestamp())
    for line in res.stdout.splitlines():
        if line.startswith(("pub:", "sub:")):
            assert int(line.split(":")[6]) == expiry, line
    out = sq_inspect(wd, c)
    assert out.count("Expiration time: 2028-02-03 04:05:06 UTC") == 1 + len(k.subkeys)


def test_sha1_only_cert(wd):
    k = sha1_only_cert(wd, "Old Timer <old@example.org>")
    res = gpg_check_sigs(wd, k.cert)
    assert len(res) == 3  # user ID binding + 2 subkey bindings
    assert all(r.good and r.hash_algo == 2 and r.created == T(2015, 3, 1) for r in res)
    sigs = [Signature.parse(p) for c in split_cert(k.cert) for p in c.sigs]
    embedded = [e for s in sigs for e in s.embedded]
    assert len(embedded) == 1  # back-signature of the signing subkey
    assert {s.hash_algo for s in sigs + embedded} == {2}
    dump = sq_dump(wd, k.cert)
    assert dump.count("Hash algo: SHA1") == 4 and "Hash algo: SHA2" not in dump


# --------------------------------------------------------------------------
# Forgeries (gpg: '!' good, '-' bad, '?' issuer key missing)


def _verdicts(wd, world, cert, *, skip=()):
    return gpg_check_sigs(wd, cert + world.issuers(*skip))


def test_originals_are_good(world, wd):
    res = _verdicts(wd, world, world.alice_cert)
    for k in (world.y, world.x, world.gina):
        assert res.one(cert_fingerprint=world.alice.fingerprint, on=U1, issuer_key_id=k.key_id).good


def test_forge_issuer_rewrite_all(world, wd):
    f = forge_issuer(world.alice_cert, world.sig_x, world.y, variant="rewrite_all")
    assert not f.math_intact and f.on == U1
    s = Signature.parse(f.signature)
    assert set(s.issuer_key_ids) == {world.y.key_id} and set(s.issuer_fingerprints) == {world.y.fingerprint}
    assert world.sig_x not in signatures(f.cert)  # replaced
    res = _verdicts(wd, world, f.cert)
    forged = res.one(on=U1, created=T(2021, 2, 1))
    assert forged.issuer_key_id == world.y.key_id and forged.validity == "-"
    # Without the claimed issuer's key gpg cannot judge: '?' (not applicable,
    # it only says "no public key"), which is why the tests keep Y around.
    res = _verdicts(wd, world, f.cert, skip=(world.y,))
    assert res.one(on=U1, created=T(2021, 2, 1)).validity == "?"


def test_forge_issuer_unhashed_only_sq_signature(world, wd):
    f = forge_issuer(world.alice_cert, world.sig_x, world.y, variant="unhashed_only")
    assert f.math_intact
    s = Signature.parse(f.signature)
    assert [p.body.hex().upper() for p in s.unhashed if p.type == SUB_ISSUER_KEY_ID] == [world.y.key_id]
    assert s.issuer_key_ids[0] == world.x.key_id  # hashed one first
    # gpg takes the hashed issuer: a good signature by X, not by Y.
    r = _verdicts(wd, world, f.cert).one(on=U1, created=T(2021, 2, 1))
    assert r.good and r.issuer_key_id == world.x.key_id


def test_forge_issuer_unhashed_only_gpg_signature_fools_gpg_attribution(world, wd):
    """The naive-verifier trap, and gpg 2.2 falls into it for attribution.

    The gpg-made signature has the issuer fingerprint (G) hashed and the
    issuer key ID unhashed; rewriting the latter to Y keeps the math valid.
    gpg verifies with the key found via the hashed fingerprint (G) but
    *prints the unhashed key ID*: "good signature by Y".  keywatch must
    attribute it to G (or reject the inconsistency), never credit Y.
    """
    f = forge_issuer(world.alice_cert, world.sig_g, world.y, variant="unhashed_only")
    assert f.math_intact
    r = _verdicts(wd, world, f.cert).one(on=U1, created=T(2021, 3, 1))
    assert r.good and r.issuer_key_id == world.y.key_id
    assert r.issuer_fingerprint == world.gina.fingerprint  # field 13: who really verified
    # With G's key missing, gpg falls back to Y's key ID and the math fails.
    r = _verdicts(wd, world, f.cert, skip=(world.gina,)).one(on=U1, created=T(2021, 3, 1))
    assert r.validity == "-"


def test_forge_issuer_unhashed_only_drop_hashed(world, wd):
    f = forge_issuer(world.alice_cert, world.sig_g, world.y, variant="unhashed_only_drop_hashed")
    s = Signature.parse(f.signature)
    assert not f.math_intact
    assert not [p for p in s.hashed if p.type in (SUB_ISSUER_KEY_ID, SUB_ISSUER_FINGERPRINT)]
    r = _verdicts(wd, world, f.cert).one(on=U1, created=T(2021, 3, 1))
    assert r.issuer_key_id == world.y.key_id and r.validity == "-"


def test_transplant_to_user_id(world, wd):
    f = transplant_to_user_id(world.alice_cert, world.sig_y, U2)
    assert f.signature == world.sig_y and f.on == U2 and f.math_intact
    res = _verdicts(wd, world, f.cert)
    assert res.one(on=U1, issuer_key_id=world.y.key_id).good
    bad = res.one(on=U2, issuer_key_id=world.y.key_id)
    assert bad.validity == "-" and bad.trust_amount == 60


def test_transplant_to_key(world, wd):
    f = transplant_to_key(world.alice_cert, world.sig_y, world.bob.cert)
    res = _verdicts(wd, world, f.cert)
    r = res.one(cert_fingerprint=world.bob.fingerprint, on=U1, issuer_key_id=world.y.key_id)
    assert r.validity == "-"
    assert res.one(cert_fingerprint=world.bob.fingerprint, on=U1, issuer_key_id=world.bob.key_id).good


@pytest.mark.parametrize("field, check", [
    ("creation_time", lambda r: r.created == TRUST_TIME + dt.timedelta(seconds=1)),
    ("trust_amount", lambda r: r.trust_amount == 120),
    ("trust_depth", lambda r: r.trust_depth == 255),
])
def test_alter_hashed_area(world, wd, field, check):
    f = alter_hashed_area(world.alice_cert, world.sig_y, field=field)
    orig, forged = Signature.parse(world.sig_y), Signature.parse(f.signature)
    assert (forged.left16, forged.mpis) == (orig.left16, orig.mpis) and not f.math_intact
    r = _verdicts(wd, world, f.cert).one(on=U1, issuer_key_id=world.y.key_id)
    assert r.validity == "-" and check(r)


def test_subkey_binding_from_other_cert(world, wd):
    g, h = world.gina, world.hugo
    f = transplant_subkey_binding(g.cert, g.subkeys[0], h.cert)
    assert Signature.parse(f.signature).sig_type == SIG_SUBKEY_BINDING
    res = gpg_check_sigs(wd, f.cert + h.cert)
    r = res.one(cert_fingerprint=g.fingerprint, on=g.subkeys[0])
    assert r.validity == "-" and r.issuer_key_id == h.key_id and r.on_validity == "i"
    assert f"Subkey: {g.subkeys[0]}" not in sq_inspect(wd, f.cert)  # Sequoia drops it


def test_subkey_transplanted_with_binding(world, wd):
    g, h = world.gina, world.hugo
    f = transplant_subkey(g.cert, h.cert, h.subkeys[0])
    r = gpg_check_sigs(wd, f.cert + h.cert).one(cert_fingerprint=g.fingerprint, on=h.subkeys[0])
    assert r.validity == "-"
    assert f"Subkey: {h.subkeys[0]}" not in sq_inspect(wd, f.cert)


@pytest.mark.parametrize("how", ["strip", "swap"])
def test_backsig_forgeries_gpg_cert(world, wd, how):
    """gpg keeps the back-signature unhashed: binding stays valid, back-signature is wrong.

    ``gpg --check-sigs`` does not look at back-signatures at all (the binding
    is '!'), so Sequoia is the oracle here: it drops the signing subkey.
    """
    g = world.gina
    sub = signing_subkeys(g.cert)[0]
    f = strip_backsig(g.cert, sub) if how == "strip" else swap_backsig(g.cert, sub, world.hugo.cert)
    assert f.math_intact and f.on == sub
    emb = [p for p in Signature.parse(f.signature).unhashed if p.type == SUB_EMBEDDED_SIGNATURE]
    assert len(emb) == (0 if how == "strip" else 1)
    assert gpg_check_sigs(wd, f.cert).one(on=sub).good
    assert f"Subkey: {sub}" in sq_inspect(wd, g.cert)
    out = sq_inspect(wd, f.cert)
    assert f"Subkey: {sub}" not in out and "Bad Signature" in out


def test_backsig_strip_sq_cert_breaks_binding(world, wd):
    x = world.x
    sub = signing_subkeys(x.cert)[0]
    f = strip_backsig(x.cert, sub)
    assert not f.math_intact  # sq hashes the back-signature
    r = gpg_check_sigs(wd, f.cert).one(on=sub)
    assert r.validity == "-"


# --------------------------------------------------------------------------
# gpg colon parsing details


def test_gpg_unescape():
    assert gpg_unescape(r"Alice\x3a ops <a@b>") == "Alice: ops <a@b>"
    assert gpg_unescape(r"back\x5cslash\\n") == "back\\slash\\n"
    assert gpg_unescape(r"caf\xc3\xa9") == "café"
    assert gpg_unescape("plain") == "plain"


# --------------------------------------------------------------------------
# sq-wot


RECORDED = """\
[ ] DA4DC8993A2D09AD720CC851BA3FC4AE32CCEB71 Bob <bob@example.org>: partially authenticated (91%)
  Path #1 of 2, trust amount 60:
    ◯ 8B676E45C60C9755289B27F831B164E112BCD0DA ("Root <root@example.org>")
    │   certified the following certificate on 2021-01-01 as a fully trusted introducer (depth: 1)
    ├ DAF7D9FE0BE23C04A0E23E431DF4389252368C7A ("Alice <alice@example.org>")
    │   partially certified (amount: 60 of 120) the following binding on 2021-02-01
    └ DA4DC8993A2D09AD720CC851BA3FC4AE32CCEB71 "Bob <bob@example.org>"

  Path #2 of 2, trust amount 50:
    ◯ 8B676E45C60C9755289B27F831B164E112BCD0DA ("Root <root@example.org>")
    │   certified the following certificate on 2021-01-01 as a fully trusted introducer (depth: 1)
    ├ AFE79E297EAD9EDEA34BA028831FEBA640A26AB5 ("Carol <carol@example.org>")
    │   partially certified (amount: 50 of 120) the following binding on 2021-02-01
    └ DA4DC8993A2D09AD720CC851BA3FC4AE32CCEB71 "Bob <bob@example.org>"

[✓] 8B676E45C60C9755289B27F831B164E112BCD0DA Root: <root@example.org>: fully authenticated (100%)
  ◯ 8B676E45C60C9755289B27F831B164E112BCD0DA "Root: <root@example.org>"

"""


def test_parse_sq_wot_output():
    bob, root = parse_sq_wot_output(RECORDED)
    assert (bob.amount, bob.percent, bob.level, bob.authenticated) == (110, 91, "partially", False)
    assert [p.amount for p in bob.paths] == [60, 50]
    assert [(e.amount, e.depth) for e in bob.paths[0].edges] == [(120, 1), (60, 0)]
    assert (root.user_id, root.amount, root.paths[0].edges) == ("Root: <root@example.org>", 120, ())


class Wot:
    def __init__(self, wd: Path):
        self.wd = wd
        self.root, self.alice, self.carol, self.bob, self.dave = (
            generate_key(wd, [f"{n} <{n.lower()}@example.org>"], created=CREATED, subkeys=())
            for n in ("Root", "Alice", "Carol", "Bob", "Dave"))


@pytest.fixture(scope="module")
def wot(tmp_path_factory) -> Wot:
    return Wot(tmp_path_factory.mktemp("wot"))


def uid(k: Key) -> str:
    return k.user_ids[0]


def test_sq_wot_chain_amounts(wot):
    """root -(depth 1, 120)-> alice -(60)-> bob.

    sq-wot (docs, spec/sequoia-wot.md): a path's trust amount is the minimum
    of the amounts along it; a depth-1 certification makes its target a
    trusted introducer for one more hop; the root is fully trusted.
    """
    w, wd = wot, wot.wd
    a = certify(wd, w.root, w.alice.cert, uid(w.alice), time=T(2021, 1, 1), depth=1, amount=120)
    b = certify(wd, w.alice, w.bob.cert, uid(w.bob), time=T(2021, 2, 1), amount=60)
    kr = write_keyring(wd / "chain.pgp", w.root.cert, a, b)
    roots = [w.root.fingerprint]
    r = sq_wot_authenticate(kr, roots, w.bob.fingerprint, uid(w.bob), at=T(2022, 1, 1))
    assert (r.amount, r.level, r.authenticated) == (60, "partially", False)
    [path] = r.paths
    assert path.root == w.root.fingerprint
    assert [(e.target, e.amount, e.depth) for e in path.edges] == [
        (w.alice.fingerprint, 120, 1), (w.bob.fingerprint, 60, 0)]
    assert sq_wot_authenticate(kr, roots, w.bob.fingerprint, uid(w.bob), at=T(2022, 1, 1),
                               trust_amount=60).authenticated
    # Before alice's certification of bob existed: no path.
    assert sq_wot_authenticate(kr, roots, w.bob.fingerprint, uid(w.bob), at=T(2021, 1, 15)).amount == 0
    listed = sq_wot_list(kr, [(w.root.fingerprint, 120)], at=T(2022, 1, 1))
    assert listed == {(w.root.fingerprint, uid(w.root)): 120,
                      (w.alice.fingerprint, uid(w.alice)): 120,
                      (w.bob.fingerprint, uid(w.bob)): 60}


def test_sq_wot_two_paths_add_up(wot):
    """Independent paths add up (max-flow): 60 via alice + 50 via carol = 110.

    Also shows the sq-wot quirk the wrapper works around: asked for only
    ``--trust-amount 1`` it stops after the first path and reports 60.
    """
    w, wd = wot, wot.wd
    a = certify(wd, w.root, w.alice.cert, uid(w.alice), time=T(2021, 1, 1), depth=1)
    c = certify(wd, w.root, w.carol.cert, uid(w.carol), time=T(2021, 1, 1), depth=1)
    b = certify(wd, w.alice, w.bob.cert, uid(w.bob), time=T(2021, 2, 1), amount=60)
    b = certify(wd, w.carol, b, uid(w.bob), time=T(2021, 2, 1), amount=50)
    kr = write_keyring(wd / "two.pgp", w.root.cert, a, c, b)
    r = sq_wot_authenticate(kr, [w.root.fingerprint], w.bob.fingerprint, uid(w.bob), at=T(2022, 1, 1))
    assert (r.amount, r.percent) == (110, 91) and sorted(p.amount for p in r.paths) == [50, 60]
    early = sq_wot_authenticate(kr, [w.root.fingerprint], w.bob.fingerprint, uid(w.bob),
                                at=T(2022, 1, 1), trust_amount=1, exhaustive=False)
    assert early.amount in (50, 60) and len(early.paths) == 1


def test_sq_wot_depth_and_partial_introducer(wot):
    """depth 0 on root->alice: alice may not introduce bob (0);
    a partially trusted introducer (depth 1, amount 60) caps the path at 60;
    a regex restricting the introducer to example.org excludes dave@elsewhere."""
    w, wd = wot, wot.wd
    roots = [w.root.fingerprint]
    b = certify(wd, w.alice, w.bob.cert, uid(w.bob), time=T(2021, 2, 1))
    a0 = certify(wd, w.root, w.alice.cert, uid(w.alice), time=T(2021, 1, 1), depth=0)
    kr = write_keyring(wd / "d0.pgp", w.root.cert, a0, b)
    assert sq_wot_authenticate(kr, roots, w.bob.fingerprint, uid(w.bob), at=T(2022, 1, 1)).amount == 0
    assert sq_wot_authenticate(kr, roots, w.alice.fingerprint, uid(w.alice), at=T(2022, 1, 1)).amount == 120

    a60 = certify(wd, w.root, w.alice.cert, uid(w.alice), time=T(2021, 1, 1), depth=1, amount=60)
    kr = write_keyring(wd / "p60.pgp", w.root.cert, a60, b)
    assert sq_wot_authenticate(kr, roots, w.bob.fingerprint, uid(w.bob), at=T(2022, 1, 1)).amount == 60

    ar = certify(wd, w.root, w.alice.cert, uid(w.alice), time=T(2021, 1, 1), depth=1,
                 regex=[r"<[^>]+[@.]example\.org>$"])
    dave = generate_key(wd, ["Dave <dave@elsewhere.net>"], created=CREATED, subkeys=())
    d = certify(wd, w.alice, dave.cert, "Dave <dave@elsewhere.net>", time=T(2021, 2, 1))
    kr = write_keyring(wd / "re.pgp", w.root.cert, ar, b, d)
    assert sq_wot_authenticate(kr, roots, w.bob.fingerprint, uid(w.bob), at=T(2022, 1, 1)).amount == 120
    assert sq_wot_authenticate(kr, roots, dave.fingerprint, "Dave <dave@elsewhere.net>",
                               at=T(2022, 1, 1)).amount == 0


def test_sq_wot_rejects_partial_roots(wot):
    with pytest.raises(ValueError):
        sq_wot_authenticate(wot.wd / "x.pgp", [(wot.root.fingerprint, 60)], "AA", "x")


def test_tool_error_carries_stderr(wd, world):
    with pytest.raises(ToolError) as e:
        certify(wd, world.y, world.bob.cert, "No Such <uid@example.org>", time=T(2021, 1, 1))
    assert e.value.cmd[0] == "sq" and e.value.stderr


def test_set_expiry_never(world, wd):
    k = generate_key(wd, ["Temp <temp@example.org>"], created=CREATED, expires=T(2024, 1, 1), tool="gpg")
    assert sq_inspect(wd, k.cert).count("Expiration time: 2024-01-01") == 3
    c = set_expiry(wd, k, None, time=T(2023, 1, 1))
    res = gpg_check_sigs(wd, c)
    assert all(r.good for r in res)
    assert all(line.split(":")[6] == "" for line in res.stdout.splitlines()
               if line.startswith(("pub:", "sub:")))
    assert "Expiration time" not in sq_inspect(wd, c)
    with pytest.raises(NotImplementedError):
        set_expiry(wd, world.alice, None, time=T(2023, 1, 1))
