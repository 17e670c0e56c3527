"""Key sources: spec → URL (checked against the WKD draft's own example), then real fetches from 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib

import pysequoia
import pytest
from httpserver import LoopbackServer, refusing_url, status

from keywatch.errors import ConfigError, InputError, SecretKeyRefused
from keywatch.fetch import Fetcher, FetchError, HttpCache
from keywatch.keysources import SourceSettings, fetch_key_source, source_url, wkd_urls, zbase32
from keywatch.openpgp.packets import TAG_USER_ID, serialize
from keywatch.store import Store

DRAFT_HASH = "iy9q119eutrkn8s1mk4r39qejnbu3n5q"  # draft-koch-openpgp-webkey-service §3.1, for Joe.Doe


@pytest.fixture(scope="module")
def tsk() -> pysequoia.Tsk:
    return pysequoia.Tsk.generate("Release Signer <release@example.org>")


@pytest.fixture(scope="module")
def cert(tsk) -> pysequoia.Cert:
    return tsk.extract_certificate()


@pytest.fixture
def server():
    with LoopbackServer() as running:
        yield running


def fetch(spec, settings, cache=None, **options):
    async def main():
        async with Fetcher(cache, **{"backoff": 0.01, **options}) as fetcher:
            return await fetch_key_source(fetcher, spec, settings)
    return asyncio.run(main())


def fails(spec, settings, **options) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(spec, settings, **options)
    return caught.value


# --- z-base-32 and WKD URLs -----------------------------------------------------------------------


@pytest.mark.parametrize("data, encoded", [
    (b"", ""),
    (b"\x00", "yy"),
    (b"\xf0\xbf\xc7", "6n9hq"),  # bits 11110 00010 11111 11100 0111(0)
    (b"\xd4\x7a\x04", "4t7ye"),
    (hashlib.sha1(b"joe.doe").digest(), DRAFT_HASH),
])
def test_zbase32(data, encoded):
    assert zbase32(data) == encoded


def test_wkd_urls_match_the_drafts_example():
    assert wkd_urls("Joe.Doe@Example.ORG", SourceSettings()) == (
        f"https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/{DRAFT_HASH}?l=Joe.Doe",
        f"https://example.org/.well-known/openpgpkey/hu/{DRAFT_HASH}?l=Joe.Doe",
    )


def test_only_ascii_letters_are_lower_cased_for_the_hash_and_l_is_percent_encoded():
    advanced, _ = wkd_urls("ÄRGER+Dev@example.de", SourceSettings())
    expected_hash = zbase32(hashlib.sha1("Ärger+dev".encode()).digest())  # not "ärger+dev"
    assert advanced.endswith(f"/hu/{expected_hash}?l=%C3%84RGER%2BDev")


def test_wkd_servers_replace_the_wkd_hosts():
    settings = SourceSettings(wkd_servers={"example.org": "http://127.0.0.1:8080/"})
    assert wkd_urls("joe@example.org", settings) == (
        f"http://127.0.0.1:8080/.well-known/openpgpkey/example.org/hu/{zbase32(hashlib.sha1(b'joe').digest())}?l=joe",
        f"http://127.0.0.1:8080/.well-known/openpgpkey/hu/{zbase32(hashlib.sha1(b'joe').digest())}?l=joe",
    )
    advanced_only = SourceSettings(wkd_servers={"openpgpkey.example.org": "http://mirror"})
    advanced, direct = wkd_urls("joe@example.org", advanced_only)
    assert advanced.startswith("http://mirror/") and direct.startswith("https://example.org/")


@pytest.mark.parametrize("email", [
    "joe", "@example.org", "joe@", "joe@exa mple.org", "joe@example.org/evil", "joe@host:8080", "jo e@example.org",
    "joe@-example.org", "joe@example..org",
])
def test_wkd_refuses_what_is_not_an_address(email):
    with pytest.raises(InputError, match="not an e-mail address"):
        wkd_urls(email, SourceSettings())
    with pytest.raises(ConfigError, match=f"key source 'wkd:{email}'"):
        source_url(f"wkd:{email}", SourceSettings())


# --- specs --------------------------------------------------------------------------------------


FPR = "A5B0 1E2C 3D4F 5061 7283 94A5 B6C7 D8E9 FA0B 1C2D"
FPR_HEX = FPR.replace(" ", "")


def test_keyserver_specs_use_the_upper_case_fingerprint():
    settings = SourceSettings(keyserver="https://keys.example.net/")
    assert source_url(f"vks:{FPR.lower()}", settings) == f"https://keys.example.net/vks/v1/by-fingerprint/{FPR_HEX}"
    assert source_url(f"hkp:0x{FPR_HEX.lower()}", settings) == (
        f"https://keys.example.net/pks/lookup?op=get&options=mr&search=0x{FPR_HEX}")
    assert source_url(f"vks:{FPR_HEX}", SourceSettings()).startswith("https://keys.openpgp.org/vks/v1/")


def test_a_url_spec_is_its_own_url():
    assert source_url("https://example.org/KEYS", SourceSettings()) == "https://example.org/KEYS"
    assert source_url("wkd:joe@example.org", SourceSettings()) == list(wkd_urls("joe@example.org", SourceSettings()))


@pytest.mark.parametrize("spec, message", [
    ("vks:1234", "not an OpenPGP fingerprint"),
    ("hkp:not-hex", "not an OpenPGP fingerprint"),
    ("ftp://example.org/KEYS", "unknown form"),
    ("keys.asc", "unknown form"),
    ("ldap:joe@example.org", "unknown form"),
])
def test_bad_specs_are_configuration_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        source_url(spec, SourceSettings())


# --- fetching -----------------------------------------------------------------------------------


def test_a_real_certificate_is_returned_intact(server, cert):
    armored, binary = str(cert).encode(), bytes(cert)
    server.route("/KEYS", armored, content_type="application/pgp-keys")
    server.route("/key.gpg", binary)

    got = fetch(server.url("/KEYS"), SourceSettings())
    assert (got.spec, got.url, got.data, got.not_modified) == (server.url("/KEYS"), server.url("/KEYS"), armored, False)
    assert fetch(server.url("/key.gpg"), SourceSettings()).data == binary


def test_an_unchanged_source_is_one_request_and_still_checked(server, cert, tmp_path):
    store = Store(tmp_path / "keywatch.db")
    server.route("/KEYS", bytes(cert), etag='"k1"')
    fetch(server.url("/KEYS"), SourceSettings(), HttpCache(store.conn))
    server.clear_log()

    again = fetch(server.url("/KEYS"), SourceSettings(), HttpCache(store.conn))

    assert (again.not_modified, again.data) == (True, bytes(cert))
    assert len(server.requests) == 1
    store.close()


@pytest.mark.parametrize("answer, looks_like", [
    (b"<!DOCTYPE html>\n<html><head><title>404 -\n Not Found</title></head><body>gone</body></html>",
     'got HTML ("404 - Not Found")'),
    (b"\xef\xbb\xbf  <html><body>Welcome to nginx!</body></html>", "got HTML"),
    (b"No key found for that fingerprint\n", 'got text ("No key found for that fingerprint")'),
    (b'{"error": "not found"}', 'got text ("{"error": "not found"}")'),
    (b"  \n", "got an empty answer"),
])
def test_an_answer_that_is_not_openpgp_says_what_it_looks_like(server, answer, looks_like):
    server.route("/KEYS", answer, content_type="text/html")
    error = fails(server.url("/KEYS"), SourceSettings())
    assert str(error) == f"{server.url('/KEYS')}: expected OpenPGP keys, {looks_like}"


def test_damaged_openpgp_gets_the_parsers_own_message(server, cert):
    server.route("/KEYS", bytes(cert)[:-17])
    with pytest.raises(InputError, match=r"/KEYS: not valid OpenPGP data"):
        fetch(server.url("/KEYS"), SourceSettings())


def test_openpgp_without_a_key_is_refused(server):
    server.route("/KEYS", serialize(TAG_USER_ID, b"Release Signer <release@example.org>"))
    assert "got OpenPGP data without a public key" in str(fails(server.url("/KEYS"), SourceSettings()))


def test_secret_keys_are_refused_naming_the_url(server, tsk):
    server.route("/KEYS", bytes(tsk))
    with pytest.raises(SecretKeyRefused) as caught:
        fetch(server.url("/KEYS"), SourceSettings())
    assert str(caught.value).startswith(f"{server.url('/KEYS')}: contains secret key material")


# --- WKD and keyservers -------------------------------------------------------------------------


def wkd_paths(email: str) -> tuple[str, str]:
    local, domain = email.split("@")
    digest = zbase32(hashlib.sha1(local.lower().encode()).digest())
    return (f"/.well-known/openpgpkey/{domain}/hu/{digest}", f"/.well-known/openpgpkey/hu/{digest}")


def test_wkd_uses_the_advanced_method_first(server, cert):
    advanced, _ = wkd_paths("release@example.org")
    server.route(advanced, bytes(cert))
    settings = SourceSettings(wkd_servers={"example.org": server.base})

    got = fetch("wkd:release@example.org", settings)

    assert got.data == bytes(cert) and got.url == server.url(f"{advanced}?l=release")
    assert [r.path for r in server.requests] == [f"{advanced}?l=release"]


def test_wkd_falls_back_to_the_direct_method_on_404(server, cert):
    advanced, direct = wkd_paths("release@example.org")
    server.route(direct, bytes(cert))

    got = fetch("wkd:release@example.org", SourceSettings(wkd_servers={"example.org": server.base}))

    assert got.data == bytes(cert) and got.url == server.url(f"{direct}?l=release")
    assert [r.path for r in server.requests] == [f"{advanced}?l=release", f"{direct}?l=release"]


def test_wkd_falls_back_to_the_direct_method_when_the_advanced_host_is_unreachable(server, cert):
    _, direct = wkd_paths("release@example.org")
    server.route(direct, bytes(cert))
    settings = SourceSettings(wkd_servers={"openpgpkey.example.org": refusing_url(""), "example.org": server.base})

    assert fetch("wkd:release@example.org", settings, retries=0).url == server.url(f"{direct}?l=release")


def test_wkd_reports_an_advanced_host_that_fails_otherwise(server, cert):
    advanced, direct = wkd_paths("release@example.org")
    server.handle(advanced, status(500))
    server.route(direct, bytes(cert))

    error = fails("wkd:release@example.org", SourceSettings(wkd_servers={"example.org": server.base}), retries=0)

    assert error.status == 500 and advanced in str(error)
    assert len(server.requests) == 1


def test_wkd_without_the_key_anywhere_is_a_404(server):
    error = fails("wkd:release@example.org", SourceSettings(wkd_servers={"example.org": server.base}))
    assert error.status == 404 and "/.well-known/openpgpkey/hu/" in str(error)


def test_vks_and_hkp_fetch_from_the_keyserver(server, cert):
    fingerprint = cert.fingerprint.upper()
    server.route(f"/vks/v1/by-fingerprint/{fingerprint}", bytes(cert))
    server.route(f"/pks/lookup?op=get&options=mr&search=0x{fingerprint}", str(cert).encode(),
                 content_type="application/pgp-keys")
    settings = SourceSettings(keyserver=server.base)

    assert fetch(f"vks:{cert.fingerprint}", settings).data == bytes(cert)
    assert fetch(f"hkp:{cert.fingerprint}", settings).data == str(cert).encode()
    assert [r.path for r in server.requests] == [
        f"/vks/v1/by-fingerprint/{fingerprint}", f"/pks/lookup?op=get&options=mr&search=0x{fingerprint}"]


def test_a_key_the_keyserver_does_not_have_is_a_404(server):
    error = fails(f"vks:{FPR_HEX}", SourceSettings(keyserver=server.base))
    assert error.status == 404
