"""Alerts: every event reaches every configured sink, in order, through outages and crashes.

Delivery goes through the `outbox` table, one row per (event, sink). Enqueue in
the transaction that stores the events, so an event is never stored without its
deliveries. A row is marked delivered only after its sink accepted the event, so
a crash between the two sends it again: delivery is *at least once*, and every
receiver gets what it needs to drop a repeat — webhook requests carry the event
id, mails a Message-ID derived from the event, log lines the id, and the Atom
feed replaces an entry with the same id (so the feed is exactly once).

Each sink receives its events in id order. While the oldest undelivered event
of a sink waits for its retry, the newer ones wait behind it: a sink that comes
back gets the backlog oldest first, not the latest alert first. The price is
that an event a receiver always rejects holds up the ones after it; its row's
`last_error` says why.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import smtplib
import sqlite3
import ssl
import sys
import tempfile
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import httpx

from . import __version__
from .errors import ConfigError, KeywatchError
from .types import iso

CLAIM_SECONDS = 900  # a run that died mid-delivery holds its sink this long; a batch that outlasts it may repeat
BATCH_SIZE = 100  # events handed to a sink at once, so one claim never covers a week's backlog


class AlertDeliveryError(KeywatchError):
    """A sink did not accept its events; the first `delivered` of them it did accept before failing."""

    def __init__(self, message: str, delivered: int = 0) -> None:
        super().__init__(message)
        self.delivered = delivered


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    severity: str
    upstream: str | None
    version: str | None
    fingerprint: str | None
    created: int
    message: str
    details: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "severity": self.severity, "upstream": self.upstream,
                "version": self.version, "fingerprint": self.fingerprint, "created": iso(self.created),
                "message": self.message, "details": self.details}

    @property
    def headline(self) -> str:
        """"high: new_signer in xz 5.6.0" — a mail's subject, a feed entry's title."""
        where = " ".join(part for part in (self.upstream, self.version) if part)
        return f"{self.severity}: {self.kind}" + (f" in {where}" if where else "")

    def report(self) -> str:
        """The event as plain text for people: message first, then the facts, then the details."""
        facts = [("Severity", self.severity), ("Kind", self.kind), ("Upstream", self.upstream),
                 ("Version", self.version), ("Fingerprint", self.fingerprint),
                 ("Raised", iso(self.created)), ("Event", str(self.id))]
        lines = [self.message, ""] + [f"{label + ':':<13}{value}" for label, value in facts if value]
        if self.details:
            lines += ["", "Details:", json.dumps(self.details, indent=2, sort_keys=True, ensure_ascii=False)]
        return _plain_text("\n".join(lines) + "\n")


class Sink(Protocol):
    name: str

    def deliver(self, events: list[Event]) -> None:
        """Hand over `events` in order; raise AlertDeliveryError saying how many were accepted."""


# --- text from keys (user IDs) is hostile until cleaned ------------------------------------------

# Control and format characters could end a header line, hide text (bidi overrides) or break XML.
_UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _one_line(text: str, limit: int = 200) -> str:
    """Safe for a mail header or a title: one line, no control characters, bounded length."""
    cleaned = "".join(" " if unicodedata.category(c) in _UNSAFE else c for c in text)
    return " ".join(cleaned.split())[:limit]


def _plain_text(text: str) -> str:
    """Safe for a mail body or feed content: line breaks and tabs kept, other controls made visible."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join("\ufffd" if c not in "\n\t" and unicodedata.category(c) in _UNSAFE else c for c in text)


def _xml_text(text: str) -> str:
    """XML 1.0 cannot even escape some characters (NUL, U+FFFE): replace them or the feed is unreadable."""
    return _NOT_XML.sub("\ufffd", text)


def _reason(exc: BaseException) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}", 500)


# --- sinks --------------------------------------------------------------------------------------

