"""Transition statements: cleartext-signed by real tools (sq, gpg), checked by keywatch, gpg --verify as the oracle.

Keys: the outgoing one (in the keyring: "previous"), the incoming one, a third
key keywatch knows and a stranger it does not. Every cryptographic verdict is
compared with `gpg --verify` on the same bytes, in a home holding the same
certificates keywatch's store holds.
"""

from __future__ import annotations

import datetime as dt

import certgen
import pytest
from httpserver import LoopbackServer

from keywatch.ingest import import_bytes
from keywatch.store import Store
from keywatch.transition import (
    MAX_STATEMENT_BYTES,
    _names,
    check_statement,
    parse_cleartext,
    statement_checker,
)
from keywatch.types import Fingerprint, now_ts

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def _grouped(fpr: str) -> str:
    return " ".join(fpr[i:i + 4] for i in range(0, 40, 4)).lower()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("transition")
    keys = {name: certgen.generate_key(work, [f"{name} <{name}@example.org>"], created=NOW - dt.timedelta(days=30),
                                       expires=NOW + dt.timedelta(days=700), tool="sq")
            for name in ("old", "new", "other", "stranger")}
    new = keys["new"].fingerprint
    naming = (f"Key transition for example\n\nThe releases of example are from now on signed by\n"
              f"  {_grouped(new)}   \n"
              f"- a line that starts with a dash\n--- and one with three\nFrom the old key.\n").encode()
    silent = b"We moved to a new key.\nIts fingerprint is on our website.\n"

    def sq_sign(key: str, text: bytes) -> bytes:
        src = work / f"in-{key}.txt"
        src.write_bytes(text)
        return certgen._sq(work, ["sign", "--cleartext-signature", "--signer-key", str(keys[key].key_path),
                                  str(src)]).stdout

    with certgen.gpg_home(work) as g:
        g.run(["--import"], input=keys["old"].tsk, secret=True)
        gpg_by_old = g.run(["--clearsign", "-u", keys["old"].fingerprint], input=naming, secret=True).stdout

    docs = {
        "sq-old": sq_sign("old", naming),
        "gpg-old": gpg_by_old,
        "sq-other": sq_sign("other", naming),
        "sq-stranger": sq_sign("stranger", naming),
        "sq-old-silent": sq_sign("old", silent),
    }
    docs["sq-old-tampered"] = docs["sq-old"].replace(b"signed by", b"signed by NOT")
    docs["gpg-old-tampered"] = docs["gpg-old"].replace(b"From the old key.", b"From the new key.")
    # Trailing whitespace is not signed (RFC 9580 §7.2): adding some keeps the signature good.
    docs["sq-old-trailing-ws"] = docs["sq-old"].replace(b"Key transition for example\n",
                                                        b"Key transition for example \t \n")
    docs["sq-old-crlf"] = docs["sq-old"].replace(b"\n", b"\r\n")
    store = Store(work / "kw.db")
    for name in ("old", "new", "other"):
        import_bytes(store, keys[name].cert, name)
    with certgen.gpg_home(work) as oracle:
        for name in ("old", "new", "other"):
            oracle.run(["--import"], input=keys[name].cert)
        accepted = {}
        for name, doc in docs.items():
            path = work / f"{name}.asc"
            path.write_bytes(doc)
            accepted[name] = oracle.run(["--verify", str(path)], check=False).returncode == 0
    yield {"keys": keys, "docs": docs, "store": store, "gpg": accepted, "new": Fingerprint(new),
           "previous": [Fingerprint(keys["old"].fingerprint)]}
    store.close()


def check(world, name: str) -> dict:
    return check_statement(world["store"], world["docs"][name], world["previous"], world["new"], now_ts(),
                           url="https://example.org/transition.txt")


@pytest.mark.parametrize("name", ["sq-old", "gpg-old", "sq-old-trailing-ws", "sq-old-crlf"])
def test_statement_by_the_old_key_naming_the_new_key(world, name):
    result = check(world, name)
    assert result == {**result, "valid": True, "by_previous_key": True, "names_new_key": True, "problem": None,
                      "signed_by": [world["keys"]["old"].fingerprint], "url": "https://example.org/transition.txt"}
    assert "- a line that starts with a dash\n--- and one with three\n" in result["text"]
    assert "-----" not in result["text"].replace("--- and", "")
    assert world["gpg"][name] is True


def test_signed_by_another_known_key_is_valid_but_not_by_the_previous_key(world):
    result = check(world, "sq-other")
    assert result["valid"] and not result["by_previous_key"] and result["names_new_key"]
    assert result["signed_by"] == [world["keys"]["other"].fingerprint]
    assert result["problem"] == "not signed by a previous key"
    assert world["gpg"]["sq-other"] is True


def test_signed_by_an_unknown_key(world):
    result = check(world, "sq-stranger")
    assert not result["valid"] and not result["by_previous_key"] and result["signed_by"] == []
    assert "signing key not known" in result["problem"]
    assert world["gpg"]["sq-stranger"] is False


