"""Adding and removing `[[upstream]]` tables in keywatch.toml without disturbing the rest of it.

tomlkit keeps the user's comments and layout; the new text is validated by
the same parser every command uses before it replaces the file (atomically),
so a bad `upstream add` can never leave a config that no longer loads.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import tomlkit

from .config import Config, Upstream, parse_config
from .errors import ConfigError


def _write_validated(path: Path, text: str) -> Config:
    try:
        config = parse_config(path, text, tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".keywatch.toml.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return config


def add_upstream(path: Path, values: dict) -> Upstream:
    """Append an [[upstream]] table; `values` as they would be written in TOML."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    name = values.get("name")
    existing = document.get("upstream", [])
    if any(entry.get("name") == name for entry in existing):
        raise ConfigError(f"{path}: upstream {name!r} already exists (remove it first)")
    table = tomlkit.table()
    for key, value in values.items():
        if value is not None and value != [] and value != ():
            table[key] = list(value) if isinstance(value, tuple) else value
    if "upstream" not in document:
        document["upstream"] = tomlkit.aot()
    document["upstream"].append(table)
    return _write_validated(path, tomlkit.dumps(document)).upstream(name)


def remove_upstream(path: Path, name: str) -> None:
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    entries = document.get("upstream", [])
    keep = [entry for entry in entries if entry.get("name") != name]
    if len(keep) == len(entries):
        raise ConfigError(f"{path}: no upstream named {name!r}")
    if keep:
        replacement = tomlkit.aot()
        for entry in keep:
            replacement.append(entry)
        document["upstream"] = replacement
    else:
        del document["upstream"]
    _write_validated(path, tomlkit.dumps(document))
