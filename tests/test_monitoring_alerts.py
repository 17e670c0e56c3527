"""Alerts raised by `keywatch poll` reach real receivers on 127.0.0.1: a webhook, an SMTP server, a feed file.

The upstream is a real HTTP server whose index lists two releases without
signatures, so a poll raises two `unsigned_release` events. Receivers that are
down (a bound port nobody accepts on, an SMTP server not started) must not
fail the poll nor lose an event: the outbox keeps them, and once the receivers
are back `keywatch watch --once` delivers each event exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import xml.etree.ElementTree as ET
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from httpserver import LoopbackServer
from webhook import WebhookReceiver

SECRET = "hook-secret-7f3a"
ATOM = "{http://www.w3.org/2005/Atom}"
SENDER = "keywatch@example.org"
RECIPIENTS = ["packagers@example.org", "security@example.org"]


def verified_events(receiver: WebhookReceiver) -> list[dict]:
    """Every event posted, in order, after checking each request's HMAC-SHA256 signature ourselves."""
    events = []
    for post in receiver.requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(post.headers.get("x-keywatch-signature", ""), expected), post.headers
        assert post.headers["content-type"] == "application/json"
        [event] = json.loads(post.body)["events"]
        assert post.headers["x-keywatch-event-ids"] == str(event["id"])
        events.append(event)
    return events


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every mail; nothing listens until start()."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.running = False

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def start(self) -> None:
        self.controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False

    def messages(self):
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.mails]


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def upstream():
    """An index with two releases and no signature anywhere: each poll of a fresh workspace raises two events."""
    with LoopbackServer() as server:
        page = b"<html><body>" + b"".join(f'<a href="proj-{v}.tar.gz">proj-{v}.tar.gz</a><br>'.encode()
                                          for v in ("1.0", "1.1")) + b"</body></html>"
        server.route("/pub/", page, content_type="text/html", etag='"index-1"')
        for version in ("1.0", "1.1"):
            server.route(f"/pub/proj-{version}.tar.gz", f"proj {version}\n".encode())
        yield server


def configure(kw, server: LoopbackServer, webhook: WebhookReceiver, smtp: SmtpServer) -> None:
    (kw.workspace / "keywatch.toml").write_text(f"""\
[monitor]
retries = 1
alert_retry_seconds = 1

[[upstream]]
name = "proj"
index = {json.dumps(server.url("/pub/"))}
pattern = 'proj-([\\d.]+)\\.tar\\.gz'

[[alert]]
name = "hook"
type = "webhook"
url = {json.dumps(webhook.url)}
secret = {json.dumps(SECRET)}
timeout = 5

[[alert]]
name = "mail"
type = "email"
host = "127.0.0.1"
port = {smtp.port}
sender = {json.dumps(SENDER)}
recipients = {json.dumps(RECIPIENTS)}
starttls = false
timeout = 5

[[alert]]
name = "feed"
type = "atom"
path = "alerts.atom"
""", encoding="utf-8")


def stored_events(kw) -> list[dict]:
    return sorted(kw("events", "--json").json(), key=lambda e: e["id"])


def feed_ids(path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}generator") == "keywatch"
    return [entry.findtext(f"{ATOM}id") for entry in root.findall(f"{ATOM}entry")]


def check_mails(smtp: SmtpServer, events: list[dict]) -> None:
    assert [(sender, recipients) for sender, recipients, _ in smtp.mails] == [(SENDER, RECIPIENTS)] * len(events)
    by_id = {int(m["X-Keywatch-Event-Id"]): m for m in smtp.messages()}
    assert sorted(by_id) == [e["id"] for e in events]  # one mail per event, none twice
    for event in events:
        mail = by_id[event["id"]]
        assert mail["Subject"] == f"[keywatch] high: unsigned_release in proj {event['version']}"
        assert mail.get_content().startswith(event["message"])


def test_poll_alerts_reach_webhook_mail_and_feed(kw, upstream, webhook, smtp):
    webhook.start()
    smtp.start()
    configure(kw, upstream, webhook, smtp)
    report = kw("poll", "--json").json()
    assert (report["failed"], report["events"]) == (0, 2)

    events = stored_events(kw)
    assert [(e["kind"], e["version"]) for e in events] == [("unsigned_release", "1.0"), ("unsigned_release", "1.1")]
    posted = verified_events(webhook)
    assert [(p["id"], p["kind"], p["upstream"], p["version"], p["message"]) for p in posted] == [
        (e["id"], e["kind"], e["upstream"], e["version"], e["message"]) for e in events]
    check_mails(smtp, events)
    assert feed_ids(kw.workspace / "alerts.atom") == [f"urn:keywatch:event:{e['id']}" for e in reversed(events)]
    assert kw.query("SELECT count(*) FROM outbox WHERE delivered IS NULL") == [(0,)]
    assert kw.query("SELECT sink, count(*) FROM outbox GROUP BY sink ORDER BY sink") == [
        ("feed", 2), ("hook", 2), ("mail", 2)]

    # Nothing new: polling again sends nothing.
    assert kw("poll", "--json").json()["events"] == 0
    assert (len(webhook.requests), len(smtp.mails)) == (2, 2)


def test_receivers_down_lose_nothing_and_get_each_event_once_when_back(kw, upstream, webhook, smtp):
    configure(kw, upstream, webhook, smtp)
    polled = kw("poll", "--json")
    assert polled.code == 0 and polled.json()["events"] == 2
    assert "alert sink hook: 2 not delivered yet" in polled.stderr
    assert "alert sink mail: 2 not delivered yet" in polled.stderr

    events = stored_events(kw)
    ids = [e["id"] for e in events]
    assert len(ids) == 2
    pending = kw.query("SELECT sink, event_id, attempts, last_error FROM outbox WHERE delivered IS NULL"
                        " ORDER BY sink, event_id")
    assert [(sink, event_id, attempts) for sink, event_id, attempts, _ in pending] == [
        ("hook", ids[0], 1), ("hook", ids[1], 1), ("mail", ids[0], 1), ("mail", ids[1], 1)]
    assert all(error for *_, error in pending)
    # The feed is a file, not a receiver that was down: it has both already.
    assert feed_ids(kw.workspace / "alerts.atom") == [f"urn:keywatch:event:{i}" for i in reversed(ids)]

    webhook.start()
    smtp.start()
    [(due,)] = kw.query("SELECT max(next_attempt) FROM outbox WHERE delivered IS NULL")
    time.sleep(max(0.0, due - time.time()))  # alert_retry_seconds = 1: due about a second after the poll
    watched = kw("watch", "--once")
    assert "not delivered yet" not in watched.stderr, watched.stderr

    assert [e["id"] for e in verified_events(webhook)] == ids
    check_mails(smtp, events)
    assert kw.query("SELECT count(*) FROM outbox WHERE delivered IS NULL") == [(0,)]

    # Later runs deliver nothing again, and the feed still holds each event once.
    assert kw("poll", "--json").json()["events"] == 0
    kw("watch", "--once")
    assert (len(webhook.requests), len(smtp.mails)) == (2, 2)
    assert feed_ids(kw.workspace / "alerts.atom") == [f"urn:keywatch:event:{i}" for i in reversed(ids)]
