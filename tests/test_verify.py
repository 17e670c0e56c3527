"""Every signature on a certificate is verified; forgeries of each kind are `bad`, never counted.

Certificates and certifications are made by sq and gpg (tests/certgen.py);
forgeries are made on raw packets by certgen's own parser; gpg --check-sigs
is the independent oracle for the verdicts it can judge.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import certgen
from keywatch.ingest import import_bytes
from keywatch.keyview import CertificateReader, describe
from keywatch.store import Store
from keywatch.types import Fingerprint

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
NOW = dt.datetime(2025, 6, 1, tzinfo=UTC)
FAR = dt.datetime(2035, 1, 1, tzinfo=UTC)


def ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def show(tmp: Path, fingerprint: str, at: dt.datetime, *certs: bytes) -> dict:
    """Import `certs` into a fresh store and return `key show --json` for `fingerprint` at `at`."""
    store = Store(tmp / f"store-{len(list(tmp.glob('store-*')))}.db")
    try:
        for number, cert in enumerate(certs):
            import_bytes(store, cert, f"cert-{number}")
        return describe(CertificateReader(store), Fingerprint(fingerprint), ts(at))
    finally:
        store.close()


def certifications_by(doc: dict, user_id: str, issuer: str) -> list[dict]:
    uid = next(u for u in doc["user_ids"] if u["value"] == user_id)
    return [c for c in uid["certifications"] if c["issuer"] == issuer]


def all_certifications(doc: dict, user_id: str) -> list[dict]:
    return next(u for u in doc["user_ids"] if u["value"] == user_id)["certifications"]


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """alice (sq, ed25519), carol (gpg, rsa2048), dave (gpg, nistp256), mallory (sq); bob certified by the first three.

        alice ─┐
        carol ─┼─→ bob <bob@example.org>, Bob <bob@work.example>
        dave  ─┘
        mallory ─→ bob (made by mallory, later forged to claim alice)
    """
    work = tmp_path_factory.mktemp("people")
    alice = certgen.generate_key(work, ["Alice <alice@example.org>"], created=T0, expires=FAR, tool="sq")
    carol = certgen.generate_key(work, ["Carol <carol@example.org>"], created=T0, expires=FAR,
                                 algorithm="rsa2048", tool="gpg")
    dave = certgen.generate_key(work, ["Dave <dave@example.org>"], created=T0, expires=FAR,
                                algorithm="nistp256", tool="gpg")
    mallory = certgen.generate_key(work, ["Mallory <mallory@example.org>"], created=T0, expires=FAR, tool="sq")
    bob = certgen.generate_key(work, ["Bob <bob@example.org>", "Bob <bob@work.example>"], created=T0,
                               expires=FAR, tool="sq")
    when = T0 + dt.timedelta(days=10)
    cert = certgen.certify(work, alice, bob.cert, "Bob <bob@example.org>", time=when, expires=FAR)
    cert = certgen.certify(work, carol, cert, "Bob <bob@example.org>", time=when, tool="gpg")
    cert = certgen.certify(work, dave, cert, "Bob <bob@example.org>", time=when, tool="gpg")
    cert = certgen.certify(work, mallory, cert, "Bob <bob@example.org>", time=when, expires=FAR)
    return {"work": work, "alice": alice, "carol": carol, "dave": dave, "mallory": mallory,
            "bob": bob.with_cert(cert)}


def test_genuine_certifications_are_good_and_count(people, tmp_path):
    p = people
    doc = show(tmp_path, p["bob"].fingerprint, NOW, p["bob"].cert, p["alice"].cert, p["carol"].cert,
               p["dave"].cert, p["mallory"].cert)
    for who in ("alice", "carol", "dave", "mallory"):
        [cert] = certifications_by(doc, "Bob <bob@example.org>", p[who].fingerprint)
        assert cert["status"] == "good", who
        assert cert["counts"] and cert["why_not"] is None, who
    assert doc["valid"] and not doc["revoked"]


def test_issuer_not_in_store_is_issuer_unknown_never_good(people, tmp_path):
    p = people
    doc = show(tmp_path, p["bob"].fingerprint, NOW, p["bob"].cert)
    statuses = {c["status"] for c in all_certifications(doc, "Bob <bob@example.org>")}
    assert statuses == {"issuer-unknown"}
    assert not any(c["counts"] for c in all_certifications(doc, "Bob <bob@example.org>"))


def test_issuer_arriving_later_verifies_earlier_certifications(people, tmp_path):
    p = people
    store = Store(tmp_path / "later.db")
    import_bytes(store, p["bob"].cert, "bob")
    import_bytes(store, p["alice"].cert, "alice")
    doc = describe(CertificateReader(store), Fingerprint(p["bob"].fingerprint), ts(NOW))
    status_in_rows = store.conn.execute(
        "SELECT status FROM signatures WHERE cert_fingerprint = ? AND issuer = ?",
        (p["bob"].fingerprint, p["alice"].fingerprint)).fetchall()
    store.close()
    [cert] = certifications_by(doc, "Bob <bob@example.org>", p["alice"].fingerprint)
    assert cert["status"] == "good"
    assert status_in_rows == [("good",)]


def _one(cert: bytes, on: str, issuer: str) -> bytes:
    [sig] = certgen.signatures(cert, on=on, issuer=issuer, sig_type=certgen.CERTIFICATION_TYPES)
    return sig


def test_forged_issuer_claiming_a_trusted_key_is_bad(people, tmp_path):
    """Mallory's certification rewritten to name alice (hashed and unhashed issuer)."""
    p = people
    sig = _one(p["bob"].cert, "Bob <bob@example.org>", p["mallory"].fingerprint)
    forged = certgen.forge_issuer(p["bob"].cert, sig, p["alice"], variant="rewrite_all")
    doc = show(tmp_path, p["bob"].fingerprint, NOW, forged.cert, p["alice"].cert, p["mallory"].cert)
    claims_alice = certifications_by(doc, "Bob <bob@example.org>", p["alice"].fingerprint)
    forged_entries = [c for c in claims_alice if c["status"] != "good"]
    assert len(forged_entries) == 1 and forged_entries[0]["status"] == "bad"
    assert not forged_entries[0]["counts"]
    # The genuine certification by alice is still there and still good.
    assert [c["status"] for c in claims_alice if c["status"] == "good"] == ["good"]


