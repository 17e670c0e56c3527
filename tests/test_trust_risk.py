"""Handover risk: the XZ pattern is high, a healthy successor is low, and each rule says why.

The stories are real keys made with sq (certgen), imported into a keywatch
workspace, with the first release signature recorded as the poller records
it (`release_signers`), and rated through `keywatch trust FPR --predecessor`.
"""

from __future__ import annotations

import datetime as dt
import json

import certgen
import click
import pytest
from click.testing import CliRunner

from keywatch.cli.common import Context
from keywatch.cli.trust import COMMANDS
from keywatch.ingest import import_bytes
from keywatch.trust.risk import (
    HIGH,
    LOW,
    MEDIUM,
    KeyFacts,
    Thresholds,
    handover_risk,
    strength_bits,
)
from keywatch.workspace import init

UTC = dt.UTC
DAY = 86400


def T(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())


# --- the rules, one by one ---------------------------------------------------------------------------

HEALTHY = KeyFacts(valid=True, has_root_path=True, certifiers=frozenset({"P", "K1", "K2", "K3"}),
                   independent_reachable_certifiers=3, disjoint_paths=4, best_amount=0, key_created=0,
                   first_release_signature=200 * DAY, certification_times=(10 * DAY, 20 * DAY), strength_bits=128,
                   predecessor="P", predecessor_valid=True, predecessor_strength_bits=128)


def rate(**changes) -> tuple[str, list[str]]:
    facts = KeyFacts(**{**HEALTHY.__dict__, **changes})
    risk = handover_risk(facts)
    return risk.level, [f.code for f in risk.findings]


def test_healthy_successor_is_low():
    assert rate() == (LOW, [])


@pytest.mark.parametrize("changes,level,code", [
    ({"valid": False}, HIGH, "not-valid"),
    ({"has_root_path": False}, HIGH, "no-root-path"),
    ({"certifiers": frozenset({"P"}), "independent_reachable_certifiers": 0}, HIGH, "only-predecessor"),
    ({"certifiers": frozenset(), "independent_reachable_certifiers": 0}, HIGH, "no-certifier"),
    ({"disjoint_paths": 1}, MEDIUM, "few-disjoint-paths"),
    ({"independent_reachable_certifiers": 1}, MEDIUM, "few-independent-certifiers"),
    ({"first_release_signature": 12 * DAY, "certification_times": ()}, MEDIUM, "young-key"),
    ({"certification_times": (195 * DAY, 210 * DAY)}, MEDIUM, "recent-certifications"),
    ({"certifiers": frozenset({"K1", "K2", "K3"})}, MEDIUM, "predecessor-silent"),
    ({"strength_bits": 112}, MEDIUM, "weaker-algorithm"),
])
def test_each_rule(changes, level, code):
    found_level, codes = rate(**changes)
    assert code in codes
    assert found_level == level


def test_reasons_are_plain_words():
    facts = KeyFacts(**{**HEALTHY.__dict__, "certifiers": frozenset({"P"}), "independent_reachable_certifiers": 0,
                        "disjoint_paths": 1, "first_release_signature": 12 * DAY, "certification_times": (5 * DAY,),
                        "strength_bits": 112})
    risk = handover_risk(facts)
    assert risk.level == HIGH
    assert risk.reasons == [
        "certified only by the outgoing maintainer's key",
        "1 disjoint path from the trust roots",
        "0 independent certifiers reachable from the trust roots",
        "key created 12 days before its first release signature",
        "all its certifications were made within 30 days before its first release signature, or after it",
        "weaker algorithm than the previous key (112-bit security after 128)",
    ]


def test_medium_findings_add_up_to_high():
    assert rate(disjoint_paths=1, independent_reachable_certifiers=1)[0] == MEDIUM
    assert rate(disjoint_paths=1, independent_reachable_certifiers=1, strength_bits=112)[0] == HIGH
    lenient = Thresholds(medium_findings_for_high=0)
    facts = KeyFacts(**{**HEALTHY.__dict__, "disjoint_paths": 1, "independent_reachable_certifiers": 1,
                        "strength_bits": 112})
    assert handover_risk(facts, lenient).level == MEDIUM


