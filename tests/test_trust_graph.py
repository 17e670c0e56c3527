"""Which certifications count in the trust graph: keywatch's rules, sq-wot 0.2's, and sq-wot itself.

Each case is one small story made with real tools, asked at one reference
time; sq-wot runs on the same keyring under faketime. Where keywatch's rules
and sq-wot 0.2 part ways (`graph.Rules`), the test shows both results: the
`SQ_WOT_0_2` rule set reproduces sq-wot, `KEYWATCH` keeps `key show`'s rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import certgen
import pytest

from keywatch.ingest import import_bytes
from keywatch.store import Store
from keywatch.trust import graph, tables, timeline
from keywatch.trust.wot import Root, TrustNetwork
from keywatch.types import Fingerprint

UTC = dt.UTC


def T(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rules")


@pytest.fixture(scope="module")
def root(work):
    return certgen.generate_key(work, ["Root <root@example.org>"], created=T(2010, 1, 1), subkeys=())


def amounts(work: Path, label: str, root, target, user_id: str, at: dt.datetime, *certs: bytes) -> tuple[int, int, int]:
    """(keywatch rules, sq-wot 0.2 rules, sq-wot) amounts of one binding."""
    keyring = certgen.write_keyring(work / f"{label}.pgp", root.cert, *certs)
    store = Store(work / f"{label}.db")
    try:
        import_bytes(store, keyring.read_bytes(), label)
        tables.refresh(store)
        found = []
        # keywatch's rules are an SQL filter; the same rules through the general selection must agree.
        general = dataclasses.replace(graph.KEYWATCH, name="keywatch, general selection")
        for rules in (graph.KEYWATCH, graph.SQ_WOT_0_2, general):
            built = graph.build(store.conn, int(at.timestamp()), rules)
            network = TrustNetwork(built, [Root(Fingerprint(root.fingerprint))])
            found.append(network.authenticate(Fingerprint(target.fingerprint), user_id.encode()).amount)
        assert found[2] == found[0]
    finally:
        store.close()
    oracle = certgen.sq_wot_authenticate(keyring, [root.fingerprint], target.fingerprint, user_id, at=at).amount
    return found[0], found[1], oracle


# --- where the rule sets differ --------------------------------------------------------------------


def test_issuer_expired_at_the_reference_time(work, root):
    """root -(1/120)-> eve (expires 2018) ---> bob (2016).  At 2019 eve is expired.

    sq-wot 0.2 still counts eve's certification (she was alive when she made it); keywatch does not: an
    expired key is no node of the network (draft: "a node is created for each non-revoked live certificate").
    """
    eve = certgen.generate_key(work, ["Eve <eve@example.org>"], created=T(2015, 1, 1), expires=T(2018, 1, 1),
                               subkeys=())
    bob = certgen.generate_key(work, ["Bob <bob@example.org>"], created=T(2015, 1, 1), subkeys=())
    e = certgen.certify(work, root, eve.cert, eve.user_ids[0], time=T(2016, 1, 1), depth=1)
    b = certgen.certify(work, eve, bob.cert, bob.user_ids[0], time=T(2016, 6, 1))
    assert amounts(work, "d1-2017", root, bob, bob.user_ids[0], T(2017, 1, 1), e, b) == (120, 120, 120)
    assert amounts(work, "d1-2019", root, bob, bob.user_ids[0], T(2019, 1, 1), e, b) == (0, 120, 120)


def test_newer_expired_certification_does_not_revive_an_older_one(work, root):
    """root ---> bob (2016, amount 100), then root ---> bob (2017, amount 50, expires 2018).

    At 2019 the newer certification has expired. keywatch (and GnuPG): the issuer's latest word on the
    binding has expired, nothing counts. sq-wot 0.2 takes the newest *valid* one: the 2016 certification.
    """
    bob = certgen.generate_key(work, ["Bob <bob@example.org>"], created=T(2015, 1, 1), subkeys=())
    b = certgen.certify(work, root, bob.cert, bob.user_ids[0], time=T(2016, 1, 1), amount=100)
    b = certgen.certify(work, root, b, bob.user_ids[0], time=T(2017, 1, 1), amount=50, expires=T(2018, 1, 1))
    assert amounts(work, "d2-2017", root, bob, bob.user_ids[0], T(2017, 6, 1), b) == (50, 50, 50)
    assert amounts(work, "d2-2019", root, bob, bob.user_ids[0], T(2019, 1, 1), b) == (0, 100, 100)


def test_local_certification(work, root):
    """root ---> alice, a local (non-exportable) certification made with gpg --quick-lsign-key.

    sq-wot 0.2 counts it; keywatch does not (a local signature is its maker's private note).
    """
    alice = certgen.generate_key(work, ["Alice <alice@example.org>"], created=T(2015, 1, 1), subkeys=())
    with certgen.gpg_home(work) as g:
        g.run(["--import"], input=root.tsk, secret=True)
        g.run(["--import"], input=alice.cert)
        g.run(["-u", root.fingerprint + "!", "--quick-lsign-key", alice.fingerprint, alice.user_ids[0]],
              time=T(2016, 1, 1), secret=True)
        exported = g.run(["--export", "--export-options", "export-local-sigs", alice.fingerprint]).stdout
    cert, added = certgen.merge_new_signatures(alice.cert, exported)
    assert len(added) == 1
    assert amounts(work, "d3", root, alice, alice.user_ids[0], T(2020, 1, 1), cert) == (0, 120, 120)


# --- where both agree with sq-wot --------------------------------------------------------------------


def test_sha1_certification_is_judged_at_the_reference_time(work, root):
    """root ---> alice with SHA-1 (gpg, 2012): accepted before 2013-02-01, not after (collision resistance)."""
    alice = certgen.generate_key(work, ["Alice <alice@example.org>"], created=T(2011, 1, 1), subkeys=())
    a = certgen.certify(work, root, alice.cert, alice.user_ids[0], time=T(2012, 1, 1), tool="gpg", hash_algo="SHA1")
    assert amounts(work, "a1-2012", root, alice, alice.user_ids[0], T(2012, 6, 1), a) == (120, 120, 120)
    assert amounts(work, "a1-2022", root, alice, alice.user_ids[0], T(2022, 1, 1), a) == (0, 0, 0)


def test_certification_made_while_the_target_was_expired(work, root):
    """root ---> dave in 2012, while dave's key had expired (2011); dave extended it in 2013."""
    dave = certgen.generate_key(work, ["Dave <dave@example.org>"], created=T(2010, 1, 1), expires=T(2011, 1, 1),
                                subkeys=(), tool="gpg")
    d = certgen.certify(work, root, dave.cert, dave.user_ids[0], time=T(2012, 1, 1))
    d = certgen.set_expiry(work, dave, T(2030, 1, 1), time=T(2013, 1, 1), cert=d, subkeys=False)
    assert amounts(work, "a2", root, dave, dave.user_ids[0], T(2022, 1, 1), d) == (0, 0, 0)


def test_certification_made_while_the_issuer_was_expired(work, root):
    """root -(1/120)-> ivan (expired 2011, extended 2013); ivan ---> erin in 2012, while expired."""
    ivan = certgen.generate_key(work, ["Ivan <ivan@example.org>"], created=T(2010, 1, 1), expires=T(2011, 1, 1),
                                subkeys=(), tool="gpg")
    erin = certgen.generate_key(work, ["Erin <erin@example.org>"], created=T(2010, 1, 1), subkeys=())
    i = certgen.certify(work, root, ivan.cert, ivan.user_ids[0], time=T(2010, 6, 1), depth=1)
    i = certgen.set_expiry(work, ivan, T(2030, 1, 1), time=T(2013, 1, 1), cert=i, subkeys=False)
    e = certgen.certify(work, ivan, erin.cert, erin.user_ids[0], time=T(2012, 1, 1))
    assert amounts(work, "a3", root, erin, erin.user_ids[0], T(2022, 1, 1), i, e) == (0, 0, 0)
    assert amounts(work, "a3-ivan", root, ivan, ivan.user_ids[0], T(2022, 1, 1), i, e) == (120, 120, 120)


def test_user_id_without_self_signature(work, root):
    """root ---> bob's user ID, after which bob's own self-signature on it is stripped: not a binding."""
    bob = certgen.generate_key(work, ["Bob <bob@example.org>"], created=T(2010, 1, 1), subkeys=())
    b = certgen.certify(work, root, bob.cert, bob.user_ids[0], time=T(2012, 1, 1))
    parts = certgen.split_cert(b)
    for part in parts:
        if part.kind == "uid":
            part.sigs = [p for p in part.sigs
                         if bob.fingerprint not in certgen.Signature.parse(p).issuer_fingerprints]
    stripped = certgen.join_components(parts)
    assert amounts(work, "a4", root, bob, bob.user_ids[0], T(2022, 1, 1), stripped) == (0, 0, 0)


@pytest.mark.parametrize("reason,counts", [("compromised", False), ("retired", True)])
def test_issuer_revoked_after_certifying(work, root, reason, counts):
    """root -(1/120)-> carol ---> frank (2012); carol's key is revoked in 2015.

    Compromised (hard): nothing carol ever signed counts. Retired (soft): what she certified before stands.
    """
    carol = certgen.generate_key(work, ["Carol <carol@example.org>"], created=T(2010, 1, 1), subkeys=())
    frank = certgen.generate_key(work, ["Frank <frank@example.org>"], created=T(2010, 1, 1), subkeys=())
    c = certgen.certify(work, root, carol.cert, carol.user_ids[0], time=T(2011, 1, 1), depth=1)
    c = certgen.revoke_key(work, carol, time=T(2015, 1, 1), cert=c, reason=reason)
    f = certgen.certify(work, carol, frank.cert, frank.user_ids[0], time=T(2012, 1, 1))
    expected = 120 if counts else 0
    label = f"a5-{reason}"
    assert amounts(work, label, root, frank, frank.user_ids[0], T(2022, 1, 1), c, f) == (expected,) * 3


def test_target_expired_at_the_reference_time(work, root):
    """root ---> gina (key expires 2020): authenticated in 2019, not in 2021."""
    gina = certgen.generate_key(work, ["Gina <gina@example.org>"], created=T(2015, 1, 1), expires=T(2020, 1, 1),
                                subkeys=())
    g = certgen.certify(work, root, gina.cert, gina.user_ids[0], time=T(2016, 1, 1))
    assert amounts(work, "a6-2019", root, gina, gina.user_ids[0], T(2019, 1, 1), g) == (120, 120, 120)
    assert amounts(work, "a6-2021", root, gina, gina.user_ids[0], T(2021, 1, 1), g) == (0, 0, 0)


# --- the graph's own promises --------------------------------------------------------------------------


def test_timelines_follow_new_versions(work, root):
    """A new version of a certificate makes its validity phases stale; refresh recomputes only those."""
    hal = certgen.generate_key(work, ["Hal <hal@example.org>"], created=T(2015, 1, 1), subkeys=())
    store = Store(work / "phases.db")
    try:
        import_bytes(store, root.cert + hal.cert, "first")
        assert timeline.refresh(store) == 2 and timeline.refresh(store) == 0
        revoked = certgen.revoke_key(work, hal, time=T(2016, 1, 1), reason="retired")
        import_bytes(store, revoked, "second")
        assert timeline.stale(store.conn) == [hal.fingerprint]
        assert timeline.refresh(store) == 1
        line = timeline.load(store.conn)[Fingerprint(hal.fingerprint)]
        assert line.usable_at(int(T(2015, 6, 1).timestamp()))
        assert not line.usable_at(int(T(2016, 6, 1).timestamp()))
    finally:
        store.close()


def test_graph_is_built_from_rows_without_parsing(work, root, monkeypatch):
    """Once the phases are current, building the graph reads rows only: no certificate is parsed."""
    store = Store(work / "rows.db")
    try:
        import_bytes(store, root.cert, "root")
        tables.refresh(store)
        import keywatch.openpgp.cert as cert_module

        def refuse(*args, **kwargs):
            raise AssertionError("a certificate was parsed")

        monkeypatch.setattr(cert_module, "certificates_from_bytes", refuse)
        built = graph.build(store.conn, int(T(2022, 1, 1).timestamp()))
        assert Fingerprint(root.fingerprint) in built.nodes
    finally:
        store.close()


def test_trust_tables_are_rebuilt_only_when_the_store_changes(work, root):
    store = Store(work / "rebuild.db")
    try:
        import_bytes(store, root.cert, "root")
        assert tables.refresh(store) is True
        assert tables.refresh(store) is False
        other = certgen.generate_key(work, ["Ira <ira@example.org>"], created=T(2015, 1, 1), subkeys=())
        import_bytes(store, other.cert, "other")
        assert tables.refresh(store) is True
        keys = {f for f, in store.conn.execute("SELECT fingerprint FROM trust_keys")}
        assert keys == {root.fingerprint, other.fingerprint}
    finally:
        store.close()


def test_a_policy_change_recomputes_the_phases(work, root, monkeypatch):
    """The phases depend on the hash policy's cut-offs: changing them rebuilds everything."""
    from keywatch import policy

    store = Store(work / "policy.db")
    try:
        import_bytes(store, root.cert, "root")
        tables.refresh(store)
        assert tables.refresh(store) is False
        monkeypatch.setitem(policy.HASH_CUTOFFS, policy.RIPEMD160, (0, 0))
        assert tables.refresh(store) is True
    finally:
        store.close()
