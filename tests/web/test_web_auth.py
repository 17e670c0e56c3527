"""Signing in: sessions, cookies, the secret, rate limits, and the audit of every attempt."""

from __future__ import annotations

import stat

import pytest
from web_scenario import PASSWORD

from keywatch.workspace import Workspace
from web import create_app
from web.security import LoginLimiter


def audit_entries(workspace_root, **filters):
    workspace = Workspace(workspace_root)
    store = workspace.store()
    try:
        return workspace.audit(store).entries(**filters)
    finally:
        store.close()


def test_pages_need_a_login_and_come_back_after_it(client, auth):
    response = client.get("/proposals/1")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/proposals/1")
    response = auth.login("alice", next="/proposals/1")
    assert response.status_code == 303 and response.headers["Location"] == "/proposals/1"
    assert "alice" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "/\n/evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_site(auth, target):
    response = auth.login("alice", next=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_logout_ends_the_session_and_is_audited(client, auth, workspace_root):
    auth.login("alice")
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 303
    assert client.get("/").status_code == 302
    actions = [(e.actor, e.action) for e in audit_entries(workspace_root)]
    assert ("alice", "login") in actions and ("alice", "logout") in actions


def test_logout_needs_a_post_with_the_token(client, auth):
    auth.login("alice")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_a_failed_login_is_audited_with_the_name_tried_escaped(client, auth, workspace_root):
    response = auth.login("mallory\x1b[2J\u202e<b>", "not the password at all")
    assert response.status_code == 200
    assert "Wrong name or password" in response.get_data(as_text=True)
    failures = audit_entries(workspace_root, action="login-failure")
    assert len(failures) == 1
    assert failures[0].actor == "mallory\\x1b[2J\\u202e<b>"
    assert failures[0].details["client"] == "127.0.0.1"
    auth.login("alice")
    page = client.get("/audit/?action=login-failure").get_data(as_text=True)
    assert "mallory\\x1b[2J\\u202e&lt;b&gt;" in page and "<b>" not in page.split("<main>")[1]


def test_five_failures_for_an_account_lock_it_out_even_with_the_right_password(client, auth, workspace_root):
    for _ in range(5):
        assert auth.login("bob", "wrong password!!").status_code == 200
    refused = auth.login("bob", PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in
    failures = audit_entries(workspace_root, action="login-failure", actor="bob")
    assert len(failures) == 6 and "refused without checking" in failures[-1].details["reason"]
    # Another account from another address is not affected.
    other = create_app(workspace_root, {"TESTING": True}).test_client()
    assert other.get("/login", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200


def test_five_failures_from_one_address_lock_that_address_out(app, workspace_root):
    client = app.test_client()
    address = {"REMOTE_ADDR": "198.51.100.7"}

    def attempt(name, password):
        client.get("/login", environ_base=address)
        with client.session_transaction() as session:
            token = session["csrf_token"]
        return client.post("/login", data={"username": name, "password": password, "csrf_token": token},
                           environ_base=address)

    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert attempt(name, "guess guess guess").status_code == 200
    assert attempt("alice", PASSWORD).status_code == 429
    # The same account from elsewhere still signs in.
    elsewhere = app.test_client()
    elsewhere.get("/login")
    with elsewhere.session_transaction() as session:
        token = session["csrf_token"]
    response = elsewhere.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def test_a_lockout_ends_and_refusals_are_audited_once():
    now = [1000.0]
    limiter = LoginLimiter(limit=3, window=60, lockout=120, clock=lambda: now[0])
    keys = limiter.keys("alice", "192.0.2.1")
    assert not limiter.failed(keys) and not limiter.failed(keys)
    assert limiter.failed(keys)
    assert limiter.retry_after(keys) == 121
    assert limiter.first_refusal(keys) and not limiter.first_refusal(keys)
    now[0] += 121
    assert limiter.retry_after(keys) is None
    # Failures spread over more than the window do not add up.
    for _ in range(4):
        limiter.failed(keys)
        now[0] += 61
    assert limiter.retry_after(keys) is None


def test_session_cookie_flags(client, auth, workspace_root):
    auth.login("alice")
    cookie = client.get_cookie("keywatch_session")
    assert cookie.http_only and cookie.same_site == "Strict" and not cookie.secure
    assert cookie.expires is not None  # limited lifetime
    secure = create_app(workspace_root, {"TESTING": True, "SESSION_COOKIE_SECURE": True}).test_client()
    response = secure.get("/login")
    header = response.headers["Set-Cookie"]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header


def test_a_session_ends_twelve_hours_after_login_however_active(client, auth):
    auth.login("alice")
    with client.session_transaction() as session:
        session["since"] -= 13 * 3600
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_secret_is_made_once_private_and_reused(workspace_root):
    secret = workspace_root / "web-secret"
    assert not secret.exists()
    first = create_app(workspace_root, {"TESTING": True})
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    second = create_app(workspace_root, {"TESTING": True})
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32


def test_a_readable_secret_is_refused(workspace_root):
    create_app(workspace_root)
    (workspace_root / "web-secret").chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        create_app(workspace_root)


def test_a_removed_account_is_signed_out(client, auth, workspace_root):
    auth.login("vera")
    workspace = Workspace(workspace_root)
    store = workspace.store()
    store.conn.execute("DELETE FROM users WHERE name = 'vera'")
    store.close()
    assert client.get("/").status_code == 302