def test_thresholds_are_configurable_and_checked():
    assert Thresholds.from_mapping({"min_key_age_days": 90}).min_key_age_days == 90
    assert rate(first_release_signature=60 * DAY, certification_times=())[0] == LOW
    facts = KeyFacts(**{**HEALTHY.__dict__, "first_release_signature": 60 * DAY, "certification_times": ()})
    assert handover_risk(facts, Thresholds(min_key_age_days=90)).level == MEDIUM
    with pytest.raises(Exception, match="unknown risk threshold"):
        Thresholds.from_mapping({"min_age": 1})
    with pytest.raises(Exception, match="whole number"):
        Thresholds.from_mapping({"min_key_age_days": -1})


def test_security_levels():
    assert strength_bits("RSA", 2048, None) == 112
    assert strength_bits("RSA", 4096, None) == 128
    assert strength_bits("EdDSALegacy", 255, "Ed25519") == 128
    assert strength_bits("ECDSA", 384, "NIST P-384") == 192
    assert strength_bits("RSA", 1024, None) == 80


# --- the stories, end to end ----------------------------------------------------------------------------

ROOT_UID = "Root <root@distro.example>"


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """root (a distribution's trust root); k1..k3 developers root certified; lasse, the outgoing maintainer."""
    work = tmp_path_factory.mktemp("handover")
    make = lambda name, created: certgen.generate_key(
        work, [f"{name.capitalize()} <{name}@example.org>"], created=created, subkeys=("sign",))
    keys = {"root": certgen.generate_key(work, [ROOT_UID], created=T(2015, 1, 1), subkeys=())}
    for name in ("k1", "k2", "k3", "lasse"):
        keys[name] = make(name, T(2015, 1, 1))
    keys["jia"] = make("jia", T(2023, 1, 10))
    keys["nova"] = make("nova", T(2022, 1, 10))
    return work, keys


def certified(work, keys, target: str, *issuers: str, time: dt.datetime) -> bytes:
    cert = keys[target].cert
    for issuer in issuers:
        cert = certgen.certify(work, keys[issuer], cert, keys[target].user_ids[0], time=time)
    return cert


