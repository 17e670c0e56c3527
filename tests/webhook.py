"""A real webhook receiver on 127.0.0.1 for the alert tests.

Its port is bound at once but nothing listens until `start()`: until then a
connection is refused, which is how the tests play a receiver that is down.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

@dataclass
class Request:
    headers: dict[str, str]
    body: bytes

    @property
    def event_ids(self) -> list[int]:
        return [event["id"] for event in json.loads(self.body)["events"]]


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 recording every POST; answers `status`, after `delay` seconds."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status, self.delay = 200, 0.0
        self.thread: threading.Thread | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(Request({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.server_bind()  # the port is ours, but nothing listens yet: connections are refused
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def start(self) -> None:
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
        self.server.server_close()

    def accepted_ids(self) -> list[int]:
        return [i for request in self.requests for i in request.event_ids]