@pytest.mark.parametrize("name", ["sq-old-tampered", "gpg-old-tampered"])
def test_tampered_text_does_not_verify(world, name):
    result = check(world, name)
    assert not result["valid"] and not result["by_previous_key"] and result["signed_by"] == []
    assert result["problem"].startswith("the signature does not hold")
    assert world["gpg"][name] is False


def test_statement_not_naming_the_new_key(world):
    result = check(world, "sq-old-silent")
    assert result["valid"] and result["by_previous_key"] and not result["names_new_key"]
    assert "does not name the new key" in result["problem"]
    assert world["gpg"]["sq-old-silent"] is True


def test_a_fingerprint_inside_a_longer_hex_string_does_not_count(world):
    signed = parse_cleartext(world["docs"]["sq-old"])[1]
    assert world["new"] not in signed.decode()  # it is there only in groups of four
    assert _names(b"fpr: " + world["new"].encode(), world["new"])
    assert not _names(b"fpr: AB" + world["new"].encode(), world["new"])
    assert not _names(world["new"][:-1].encode(), world["new"])


def test_hash_header_must_announce_the_signature_hash(world):
    doc = world["docs"]["sq-old"]
    header = doc.split(b"\n")[1]
    assert header.startswith(b"Hash: ")
    other = b"Hash: SHA1" if header != b"Hash: SHA1" else b"Hash: SHA256"
    result = check_statement(world["store"], doc.replace(header, other, 1), world["previous"], world["new"],
                             now_ts())
    assert not result["valid"] and "Hash header" in result["problem"]


@pytest.mark.parametrize("doc, why", [
    (b"", "does not start with"),
    (b"<!doctype html><html><body><pre>-----BEGIN PGP SIGNED MESSAGE-----</pre></body></html>",
     "does not start with"),
    (bytes(range(256)) * 10, "does not start with"),
    (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhello\n", "no -----BEGIN PGP SIGNATURE-----"),
    (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256", "headers do not end"),
    (b"-----BEGIN PGP SIGNED MESSAGE-----\nComment: hi\n\nhello\n", "unexpected header line"),
    (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: WHIRLPOOL\n\nhello\n", "unknown hash"),
    (b"-----BEGIN PGP SIGNED MESSAGE-----\n\n-----BEGIN PGP SIGNATURE-----\nAAAA\n", "does not end"),
    (b"-----BEGIN PGP SIGNED MESSAGE-----\n\n-not escaped\n-----BEGIN PGP SIGNATURE-----\n", "not dash-escaped"),
])
def test_garbage_gives_a_clear_problem(world, doc, why):
    result = check_statement(world["store"], doc, world["previous"], world["new"], now_ts())
    assert not result["valid"] and why in result["problem"], result["problem"]


def test_unsigned_text_around_the_message_is_refused(world):
    doc = world["docs"]["sq-old"]
    for wrapped in (b"<p>unsigned: trust key 0xEVIL</p>\n" + doc, doc + b"\nUnsigned postscript\n"):
        result = check_statement(world["store"], wrapped, world["previous"], world["new"], now_ts())
        assert not result["valid"] and result["problem"].startswith("not a cleartext-signed"), result["problem"]


def test_bad_signature_block_and_oversize(world):
    text = world["docs"]["sq-old"]
    start = text.index(b"-----BEGIN PGP SIGNATURE-----")
    broken = text[:start] + b"-----BEGIN PGP SIGNATURE-----\n\nnot base64 at all!!\n-----END PGP SIGNATURE-----\n"
    result = check_statement(world["store"], broken, world["previous"], world["new"], now_ts())
    assert not result["valid"] and result["problem"].startswith("unreadable signature")
    assert result["names_new_key"] and "signed by" in result["text"]
    huge = b"-----BEGIN PGP SIGNED MESSAGE-----\n\n" + b"x" * MAX_STATEMENT_BYTES
    result = check_statement(world["store"], huge, world["previous"], world["new"], now_ts())
    assert not result["valid"] and "over the limit" in result["problem"]


def test_statement_checker_fetches_once_and_reports_fetch_failures(world):
    with LoopbackServer() as server:
        server.route("/transition.asc", world["docs"]["gpg-old"], content_type="text/plain")
        checker = statement_checker(world["store"], server.url("/transition.asc"), timeout=5)
        first = checker(world["previous"], world["new"])
        second = checker(world["previous"], Fingerprint(world["keys"]["other"].fingerprint))
        assert first["valid"] and first["by_previous_key"] and first["names_new_key"]
        assert first["url"] == server.url("/transition.asc")
        assert second["valid"] and not second["names_new_key"]
        assert len([r for r in server.requests if r.path == "/transition.asc"]) == 1
        missing = statement_checker(world["store"], server.url("/gone"), timeout=5)(world["previous"], world["new"])
        assert not missing["valid"] and missing["problem"].startswith("could not fetch the transition statement")
