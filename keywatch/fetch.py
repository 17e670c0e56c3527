"""The only place keywatch talks HTTP: bounded, retried, conditional GETs for the poller.

Thousands of upstreams are polled concurrently on one event loop, and every
one of them is untrusted: a URL may redirect anywhere, answer with 10 GB, or
hang. So redirects are followed by hand (http and https only, never from
https down to http), every body is counted as it arrives and cut at a cap,
each host gets a bounded number of requests at a time, and an unchanged
document costs one conditional request answered 304 from the store's
http_cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import sqlite3
import ssl
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, Protocol, Self, TypeVar

import httpx

from . import __version__
from .errors import KeywatchError
from .types import now_ts
from .untrusted import for_terminal

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})
_LOCATION = "keywatch.location"


class FetchError(KeywatchError):
    """A URL could not be fetched. `status` is the HTTP status when the server answered one (404: absent)."""

    def __init__(self, url: str, problem: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.status = status


class CannotConnect(FetchError):
    """No connection could be made (name not resolved, refused, TLS handshake failed).

    A type of its own because WKD falls back to its direct method exactly then.
    """


@dataclass(frozen=True)
class Fetched:
    """One document. On a 304, `status` is 304 and `body` is the copy cached when it last changed."""

    url: str
    final_url: str
    status: int
    body: bytes
    not_modified: bool
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Streamed:
    """A body that was hashed, not kept: its size and hex digests by hashlib name."""

    url: str
    size: int
    digests: dict[str, str]


class HttpCache:
    """The store's http_cache table: the validators and body each URL answered last time it changed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, url: str) -> tuple[str | None, str | None, bytes] | None:
        row = self.conn.execute("SELECT etag, last_modified, body FROM http_cache WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    # Each write is one statement: atomic on its own in autocommit mode, and harmless inside a caller's transaction.
    def put(self, url: str, etag: str | None, last_modified: str | None, body: bytes, fetched: int) -> None:
        self.conn.execute(
            "INSERT INTO http_cache (url, etag, last_modified, body, fetched) VALUES (?,?,?,?,?) "
            "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,"
            " body = excluded.body, fetched = excluded.fetched", (url, etag, last_modified, body, fetched))

    def forget(self, url: str) -> None:
        self.conn.execute("DELETE FROM http_cache WHERE url = ?", (url,))


class _Sink(Protocol):
    def update(self, chunk: bytes) -> None: ...


class _Buffer:
    """A body kept in memory (it is capped before it gets here)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def update(self, chunk: bytes) -> None:
        self.data += chunk


class _Hashes:
    """Several digests of one body in one pass."""

    def __init__(self, algorithms: tuple[str, ...]) -> None:
        self.hashes = {name: hashlib.new(name) for name in algorithms}

    def update(self, chunk: bytes) -> None:
        for digest in self.hashes.values():
            digest.update(chunk)


S = TypeVar("S", bound=_Sink)


@dataclass(frozen=True)
class _Answer(Generic[S]):
    """What one hop answered; `body` is filled only for 2xx (error, redirect and 304 bodies are never read)."""

    url: str
    status: int
    reason: str
    headers: httpx.Headers
    location: str | None
    body: S | None = None
    size: int = 0


class Fetcher:
    """HTTP GETs for the poller: redirects checked hop by hop, bodies capped, failures retried, 304s cached.

    Use as `async with Fetcher(cache) as fetcher:`; one Fetcher (one connection
    pool) serves every concurrent poll.
    """

    def __init__(self, cache: HttpCache | None, *, timeout: float = 20.0, retries: int = 3, backoff: float = 0.5,
                 max_bytes: int = DEFAULT_MAX_BYTES, concurrency_per_host: int = 8,
                 user_agent: str = f"keywatch/{__version__}") -> None:
        self.cache = cache
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        # Identity encoding: digests must be of the file as served, and caps must count what is on the wire.
        # No pool timeout: waiting for a free connection while thousands of polls run is not the upstream's fault.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, pool=None), follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
            event_hooks={"response": [_hide_location]})
        self._host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(concurrency_per_host))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, max_bytes: int | None = None, conditional: bool = True) -> Fetched:
        """GET one document of at most `max_bytes`; with `conditional`, a cached copy is revalidated (304).

        A 200 carrying an ETag or Last-Modified replaces the cached copy, one
        without them drops it, so that validators never outlive the body they
        belong to; a 304 refreshes the copy's `fetched` time.
        """
        cached = self.cache.get(url) if self.cache else None
        headers = _validators(cached) if conditional else {}
        limit = self.max_bytes if max_bytes is None else max_bytes
        answer = await self._download(url, headers, limit, _Buffer, raw=False, expect_304=bool(headers))
        etag, last_modified = answer.headers.get("etag"), answer.headers.get("last-modified")
        if answer.body is None:  # 304: the cached copy is current
            assert self.cache and cached
            etag, last_modified = etag or cached[0], last_modified or cached[1]
            self.cache.put(url, etag, last_modified, cached[2], now_ts())
            return Fetched(url, answer.url, answer.status, cached[2], True, etag, last_modified)
        body = bytes(answer.body.data)
        if self.cache and (etag or last_modified):
            self.cache.put(url, etag, last_modified, body, now_ts())
        elif self.cache and cached:
            self.cache.forget(url)
        return Fetched(url, answer.url, answer.status, body, False, etag, last_modified)

    async def stream_digests(self, url: str, *, algorithms: tuple[str, ...] = ("sha256",),
                             max_bytes: int) -> Streamed:
        """Hash a body (a release tarball) with several algorithms as it arrives, never holding it whole.

        The bytes hashed are the bytes served: a `.tar.gz` sent with
        `Content-Encoding: gzip` (a common server misconfiguration) is hashed
        as the `.tar.gz` it is.
        """
        hashes, size = await self.stream(url, lambda: _Hashes(algorithms), max_bytes=max_bytes)
        return Streamed(url, size, {name: h.hexdigest() for name, h in hashes.hashes.items()})

    async def stream(self, url: str, new_sink: Callable[[], S], *, max_bytes: int) -> tuple[S, int]:
        """Feed a body, as served, to a sink with `update(chunk)`; a retried download starts a fresh sink."""
        answer = await self._download(url, {}, max_bytes, new_sink, raw=True, expect_304=False)
        assert answer.body is not None
        return answer.body, answer.size

    async def _download(self, url: str, headers: dict[str, str], max_bytes: int, new_sink: Callable[[], S], *,
                        raw: bool, expect_304: bool) -> _Answer[S]:
        """Follow redirects by hand, so that every hop is checked before it is requested."""
        _check_url(url)
        visited = [url]
        answer = await self._retried(url, url, headers, max_bytes, new_sink, raw)
        while answer.status in _REDIRECT_STATUSES:
            target = redirect_target(url, answer.url, answer.location)
            if target in visited:
                raise FetchError(url, "redirect loop: " + " → ".join([*visited, target]))
            if len(visited) > MAX_REDIRECTS:
                raise FetchError(url, f"more than {MAX_REDIRECTS} redirects (the last one from {answer.url})")
            visited.append(target)
            answer = await self._retried(url, target, headers, max_bytes, new_sink, raw)
        if 200 <= answer.status < 300 or (answer.status == 304 and expect_304):
            return answer
        raise FetchError(url, f"{_status_line(answer)}{_at(url, answer.url)}", answer.status)

    async def _retried(self, url: str, current: str, headers: dict[str, str], max_bytes: int,
                       new_sink: Callable[[], S], raw: bool) -> _Answer[S]:
        """One hop; 5xx answers and network failures are retried with exponential backoff and jitter."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                await asyncio.sleep(delay + random.uniform(0, delay / 2))  # jitter: polls failing together spread out
            error: type[FetchError] = FetchError
            status = None
            try:
                answer = await self._request(url, current, headers, max_bytes, new_sink, raw)
            except httpx.TimeoutException:
                problem = f"timed out after {self.timeout:g} s"
            except httpx.ConnectError as exc:
                error, problem = CannotConnect, f"cannot connect: {_root_cause(exc)}"
            except httpx.TransportError as exc:
                problem = f"connection failed: {_first_line(exc)}"
            except httpx.DecodingError as exc:
                raise FetchError(url, f"cannot decode the response: {_first_line(exc)}{_at(url, current)}") from None
            else:
                if answer.status < 500:
                    return answer
                status, problem = answer.status, _status_line(answer)
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        raise error(url, f"{problem}{_at(url, current)}{tries}", status)

    async def _request(self, url: str, current: str, headers: dict[str, str], max_bytes: int,
                       new_sink: Callable[[], S], raw: bool) -> _Answer[S]:
        """One GET, its body streamed into a fresh sink and cut off at `max_bytes`."""
        async with (self._host_slots[httpx.URL(current).host],
                    self._client.stream("GET", current, headers=headers) as response):
            answer: _Answer[S] = _Answer(current, response.status_code, response.reason_phrase,
                                         response.headers, response.extensions.get(_LOCATION))
            if not 200 <= response.status_code < 300:
                await _drain(response)
                return answer
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(url, f"{int(declared):,} bytes is over the {max_bytes:,}-byte limit"
                                      f"{_at(url, current)}")
            sink, size = new_sink(), 0
            async for chunk in response.aiter_raw() if raw else response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, f"more than the {max_bytes:,}-byte limit{_at(url, current)}")
                sink.update(chunk)
            return replace(answer, body=sink, size=size)