def test_unhashed_issuer_rewrite_is_credited_to_the_real_issuer(people, tmp_path):
    """Carol's gpg certification hashes her fingerprint; an unhashed key ID naming alice must not move it."""
    p = people
    sig = _one(p["bob"].cert, "Bob <bob@example.org>", p["carol"].fingerprint)
    forged = certgen.forge_issuer(p["bob"].cert, sig, p["alice"], variant="unhashed_only")
    doc = show(tmp_path, p["bob"].fingerprint, NOW, forged.cert, p["alice"].cert, p["carol"].cert)
    by_carol = certifications_by(doc, "Bob <bob@example.org>", p["carol"].fingerprint)
    assert [c["status"] for c in by_carol] == ["good"]
    claims_alice = certifications_by(doc, "Bob <bob@example.org>", p["alice"].fingerprint)
    assert [c["status"] for c in claims_alice] == ["good"]  # only alice's own certification


def test_unhashed_issuer_with_hashed_fingerprint_dropped_is_bad(people, tmp_path):
    p = people
    sig = _one(p["bob"].cert, "Bob <bob@example.org>", p["carol"].fingerprint)
    forged = certgen.forge_issuer(p["bob"].cert, sig, p["alice"], variant="unhashed_only_drop_hashed")
    doc = show(tmp_path, p["bob"].fingerprint, NOW, forged.cert, p["alice"].cert, p["carol"].cert)
    statuses = sorted(c["status"] for c in all_certifications(doc, "Bob <bob@example.org>")
                      if c["issuer"] in (p["alice"].fingerprint, p["alice"].key_id))
    assert statuses == ["bad", "good"]


def test_certification_moved_to_another_user_id_is_bad(people, tmp_path):
    p = people
    sig = _one(p["bob"].cert, "Bob <bob@example.org>", p["alice"].fingerprint)
    forged = certgen.transplant_to_user_id(p["bob"].cert, sig, "Bob <bob@work.example>")
    doc = show(tmp_path, p["bob"].fingerprint, NOW, forged.cert, p["alice"].cert)
    [moved] = certifications_by(doc, "Bob <bob@work.example>", p["alice"].fingerprint)
    assert moved["status"] == "bad" and not moved["counts"]
    [original] = certifications_by(doc, "Bob <bob@example.org>", p["alice"].fingerprint)
    assert original["status"] == "good"


