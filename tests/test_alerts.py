"""Alerts reach real receivers — an HTTP server, an SMTP server, a feed file — once, in order, after outages.

Every receiver runs for real on 127.0.0.1; the only thing faked is the
Outbox's clock, so retries that would take minutes happen at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from keywatch import alerts
from keywatch.alerts import (
    AlertDeliveryError,
    AtomSink,
    EmailSink,
    Event,
    LogSink,
    Outbox,
    WebhookSink,
    sinks_from_config,
)
from keywatch.errors import ConfigError
from keywatch.store import Store
from webhook import WebhookReceiver

T0 = 1_711_670_400  # 2024-03-29T00:00:00Z
FPR = "22D465F2B4C173803B20C6DE59FCF207FEA7EAAA"
SECRET = "s3cret"
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "Jia Tan <jiat0218@gmail.com>\r\nBcc: evil@example.org"


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "kw.db")
    yield store
    store.close()


def add_event(store: Store, kind: str = "new_signer", severity: str = "high", upstream: str | None = "xz",
              version: str | None = "5.6.0", message: str = "xz 5.6.0 is signed by a new key",
              details: dict | None = None) -> int:
    cursor = store.conn.execute(
        "INSERT INTO events (kind, severity, upstream, version, fingerprint, created, message, details, dedup_key)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (kind, severity, upstream, version, FPR, T0, message, json.dumps(details or {"signer": FPR}),
         f"{kind}|{upstream}|{version}|{time.monotonic_ns()}"))
    return cursor.lastrowid


def outbox_rows(store: Store, sink: str) -> list[tuple]:
    return store.conn.execute("SELECT event_id, attempts, next_attempt, delivered, last_error FROM outbox"
                              " WHERE sink = ? ORDER BY event_id", (sink,)).fetchall()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def test_event_json_has_iso_time(store):
    event_id = add_event(store)
    clock = Clock()
    outbox = Outbox(store.conn, [LogSink("log", store.path.parent / "log.jsonl")], clock=clock)
    outbox.enqueue([event_id])
    outbox.deliver_due()
    line = json.loads((store.path.parent / "log.jsonl").read_text())
    assert line == {"id": event_id, "kind": "new_signer", "severity": "high", "upstream": "xz", "version": "5.6.0",
                    "fingerprint": FPR, "created": "2024-03-29T00:00:00Z",
                    "message": "xz 5.6.0 is signed by a new key", "details": {"signer": FPR}}


def test_webhook_posts_each_event_once_signed(store, receiver):
    receiver.start()
    ids = [add_event(store, version=v) for v in ("5.6.0", "5.6.1", "5.6.2")]
    outbox = Outbox(store.conn, [WebhookSink("hook", receiver.url, SECRET)], clock=Clock())
    outbox.enqueue(ids)
    report = outbox.deliver_due()
    assert report.delivered == 3 and report.failed == 0
    assert [r.event_ids for r in receiver.requests] == [[i] for i in ids]
    for request, event_id in zip(receiver.requests, ids):
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-keywatch-signature"] == f"sha256={expected}"
        assert request.headers["x-keywatch-event-ids"] == str(event_id)
        assert request.headers["content-type"] == "application/json"
    assert json.loads(receiver.requests[1].body)["events"][0]["version"] == "5.6.1"
    assert outbox.deliver_due().delivered == 0
    assert len(receiver.requests) == 3 and outbox.pending() == 0
    assert [row[3] for row in outbox_rows(store, "hook")] == [T0] * 3


def test_webhook_without_secret_sends_no_signature(store, receiver):
    receiver.start()
    outbox = Outbox(store.conn, [WebhookSink("hook", receiver.url)], clock=Clock())
    outbox.enqueue([add_event(store)])
    outbox.deliver_due()
    assert "x-keywatch-signature" not in receiver.requests[0].headers


def test_webhook_down_then_up_delivers_the_backlog_once_in_order(store, receiver):
    clock = Clock()
    outbox = Outbox(store.conn, [WebhookSink("hook", receiver.url, SECRET, timeout=2)], clock=clock)
    first = [add_event(store, version=v) for v in ("5.6.0", "5.6.1")]
    outbox.enqueue(first)
    report = outbox.deliver_due()
    assert report.delivered == 0 and report.outcomes[0].failed == tuple(first)
    assert "ConnectError" in report.outcomes[0].error
    rows = outbox_rows(store, "hook")
    assert [row[1] for row in rows] == [1, 1]
    assert all(T0 + 30 <= row[2] <= T0 + 33 and row[3] is None and "ConnectError" in row[4] for row in rows)

    clock.now += 10  # still backing off: nothing is attempted
    assert outbox.deliver_due().outcomes == ()
    assert [row[1] for row in outbox_rows(store, "hook")] == [1, 1]

    later = add_event(store, version="5.6.2")  # raised while the receiver is down: waits behind the others
    outbox.enqueue([later])
    assert outbox.deliver_due().outcomes == ()

    clock.now = max(row[2] for row in outbox_rows(store, "hook"))
    outbox.deliver_due()
    rows = outbox_rows(store, "hook")
    assert [row[1] for row in rows] == [2, 2, 1]
    assert all(clock.now + 60 <= row[2] <= clock.now + 66 for row in rows[:2])
    assert outbox.pending() == 3 and receiver.requests == []

    receiver.start()
    assert outbox.deliver_due().outcomes == ()  # up again, but the retry is not due yet
    clock.now += 70
    report = outbox.deliver_due()
    assert report.delivered == 3 and outbox.pending() == 0
    assert receiver.accepted_ids() == first + [later]
    clock.now += 10_000
    outbox.deliver_due()
    assert receiver.accepted_ids() == first + [later]


def test_webhook_error_status_and_timeout_are_failures(store, receiver):
    receiver.start()
    clock = Clock()
    outbox = Outbox(store.conn, [WebhookSink("hook", receiver.url, timeout=0.3)], clock=clock)
    event_id = add_event(store)
    outbox.enqueue([event_id])
    receiver.status = 500
    assert outbox.deliver_due().outcomes[0].error == "webhook hook: HTTP 500"
    receiver.status, receiver.delay = 200, 1.0
    clock.now += 100
    assert "Timeout" in outbox.deliver_due().outcomes[0].error
    receiver.delay = 0.0
    clock.now += 100
    assert outbox.deliver_due().delivered == 1
    [(_, attempts, _, delivered, last_error)] = outbox_rows(store, "hook")
    assert (attempts, delivered) == (3, T0 + 200) and "Timeout" in last_error


def test_backoff_doubles_up_to_the_cap(store, receiver):
    clock = Clock()
    outbox = Outbox(store.conn, [WebhookSink("hook", receiver.url)], clock=clock, base_delay=30, max_delay=100)
    outbox.enqueue([add_event(store)])
    delays = []
    for _ in range(5):
        outbox.deliver_due()
        next_attempt = outbox_rows(store, "hook")[0][2]
        delays.append(next_attempt - clock.now)
        clock.now = next_attempt
    for delay, base in zip(delays, (30, 60, 100, 100, 100)):
        assert base <= delay <= base * 1.1
    assert outbox_rows(store, "hook")[0][1] == 5


def test_partial_batch_marks_only_what_was_accepted(store, receiver):
    receiver.start()
    clock = Clock()
    sink = WebhookSink("hook", receiver.url)
    ids = [add_event(store, version=v) for v in ("1", "2", "3")]

    class FailsOnThird:
        """The real webhook sink, whose network goes away after two requests."""

        name = "hook"

        def deliver(self, events):
            sink.deliver(events[:2])
            raise AlertDeliveryError("webhook hook: network unreachable", delivered=2)

    outbox = Outbox(store.conn, [FailsOnThird()], clock=clock)
    outbox.enqueue(ids)
    outcome = outbox.deliver_due().outcomes[0]
    assert (outcome.delivered, outcome.failed) == (tuple(ids[:2]), (ids[2],))
    clock.now += 100
    Outbox(store.conn, [sink], clock=clock).deliver_due()
    assert receiver.accepted_ids() == ids


def test_a_run_that_dies_mid_delivery_loses_nothing(store, receiver, tmp_path):
    """At least once: the receiver got the event, the process died before noting it, so it comes again."""
    receiver.start()
    clock = Clock()
    sink = WebhookSink("hook", receiver.url)

    class DiesAfterSending:
        name = "hook"

        def deliver(self, events):
            sink.deliver(events)
            raise SystemExit("killed")

    event_id = add_event(store)
    Outbox(store.conn, [sink], clock=clock).enqueue([event_id])
    with pytest.raises(SystemExit):
        Outbox(store.conn, [DiesAfterSending()], clock=clock).deliver_due()

    restarted = Store(tmp_path / "kw.db")
    try:
        outbox = Outbox(restarted.conn, [sink], clock=clock)
        assert outbox.pending() == 1
        assert outbox.deliver_due().outcomes == ()  # the dead run's claim still holds
        clock.now += alerts.CLAIM_SECONDS
        assert outbox.deliver_due().delivered == 1
    finally:
        restarted.close()
    assert receiver.accepted_ids() == [event_id, event_id]
    assert {r.headers["x-keywatch-event-ids"] for r in receiver.requests} == {str(event_id)}


def test_a_concurrent_run_skips_a_claimed_sink(store, tmp_path):
    clock = Clock()
    log = tmp_path / "alerts.jsonl"
    other = Store(tmp_path / "kw.db")
    seen_by_other = []

    class RunsAnotherProcessMeanwhile:
        name = "log"

        def deliver(self, events):
            seen_by_other.append(Outbox(other.conn, [LogSink("log", log)], clock=clock).deliver_due())
            LogSink("log", log).deliver(events)

    try:
        outbox = Outbox(store.conn, [RunsAnotherProcessMeanwhile()], clock=clock)
        outbox.enqueue([add_event(store)])
        assert outbox.deliver_due().delivered == 1
    finally:
        other.close()
    assert seen_by_other[0].outcomes == ()
    assert len(log.read_text().splitlines()) == 1


def test_a_broken_sink_does_not_stop_the_others(store, tmp_path):
    class Broken:
        name = "broken"

        def deliver(self, events):
            raise RuntimeError("bug")

    log = tmp_path / "alerts.jsonl"
    outbox = Outbox(store.conn, [Broken(), LogSink("log", log)], clock=Clock())
    outbox.enqueue([add_event(store)])
    report = outbox.deliver_due()
    assert [(o.sink, len(o.delivered), o.error) for o in report.outcomes] == [
        ("broken", 0, "RuntimeError: bug"), ("log", 1, None)]
    assert outbox.pending() == 1


def test_enqueue_is_idempotent_and_joins_the_events_transaction(store, tmp_path):
    outbox = Outbox(store.conn, [LogSink("a", tmp_path / "a"), LogSink("b", tmp_path / "b")], clock=Clock())
    first = add_event(store)
    outbox.enqueue([first])
    outbox.enqueue([first])
    assert outbox.pending() == 2
    with pytest.raises(RuntimeError), store.transaction():
        rolled_back = add_event(store)
        outbox.enqueue([rolled_back])
        raise RuntimeError("crash before commit")
    assert outbox.pending() == 2 and store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    with store.transaction():
        outbox.enqueue([add_event(store, version="5.6.1")])
    assert outbox.pending() == 4


def test_rows_of_a_removed_sink_stay_and_are_reported(store, tmp_path):
    clock = Clock()
    both = [LogSink("kept", tmp_path / "kept"), LogSink("removed", tmp_path / "removed")]
    ids = [add_event(store, version=v) for v in ("1", "2")]
    Outbox(store.conn, both, clock=clock).enqueue(ids)
    outbox = Outbox(store.conn, both[:1], clock=clock)
    report = outbox.deliver_due()
    assert report.delivered == 2 and report.orphaned == {"removed": 2}
    assert outbox.pending() == 0
    assert [row[1:4] for row in outbox_rows(store, "removed")] == [(0, T0, None)] * 2
    assert not (tmp_path / "removed").exists()
    assert Outbox(store.conn, both, clock=clock).deliver_due().delivered == 2


# --- a real SMTP server ------------------------------------------------------------------------

@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self):
        return message_from_bytes(self.raw, policy=policy.default)


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every mail; down until `start()`."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="mail.test")
        self.running = False

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def start(self) -> None:
        self.controller.start()
        self.running = True


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    if server.running:
        server.controller.stop()


def email_sink(port: int, **options) -> EmailSink:
    return EmailSink("mail", "127.0.0.1", port, "keywatch@example.org", ["packagers@example.org"],
                     **{"starttls": False, "timeout": 5, **options})


def test_email_subject_body_and_headers(smtp):
    smtp.start()
    event = Event(17, "new_signer", "high", "xz", "5.6.0", FPR, T0, "xz 5.6.0 is signed by a new key",
                  {"signer": FPR})
    email_sink(smtp.port).deliver([event])
    [mail] = smtp.mails
    message = mail.message
    assert (mail.mail_from, mail.rcpt_tos) == ("keywatch@example.org", ["packagers@example.org"])
    assert message["Subject"] == "[keywatch] high: new_signer in xz 5.6.0"
    assert message["From"] == "keywatch@example.org" and message["To"] == "packagers@example.org"
    assert message["X-Keywatch-Event-Id"] == "17"
    assert message["Message-ID"].startswith("<keywatch.17.") and message["Message-ID"].endswith("@example.org>")
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("xz 5.6.0 is signed by a new key\n")
    assert f"Fingerprint: {FPR}" in body and "Raised:      2024-03-29T00:00:00Z" in body
    email_sink(smtp.port).deliver([event])
    assert smtp.mails[1].message["Message-ID"] == message["Message-ID"]  # a repeat is recognisable


def test_hostile_text_cannot_add_headers_or_recipients(smtp, store):
    smtp.start()
    event_id = add_event(store, upstream=f"xz{HOSTILE}", version="5.6.0\nX-Evil: 1",
                         message=f"new user ID {HOSTILE}\x1b[2J", details={"uid": HOSTILE})
    outbox = Outbox(store.conn, [email_sink(smtp.port)], clock=Clock())
    outbox.enqueue([event_id])
    assert outbox.deliver_due().delivered == 1
    [mail] = smtp.mails
    header_block = mail.raw.split(b"\r\n\r\n", 1)[0].decode()
    assert not any(line.lower().startswith(("bcc", "x-evil")) for line in header_block.split("\r\n"))
    assert mail.message["Bcc"] is None and mail.rcpt_tos == ["packagers@example.org"]
    assert mail.message["Subject"] == (
        "[keywatch] high: new_signer in xzJia Tan <jiat0218@gmail.com> Bcc: evil@example.org 5.6.0 X-Evil: 1")
    body = mail.message.get_content().replace("\r\n", "\n")
    assert "new user ID Jia Tan <jiat0218@gmail.com>\nBcc: evil@example.org\ufffd[2J" in body
    assert "\x1b" not in body


def test_email_down_then_up_is_delivered_once(smtp, store):
    clock = Clock()
    outbox = Outbox(store.conn, [email_sink(smtp.port)], clock=clock)
    outbox.enqueue([add_event(store)])
    report = outbox.deliver_due()
    assert report.failed == 1 and "ConnectionRefusedError" in report.outcomes[0].error
    smtp.start()
    clock.now += 40
    assert outbox.deliver_due().delivered == 1
    clock.now += 4000
    outbox.deliver_due()
    assert len(smtp.mails) == 1


def test_starttls_is_never_skipped(smtp, store):
    """A server (or a man in the middle) that offers no STARTTLS gets nothing, rather than plain text."""
    smtp.start()
    outbox = Outbox(store.conn, [email_sink(smtp.port, starttls=True)], clock=Clock())
    outbox.enqueue([add_event(store)])
    report = outbox.deliver_due()
    assert report.failed == 1 and "STARTTLS" in report.outcomes[0].error
    assert smtp.mails == []


# --- the Atom feed -----------------------------------------------------------------------------

def feed_entries(path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}generator") == "keywatch"
    return root.findall(f"{ATOM}entry")


def test_atom_feed_is_newest_first_bounded_and_escaped(store, tmp_path):
    feed = tmp_path / "alerts.atom"
    clock = Clock()
    outbox = Outbox(store.conn, [AtomSink("feed", feed, max_entries=3)], clock=clock)
    script = "<script>alert('x')</script> & \x00\x07 \ufffe"
    ids = [add_event(store, version=str(v)) for v in range(4)]
    ids.append(add_event(store, upstream=script, message=f"user ID {script}", details={"uid": script}))
    outbox.enqueue(ids[:2])
    outbox.deliver_due()
    assert [e.findtext(f"{ATOM}id") for e in feed_entries(feed)] == [f"urn:keywatch:event:{i}" for i in ids[1::-1]]
    outbox.enqueue(ids[2:])
    outbox.deliver_due()
    entries = feed_entries(feed)
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"urn:keywatch:event:{i}" for i in ids[:1:-1]]
    title = entries[0].findtext(f"{ATOM}title")
    assert title == "high: new_signer in <script>alert('x')</script> & \ufffe 5.6.0".replace("\ufffe", "\ufffd")
    assert "user ID <script>alert('x')</script> &" in entries[0].findtext(f"{ATOM}content")
    assert entries[0].find(f"{ATOM}content").get("type") == "text"
    assert "<script>" not in feed.read_text() and "&lt;script&gt;" in feed.read_text()
    assert entries[0].findtext(f"{ATOM}updated") == "2024-03-29T00:00:00Z"
    assert {c.get("term") for c in entries[0].findall(f"{ATOM}category")} == {"high", "new_signer"}


def test_atom_delivering_again_replaces_the_entry(store, tmp_path):
    feed = tmp_path / "alerts.atom"
    sink = AtomSink("feed", feed)
    event = Event(5, "bad_signature", "critical", "xz", "5.6.1", FPR, T0, "does not verify", {})
    sink.deliver([event])
    sink.deliver([event])
    assert len(feed_entries(feed)) == 1


def test_atom_feed_is_always_a_complete_document(tmp_path):
    feed = tmp_path / "alerts.atom"
    sink = AtomSink("feed", feed, max_entries=500)
    sink.deliver([Event(0, "new_signer", "high", "xz", "0", FPR, T0, "first", {})])
    failures, done = [], threading.Event()

    def read_continuously() -> None:
        while not done.is_set():
            try:
                feed_entries(feed)
            except ET.ParseError as exc:
                failures.append(exc)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for i in range(1, 60):
            sink.deliver([Event(i, "new_signer", "high", "xz", str(i), FPR, T0 + i, "x" * 2000, {"n": i})])
    finally:
        done.set()
        reader.join()
    assert failures == [] and len(feed_entries(feed)) == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.atom"]  # no temporary file left behind


def test_atom_refuses_to_replace_a_file_it_did_not_write(tmp_path):
    precious = tmp_path / "notes.xml"
    precious.write_text("<notes>mine</notes>")
    with pytest.raises(AlertDeliveryError, match="not a keywatch feed"):
        AtomSink("feed", precious).deliver([Event(1, "new_signer", "high", "xz", "1", FPR, T0, "m", {})])
    assert precious.read_text() == "<notes>mine</notes>"


# --- the log -----------------------------------------------------------------------------------

def test_log_appends_one_json_line_per_event(tmp_path, capsys):
    log = tmp_path / "alerts.jsonl"
    events = [Event(i, "new_signer", "high", "xz", str(i), FPR, T0, f"line\u2028{i}\n", {}) for i in (1, 2)]
    LogSink("log", log).deliver(events[:1])
    LogSink("log", log).deliver(events[1:])
    assert [json.loads(line)["id"] for line in log.read_text().splitlines()] == [1, 2]
    LogSink("stderr", "-").deliver(events)
    assert [json.loads(line)["message"] for line in capsys.readouterr().err.splitlines()] == [
        "line\u20281\n", "line\u20282\n"]


# --- configuration -----------------------------------------------------------------------------

def test_config_builds_every_sink_type_with_defaults(tmp_path):
    sinks = sinks_from_config([
        {"name": "hook", "type": "webhook", "url": "https://hooks.example.org/kw", "secret": "x"},
        {"name": "mail", "type": "email", "host": "smtp.example.org", "sender": "kw@example.org",
         "recipients": ["a@example.org"]},
        {"name": "feed", "type": "atom", "path": "public/alerts.atom"},
        {"name": "stderr", "type": "log", "path": "-"},
    ], base_dir=tmp_path)
    hook, mail, feed, stderr = sinks
    assert (hook.url, hook.secret, hook.timeout) == ("https://hooks.example.org/kw", "x", 10.0)
    assert (mail.port, mail.starttls, mail.username, mail.timeout) == (25, True, None, 30.0)
    assert (feed.path, feed.max_entries) == (tmp_path / "public/alerts.atom", 200)
    assert stderr.path == "-"


@pytest.mark.parametrize("entry, message", [
    ({"type": "log", "path": "-"}, "[[alert]] #2: 'name' is required"),
    ({"name": "bad name!", "type": "log", "path": "-"}, "[[alert]] #2: 'name' must be"),
    ({"name": "ok", "type": "log", "path": "-"}, "[[alert]] #2 'ok': 'name' is already used"),
    ({"name": "x", "type": "pager"}, "[[alert]] #2 'x': 'type' must be one of webhook, email, atom, log"),
    ({"name": "x", "type": "webhook"}, "[[alert]] #2 'x': 'url' is required"),
    ({"name": "x", "type": "webhook", "url": "ftp://example.org"}, "[[alert]] #2 'x': 'url' must be an http"),
    ({"name": "x", "type": "webhook", "url": "https://e.org", "timeout": "5"},
     "[[alert]] #2 'x': 'timeout' must be a number, not str"),
    ({"name": "x", "type": "webhook", "url": "https://e.org", "secret": ""}, "'secret' must not be empty"),
    ({"name": "x", "type": "webhook", "url": "https://e.org", "secrte": "s"},
     "[[alert]] #2 'x': 'secrte' is not a setting of a webhook alert"),
    ({"name": "x", "type": "email", "host": "h", "sender": "a@b.org", "recipients": [], "port": 25},
     "[[alert]] #2 'x': 'recipients' must name at least one address"),
    ({"name": "x", "type": "email", "host": "h", "sender": "a@b.org", "recipients": ["c@d.org\r\nBcc: e@f.org"]},
     "[[alert]] #2 'x': 'recipients' must hold plain e-mail addresses"),
    ({"name": "x", "type": "email", "host": "h", "sender": "a@b.org", "recipients": ["c@d.org"], "port": 70000},
     "[[alert]] #2 'x': 'port' must be from 1 to 65535"),
    ({"name": "x", "type": "email", "host": "h", "sender": "a@b.org", "recipients": ["c@d.org"], "port": True},
     "[[alert]] #2 'x': 'port' must be an integer, not bool"),
    ({"name": "x", "type": "email", "host": "h", "sender": "a@b.org", "recipients": ["c@d.org"],
      "username": "u"}, "[[alert]] #2 'x': 'password' is required"),
    ({"name": "x", "type": "email", "host": "h", "sender": "a@b.org", "recipients": ["c@d.org"],
      "username": "u", "password": "p", "starttls": False}, "[[alert]] #2 'x': 'starttls' must be true"),
    ({"name": "x", "type": "atom", "path": "f.atom", "max_entries": 0},
     "[[alert]] #2 'x': 'max_entries' must be at least 1"),
    ({"name": "x", "type": "log"}, "[[alert]] #2 'x': 'path' is required"),
    ("log", "[[alert]] #2: must be a table"),
])
def test_config_errors_name_the_entry_and_the_key(entry, message):
    with pytest.raises(ConfigError) as caught:
        sinks_from_config([{"name": "ok", "type": "log", "path": "-"}, entry])
    assert message in str(caught.value) and "\n" not in str(caught.value)