class WebhookSink:
    """POSTs each event as its own JSON request, signed with HMAC-SHA256 of the exact body when a secret is set.

    One event per request: a receiver that fails or times out costs a retry of
    that event only. The body is still {"events": [...]} so a receiver written
    for batches needs no change. Redirects count as failures: an alert goes
    where the configuration says or nowhere. Error messages leave out the URL,
    which often contains a token.
    """

    def __init__(self, name: str, url: str, secret: str | None = None, timeout: float = 10.0) -> None:
        self.name, self.url, self.secret, self.timeout = name, url, secret, timeout

    def deliver(self, events: list[Event]) -> None:
        done = 0
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                for event in events:
                    body, headers = self._request(event)
                    # Streaming, never read: the status is the answer, a huge reply body costs nothing.
                    with client.stream("POST", self.url, content=body, headers=headers) as response:
                        if not response.is_success:
                            raise AlertDeliveryError(f"webhook {self.name}: HTTP {response.status_code}", done)
                    done += 1
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(f"webhook {self.name}: {_reason(exc)}", done) from None

    def _request(self, event: Event) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"events": [event.as_json()]}, sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"keywatch/{__version__}",
                   "X-Keywatch-Event-Ids": str(event.id)}
        if self.secret is not None:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Keywatch-Signature"] = f"sha256={digest}"
        return body, headers


class EmailSink:
    """One plain-text mail per event, over one SMTP session per batch.

    Header text is reduced to one clean line, and the envelope recipients are
    the configured ones only, so text from a key cannot add a header or a
    recipient. With `starttls` the session is encrypted and the server's
    certificate checked, or nothing is sent. The Message-ID is derived from the
    event, so a mail sent twice after a crash is recognisably the same mail. A
    server that accepts a mail for some recipients and refuses others has
    delivered it: retrying would repeat it to the ones that got it.
    """

    def __init__(self, name: str, host: str, port: int, sender: str, recipients: list[str], starttls: bool = True,
                 username: str | None = None, password: str | None = None, timeout: float = 30.0) -> None:
        self.name, self.host, self.port, self.timeout = name, host, port, timeout
        self.sender, self.recipients, self.starttls = sender, recipients, starttls
        self.username, self.password = username, password

    def deliver(self, events: list[Event]) -> None:
        done = 0
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                for event in events:
                    smtp.send_message(self._message(event), from_addr=self.sender, to_addrs=self.recipients)
                    done += 1
        except (smtplib.SMTPException, OSError) as exc:
            if done < len(events):  # when only the goodbye failed, every mail was already accepted
                raise AlertDeliveryError(f"email {self.name}: {_reason(exc)}", done) from None

    def _message(self, event: Event) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = f"[keywatch] {_one_line(event.headline)}"
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = _message_id(event, self.sender.rpartition("@")[2])
        mail["X-Keywatch-Event-Id"] = str(event.id)
        mail["X-Keywatch-Severity"] = _one_line(event.severity)
        mail.set_content(event.report())
        return mail


def _message_id(event: Event, domain: str) -> str:
    """Stable across retries; the content hash keeps two keywatch installations' event 7 apart."""
    digest = hashlib.sha256(json.dumps(event.as_json(), sort_keys=True).encode()).hexdigest()[:20]
    return f"<keywatch.{event.id}.{digest}@{domain}>"


ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM)
_ENTRY_ID = re.compile(r"^urn:keywatch:event:(\d+)$")


