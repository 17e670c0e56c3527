"""Web-of-trust authentication against sq-wot, on named graphs made with `sq certify`.

Every graph has a name and a picture: `a -(d/a)-> b` is a certification of
b's user ID by a with trust depth d and trust amount a (no label: a plain
certification, depth 0, amount 120); `*` marks a root. Each test builds the
keyring with real tools (certgen), imports it into a keywatch store, and
compares the amount of every binding with `sq-wot list` on the same keyring
at the same reference time (sq-wot under faketime), for both rule sets
(they only differ where `test_trust_graph.py` shows it), and with the amounts
the picture implies.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import certgen
import pytest

from keywatch.ingest import import_bytes
from keywatch.store import Store
from keywatch.trust import graph, tables
from keywatch.trust.wot import Root, TrustNetwork
from keywatch.types import Fingerprint

UTC = dt.UTC


def T(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


CREATED = T(2020, 1, 1)
CERTIFIED = T(2021, 1, 1)
AT = T(2022, 6, 1)


def ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def uid(name: str, domain: str = "example.org") -> str:
    return f"{name.capitalize()} <{name}@{domain}>"


class Web:
    """Keys by name, certifications by picture, and the comparison with sq-wot."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.keys: dict[str, certgen.Key] = {}
        self.certs: dict[str, bytes] = {}

    def key(self, name: str, *user_ids: str, expires: dt.datetime | None = None, tool: str = "sq") -> certgen.Key:
        if name not in self.keys:
            self.keys[name] = certgen.generate_key(self.work, list(user_ids) or [uid(name)], created=CREATED,
                                                   expires=expires, subkeys=(), tool=tool)
        return self.keys[name]

    def fresh(self) -> Graph:
        return Graph(self)


