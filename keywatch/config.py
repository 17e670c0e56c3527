"""keywatch.toml: read with tomllib, checked key by key, errors naming file, line and key.

Only the settings this version understands are accepted; a misspelt key is an
error rather than a silently ignored setting — a typo in a security policy
must not fall back to a default unnoticed.

Sections: `[policy]`, `[monitor]`, `[sources]`, one `[[upstream]]` table per
watched project and one `[[alert]]` table per alert sink (the alert keys are
checked by `alerts.sinks_from_config`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, KeywatchError
from .policy import DEFAULT_EXPIRY_WARNING_DAYS
from .types import parse_fingerprint

DEFAULT_CONFIG_TEXT = f"""\
# keywatch workspace configuration. See README.md ("Configuration") for every setting.

[policy]
# Warn when a primary key expires within this many days.
expiry_warning_days = {DEFAULT_EXPIRY_WARNING_DAYS}

[monitor]
# How many upstreams are polled at once.
concurrency = 16

# One table per watched upstream, for example:
# [[upstream]]
# name = "xz"
# keyring = "keyrings/xz.keyring"
# keyring_format = "opensuse"
# index = "https://example.org/pub/xz/"
# pattern = 'xz-([\\d.]+(?:rc\\d+)?)\\.tar\\.(?:gz|xz)'
# signature_suffixes = [".sig", ".asc", ".sign"]
# keys = ["https://example.org/keys.asc", "wkd:lasse.collin@example.org"]
# interval = "6h"
"""

KEYRING_FORMATS = ("opensuse", "debian", "arch", "gentoo", "binary")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class PolicyConfig:
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS


@dataclass(frozen=True)
class MonitorConfig:
    concurrency: int = 16
    timeout: float = 20.0
    retries: int = 3
    max_signature_bytes: int = 1024 * 1024
    max_key_bytes: int = 4 * 1024 * 1024
    max_index_bytes: int = 8 * 1024 * 1024
    max_artifact_bytes: int = 2 * 1024 * 1024 * 1024
    key_expiring_days: int = 30
    alert_retry_seconds: int = 30  # first retry delay of an undelivered alert; doubles up to an hour


@dataclass(frozen=True)
class SourcesConfig:
    keyserver: str = "https://keys.openpgp.org"
    wkd_servers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewConfig:
    approvals: int = 1
    approvals_high_risk: int = 2
    git_commit: bool = False  # commit written keyrings with Keywatch-Proposal/Approved-by trailers
    checklists: dict = field(default_factory=dict)  # proposal kind -> what a reviewer confirms (replaces default)


@dataclass(frozen=True)
class TrustConfig:
    roots: tuple[tuple[str, int], ...] = ()  # (fingerprint, trust amount 0-120)
    stores: tuple[str, ...] = ()  # keyrings whose keys make up the trust store (relative to the workspace)
    risk: dict = field(default_factory=dict)  # handover risk thresholds, see keywatch/trust/risk.py


@dataclass(frozen=True)
class Upstream:
    name: str
    keyring: str | None = None  # relative to the workspace unless absolute
    keyring_format: str = "opensuse"
    index: str | None = None
    pattern: str | None = None
    signature_suffixes: tuple[str, ...] = (".sig", ".asc", ".sign")
    keys: tuple[str, ...] = ()
    git: str | None = None
    tag_pattern: str | None = None
    interval: int = 6 * 3600
    backfill: int = 10  # on the first poll, how many of the newest releases are checked
    transition_statement: str | None = None
    approvals: int | None = None  # approvals a keyring change needs; default [review] approvals

    def as_json(self) -> dict:
        return {"name": self.name, "keyring": self.keyring, "keyring_format": self.keyring_format,
                "index": self.index, "pattern": self.pattern, "signature_suffixes": list(self.signature_suffixes),
                "keys": list(self.keys), "git": self.git, "tag_pattern": self.tag_pattern,
                "interval": self.interval, "backfill": self.backfill,
                "transition_statement": self.transition_statement, "approvals": self.approvals}


@dataclass(frozen=True)
class Config:
    path: Path
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    upstreams: tuple[Upstream, ...] = ()
    alerts: tuple[dict, ...] = ()

    def upstream(self, name: str) -> Upstream:
        for upstream in self.upstreams:
            if upstream.name == name:
                return upstream
        known = ", ".join(u.name for u in self.upstreams) or "none configured"
        raise ConfigError(f"{self.path}: no upstream named {name!r} ({known})")


class _Locator:
    """Finds the line of a key in the TOML text, inside the n-th [[table]] when asked."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self._tables: dict[str, list[int]] = {}

    def table_line(self, table: str, index: int) -> int:
        if table not in self._tables:  # found once: thousands of upstreams must not cost quadratic time
            pattern = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
            self._tables[table] = [n for n, line in enumerate(self.lines, 1) if pattern.match(line)]
        hits = self._tables[table]
        return hits[index] if index < len(hits) else 1

    def key_line(self, key: str, start: int = 1) -> int:
        pattern = re.compile(rf"^\s*(\"?{re.escape(key)}\"?\s*=|\[\[?\s*{re.escape(key)}\s*\]\]?)")
        for number in range(start, len(self.lines) + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def error(self, line: int, message: str) -> ConfigError:
        return ConfigError(f"{self.path}:{line}: {message}")


def _expect(value, kind, what: str, where: int, locate: _Locator):
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise locate.error(where, f"{what} must be an integer, not {type(value).__name__}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise locate.error(where, f"{what} must be a number, not {type(value).__name__}")
    if kind is bool and not isinstance(value, bool):
        raise locate.error(where, f"{what} must be true or false")
    if kind is str and not isinstance(value, str):
        raise locate.error(where, f"{what} must be a string, not {type(value).__name__}")
    if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise locate.error(where, f"{what} must be a list of strings")
    if kind is dict and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
        raise locate.error(where, f"{what} must be a table of strings")
    if kind == "checklists":
        kinds = ("add-signer", "replace-key", "drop-key", "refresh-key", "manual")
        if not isinstance(value, dict) or any(k not in kinds for k in value) or not all(
                isinstance(v, list) and v and all(isinstance(i, str) and i.strip() for i in v) for v in value.values()):
            raise locate.error(where, f"{what} maps proposal kinds ({', '.join(kinds)}) to non-empty lists of text")
    return value


def _table(raw: dict, name: str, schema: dict, cls, locate: _Locator):
    values = raw.get(name, {})
    if not isinstance(values, dict):
        raise locate.error(locate.key_line(name), f"'{name}' must be a table")
    out = {}
    for key, value in values.items():
        line = locate.key_line(key, locate.key_line(name))
        if key not in schema:
            raise locate.error(line, f"unknown key '{name}.{key}'")
        out[key] = _expect(value, schema[key], f"'{name}.{key}'", line, locate)
        if schema[key] in (int, float) and key in _ZERO_ALLOWED and value < 0:
            raise locate.error(line, f"'{name}.{key}' must be >= 0")
        if schema[key] in (int, float) and key not in _ZERO_ALLOWED and value <= 0:
            raise locate.error(line, f"'{name}.{key}' must be positive")
    return cls(**out)


_ZERO_ALLOWED = {"expiry_warning_days", "retries"}
_POLICY_SCHEMA = {"expiry_warning_days": int}
_MONITOR_SCHEMA = {"concurrency": int, "timeout": float, "retries": int, "max_signature_bytes": int,
                   "max_key_bytes": int, "max_index_bytes": int, "max_artifact_bytes": int,
                   "key_expiring_days": int, "alert_retry_seconds": int}
_SOURCES_SCHEMA = {"keyserver": str, "wkd_servers": dict}
_REVIEW_SCHEMA = {"approvals": int, "approvals_high_risk": int, "git_commit": bool, "checklists": "checklists"}
_UPSTREAM_SCHEMA = {"name": str, "keyring": str, "keyring_format": str, "index": str, "pattern": str,
                    "signature_suffixes": list, "keys": list, "git": str, "tag_pattern": str, "interval": str,
                    "backfill": int, "transition_statement": str, "approvals": int}


def parse_duration(text: str) -> int:
    """'6h', '30m', '1d', '90s' or '3600' to seconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 6h, 1d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _upstream(entry, index: int, locate: _Locator) -> Upstream:
    start = locate.table_line("upstream", index)
    if not isinstance(entry, dict):
        raise locate.error(start, "[[upstream]] entries must be tables")
    values: dict = {}
    for key, value in entry.items():
        line = locate.key_line(key, start)
        if key not in _UPSTREAM_SCHEMA:
            raise locate.error(line, f"unknown key '{key}' in [[upstream]] #{index + 1}")
        values[key] = _expect(value, _UPSTREAM_SCHEMA[key], f"upstream '{key}'", line, locate)
    name = values.get("name")
    if not name or not _NAME.match(name):
        raise locate.error(start, f"[[upstream]] #{index + 1} needs a 'name' of letters, digits, '.', '_', '+', '-'")
    label = f"upstream {name!r}"
    if values.get("keyring_format", "opensuse") not in KEYRING_FORMATS:
        raise locate.error(locate.key_line("keyring_format", start),
                           f"{label}: keyring_format must be one of {', '.join(KEYRING_FORMATS)}")
    if ("index" in values) != ("pattern" in values):
        raise locate.error(start, f"{label}: 'index' and 'pattern' go together")
    if "pattern" in values:
        try:
            compiled = re.compile(values["pattern"])
        except re.error as exc:
            raise locate.error(locate.key_line("pattern", start), f"{label}: invalid pattern: {exc}") from None
        if compiled.groups < 1:
            raise locate.error(locate.key_line("pattern", start), f"{label}: pattern needs a group for the version")
    for key in ("index", "transition_statement"):
        if key in values and not re.match(r"^https?://", values[key]):
            raise locate.error(locate.key_line(key, start), f"{label}: {key} must be an http(s) URL")
    if "interval" in values:
        try:
            values["interval"] = parse_duration(values["interval"])
        except ValueError as exc:
            raise locate.error(locate.key_line("interval", start), f"{label}: {exc}") from None
    if "approvals" in values and values["approvals"] < 1:
        raise locate.error(locate.key_line("approvals", start), f"{label}: approvals must be at least 1")
    if "backfill" in values and values["backfill"] < 0:
        raise locate.error(locate.key_line("backfill", start), f"{label}: backfill must be >= 0")
    for key in ("signature_suffixes", "keys"):
        if key in values:
            values[key] = tuple(values[key])
    return Upstream(**values)


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(path, text, raw)


def parse_config(path: Path, text: str, raw: dict) -> Config:
    locate = _Locator(path, text)
    known = {"policy", "monitor", "sources", "review", "trust", "upstream", "alert"}
    for section in raw:
        if section not in known:
            raise locate.error(locate.key_line(section), f"unknown section or key '{section}'")
    upstream_entries = raw.get("upstream", [])
    alert_entries = raw.get("alert", [])
    for name, entries in (("upstream", upstream_entries), ("alert", alert_entries)):
        if not isinstance(entries, list):
            raise locate.error(locate.key_line(name), f"'{name}' must be written as [[{name}]] tables")
    upstreams = tuple(_upstream(entry, i, locate) for i, entry in enumerate(upstream_entries))
    names = [u.name for u in upstreams]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise locate.error(locate.table_line("upstream", i), f"upstream {name!r} is defined twice")
    return Config(
        path=path,
        policy=_table(raw, "policy", _POLICY_SCHEMA, PolicyConfig, locate),
        monitor=_table(raw, "monitor", _MONITOR_SCHEMA, MonitorConfig, locate),
        sources=_table(raw, "sources", _SOURCES_SCHEMA, SourcesConfig, locate),
        review=_table(raw, "review", _REVIEW_SCHEMA, ReviewConfig, locate),
        trust=_trust(raw.get("trust", {}), locate),
        upstreams=upstreams,
        alerts=tuple(_checked_alerts(alert_entries, path, locate)),
    )


def _trust(raw, locate: _Locator) -> TrustConfig:
    """[trust] roots = [{fingerprint = "…", amount = 120}], stores = ["…"], [trust.risk] thresholds."""
    if not isinstance(raw, dict):
        raise locate.error(locate.key_line("trust"), "'trust' must be a table")
    start = locate.key_line("trust")
    for key in raw:
        if key not in ("roots", "stores", "risk"):
            raise locate.error(locate.key_line(key, start), f"unknown key 'trust.{key}'")
    roots = []
    for entry in raw.get("roots", []):
        line = locate.key_line("roots", start)
        if not isinstance(entry, dict) or set(entry) - {"fingerprint", "amount"} or "fingerprint" not in entry:
            raise locate.error(line, "each trust root is {fingerprint = \"…\", amount = 120}")
        amount = entry.get("amount", 120)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= 120:
            raise locate.error(line, "a trust root's amount is a whole number from 0 to 120")
        try:
            roots.append((parse_fingerprint(str(entry["fingerprint"])), amount))
        except KeywatchError as exc:
            raise locate.error(line, str(exc)) from None
    stores = _expect(raw.get("stores", []), list, "'trust.stores'", locate.key_line("stores", start), locate)
    risk = raw.get("risk", {})
    from .trust.risk import Thresholds  # the thresholds are defined (and checked) beside the rules

    try:
        Thresholds.from_mapping(risk)
    except ConfigError as exc:
        raise locate.error(locate.key_line("risk", start), str(exc)) from None
    return TrustConfig(tuple(roots), tuple(stores), dict(risk))


def _checked_alerts(entries: list, path: Path, locate: _Locator) -> list:
    """Alert settings are checked when the config loads, not at the first event."""
    if not entries:
        return entries
    from .alerts import sinks_from_config  # httpx and smtplib: loaded only when alerts are configured

    for index, entry in enumerate(entries):
        try:
            sinks_from_config([entry], base_dir=path.parent)
        except ConfigError as exc:
            raise locate.error(locate.table_line("alert", index), str(exc)) from None
    return entries
