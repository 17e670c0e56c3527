"""The fetcher against a real HTTP server on 127.0.0.1: every rule the poller relies on, over real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
import tracemalloc

import pytest
from httpserver import LoopbackServer, drop, huge, redirect, refusing_url, sequence, serve, slow, status

from keywatch import __version__
from keywatch.fetch import CannotConnect, Fetcher, FetchError, HttpCache, redirect_target
from keywatch.store import Store

TEN_GB = 10 * 1024**3
KEYS = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot really a key\n-----END PGP PUBLIC KEY BLOCK-----\n"


@pytest.fixture
def server():
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def cache(tmp_path):
    store = Store(tmp_path / "keywatch.db")
    yield HttpCache(store.conn)
    store.close()


def run(action, cache=None, **options):
    """`action(fetcher)` on a fresh Fetcher, as one poll would; retries are fast unless a test says otherwise."""
    async def main():
        async with Fetcher(cache, **{"backoff": 0.01, **options}) as fetcher:
            return await action(fetcher)
    return asyncio.run(main())


def get(url, cache=None, *, max_bytes=None, conditional=True, **options):
    return run(lambda fetcher: fetcher.get(url, max_bytes=max_bytes, conditional=conditional), cache, **options)


def fails(url, cache=None, **options) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(url, cache, **options)
    assert "\n" not in str(caught.value)
    return caught.value


def with_peak_memory(server, action):
    """`action()`'s result and the peak of Python memory while it ran, once a first request has loaded
    what httpx imports and sets up lazily (that is not what a test measures)."""
    server.route("/warm-up", KEYS)
    get(server.url("/warm-up"))
    tracemalloc.start()
    try:
        return action(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- plain GET and conditional requests ---------------------------------------------------------


def test_get_returns_the_body_and_its_validators(server):
    server.route("/KEYS", KEYS, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    got = get(server.url("/KEYS"))
    assert (got.status, got.body, got.not_modified) == (200, KEYS, False)
    assert (got.etag, got.last_modified) == ('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert got.url == got.final_url == server.url("/KEYS")
    assert server.requests[0].headers["user-agent"] == f"keywatch/{__version__}"


def test_an_unchanged_upstream_costs_one_request_answered_304(server, cache):
    server.route("/KEYS", KEYS, etag='"v1"')
    get(server.url("/KEYS"), cache)
    server.clear_log()

    again = get(server.url("/KEYS"), cache)

    assert [r.headers.get("if-none-match") for r in server.requests] == ['"v1"']
    assert (again.status, again.not_modified, again.body, again.etag) == (304, True, KEYS, '"v1"')


def test_last_modified_alone_is_revalidated_with_if_modified_since(server, cache):
    stamp = "Tue, 02 Jan 2024 03:04:05 GMT"
    server.route("/KEYS", KEYS, last_modified=stamp)
    get(server.url("/KEYS"), cache)
    server.clear_log()

    again = get(server.url("/KEYS"), cache)

    (request,) = server.requests
    assert request.headers.get("if-modified-since") == stamp and "if-none-match" not in request.headers
    assert (again.not_modified, again.body, again.last_modified) == (True, KEYS, stamp)


def test_a_changed_upstream_replaces_the_cached_copy(server, cache):
    server.route("/KEYS", KEYS, etag='"v1"')
    get(server.url("/KEYS"), cache)
    server.route("/KEYS", KEYS + b"new key\n", etag='"v2"')

    changed = get(server.url("/KEYS"), cache)
    unchanged = get(server.url("/KEYS"), cache)

    assert (changed.status, changed.not_modified, changed.body) == (200, False, KEYS + b"new key\n")
    assert (unchanged.not_modified, unchanged.body, unchanged.etag) == (True, KEYS + b"new key\n", '"v2"')
    assert [r.headers.get("if-none-match") for r in server.requests] == [None, '"v1"', '"v2"']


def test_an_unconditional_get_sends_no_validators_but_refreshes_the_cache(server, cache):
    server.route("/KEYS", KEYS, etag='"v1"')
    get(server.url("/KEYS"), cache)
    server.route("/KEYS", b"rolled back\n", etag='"v0"')

    fresh = get(server.url("/KEYS"), cache, conditional=False)

    assert (fresh.status, fresh.body) == (200, b"rolled back\n")
    assert "if-none-match" not in server.requests[-1].headers
    assert cache.get(server.url("/KEYS")) == ('"v0"', None, b"rolled back\n")


def test_validators_are_dropped_when_the_upstream_stops_sending_them(server, cache):
    server.route("/KEYS", KEYS, etag='"v1"')
    get(server.url("/KEYS"), cache)
    server.route("/KEYS", b"no validators\n")

    assert get(server.url("/KEYS"), cache).body == b"no validators\n"
    assert cache.get(server.url("/KEYS")) is None
    get(server.url("/KEYS"), cache)
    assert "if-none-match" not in server.requests[-1].headers


def test_without_a_cache_every_get_is_a_full_one(server):
    server.route("/KEYS", KEYS, etag='"v1"')
    get(server.url("/KEYS"))
    assert get(server.url("/KEYS")).status == 200
    assert all("if-none-match" not in r.headers for r in server.requests)


# --- redirects ------------------------------------------------------------------------------------


def test_http_to_http_redirects_are_followed(server):
    server.route("/KEYS", KEYS)
    server.handle("/old/KEYS", redirect("../KEYS", 301))
    server.handle("/moved", redirect(server.url("/old/KEYS"), 307))

    got = get(server.url("/moved"))

    assert (got.body, got.url, got.final_url) == (KEYS, server.url("/moved"), server.url("/KEYS"))
    assert [r.path for r in server.requests] == ["/moved", "/old/KEYS", "/KEYS"]


@pytest.mark.parametrize("location", [
    "file:///etc/passwd", "ftp://127.0.0.1/KEYS", "data:text/plain;base64,SGVsbG8=", "gopher://127.0.0.1/",
])
def test_a_redirect_to_another_scheme_is_refused(server, location):
    server.handle("/KEYS", redirect(location))
    error = fails(server.url("/KEYS"))
    assert server.url("/KEYS") in str(error) and location in str(error) and "refused" in str(error)
    assert len(server.requests) == 1


def test_a_redirect_after_redirects_names_where_it_happened(server):
    server.handle("/a", redirect("/b"))
    server.handle("/b", redirect("file:///etc/passwd"))
    error = fails(server.url("/a"))
    assert str(error).startswith(server.url("/a") + ": redirect from " + server.url("/b") + " to file:///etc/passwd")


def test_a_redirect_loop_is_refused(server):
    server.handle("/a", redirect("/b"))
    server.handle("/b", redirect("/a"))
    assert "redirect loop" in str(fails(server.url("/a")))
    assert [r.path for r in server.requests] == ["/a", "/b"]


def test_five_redirects_are_followed_and_a_sixth_is_refused(server):
    for hop in range(6):
        server.handle(f"/r{hop}", redirect(f"/r{hop + 1}"))
    server.route("/r6", KEYS)

    assert get(server.url("/r1")).body == KEYS
    assert "more than 5 redirects" in str(fails(server.url("/r0")))


def test_a_redirect_without_location_is_an_error(server):
    server.handle("/KEYS", status(302))
    assert "without a Location" in str(fails(server.url("/KEYS")))


def test_redirect_targets_keep_to_http_and_never_drop_https():
    assert redirect_target("https://a/x", "https://a/x", "//b/y") == "https://b/y"
    assert redirect_target("http://a/x", "http://a/x", "https://a/y") == "https://a/y"
    with pytest.raises(FetchError, match="it would drop https"):
        redirect_target("https://a/x", "https://a/x", "http://a/y")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/KEYS", "KEYS", "http:///KEYS"])
def test_only_http_and_https_urls_are_fetched(url):
    assert str(fails(url)).startswith(f"{url}: ")


# --- errors and retries -------------------------------------------------------------------------


def test_404_is_reported_with_its_status_after_one_request(server):
    error = fails(server.url("/missing"))
    assert error.status == 404 and str(error) == f"{server.url('/missing')}: HTTP 404 Not Found"
    assert len(server.requests) == 1


def test_other_4xx_are_not_retried(server):
    server.handle("/KEYS", status(403))
    assert fails(server.url("/KEYS")).status == 403
    assert len(server.requests) == 1


def test_a_5xx_is_retried_until_it_succeeds(server):
    server.handle("/KEYS", sequence(status(500), status(502), serve(KEYS)))
    assert get(server.url("/KEYS")).body == KEYS
    assert len(server.requests) == 3


def test_retries_back_off_exponentially_then_give_up_with_the_status(server):
    server.handle("/KEYS", status(503))
    error = fails(server.url("/KEYS"), retries=3, backoff=0.05)
    assert error.status == 503 and "HTTP 503 Service Unavailable (4 attempts)" in str(error)
    times = [r.at for r in server.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == 3
    for n, gap in enumerate(gaps):
        assert 0.05 * 2**n <= gap < 0.05 * 2**n * 1.5 + 0.3


def test_a_dropped_connection_is_retried(server):
    server.handle("/KEYS", sequence(drop(), serve(KEYS)))
    assert get(server.url("/KEYS")).body == KEYS
    assert len(server.requests) == 2


def test_a_stalled_server_times_out(server):
    server.handle("/KEYS", slow(3, serve(KEYS)))
    started = time.monotonic()
    error = fails(server.url("/KEYS"), timeout=0.2, retries=1)
    assert "timed out" in str(error) and "(2 attempts)" in str(error) and error.status is None
    assert time.monotonic() - started < 2


def test_a_refused_connection_is_reported_as_such():
    url = refusing_url("/KEYS")
    error = fails(url, retries=1)
    assert isinstance(error, CannotConnect)
    assert str(error) == f"{url}: cannot connect: Connection refused (2 attempts)"


# --- size caps ----------------------------------------------------------------------------------


def test_a_declared_10_gb_body_is_refused_before_reading_it(server):
    server.handle("/big.sig", huge(TEN_GB))
    started = time.monotonic()
    error = fails(server.url("/big.sig"), max_bytes=1024 * 1024)
    assert "10,737,418,240 bytes is over the 1,048,576-byte limit" in str(error)
    assert time.monotonic() - started < 2


def test_an_undeclared_10_gb_body_is_cut_at_the_cap_as_it_streams(server):
    server.handle("/big.sig", huge(TEN_GB, content_length=False))
    started = time.monotonic()
    error, peak = with_peak_memory(server, lambda: fails(server.url("/big.sig"), max_bytes=1024 * 1024))
    assert "more than the 1,048,576-byte limit" in str(error)
    assert time.monotonic() - started < 3
    assert peak < 4 * 1024 * 1024


def test_a_body_exactly_at_the_cap_is_accepted(server):
    server.handle("/KEYS", huge(4096, content_length=False))
    assert len(get(server.url("/KEYS"), max_bytes=4096).body) == 4096
    assert "limit" in str(fails(server.url("/KEYS"), max_bytes=4095))


# --- streamed digests ---------------------------------------------------------------------------


def test_stream_digests_hashes_a_large_body_without_holding_it(server):
    chunk = bytes(range(256)) * 256
    size = 32 * 1024 * 1024 + 1234
    server.handle("/release.tar.gz", huge(size, chunk=chunk))
    expected = {name: hashlib.new(name) for name in ("sha256", "sha512", "blake2b")}
    for offset in range(0, size, len(chunk)):
        for digest in expected.values():
            digest.update(chunk[: size - offset])

    streamed, peak = with_peak_memory(server, lambda: run(lambda fetcher: fetcher.stream_digests(
        server.url("/release.tar.gz"), algorithms=("sha256", "sha512", "blake2b"), max_bytes=64 * 1024 * 1024)))

    assert streamed.size == size
    assert streamed.digests == {name: digest.hexdigest() for name, digest in expected.items()}
    assert peak < 4 * 1024 * 1024


def test_stream_digests_is_capped(server):
    server.handle("/release.tar.gz", huge(TEN_GB, content_length=False))
    with pytest.raises(FetchError, match="more than the 1,048,576-byte limit"):
        run(lambda fetcher: fetcher.stream_digests(server.url("/release.tar.gz"), max_bytes=1024 * 1024))


# --- per-host concurrency -----------------------------------------------------------------------


def test_concurrent_requests_to_one_host_are_bounded(server):
    lock, in_flight, most = threading.Lock(), [0], [0]

    def counting(exchange):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        exchange.reply(200, KEYS)

    server.handle("/KEYS", counting)

    async def many(fetcher):
        return await asyncio.gather(*(fetcher.get(server.url("/KEYS")) for _ in range(6)))

    assert all(got.body == KEYS for got in run(many, concurrency_per_host=2))
    assert most[0] == 2 and len(server.requests) == 6
