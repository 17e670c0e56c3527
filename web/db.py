"""The workspace a request works on: its store (one SQLite connection per request, on `g`), config, audit, review.

Views get what they need from here and call the library; they never open
connections or write SQL themselves. The connection is closed when the
request ends, whatever happened.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g

from keywatch.audit import AuditLog
from keywatch.config import Config
from keywatch.proposals import Review
from keywatch.store import Store
from keywatch.workspace import Workspace


def get_workspace() -> Workspace:
    return Workspace(Path(current_app.config["WORKSPACE"]))


def get_store() -> Store:
    if "store" not in g:
        g.store = get_workspace().store()
    return g.store


def get_config() -> Config:
    """keywatch.toml as it is now (read once per request, so edits apply without a restart)."""
    if "config" not in g:
        g.config = get_workspace().config()
    return g.config


def get_audit() -> AuditLog:
    if "audit" not in g:
        g.audit = get_workspace().audit(get_store())
    return g.audit


def get_review() -> Review:
    if "review" not in g:
        g.review = Review(get_workspace().root, get_config(), get_store(), get_audit())
    return g.review


def close_db(exc: BaseException | None = None) -> None:
    for name in ("review", "audit", "config"):
        g.pop(name, None)
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