class AtomSink:
    """An Atom 1.0 feed of the newest `max_entries` events, newest first, rewritten whole and replaced atomically.

    A reader only ever sees a complete document: the new feed is written beside
    the old one, synced, and renamed over it. Entries are keyed by their event
    URN, so delivering an event again replaces its entry. A file that is not a
    feed written by keywatch is refused, never overwritten.
    """

    def __init__(self, name: str, path: Path, max_entries: int = 200) -> None:
        self.name, self.path, self.max_entries = name, Path(path), max_entries

    def deliver(self, events: list[Event]) -> None:
        if not events:
            return
        try:
            entries = self._existing_entries()
            entries.update((event.id, _atom_entry(event)) for event in events)
            newest = [entries[i] for i in sorted(entries, reverse=True)[: self.max_entries]]
            _replace_atomically(self.path, self._feed(newest))
        except OSError as exc:
            raise AlertDeliveryError(f"atom {self.name}: {_reason(exc)}") from None

    def _existing_entries(self) -> dict[int, ET.Element]:
        if not self.path.exists():
            return {}
        try:
            root = ET.parse(self.path).getroot()
        except ET.ParseError:
            root = None
        if root is None or root.tag != f"{{{ATOM}}}feed" or root.findtext(f"{{{ATOM}}}generator") != "keywatch":
            raise AlertDeliveryError(f"atom {self.name}: {self.path} is not a keywatch feed; refusing to replace it")
        entries = {}
        for entry in root.findall(f"{{{ATOM}}}entry"):
            match = _ENTRY_ID.match(entry.findtext(f"{{{ATOM}}}id") or "")
            if match:
                entries[int(match.group(1))] = entry
        return entries

    def _feed(self, entries: list[ET.Element]) -> bytes:
        feed = ET.Element(f"{{{ATOM}}}feed")
        _atom_child(feed, "id", f"urn:keywatch:feed:{self.name}")
        _atom_child(feed, "title", f"keywatch alerts ({self.name})")
        _atom_child(feed, "updated", max(entry.findtext(f"{{{ATOM}}}updated") or "" for entry in entries))
        _atom_child(feed, "generator", "keywatch").set("version", __version__)
        _atom_child(_atom_child(feed, "author"), "name", "keywatch")
        feed.extend(entries)
        ET.indent(feed)
        return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _atom_child(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    if text is not None:
        child.text = _xml_text(text)
    return child


def _atom_entry(event: Event) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _atom_child(entry, "id", f"urn:keywatch:event:{event.id}")
    _atom_child(entry, "title", _one_line(event.headline))
    _atom_child(entry, "updated", iso(event.created))
    _atom_child(entry, "published", iso(event.created))
    for scheme, term in (("severity", event.severity), ("kind", event.kind)):
        _atom_child(entry, "category").attrib.update(scheme=f"urn:keywatch:{scheme}", term=_xml_text(_one_line(term)))
    _atom_child(entry, "content", event.report()).set("type", "text")
    return entry


def _replace_atomically(path: Path, data: bytes) -> None:
    """Temporary file in the same directory, synced, renamed over the old: readers see old or new, never half."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


class LogSink:
    """Appends one JSON object per event and line to a file, or to standard error for path "-"."""

    def __init__(self, name: str, path: Path | str) -> None:
        self.name, self.path = name, path

    def deliver(self, events: list[Event]) -> None:
        # ensure_ascii: a U+2028 in a user ID must not split a line for line-based readers.
        lines = "".join(json.dumps(event.as_json(), sort_keys=True) + "\n" for event in events)
        try:
            if str(self.path) == "-":
                sys.stderr.write(lines)
                sys.stderr.flush()
                return
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(lines)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise AlertDeliveryError(f"log {self.name}: {_reason(exc)}") from None


# --- configuration ------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_REQUIRED = object()


class _AlertTable:
    """One [[alert]] table read key by key; every error names the table and the key at fault."""

    def __init__(self, index: int, raw: Any, base_dir: Path | None) -> None:
        self.label, self.base_dir = f"[[alert]] #{index}", base_dir
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.label}: must be a table")
        self.raw = raw
        self.name = self.text("name")
        if not _NAME.match(self.name):
            raise self.fail("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        self.label = f"{self.label} '{self.name}'"
        self.type = self.text("type")

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: '{key}' {problem}")

    def get(self, key: str, default: Any, kind: type | tuple[type, ...], noun: str) -> Any:
        if key not in self.raw:
            if default is _REQUIRED:
                raise self.fail(key, "is required")
            return default
        value = self.raw[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(key, f"must be {noun}, not {type(value).__name__}")
        return value

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.get(key, default, str, "a string")
        if value is not None and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def number(self, key: str, default: float, minimum: float, maximum: float | None = None,
               kind: type | tuple[type, ...] = (int, float), noun: str = "a number") -> Any:
        value = self.get(key, default, kind, noun)
        if value < minimum or (maximum is not None and value > maximum):
            raise self.fail(key, f"must be from {minimum} to {maximum}" if maximum else f"must be at least {minimum}")
        return value

    def integer(self, key: str, default: int, minimum: int, maximum: int | None = None) -> int:
        return self.number(key, default, minimum, maximum, kind=int, noun="an integer")

    def flag(self, key: str, default: bool) -> bool:
        return self.get(key, default, bool, "true or false")

    def address(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not _ADDRESS.match(value):
            raise self.fail(key, "must hold plain e-mail addresses like alerts@example.org")
        return value

    def path(self, key: str) -> Path:
        value = Path(self.text(key))
        return value if value.is_absolute() or self.base_dir is None else self.base_dir / value


def _webhook(table: _AlertTable) -> WebhookSink:
    url = table.text("url")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise table.fail("url", "must be an http:// or https:// URL")
    return WebhookSink(table.name, url, secret=table.text("secret", None),
                       timeout=table.number("timeout", 10.0, minimum=0.1))


def _email(table: _AlertTable) -> EmailSink:
    recipients = table.get("recipients", _REQUIRED, list, "a list of addresses")
    if not recipients:
        raise table.fail("recipients", "must name at least one address")
    starttls = table.flag("starttls", True)
    username, password = table.text("username", None), table.text("password", None)
    if (username is None) != (password is None):
        raise table.fail("password" if username else "username", "is required with 'username' and 'password'")
    if username is not None and not starttls:
        raise table.fail("starttls", "must be true when 'username' is set (the password would travel in clear)")
    return EmailSink(table.name, table.text("host"), table.integer("port", 25, 1, 65535),
                     table.address("sender", table.text("sender")),
                     [table.address("recipients", item) for item in recipients], starttls=starttls,
                     username=username, password=password, timeout=table.number("timeout", 30.0, minimum=0.1))


def _atom(table: _AlertTable) -> AtomSink:
    return AtomSink(table.name, table.path("path"), max_entries=table.integer("max_entries", 200, 1))


def _log(table: _AlertTable) -> LogSink:
    return LogSink(table.name, "-" if table.text("path") == "-" else table.path("path"))


# Every setting of every sink type, besides name and type; anything else is a typo, reported as such.
_SINK_TYPES: dict[str, tuple[Callable[[_AlertTable], Sink], set[str]]] = {
    "webhook": (_webhook, {"url", "secret", "timeout"}),
    "email": (_email, {"host", "port", "sender", "recipients", "starttls", "username", "password", "timeout"}),
    "atom": (_atom, {"path", "max_entries"}),
    "log": (_log, {"path"}),
}


def sinks_from_config(entries: list[dict], base_dir: Path | None = None) -> list[Sink]:
    """Sinks from the [[alert]] tables; relative paths are taken from `base_dir` (the workspace), not the cwd."""
    sinks: list[Sink] = []
    for index, raw in enumerate(entries, 1):
        table = _AlertTable(index, raw, base_dir)
        if table.type not in _SINK_TYPES:
            raise table.fail("type", f"must be one of {', '.join(_SINK_TYPES)}, not {table.type!r}")
        build, settings = _SINK_TYPES[table.type]
        unknown = next((key for key in raw if key not in settings | {"name", "type"}), None)
        if unknown is not None:
            raise table.fail(unknown, f"is not a setting of a {table.type} alert")
        if any(sink.name == table.name for sink in sinks):
            raise table.fail("name", "is already used by another alert (names key the delivery records)")
        sinks.append(build(table))
    return sinks


# --- the outbox ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SinkOutcome:
    """What one sink did in one run: the events it accepted, and those that wait for a retry and why."""

    sink: str
    delivered: tuple[int, ...]
    failed: tuple[int, ...]
    error: str | None


@dataclass(frozen=True)
class DeliveryReport:
    outcomes: tuple[SinkOutcome, ...]  # only the sinks that had something due
    orphaned: dict[str, int]  # undelivered rows of sinks no longer configured: kept, never attempted

    @property
    def delivered(self) -> int:
        return sum(len(outcome.delivered) for outcome in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(len(outcome.failed) for outcome in self.outcomes)


_EVENT_COLUMNS = "e.id, e.kind, e.severity, e.upstream, e.version, e.fingerprint, e.created, e.message, e.details"


def _event(row: tuple) -> Event:
    event_id, kind, severity, upstream, version, fingerprint, created, message, details = row
    return Event(event_id, kind, severity, upstream, version, fingerprint, created, message,
                 json.loads(details) if details else {})


@contextmanager
def _transaction(conn: sqlite3.Connection, join: bool = False) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT; with `join`, the caller's open transaction instead, so both commit together."""
    if join and conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Outbox:
    """Delivery state of every (event, sink) pair, and the runs that move it forward.

    A failed delivery is retried after base_delay * 2**attempts seconds, capped
    at max_delay, plus up to a tenth more so that many installations do not
    return to a recovered receiver in the same second. Before delivering, a run
    claims the sink for CLAIM_SECONDS: a second run at the same time skips it,
    and a run that dies mid-delivery only delays the retry.
    """

    def __init__(self, conn: sqlite3.Connection, sinks: list[Sink], *, clock: Callable[[], float] = time.time,
                 base_delay: int = 30, max_delay: int = 3600) -> None:
        self.conn, self.sinks, self.clock = conn, sinks, clock
        self.base_delay, self.max_delay = base_delay, max_delay

    def enqueue(self, event_ids: list[int]) -> None:
        """One row per (event, configured sink); rows that exist are left alone. Joins an open transaction."""
        now = int(self.clock())
        rows = [(event_id, sink.name, now) for event_id in event_ids for sink in self.sinks]
        with _transaction(self.conn, join=True):
            self.conn.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, sink, attempts, next_attempt) VALUES (?, ?, 0, ?)", rows)

    def deliver_due(self) -> DeliveryReport:
        outcomes = []
        for sink in self.sinks:
            while batch := self._claim(sink.name):
                outcome = self._deliver(sink, batch)
                outcomes.append(outcome)
                if outcome.failed or len(batch) < BATCH_SIZE:
                    break
        return DeliveryReport(tuple(outcomes), self._orphaned())

    def pending(self) -> int:
        """Undelivered rows of the configured sinks (rows of removed sinks are in DeliveryReport.orphaned)."""
        names = json.dumps([sink.name for sink in self.sinks])
        return self.conn.execute("SELECT count(*) FROM outbox WHERE delivered IS NULL"
                                 " AND sink IN (SELECT value FROM json_each(?))", (names,)).fetchone()[0]

    def _claim(self, sink: str) -> list[tuple[Event, int]]:
        """The sink's oldest undelivered events with their attempts, if the oldest is due; claimed for this run."""
        with _transaction(self.conn):
            now = int(self.clock())
            head = self.conn.execute("SELECT event_id, next_attempt FROM outbox WHERE sink = ? AND delivered IS NULL"
                                     " ORDER BY event_id LIMIT 1", (sink,)).fetchone()
            if head is None or head[1] > now:
                return []
            self.conn.execute("UPDATE outbox SET next_attempt = ? WHERE sink = ? AND event_id = ?",
                              (now + CLAIM_SECONDS, sink, head[0]))
            rows = self.conn.execute(
                f"SELECT {_EVENT_COLUMNS}, o.attempts FROM outbox o JOIN events e ON e.id = o.event_id"
                " WHERE o.sink = ? AND o.delivered IS NULL ORDER BY o.event_id LIMIT ?", (sink, BATCH_SIZE)).fetchall()
        return [(_event(row[:9]), row[9]) for row in rows]

    def _deliver(self, sink: Sink, batch: list[tuple[Event, int]]) -> SinkOutcome:
        try:
            sink.deliver([event for event, _ in batch])
            accepted, error = len(batch), None
        except AlertDeliveryError as exc:
            accepted, error = exc.delivered, _one_line(str(exc), 500)
        except Exception as exc:  # noqa: BLE001 - a broken sink must not stop the others; its rows keep the error
            accepted, error = 0, _reason(exc)
        now = int(self.clock())
        with _transaction(self.conn):
            self.conn.executemany(
                "UPDATE outbox SET delivered = ?, attempts = attempts + 1 WHERE sink = ? AND event_id = ?",
                [(now, sink.name, event.id) for event, _ in batch[:accepted]])
            self.conn.executemany(
                "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE sink = ? AND event_id = ?",
                [(attempts + 1, now + self._delay(attempts), error, sink.name, event.id)
                 for event, attempts in batch[accepted:]])
        return SinkOutcome(sink.name, tuple(event.id for event, _ in batch[:accepted]),
                           tuple(event.id for event, _ in batch[accepted:]), error)

    def _delay(self, attempts: int) -> int:
        delay = min(self.max_delay, self.base_delay * 2 ** attempts)
        return int(delay * (1 + random.random() / 10))

    def _orphaned(self) -> dict[str, int]:
        configured = {sink.name for sink in self.sinks}
        rows = self.conn.execute("SELECT sink, count(*) FROM outbox WHERE delivered IS NULL GROUP BY sink ORDER BY sink")
        return {sink: count for sink, count in rows if sink not in configured}