# Bodies of 304s, redirects and errors are read (up to this much) so the connection can be reused:
# an unchanged upstream then costs a request, not a TCP (and TLS) handshake.
_DRAIN_LIMIT = 64 * 1024


async def _drain(response: httpx.Response) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_LIMIT:
        return  # a large error page is not worth reading; the connection is simply closed
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > _DRAIN_LIMIT:
            return


def redirect_target(url: str, current: str, location: str | None) -> str:
    """Where a redirect from `current` leads; anything but http(s), or https down to http, is refused.

    `url` is the URL first asked for, named in every error.
    """
    if not location:
        raise FetchError(url, f"redirect from {current} without a Location")
    shown = for_terminal(location)
    try:
        target = httpx.URL(current).join(location)
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"redirect from {current} to an invalid URL {shown}: {exc}") from None
    if target.scheme not in _SCHEMES or not target.host:
        raise FetchError(url, f"redirect from {current} to {shown} refused: only http and https URLs are followed")
    if target.scheme == "http" and httpx.URL(current).scheme == "https":
        raise FetchError(url, f"redirect from {current} to {shown} refused: it would drop https")
    return str(target)


async def _hide_location(response: httpx.Response) -> None:
    """Keep Location away from httpx, which builds a redirect request from it even when not following it.

    It would fail, with its own error, on exactly the Locations keywatch must
    refuse with a clear one (`data:…`, malformed URLs); `redirect_target` judges them instead.
    """
    if "location" in response.headers:
        response.extensions[_LOCATION] = response.headers["location"]
        del response.headers["location"]


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"not a valid URL: {exc}") from None
    if parsed.scheme not in _SCHEMES or not parsed.host:
        raise FetchError(url, "only http and https URLs are fetched")


def _validators(cached: tuple[str | None, str | None, bytes] | None) -> dict[str, str]:
    if cached is None:
        return {}
    etag, last_modified, _ = cached
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _status_line(answer: _Answer) -> str:
    return f"HTTP {answer.status} {for_terminal(answer.reason, 80)}".rstrip()


def _at(url: str, current: str) -> str:
    """Where, after redirects, a failure happened."""
    return "" if current == url else f" (at {current})"


def _root_cause(exc: BaseException) -> str:
    """What really failed ("Connection refused") rather than the wrapper's "All connection attempts failed"."""
    root = exc
    while (cause := root.__cause__ or root.__context__) is not None:
        root = cause
    if isinstance(root, OSError) and not isinstance(root, ssl.SSLError) and root.errno and root.errno > 0:
        return os.strerror(root.errno)
    return _first_line(root)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
