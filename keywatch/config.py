"""keywatch.toml: read with tomllib, checked key by key, errors naming file, line and key.

Only the sections this version understands are accepted; a misspelt key is an
error rather than a silently ignored setting — a typo in a security policy
must not fall back to a default unnoticed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .policy import DEFAULT_EXPIRY_WARNING_DAYS

DEFAULT_CONFIG_TEXT = f"""\
# keywatch workspace configuration. See README.md ("Configuration") for every setting.

[policy]
# Warn when a primary key expires within this many days.
expiry_warning_days = {DEFAULT_EXPIRY_WARNING_DAYS}
"""


@dataclass(frozen=True)
class PolicyConfig:
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS


@dataclass(frozen=True)
class Config:
    path: Path
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    raw: dict = field(default_factory=dict, repr=False)


_SCHEMA = {"policy": {"expiry_warning_days": int}}


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
    for section, value in raw.items():
        if section not in _SCHEMA:
            raise ConfigError(f"{path}:{_line_of(text, section)}: unknown section or key '{section}'")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}:{_line_of(text, section)}: '{section}' must be a table")
        for key, item in value.items():
            expected = _SCHEMA[section].get(key)
            where = f"{path}:{_line_of(text, key)}"
            if expected is None:
                raise ConfigError(f"{where}: unknown key '{section}.{key}'")
            if not isinstance(item, expected) or isinstance(item, bool):
                raise ConfigError(f"{where}: '{section}.{key}' must be {expected.__name__}, not {type(item).__name__}")
    policy_raw = raw.get("policy", {})
    days = policy_raw.get("expiry_warning_days", DEFAULT_EXPIRY_WARNING_DAYS)
    if days < 0:
        raise ConfigError(f"{path}:{_line_of(text, 'expiry_warning_days')}: 'policy.expiry_warning_days' must be >= 0")
    return Config(path=path, policy=PolicyConfig(expiry_warning_days=days), raw=raw)


def _line_of(text: str, key: str) -> int:
    """The line where `key` is defined (as a key or table header), for error messages."""
    pattern = re.compile(rf"^\s*(\[\[?\s*{re.escape(key)}\s*\]\]?|\"?{re.escape(key)}\"?\s*=)", re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1
