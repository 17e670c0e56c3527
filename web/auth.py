"""Signing in and out; who the request is from; who may do what.

A session is a signed cookie holding the account name, its CSRF token and the
time of login. Each request reloads the account (a removed account or a changed
role takes effect at once). A session ends after an hour without requests or
twelve hours after login, whichever comes first. Logging in starts a new
session (no fixation); every login, logout and failed login is audited, the
failures with the name that was tried.
"""

from __future__ import annotations

import functools
import re
import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from keywatch.errors import NotFound
from keywatch.users import User, authenticate, get_user

from .db import get_audit, get_store
from .security import csrf_token, login_limiter, visible

bp = Blueprint("auth", __name__)

MAX_NAME = 64
MAX_PASSWORD = 1024


def login_required(view):
    """Send anyone not signed in to the login page, then back here."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return view(**kwargs)
    return wrapped


def _load_logged_in_user() -> None:
    g.user = None
    name = session.get("user")
    if name is None:
        return
    started = session.get("since", 0)
    if time.time() - started > current_app.config["SESSION_ABSOLUTE_LIFETIME"].total_seconds():
        session.clear()
        flash("Your session ended: please sign in again.", "info")
        return
    try:
        g.user = get_user(get_store().conn, name)
    except NotFound:
        session.clear()


def _record(actor: str, action: str, details: dict) -> None:
    audit = get_audit()
    with get_store().transaction():
        audit.append(actor, action, "web", details)
    audit.publish_head()


# A path on this site: no scheme, no `//host`, no backslash, no space or control character (browsers drop
# tabs and newlines, so `/\t/evil.example` would otherwise become `//evil.example`).
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*")


def _safe_next(target: str | None) -> str:
    if target and _LOCAL_PATH.fullmatch(target):
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=("GET", "POST"))
def login():
    next_page = request.values.get("next")
    if request.method == "GET":
        if g.user is not None:
            return redirect(_safe_next(next_page))
        csrf_token()
        return render_template("auth/login.html", next_page=next_page)

    name = request.form.get("username", "")[:MAX_NAME]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    client = request.remote_addr or "unknown"
    limiter = login_limiter(current_app)
    keys = limiter.keys(name, client)
    wait = limiter.retry_after(keys)
    if wait is not None:
        if limiter.first_refusal(keys):
            _record(visible(name, MAX_NAME) or "(empty)", "login-failure",
                    {"client": client, "reason": "too many failed logins: refused without checking"})
        response = current_app.make_response((render_template(
            "auth/login.html", next_page=next_page, name=name,
            refused=f"Too many failed logins for this account or from this address. Try again in "
                    f"{(wait + 59) // 60} minute(s)."), 429))
        response.headers["Retry-After"] = str(wait)
        return response

    user = authenticate(get_store().conn, name, password) if name and password else None
    if user is None:
        locked = limiter.failed(keys)
        _record(visible(name, MAX_NAME) or "(empty)", "login-failure",
                {"client": client, "reason": "wrong name or password", "locked_out": locked})
        flash("Wrong name or password.", "error")
        return render_template("auth/login.html", next_page=next_page, name=name)

    limiter.succeeded(keys[0])
    _start_session(user)
    _record(user.name, "login", {"client": client, "role": user.role})
    return redirect(_safe_next(next_page), code=303)


def _start_session(user: User) -> None:
    session.clear()
    session.permanent = True
    session["user"] = user.name
    session["since"] = int(time.time())
    csrf_token()


@bp.route("/logout", methods=("POST",))
def logout():
    if g.user is not None:
        _record(g.user.name, "logout", {"client": request.remote_addr or "unknown"})
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


def init_app(app) -> None:
    app.before_request(_load_logged_in_user)

    @app.context_processor
    def current_user():
        return {"current_user": g.get("user")}
