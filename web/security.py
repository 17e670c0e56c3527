"""What keeps the review UI safe to use: CSRF tokens, security headers, login rate limits, the session secret.

- CSRF: every session carries a random token; every form has it in a hidden
  field; a POST whose field is missing or differs (compared in constant time)
  is answered 400 before any view runs, so it changes nothing.
- Headers on every response: a Content-Security-Policy that allows only our own
  stylesheet and images (no script at all; none is needed), nosniff, no
  referrer, no framing; pages are never cached (they show a signed-in user's
  view and carry the CSRF token), only the stylesheet is.
- Login rate limits: at most `limit` failed logins per account and per client
  address within `window` seconds; the next attempt is refused with 429 for
  `lockout` seconds, without looking at the password (so a locked-out guesser
  costs no scrypt either). Counted in memory: `keywatch serve` is one process.
- Text from keys is shown as text: Jinja escapes HTML, and `visible` (applied to
  every `{{ }}` output) makes control and bidi characters visible so a user ID
  cannot reorder what a reviewer reads.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import threading
import time
from collections import deque
from pathlib import Path

from flask import Flask, Response, abort, request, session
from markupsafe import Markup

from keywatch import untrusted
from keywatch.errors import WorkspaceError

CSRF_FIELD = "csrf_token"
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
SECRET_NAME = "web-secret"

# --- untrusted text -------------------------------------------------------------------------------

_KEPT = frozenset("\n\t")


def visible(text: str, limit: int | None = None) -> str:
    """`text` with control, format and bidi characters shown as escapes (new lines and tabs kept), cut at `limit`."""
    return untrusted.visible(text, limit, keep=_KEPT)


def finalize(value):
    """Jinja's last step for every `{{ }}`: strings become visible text (then autoescaped); markup we made stays."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible(value)


# --- the session secret ---------------------------------------------------------------------------

def load_secret_key(workspace_root: Path) -> bytes:
    """The key that signs session cookies: made once into <workspace>/web-secret (mode 0600), then reused."""
    path = workspace_root / SECRET_NAME
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WorkspaceError(f"{path} can be read by other users (mode {stat.S_IMODE(mode):o}): "
                             f"run `chmod 600 {path}`")
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise WorkspaceError(f"{path} does not hold a usable secret: remove it and a new one is made")
    return secret.encode()


# --- CSRF -----------------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form was stale or did not come from this site (missing or wrong CSRF token). "
                               "Nothing was changed; reload the page and try again.")


# --- headers --------------------------------------------------------------------------------------

def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


# --- login rate limits ----------------------------------------------------------------------------

class LoginLimiter:
    """Failed logins per key (an account, a client address) in a sliding window; too many lock the key out."""

    MAX_KEYS = 10_000  # attacker-chosen account names must not grow memory without bound

    def __init__(self, limit: int = 5, window: float = 300, lockout: float = 900, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._refusal_reported: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def keys(account: str, address: str | None) -> list[str]:
        return [f"account:{account[:64]}", f"address:{address or 'unknown'}"]

    def retry_after(self, keys: list[str]) -> int | None:
        """Seconds until these keys may try again, or None when they may try now."""
        now = self.clock()
        with self._lock:
            waits = [until - now for key in keys if (until := self._locked_until.get(key)) and until > now]
        return int(max(waits)) + 1 if waits else None

    def first_refusal(self, keys: list[str]) -> bool:
        """True once per lockout: refusals are audited once, so a locked-out guesser cannot flood the history."""
        with self._lock:
            fresh = [key for key in keys if key not in self._refusal_reported]
            self._refusal_reported.update(keys)
        return bool(fresh)

    def failed(self, keys: list[str]) -> bool:
        """Count one failure for each key; True when it locks one of them out."""
        now = self.clock()
        locked = False
        with self._lock:
            self._prune(now)
            for key in keys:
                failures = self._failures.setdefault(key, deque())
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                failures.append(now)
                if len(failures) >= self.limit:
                    self._locked_until[key] = now + self.lockout
                    self._refusal_reported.discard(key)
                    failures.clear()
                    locked = True
        return locked

    def succeeded(self, account_key: str) -> None:
        """A right password clears the account's failures (never the address's: one good account must not
        reset the count of a guesser trying others)."""
        with self._lock:
            self._failures.pop(account_key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
            self._refusal_reported.discard(key)
        if len(self._failures) > self.MAX_KEYS:
            for key in [k for k, f in self._failures.items() if not f or f[-1] <= now - self.window]:
                del self._failures[key]
            while len(self._failures) > self.MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))


def login_limiter(app: Flask) -> LoginLimiter:
    return app.extensions["keywatch_login_limiter"]


def init_app(app: Flask) -> None:
    app.extensions["keywatch_login_limiter"] = LoginLimiter(app.config["LOGIN_FAILURE_LIMIT"],
                                                            app.config["LOGIN_FAILURE_WINDOW"],
                                                            app.config["LOGIN_LOCKOUT"])
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals["csrf_field"] = csrf_field
