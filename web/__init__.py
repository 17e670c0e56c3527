"""The review UI: where accountable people look at the evidence and approve or reject keyring changes.

`create_app(workspace_root)` builds the Flask application for one workspace:
one blueprint per area (auth, dashboard, proposals, keys, upstreams, audit),
templates per blueprint extending `base.html`, the workspace's store opened per
request by `db`, and the protections of `security` (CSRF, headers, login rate
limits). `keywatch serve` runs it on waitress.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import Flask, render_template

from keywatch.errors import KeywatchError, NotFound
from keywatch.types import iso
from keywatch.workspace import locate

from . import db, security

RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
SEVERITY_CLASSES = {"critical": "sev-critical", "high": "sev-high", "warning": "sev-warning", "info": "sev-info",
                    "medium": "sev-warning", "low": "sev-info"}


def create_app(workspace_root: str | Path, test_config: dict | None = None) -> Flask:
    """The review UI over the workspace at `workspace_root`; `test_config` overrides settings."""
    workspace = locate(str(workspace_root))
    app = Flask(__name__, instance_relative_config=False)
    app.jinja_options = {**app.jinja_options, "finalize": security.finalize}
    app.config.from_mapping(
        WORKSPACE=str(workspace.root),
        SECRET_KEY=security.load_secret_key(workspace.root),
        SESSION_COOKIE_NAME="keywatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=False,  # `keywatch serve --secure-cookies` when served over https
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=1),  # idle: every request renews it
        SESSION_ABSOLUTE_LIFETIME=dt.timedelta(hours=12),  # from login, however active
        MAX_CONTENT_LENGTH=256 * 1024,
        LOGIN_FAILURE_LIMIT=5,
        LOGIN_FAILURE_WINDOW=300,
        LOGIN_LOCKOUT=900,
    )
    if test_config:
        app.config.update(test_config)

    from . import audit, auth, dashboard, keys, proposals, upstreams

    db.init_app(app)
    auth.init_app(app)  # who is asking, before security checks what they sent
    security.init_app(app)
    _template_helpers(app)
    for blueprint in (auth.bp, dashboard.bp, proposals.bp, keys.bp, upstreams.bp, audit.bp):
        app.register_blueprint(blueprint)

    app.register_error_handler(KeywatchError, _library_error)
    for code, title in ((400, "Bad request"), (403, "Not allowed"), (404, "Not found"),
                        (405, "Method not allowed"), (413, "Request too large"), (500, "Internal error")):
        app.register_error_handler(code, _error_page(code, title))
    return app


def _error_page(code: int, title: str):
    def handler(error):
        description = getattr(error, "description", None) if code != 500 else None
        return render_template("error.html", code=code, title=title, description=description), code
    return handler


def _library_error(error: KeywatchError):
    """An error the library words for its user (a broken keywatch.toml, a key not in the store): shown as it is."""
    code = 404 if isinstance(error, NotFound) else 500
    return render_template("error.html", code=code, title="Not found" if code == 404 else "Cannot show this",
                           description=str(error)), code


def _template_helpers(app: Flask) -> None:
    app.jinja_env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False,
                                                                    sort_keys=True, default=str)
    app.jinja_env.filters["short_fpr"] = lambda fpr: (fpr or "")[-16:]
    app.jinja_env.filters["severity_class"] = lambda level: SEVERITY_CLASSES.get(level, "sev-info")
    app.jinja_env.filters["when"] = lambda iso: (iso or "").replace("T", " ").replace("Z", " UTC")
    app.jinja_env.filters["visible"] = security.visible
    app.jinja_env.filters["iso"] = iso