class Graph:
    """One named graph: certifications accumulate on copies of the web's keys."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.certs: dict[str, bytes] = {}

    def cert(self, name: str) -> bytes:
        return self.certs.get(name, self.web.keys[name].cert)

    def certify(self, issuer: str, target: str, *, user_id: str | None = None, depth: int | None = None,
                amount: int | None = None, regex: list[str] | None = None, time: dt.datetime = CERTIFIED,
                expires: dt.datetime | None = None) -> Graph:
        key = self.web.keys[target]
        self.certs[target] = certgen.certify(self.web.work, self.web.keys[issuer], self.cert(target),
                                             user_id or key.user_ids[0], time=time, depth=depth, amount=amount,
                                             regex=regex, expires=expires)
        return self

    def revoke(self, issuer: str, target: str, *, time: dt.datetime, user_id: str | None = None) -> Graph:
        key = self.web.keys[target]
        self.certs[target] = certgen.revoke_certification(self.web.work, self.web.keys[issuer], self.cert(target),
                                                          user_id or key.user_ids[0], time=time)
        return self

    def replace(self, name: str, cert: bytes) -> Graph:
        self.certs[name] = cert
        return self

    def keyring(self, label: str, names: list[str]) -> Path:
        return certgen.write_keyring(self.web.work / f"{label}.pgp", *(self.cert(n) for n in names))

    def store(self, label: str, names: list[str]) -> Store:
        path = self.web.work / f"{label}.db"
        if path.exists():
            path.unlink()
        store = Store(path)
        import_bytes(store, self.keyring(label, names).read_bytes(), label)
        tables.refresh(store)
        return store


def keywatch_amounts(store: Store, roots: list[str], at: dt.datetime, rules=graph.KEYWATCH) -> dict:
    built = graph.build(store.conn, ts(at), rules)
    network = TrustNetwork(built, [Root(Fingerprint(r)) for r in roots])
    return {(a.fingerprint, a.user_id.decode()): a.amount for a in network.authenticate_all()}


def compare(g: Graph, label: str, names: list[str], roots: list[str], expected: dict[tuple[str, str], int],
            at: dt.datetime = AT) -> dict:
    """Amounts by keywatch (both rule sets) == sq-wot == `expected` (by key name; roots' own user IDs implied)."""
    web = g.web
    root_fprs = [web.keys[r].fingerprint for r in roots]
    store = g.store(label, names)
    try:
        mine = keywatch_amounts(store, root_fprs, at)
        compatible = keywatch_amounts(store, root_fprs, at, graph.SQ_WOT_0_2)
    finally:
        store.close()
    oracle = certgen.sq_wot_list(g.keyring(label, names), root_fprs, at=at)
    want = {(web.keys[name].fingerprint, user_id): amount for (name, user_id), amount in expected.items() if amount}
    for root in roots:
        for user_id in web.keys[root].user_ids:
            want.setdefault((web.keys[root].fingerprint, user_id), 120)
    assert oracle == want, f"sq-wot disagrees with the picture: {oracle}"
    assert mine == oracle
    assert compatible == oracle
    return mine


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Web:
    web = Web(tmp_path_factory.mktemp("wot"))
    for name in ("root", "alice", "bob", "carol", "dave", "ed", "frank", "grace"):
        web.key(name)
    web.key("ca", "CA <ca@example.org>")
    web.key("paul", "Paul <paul@example.org>")
    web.key("eve", "Eve <eve@elsewhere.net>")
    web.key("multi", uid("multi"), "Multi <multi@other.net>")
    return web


def test_chain_partial_introducer(web):
    """chain: the path amount is the smallest on it.

        root* -(1/60)-> alice ---> bob          bob: 60
    """
    g = web.fresh().certify("root", "alice", depth=1, amount=60).certify("alice", "bob")
    compare(g, "chain", ["root", "alice", "bob"], ["root"],
            {("alice", uid("alice")): 60, ("bob", uid("bob")): 60})


def test_depth_limits(web):
    """depth-limit (the draft's example): a trust depth is capped by the depths before it.

        root* -(2/120)-> alice -(2/120)-> bob -(2/120)-> carol -(2/120)-> dave

    root→alice→bob: alice may name one more level, so bob is an introducer
    for one hop: carol is authenticated, dave (three hops after alice) is not.
    """
    g = (web.fresh().certify("root", "alice", depth=2).certify("alice", "bob", depth=2)
         .certify("bob", "carol", depth=2).certify("carol", "dave", depth=2))
    compare(g, "depth", ["root", "alice", "bob", "carol", "dave"], ["root"],
            {("alice", uid("alice")): 120, ("bob", uid("bob")): 120, ("carol", uid("carol")): 120})


def test_depth_zero_is_not_an_introducer(web):
    """depth-zero: a plain certification makes no introducer.

        root* ---> alice ---> bob               bob: 0
    """
    g = web.fresh().certify("root", "alice").certify("alice", "bob")
    compare(g, "depth0", ["root", "alice", "bob"], ["root"], {("alice", uid("alice")): 120})


def test_regex_scopes_the_target(web):
    """regex (the draft's nsa.gov example): a scope applies to the target's user ID, not to the introducers.

        root* -(255/120, example.org)-> ca -(1/120)-> alice(example.org) ---> paul@example.org
                                                            `---> eve@elsewhere.net

    paul is authenticated; eve is not; alice herself is in scope.
    """
    scope = [r"<[^>]+[@.]example\.org>$"]
    g = (web.fresh().certify("root", "ca", depth=255, regex=scope).certify("ca", "alice", depth=1)
         .certify("alice", "paul").certify("alice", "eve"))
    compare(g, "regex", ["root", "ca", "alice", "paul", "eve"], ["root"],
            {("ca", "CA <ca@example.org>"): 120, ("alice", uid("alice")): 120,
             ("paul", "Paul <paul@example.org>"): 120})


def test_cycle(web):
    """cycle: introducers that certify each other; the search must not loop.

        root* -(255/120)-> alice -(255/90)-> bob -(255/80)-> alice
                           alice -(50)-> carol <--- bob

    carol: the shortest paths first: root-alice-carol (50), which leaves 70 on root→alice;
    then root-alice-bob-carol, min(70, 90, 120) = 70: 120 in all. bob: 90.
    """
    g = (web.fresh().certify("root", "alice", depth=255).certify("alice", "bob", depth=255, amount=90)
         .certify("bob", "alice", depth=255, amount=80).certify("bob", "carol").certify("alice", "carol", amount=50))
    compare(g, "cycle", ["root", "alice", "bob", "carol"], ["root"],
            {("alice", uid("alice")): 120, ("bob", uid("bob")): 90, ("carol", uid("carol")): 120})


def test_diamond_paths_combine(web):
    """diamond: two introducers; their paths add up until the shared edge is used up.

                 -(1/60)-> alice -
        root*                     \\-> carol -(?)     carol: 60 + 50 = 110
                 -(1/50)-> bob   -/
    """
    g = (web.fresh().certify("root", "alice", depth=1, amount=60).certify("root", "bob", depth=1, amount=50)
         .certify("alice", "carol").certify("bob", "carol"))
    compare(g, "diamond", ["root", "alice", "bob", "carol"], ["root"],
            {("alice", uid("alice")): 60, ("bob", uid("bob")): 50, ("carol", uid("carol")): 110})


def test_diamond_shared_edge_limits_the_sum(web):
    """diamond-shared: both paths go through root→alice, which carries 120 in all.

        root* -(2/120)-> alice -(1/100)-> bob   ---> dave
                               -(1/100)-> carol ---> dave

    First path root-alice-bob-dave: 100; it leaves 20 on root→alice; second path via carol: 20.
    """
    g = (web.fresh().certify("root", "alice", depth=2).certify("alice", "bob", depth=1, amount=100)
         .certify("alice", "carol", depth=1, amount=100).certify("bob", "dave").certify("carol", "dave"))
    compare(g, "shared", ["root", "alice", "bob", "carol", "dave"], ["root"],
            {("alice", uid("alice")): 120, ("bob", uid("bob")): 100, ("carol", uid("carol")): 100,
             ("dave", uid("dave")): 120})


def test_backward_propagation_prefers_the_shorter_suffix(web):
    """best-suffix (the draft's example): backward propagation finds the 120 path, not the amount-1 one.

        root* -(255/120)-> alice -(255/1)-> bob -(255/120)-> dave ---> ed
                           alice -(2/120)-> carol -(1/120)-> dave
    """
    g = (web.fresh().certify("root", "alice", depth=255).certify("alice", "bob", depth=255, amount=1)
         .certify("alice", "carol", depth=2).certify("bob", "dave", depth=255).certify("carol", "dave", depth=1)
         .certify("dave", "ed"))
    compare(g, "suffix", ["root", "alice", "bob", "carol", "dave", "ed"], ["root"],
            {("alice", uid("alice")): 120, ("bob", uid("bob")): 1, ("carol", uid("carol")): 120,
             ("dave", uid("dave")): 120, ("ed", uid("ed")): 120})


def test_two_roots_add_up(web):
    """two-roots: independent roots each give a full path: doubly authenticated.

        root* ---> carol <--- frank*            carol: 240
    """
    g = web.fresh().certify("root", "carol").certify("frank", "carol")
    compare(g, "roots2", ["root", "frank", "carol"], ["root", "frank"], {("carol", uid("carol")): 240})


def test_self_signed_user_ids_of_an_introducer(web):
    """self-signed: a trusted introducer vouches for its own other user IDs.

        root* -(1/120)-> multi <multi@example.org>     multi's second user ID: 120 (its self-signature)
    """
    g = web.fresh().certify("root", "multi", depth=1)
    compare(g, "selfsigned", ["root", "multi"], ["root"],
            {("multi", uid("multi")): 120, ("multi", "Multi <multi@other.net>"): 120})


def test_plain_certification_covers_only_its_user_id(web):
    """one-user-id: without depth, the other user ID is not authenticated.

        root* ---> multi <multi@example.org>
    """
    g = web.fresh().certify("root", "multi")
    compare(g, "oneuid", ["root", "multi"], ["root"], {("multi", uid("multi")): 120})


def test_zero_amount_overrides_an_older_certification(web):
    """amount-zero: a newer certification with amount 0 says "not certified".

        root* ---> bob (2021), then root* -(0/0)-> bob (2021-06)     bob: 0
    """
    g = web.fresh().certify("root", "bob").certify("root", "bob", depth=0, amount=0, time=T(2021, 6, 1))
    compare(g, "zero", ["root", "bob"], ["root"], {})


def test_expired_between_two_reference_times(web):
    """expiry: root's certification of bob expires on 2022-01-01.

        root* ---> bob (made 2021-01-01, expires 2022-01-01)      2021-06-01: 120; 2022-06-01: 0
    """
    g = web.fresh().certify("root", "bob", expires=T(2022, 1, 1))
    compare(g, "expiry", ["root", "bob"], ["root"], {("bob", uid("bob")): 120}, at=T(2021, 6, 1))
    compare(g, "expiry", ["root", "bob"], ["root"], {}, at=AT)


def test_revoked_between_two_reference_times(web):
    """revocation: root certifies bob, then revokes that certification on 2022-01-01.

        root* ---> bob, revoked 2022-01-01           2021-06-01: 120; 2022-06-01: 0
    """
    g = web.fresh().certify("root", "bob").revoke("root", "bob", time=T(2022, 1, 1))
    compare(g, "revoked", ["root", "bob"], ["root"], {("bob", uid("bob")): 120}, at=T(2021, 6, 1))
    compare(g, "revoked", ["root", "bob"], ["root"], {}, at=AT)


def test_introducer_certification_expiring_cuts_the_chain(web):
    """introducer-expiry: the introducer's certification expires; everything behind it goes.

        root* -(1/120, expires 2022-01-01)-> alice ---> bob
    """
    g = web.fresh().certify("root", "alice", depth=1, expires=T(2022, 1, 1)).certify("alice", "bob")
    names = ["root", "alice", "bob"]
    compare(g, "introducer-expiry", names, ["root"],
            {("alice", uid("alice")): 120, ("bob", uid("bob")): 120}, at=T(2021, 6, 1))
    compare(g, "introducer-expiry", names, ["root"], {}, at=AT)


def test_revoked_user_id_is_not_authenticated(web):
    """revoked-user-id: the key holder revoked the user ID.

        root* ---> bob (bob revokes his user ID in 2022-01-01)
    """
    bob = web.keys["bob"]
    g = web.fresh().certify("root", "bob")
    g.replace("bob", certgen.revoke_user_id(web.work, bob, uid("bob"), time=T(2022, 1, 1), cert=g.cert("bob")))
    compare(g, "uid-revoked", ["root", "bob"], ["root"], {("bob", uid("bob")): 120}, at=T(2021, 6, 1))
    compare(g, "uid-revoked", ["root", "bob"], ["root"], {}, at=AT)


def test_partial_root_caps_its_certifications(web, tmp_path):
    """partial-root (sq-wot 0.2 cannot express it): a root trusted 60 caps every certification it makes.

        root(60)* ---> carol <--- frank*          carol: 60 + 120 = 180
    """
    g = web.fresh().certify("root", "carol").certify("frank", "carol")
    store = g.store("partial", ["root", "frank", "carol"])
    try:
        built = graph.build(store.conn, ts(AT), graph.KEYWATCH)
        roots = [Root(Fingerprint(web.keys["root"].fingerprint), 60), Root(Fingerprint(web.keys["frank"].fingerprint))]
        found = TrustNetwork(built, roots).authenticate(Fingerprint(web.keys["carol"].fingerprint),
                                                          uid("carol").encode())
    finally:
        store.close()
    assert sorted(a for _, a in found.paths) == [60, 120] and found.amount == 180


def test_requested_amount_stops_the_search(web):
    """Like sq-wot, the search stops once the amount asked for is reached."""
    g = web.fresh().certify("root", "carol").certify("frank", "carol")
    store = g.store("stop", ["root", "frank", "carol"])
    try:
        built = graph.build(store.conn, ts(AT), graph.KEYWATCH)
        roots = [Root(Fingerprint(web.keys[n].fingerprint)) for n in ("root", "frank")]
        found = TrustNetwork(built, roots).authenticate(Fingerprint(web.keys["carol"].fingerprint),
                                                          uid("carol").encode(), 120)
    finally:
        store.close()
    assert found.amount == 120 and len(found.paths) == 1
    # Ties between roots go to the larger fingerprint, as in sq-wot.
    assert found.paths[0][0].root == max(web.keys["root"].fingerprint, web.keys["frank"].fingerprint)
