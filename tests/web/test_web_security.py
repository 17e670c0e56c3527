"""CSRF, security headers, and text from keys shown as text."""

from __future__ import annotations

import re

import pytest
from web_scenario import HOSTILE_UID

from keywatch.proposals import Review
from keywatch.workspace import Workspace
from web.security import CONTENT_SECURITY_POLICY


def proposal(workspace_root, proposal_id=1):
    workspace = Workspace(workspace_root)
    store = workspace.store()
    try:
        return Review(workspace.root, workspace.config(), store, workspace.audit(store)).get(proposal_id)
    finally:
        store.close()


def approve_form(workspace_root, proposal_id=1) -> dict:
    p = proposal(workspace_root, proposal_id)
    return {"digest": p.digest, "checklist": p.checklist, "comment": "looks right"}


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(client, auth, workspace_root, token):
    auth.login("alice")
    data = approve_form(workspace_root)
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/proposals/1/approve", data=data)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert proposal(workspace_root).decisions == []
    # The same form with the session's token goes through.
    assert auth.post("/proposals/1/approve", approve_form(workspace_root)).status_code == 303
    assert [d["reviewer"] for d in proposal(workspace_root).decisions] == ["alice"]


def test_login_itself_needs_the_token(client):
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_the_token_of_another_session_does_not_work(app, auth, workspace_root):
    auth.login("alice")
    stolen = auth.csrf()
    other = app.test_client()
    other.get("/login")
    other_token = re.search(r'name="csrf_token" value="([^"]+)"',
                            other.get("/login").get_data(as_text=True)).group(1)
    assert other_token != stolen
    response = other.post("/login", data={"username": "bob", "password": "correct horse battery",
                                          "csrf_token": stolen})
    assert response.status_code == 400


def test_logging_in_starts_a_new_session_token(client, auth):
    client.get("/login")
    before = auth.csrf()
    auth.login("alice")
    assert auth.csrf() != before


@pytest.mark.parametrize("path", ["/login", "/", "/proposals/1", "/keys/", "/audit/", "/upstreams/pkg",
                                  "/no-such-page", "/static/style.css"])
def test_security_headers_on_every_response(client, auth, path):
    if path != "/login":
        auth.login("alice")
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    if path != "/static/style.css":
        assert response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(client, auth):
    auth.login("alice")
    for path in ("/", "/proposals/1", "/keys/", "/audit/", "/upstreams/pkg", "/login"):
        page = client.get(path).get_data(as_text=True)
        assert "<script" not in page and "style=" not in page and "<style" not in page, path


def test_a_hostile_user_id_is_shown_as_text(client, auth, keys):
    auth.login("vera")
    hostile = keys["hostile"].fingerprint
    escaped = "&lt;script&gt;window.pwned=1&lt;/script&gt;"
    for path in (f"/keys/{hostile}", "/keys/", "/proposals/2", "/proposals/", "/"):
        page = client.get(path).get_data(as_text=True)
        assert HOSTILE_UID not in page, path
        assert escaped in page, path


def test_the_picture_escapes_labels_and_is_an_image(client, auth, keys):
    auth.login("vera")
    response = client.get(f"/keys/{keys['hostile'].fingerprint}/paths.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert "<script" not in svg and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in svg


def test_control_and_bidi_characters_are_made_visible(app):
    from flask import render_template_string
    with app.test_request_context():
        shown = render_template_string("{{ text }}", text="evil\u202eexe.txt\x1b[31m<i>")
    assert shown == "evil\\u202eexe.txt\\x1b[31m&lt;i&gt;"
