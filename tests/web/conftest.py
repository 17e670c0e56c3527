"""The review UI under Flask's test client: an app on a fresh copy of the handover workspace, and a way to sign in.

The keys are made once per session (sq is slow); each test gets its own copy of
the workspace, so decisions in one test never leak into another.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/ is on sys.path, so "web" could resolve to this directory: put the repository first.
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

import web_scenario

from web import create_app


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return web_scenario.make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def template_workspace(tmp_path_factory, keys):
    return web_scenario.build_workspace(tmp_path_factory.mktemp("template") / "ws", keys).root


@pytest.fixture
def workspace_root(tmp_path, template_workspace):
    root = tmp_path / "ws"
    shutil.copytree(template_workspace, root)
    return root


@pytest.fixture
def app(workspace_root):
    return create_app(workspace_root, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Sign in and out as a person would: fetch the form (and its CSRF token), then post it."""

    def __init__(self, client) -> None:
        self.client = client

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            token = session.get("csrf_token")
        if token is None:
            page = self.client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return token

    def login(self, name: str = "alice", password: str = web_scenario.PASSWORD, **extra):
        self.client.get("/login")
        return self.client.post("/login", data={"username": name, "password": password,
                                                "csrf_token": self.csrf(), **extra})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf()})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """A form post with this session's CSRF token."""
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)


@pytest.fixture
def auth(client):
    return AuthActions(client)
