"""Validity as of a time: expiry and revocation are right before and after the event.

Each event is made by a real tool at a chosen time (certgen: sq, gpg under a
faked clock); the test asks keywatch about a moment just before and just
after it.
"""

from __future__ import annotations

import datetime as dt

import pytest

import certgen
from test_verify import FAR, T0, certifications_by, show

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("validity")


@pytest.fixture(scope="module")
def alice(work):
    return certgen.generate_key(work, ["Alice <alice@example.org>"], created=T0, expires=FAR, tool="sq")


def test_certification_expiry_and_revocation_by_its_issuer(work, alice, tmp_path):
    """alice certifies bob on day 10 (expires day 100), revokes it on day 50.

        day 10 ──certifies──▶ day 50 revoked ──▶ day 100 would have expired
    """
    bob = certgen.generate_key(work, ["Bob <bob@example.org>"], created=T0, expires=FAR, tool="sq")
    uid = "Bob <bob@example.org>"
    cert = certgen.certify(work, alice, bob.cert, uid, time=T0 + 10 * DAY, expires=T0 + 100 * DAY)
    revoked = certgen.revoke_certification(work, alice, cert, uid, time=T0 + 50 * DAY)

    def verdict(at, material):
        doc = show(tmp_path, bob.fingerprint, at, material, alice.cert)
        entries = [c for c in certifications_by(doc, uid, alice.fingerprint)]
        assert [c["status"] for c in entries] == ["good"]
        return entries[0]

    assert verdict(T0 + 5 * DAY, cert)["why_not"] == "made after the reference time"
    assert verdict(T0 + 20 * DAY, cert)["counts"]
    assert verdict(T0 + 101 * DAY, cert)["why_not"] == "certification expired"
    assert verdict(T0 + 49 * DAY, revoked)["counts"]
    assert verdict(T0 + 51 * DAY, revoked)["why_not"] == "revoked by its issuer"


def test_newest_certification_from_an_issuer_supersedes_older_ones(work, alice, tmp_path):
    bob = certgen.generate_key(work, ["Bob <bob@example.org>"], created=T0, expires=FAR, tool="sq")
    uid = "Bob <bob@example.org>"
    cert = certgen.certify(work, alice, bob.cert, uid, time=T0 + 10 * DAY, expires=FAR)
    cert = certgen.certify(work, alice, cert, uid, time=T0 + 30 * DAY, depth=1, amount=60, expires=FAR)
    doc = show(tmp_path, bob.fingerprint, T0 + 40 * DAY, cert, alice.cert)
    entries = certifications_by(doc, uid, alice.fingerprint)
    by_time = {c["created"][:10]: c for c in entries}
    assert by_time["2024-01-31"]["counts"] and by_time["2024-01-31"]["trust_amount"] == 60
    assert by_time["2024-01-11"]["why_not"] == "superseded by a newer certification from the same issuer"
    # Before the newer one existed, the older one counts.
    doc = show(tmp_path, bob.fingerprint, T0 + 20 * DAY, cert, alice.cert)
    [older] = [c for c in certifications_by(doc, uid, alice.fingerprint) if c["created"].startswith("2024-01-11")]
    assert older["counts"]


@pytest.mark.parametrize("reason,hard", [("compromised", True), ("retired", False)])
def test_key_revocation_before_and_after(work, reason, hard, tmp_path):
    """A hard revocation (compromised) holds for all time; a soft one (retired) from its date on."""
    key = certgen.generate_key(work, ["Rita <rita@example.org>"], created=T0, expires=FAR, tool="sq")
    revoked = certgen.revoke_key(work, key, time=T0 + 60 * DAY, reason=reason)
    before = show(tmp_path, key.fingerprint, T0 + 30 * DAY, revoked)
    after = show(tmp_path, key.fingerprint, T0 + 90 * DAY, revoked)
    assert after["revoked"] and not after["valid"] and after["revocation"]["hard"] is hard
    assert before["revoked"] is hard
    assert before["valid"] is (not hard)
    assert any(f["code"] == "revoked" for f in after["findings"])


def test_certifications_by_a_compromised_issuer_stop_counting(work, alice, tmp_path):
    issuer = certgen.generate_key(work, ["Ivan <ivan@example.org>"], created=T0, expires=FAR, tool="sq")
    bob = certgen.generate_key(work, ["Bob <bob@example.org>"], created=T0, expires=FAR, tool="sq")
    uid = "Bob <bob@example.org>"
    cert = certgen.certify(work, issuer, bob.cert, uid, time=T0 + 10 * DAY, expires=FAR)
    revoked_issuer = certgen.revoke_key(work, issuer, time=T0 + 60 * DAY, reason="compromised")
    doc = show(tmp_path, bob.fingerprint, T0 + 20 * DAY, cert, revoked_issuer)
    [entry] = certifications_by(doc, uid, issuer.fingerprint)
    assert entry["status"] == "good" and entry["why_not"] == "issuer revoked at that time"


def test_key_expiry_set_later_applies_from_its_binding(work, tmp_path):
    """Key made with no expiry; on day 30 its owner sets it to expire on day 90."""
    key = certgen.generate_key(work, ["Erin <erin@example.org>"], created=T0, expires=None, tool="sq")
    updated = certgen.set_expiry(work, key, T0 + 90 * DAY, time=T0 + 30 * DAY)
    early = show(tmp_path, key.fingerprint, T0 + 10 * DAY, updated)
    middle = show(tmp_path, key.fingerprint, T0 + 60 * DAY, updated)
    late = show(tmp_path, key.fingerprint, T0 + 91 * DAY, updated)
    assert early["expires"] is None and early["valid"]
    assert middle["expires"].startswith("2024-03-31") and middle["valid"]
    assert not late["valid"] and any(f["code"] == "expired" for f in late["findings"])


def test_user_id_revocation_before_and_after(work, tmp_path):
    key = certgen.generate_key(work, ["Uma <uma@example.org>", "Uma <uma@old.example>"], created=T0,
                               expires=FAR, tool="sq")
    revoked = certgen.revoke_user_id(work, key, "Uma <uma@old.example>", time=T0 + 40 * DAY)
    before = show(tmp_path, key.fingerprint, T0 + 20 * DAY, revoked)
    after = show(tmp_path, key.fingerprint, T0 + 60 * DAY, revoked)

    def state(doc):
        return next(u for u in doc["user_ids"] if u["value"] == "Uma <uma@old.example>")

    assert state(before)["valid"] and not state(before)["revoked"]
    assert state(after)["revoked"] and not state(after)["valid"]
    assert after["primary_user_id"] == "Uma <uma@example.org>"


def test_sha1_only_certificate_is_parsed_and_flagged(work, tmp_path):
    """All self-signatures SHA-1 (made by gpg): valid until the 2023-02-01 cut-off, flagged throughout."""
    key = certgen.sha1_only_cert(work, "Old <old@example.org>", created=dt.datetime(2015, 3, 1, tzinfo=dt.timezone.utc))
    before = show(tmp_path, key.fingerprint, dt.datetime(2022, 6, 1, tzinfo=dt.timezone.utc), key.cert)
    after = show(tmp_path, key.fingerprint, dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc), key.cert)
    assert before["valid"]
    assert before["user_ids"][0]["self_signature"]["hash_algorithm"] == "SHA1"
    assert {f["code"]: f["severity"] for f in before["findings"]}["weak-self-signature"] == "warning"
    assert not after["valid"]
    codes = {f["code"] for f in after["findings"]}
    assert "no-valid-binding" in codes
    assert "no-expiry" not in codes  # with no valid binding the expiry is unknown, not "never"