def test_checks_are_kept_across_imports_and_never_vouch_for_a_moved_certification(people, tmp_path):
    """A later import re-checks only what is new; the same certification moved to another user ID is new."""
    p = people
    store = Store(tmp_path / "cache.db")
    try:
        import_bytes(store, p["alice"].cert, "alice")
        import_bytes(store, p["bob"].cert, "bob")
        before = store.verification_cache()
        sig = _one(p["bob"].cert, "Bob <bob@example.org>", p["alice"].fingerprint)
        forged = certgen.transplant_to_user_id(p["bob"].cert, sig, "Bob <bob@work.example>")
        assert import_bytes(store, forged.cert, "forged").changed == 1
        after = store.verification_cache()
        statuses = store.conn.execute(
            "SELECT status FROM signatures WHERE cert_fingerprint = ? AND issuer = ? ORDER BY status",
            (p["bob"].fingerprint, p["alice"].fingerprint)).fetchall()
    finally:
        store.close()
    assert before and set(before) <= set(after)
    # One new check only — the moved certification against alice's key — and it failed.
    assert [after[key] for key in set(after) - set(before)] == [False]
    assert statuses == [("bad",), ("good",)]


def test_certification_moved_to_another_key_is_bad(people, tmp_path):
    p = people
    impostor = certgen.generate_key(p["work"], ["Bob <bob@example.org>"], created=T0, expires=FAR, tool="sq")
    sig = _one(p["bob"].cert, "Bob <bob@example.org>", p["alice"].fingerprint)
    forged = certgen.transplant_to_key(p["bob"].cert, sig, impostor.cert)
    doc = show(tmp_path, impostor.fingerprint, NOW, forged.cert, p["alice"].cert)
    [moved] = certifications_by(doc, "Bob <bob@example.org>", p["alice"].fingerprint)
    assert moved["status"] == "bad" and not moved["counts"]


@pytest.mark.parametrize("field", ["creation_time", "trust_amount"])
def test_altered_hashed_area_is_bad(people, tmp_path, field):
    p = people
    work = p["work"]
    cert = certgen.certify(work, p["alice"], p["bob"].cert, "Bob <bob@work.example>",
                           time=T0 + dt.timedelta(days=20), depth=1, amount=60, expires=FAR)
    sig = _one(cert, "Bob <bob@work.example>", p["alice"].fingerprint)
    forged = certgen.alter_hashed_area(cert, sig, field=field)
    doc = show(tmp_path, p["bob"].fingerprint, NOW, forged.cert, p["alice"].cert)
    [altered] = certifications_by(doc, "Bob <bob@work.example>", p["alice"].fingerprint)
    assert altered["status"] == "bad" and not altered["counts"]


def _signing_subkey(doc: dict) -> dict:
    return next(s for s in doc["subkeys"] if "sign" in s["flags"] or not s["valid"])


def test_signing_subkey_without_back_signature_is_not_bound(people, tmp_path):
    p = people
    bob = p["bob"]
    genuine = show(tmp_path, bob.fingerprint, NOW, bob.cert)
    signing = [s for s in genuine["subkeys"] if "sign" in s["flags"]]
    assert len(signing) == 1 and signing[0]["valid"]
    stripped = certgen.strip_backsig(bob.cert, signing[0]["fingerprint"])
    doc = show(tmp_path, bob.fingerprint, NOW, stripped.cert)
    sub = next(s for s in doc["subkeys"] if s["fingerprint"] == signing[0]["fingerprint"])
    assert not sub["valid"]


def test_back_signature_from_another_subkey_is_not_accepted(people, tmp_path):
    p = people
    bob, donor = p["bob"], p["mallory"]
    genuine = show(tmp_path, bob.fingerprint, NOW, bob.cert)
    signing = next(s for s in genuine["subkeys"] if "sign" in s["flags"])
    swapped = certgen.swap_backsig(bob.cert, signing["fingerprint"], donor.cert)
    doc = show(tmp_path, bob.fingerprint, NOW, swapped.cert)
    sub = next(s for s in doc["subkeys"] if s["fingerprint"] == signing["fingerprint"])
    assert not sub["valid"]


def test_subkey_binding_copied_from_another_certificate_binds_nothing(people, tmp_path):
    p = people
    bob, donor = p["bob"], p["mallory"]
    forged = certgen.transplant_subkey(bob.cert, donor.cert, donor.subkeys[0])
    doc = show(tmp_path, bob.fingerprint, NOW, forged.cert)
    stolen = next(s for s in doc["subkeys"] if s["fingerprint"] == donor.subkeys[0])
    assert not stolen["valid"]
