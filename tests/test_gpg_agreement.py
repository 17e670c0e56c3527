"""keywatch's verdict on every signature of a keyring agrees with `gpg --check-sigs`.

The fixture keyring is built with real tools: sq and gpg keys of several
algorithms, certifications made by both tools (one with SHA-1), revocations,
an issuer that is absent, and forgeries gpg can judge (moved to another user
ID or key, altered hashed area, issuer rewritten to name a present key).
Back-signature forgeries are left out: gpg --check-sigs does not check
back-signatures (test_verify.py covers them).
"""

from __future__ import annotations

import collections
import datetime as dt
import sqlite3

import certgen
from keywatch.ingest import import_bytes
from keywatch.store import Store
from test_verify import FAR, T0

GPG_TO_STATUS = {"!": "good", "-": "bad", "?": "issuer-unknown"}


def _keyring(work) -> tuple[bytes, dict]:
    day = dt.timedelta(days=1)
    alice = certgen.generate_key(work, ["Alice <alice@example.org>"], created=T0, expires=FAR, tool="sq")
    carol = certgen.generate_key(work, ["Carol <carol@example.org>"], created=T0, expires=FAR,
                                 algorithm="rsa2048", tool="gpg")
    dave = certgen.generate_key(work, ["Dave <dave@example.org>"], created=T0, expires=FAR,
                                algorithm="brainpoolP256r1", tool="gpg")
    absent = certgen.generate_key(work, ["Absent <absent@example.org>"], created=T0, expires=FAR, tool="sq")
    bob = certgen.generate_key(work, ["Bob <bob@example.org>", "Bob <bob@work.example>"], created=T0,
                               expires=FAR, tool="sq")
    uid = "Bob <bob@example.org>"
    cert = certgen.certify(work, alice, bob.cert, uid, time=T0 + day, expires=FAR)
    cert = certgen.certify(work, carol, cert, uid, time=T0 + day, tool="gpg")
    cert = certgen.certify(work, carol, cert, "Bob <bob@work.example>", time=T0 + 2 * day, tool="gpg",
                           hash_algo="SHA1")
    cert = certgen.certify(work, dave, cert, uid, time=T0 + day, tool="gpg")
    cert = certgen.certify(work, absent, cert, uid, time=T0 + day, expires=FAR)
    cert = certgen.revoke_certification(work, carol, cert, uid, time=T0 + 5 * day)
    [by_alice] = certgen.signatures(cert, on=uid, issuer=alice.fingerprint, sig_type=certgen.CERTIFICATION_TYPES)
    [by_absent] = certgen.signatures(cert, on=uid, issuer=absent.fingerprint, sig_type=certgen.CERTIFICATION_TYPES)
    cert = certgen.transplant_to_user_id(cert, by_alice, "Bob <bob@work.example>").cert
    cert = certgen.alter_hashed_area(cert, by_alice, field="creation_time", keep_original=True).cert
    cert = certgen.forge_issuer(cert, by_absent, alice, variant="rewrite_all", keep_original=True).cert
    impostor = certgen.generate_key(work, [uid], created=T0, expires=FAR, tool="sq")
    impostor_cert = certgen.transplant_to_key(cert, by_alice, impostor.cert).cert
    keyring = b"".join([alice.cert, carol.cert, dave.cert, cert, impostor_cert])
    return keyring, {"bob": bob.fingerprint, "impostor": impostor.fingerprint}


def _component_label(component: str) -> str:
    if component.startswith("uid:"):
        return bytes.fromhex(component[4:]).decode("utf-8", "replace")
    if component.startswith("subkey:"):
        return component[7:]
    return "key"


def test_every_verdict_agrees_with_gpg(tmp_path):
    keyring, names = _keyring(tmp_path)
    store = Store(tmp_path / "agreement.db")
    import_bytes(store, keyring, "fixture")
    store.close()
    ours = collections.defaultdict(list)
    with sqlite3.connect(tmp_path / "agreement.db") as conn:
        query = "SELECT cert_fingerprint, component, sig_type, created, issuer_key_ids, issuer, status FROM signatures"
        for cert, component, sig_type, created, key_ids, issuer, status in conn.execute(query):
            key_id = key_ids.split(",")[0] if key_ids else issuer[-16:]
            ours[(cert, _component_label(component), sig_type, created, key_id)].append(status)
    gpg = collections.defaultdict(list)
    for record in certgen.gpg_check_sigs(tmp_path, keyring, faked_time="20250601T000000",
                                         allow_weak_key_signatures=True):
        on = record.on if record.on_kind in ("uid", "subkey") else "key"
        key = (record.cert_fingerprint.upper(), on, record.sig_class, int(record.created.timestamp()),
               record.issuer_key_id.upper())
        gpg[key].append(GPG_TO_STATUS[record.validity])
    assert set(gpg) == set(ours), "both tools must see the same signatures"
    disagreements = {k: (sorted(gpg[k]), sorted(ours[k])) for k in gpg if sorted(gpg[k]) != sorted(ours[k])}
    assert not disagreements
    # The fixture really exercises every verdict, forgeries included.
    statuses = collections.Counter(s for values in ours.values() for s in values)
    assert statuses["bad"] >= 4 and statuses["issuer-unknown"] >= 1 and statuses["good"] >= 10
    assert any(k[0] == names["impostor"] and "bad" in v for k, v in ours.items())