class Workspace:
    def __init__(self, path, keyring: bytes) -> None:
        self.path = path
        workspace, _ = init(path)
        store = workspace.store()
        try:
            import_bytes(store, keyring, "keyring")
        finally:
            store.close()

    def release(self, signer: str, when: dt.datetime) -> None:
        store = init(self.path)[0].store()
        try:
            store.conn.execute(
                "INSERT INTO release_signers (upstream, version, sig_digest, signer, signing_key, issuer_key_id,"
                " created, hash_algorithm, status, in_keyring, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                ("xz", "5.4.2", f"sig-{signer}", signer, signer, signer[-16:], ts(when), 10, "good", 0, None))
        finally:
            store.close()

    def trust(self, *args: str) -> dict:
        @click.group()
        @click.pass_context
        def cli(ctx):
            ctx.obj = Context(str(self.path))

        for command in COMMANDS:
            cli.add_command(command)
        result = CliRunner().invoke(cli, ["trust", *args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)


def test_the_xz_pattern_is_high(people, tmp_path):
    """root ---> k1, k2, k3, lasse;  lasse ---> jia (2023-01-15).  jia created 2023-01-10,
    first release signature 2023-01-22: 12 days old.

        root* ---> lasse ---> jia          (and nobody else vouches for jia)
    """
    work, keys = people
    keyring = b"".join([keys["root"].cert, *(certified(work, keys, n, "root", time=T(2016, 1, 1))
                                            for n in ("k1", "k2", "k3", "lasse")),
                        certified(work, keys, "jia", "lasse", time=T(2023, 1, 15))])
    space = Workspace(tmp_path / "ws", keyring)
    space.release(keys["jia"].fingerprint, T(2023, 1, 22))
    doc = space.trust(keys["jia"].fingerprint, "--root", keys["root"].fingerprint,
                      "--predecessor", keys["lasse"].fingerprint, "--at", "2023-02-01")
    assert doc["risk"]["level"] == "high"
    assert doc["risk"]["reasons"] == [
        "certified only by the outgoing maintainer's key",
        "1 disjoint path from the trust roots",
        "0 independent certifiers reachable from the trust roots",
        "key created 12 days before its first release signature",
        "all its certifications were made within 30 days before its first release signature, or after it",
    ]
    assert (doc["distance"], doc["disjoint_paths"], doc["independent_certifiers"]) == (2, 1, 0)
    assert [c["fingerprint"] for c in doc["certifiers"]] == [keys["lasse"].fingerprint]
    assert doc["certified_by_predecessor"] is True
    assert doc["key_age_days_at_first_release"] == 12
    assert doc["certifications"][0]["age_days_at_first_release"] == 7
    assert doc["bindings"] == [{"user_id": "Jia <jia@example.org>", "amount": 0, "paths": []}]


def test_the_xz_pattern_without_the_predecessor_in_the_web_is_high(people, tmp_path):
    """lasse is not certified by anyone the roots reach: jia has no path at all.

        root* ---> k1, k2, k3          lasse ---> jia
    """
    work, keys = people
    keyring = b"".join([keys["root"].cert, *(certified(work, keys, n, "root", time=T(2016, 1, 1))
                                            for n in ("k1", "k2", "k3")), keys["lasse"].cert,
                        certified(work, keys, "jia", "lasse", time=T(2023, 1, 15))])
    space = Workspace(tmp_path / "ws", keyring)
    space.release(keys["jia"].fingerprint, T(2023, 1, 22))
    doc = space.trust(keys["jia"].fingerprint, "--root", keys["root"].fingerprint,
                      "--predecessor", keys["lasse"].fingerprint, "--at", "2023-02-01")
    assert doc["risk"]["level"] == "high"
    assert doc["risk"]["reasons"][:2] == ["no path from any trust root",
                                          "certified only by the outgoing maintainer's key"]
    assert doc["distance"] is None and doc["disjoint_paths"] == 0


def test_a_healthy_successor_is_low(people, tmp_path):
    """nova (created 2022-01-10) is certified by lasse and by k1, k2, k3, whom root certified;
    her first release signature is on 2022-09-01.

        root* ---> k1, k2, k3, lasse ---> nova
    """
    work, keys = people
    keyring = b"".join([keys["root"].cert, *(certified(work, keys, n, "root", time=T(2016, 1, 1))
                                            for n in ("k1", "k2", "k3", "lasse")),
                        certified(work, keys, "nova", "lasse", "k1", "k2", "k3", time=T(2022, 2, 1))])
    space = Workspace(tmp_path / "ws", keyring)
    space.release(keys["nova"].fingerprint, T(2022, 9, 1))
    doc = space.trust(keys["nova"].fingerprint, "--root", keys["root"].fingerprint,
                      "--predecessor", keys["lasse"].fingerprint, "--at", "2022-10-01")
    assert doc["risk"] == {"level": "low", "reasons": [], "findings": []}
    assert (doc["distance"], doc["disjoint_paths"], doc["disjoint_paths_within_4_hops"]) == (2, 4, 4)
    assert doc["independent_certifiers"] == 3 and doc["strong_set"]["member"] is False


def test_handover_for_the_event_rules(people, tmp_path):
    """`report.handover` is what the poller calls: the same verdict as the command, as a `Risk`."""
    from keywatch.trust.report import handover
    from keywatch.trust.wot import Root

    work, keys = people
    keyring = b"".join([keys["root"].cert, certified(work, keys, "lasse", "root", time=T(2016, 1, 1)),
                        certified(work, keys, "jia", "lasse", time=T(2023, 1, 15))])
    space = Workspace(tmp_path / "ws", keyring)
    store = init(space.path)[0].store()
    try:
        risk = handover(store, keys["jia"].fingerprint, keys["lasse"].fingerprint, ts(T(2023, 2, 1)),
                        [Root(keys["root"].fingerprint)])
    finally:
        store.close()
    assert risk.level == HIGH and "certified only by the outgoing maintainer's key" in risk.reasons
