"""A real HTTP server on 127.0.0.1 for keywatch's network tests: routes, scripted handlers, a request log.

Tests play an upstream's history step by step, so routes can be changed
between requests. Handlers misbehave the way real servers do (error statuses,
redirects to anything, stalls, endless bodies, dropped connections) without
allocating what they pretend to send. Every request is logged as it arrives,
before it is answered, so a test can assert exactly which requests a client
made, even ones it gave up on.

    with LoopbackServer() as server:
        server.route("/KEYS", cert, etag='"v1"')
        server.handle("/old", redirect("/KEYS"))
        server.handle("/flaky", sequence(status(500), serve(cert)))
        ... server.url("/KEYS") ... server.requests ...
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

Handler = Callable[["Exchange"], None]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # the request target as sent, query string included
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival


class Exchange(BaseHTTPRequestHandler):
    """One request as a handler sees it: `command`, `path`, `headers`, `body`; answer with `reply`.

    Handlers may also write to `wfile` themselves (after `send_response`,
    headers and `end_headers`), as http.server handlers do.
    """

    disable_nagle_algorithm = True  # otherwise every answer with a body waits ~40 ms for a delayed ACK

    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection left behind by a test does not hold a thread for ever
    server: _Server
    body: bytes

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, **(headers or {})}.items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.owner._handler_for(self)(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        """Silent: tests read `LoopbackServer.requests` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up mid-answer is what many tests are about; anything else is a handler bug worth seeing.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 and a free port, serving from its first line until `close`.

    Paths are matched exactly, first with the query string, then without it;
    anything else is 404. Usable as a context manager or a pytest fixture.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, Handler] = {}
        self._log: list[LoggedRequest] = []
        self._server = _Server(("127.0.0.1", 0), Exchange)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"loopback-http-{self.port}", daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def url(self, path: str = "/") -> str:
        return self.base + path

    def route(self, path: str, body: bytes, *, content_type: str = "application/octet-stream",
              etag: str | None = None, last_modified: str | None = None) -> None:
        """Serve a static document at `path` (replacing what was there), with conditional requests."""
        self.handle(path, serve(body, content_type=content_type, etag=etag, last_modified=last_modified))

    def handle(self, path: str, handler: Handler) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a path starts with '/': {path!r}")
        with self._lock:
            self._handlers[path] = handler

    def remove(self, path: str) -> None:
        with self._lock:
            del self._handlers[path]

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _handler_for(self, exchange: Exchange) -> Handler:
        headers = {name.lower(): value for name, value in exchange.headers.items()}
        with self._lock:
            self._log.append(LoggedRequest(exchange.command, exchange.path, headers, exchange.body, time.monotonic()))
            handler = self._handlers.get(exchange.path) or self._handlers.get(exchange.path.split("?", 1)[0])
        return handler or status(404, b"not found\n")


# --- handlers ----------------------------------------------------------------------------------


def serve(body: bytes, *, content_type: str = "application/octet-stream", etag: str | None = None,
          last_modified: str | None = None) -> Handler:
    """A static document that answers If-None-Match / If-Modified-Since with 304, as web servers do."""
    validators = {name: value for name, value in (("ETag", etag), ("Last-Modified", last_modified)) if value}

    def handler(exchange: Exchange) -> None:
        if _not_modified(exchange.headers, etag, last_modified):
            exchange.reply(304, headers=validators, content_type=content_type)
        else:
            exchange.reply(200, body, validators, content_type)

    return handler


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None,
           content_type: str = "text/plain") -> Handler:
    return lambda exchange: exchange.reply(code, body, headers, content_type)


def redirect(location: str, code: int = 302) -> Handler:
    """A redirect to any Location at all: relative, another host, or another scheme (file:, data:, ...)."""
    return status(code, headers={"Location": location})


def slow(seconds: float, then: Handler) -> Handler:
    """Wait before answering, like a stalled upstream."""

    def handler(exchange: Exchange) -> None:
        time.sleep(seconds)
        then(exchange)

    return handler


def huge(size: int, *, content_length: bool = True, chunk: bytes = b"\0" * 65536) -> Handler:
    """`size` bytes of `chunk` repeated, made on the fly: a 10 GB body costs one chunk of memory.

    Without `content_length` the body ends when the connection closes, so
    only counting the bytes as they arrive can stop it.
    """
    view = memoryview(chunk)

    def handler(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("Content-Type", "application/octet-stream")
        if content_length:
            exchange.send_header("Content-Length", str(size))
        else:
            exchange.send_header("Connection", "close")
            exchange.close_connection = True
        exchange.end_headers()
        remaining = size
        while remaining > 0:
            part = view[: min(remaining, len(view))]
            exchange.wfile.write(part)
            remaining -= len(part)

    return handler


def drop() -> Handler:
    """Close the connection without answering, like a crashed or overloaded server."""

    def handler(exchange: Exchange) -> None:
        exchange.close_connection = True

    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request is answered by the n-th handler; the last one answers every request after it."""
    lock, count = threading.Lock(), [0]

    def handler(exchange: Exchange) -> None:
        with lock:
            index = min(count[0], len(handlers) - 1)
            count[0] += 1
        handlers[index](exchange)

    return handler


def refusing_url(path: str = "/") -> str:
    """A URL on a loopback port nobody listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _not_modified(headers: Message, etag: str | None, last_modified: str | None) -> bool:
    """RFC 9110 §13.1: If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    if_modified_since = headers.get("If-Modified-Since")
    if not (if_modified_since and last_modified):
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
