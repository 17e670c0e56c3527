"""The review UI in a real browser: headless Chromium (Debian's) driving `keywatch serve` on waitress.

Two reviewers sign off the XZ-like handover of `web/web_scenario.py`: the
first sees the risk reasons and the trust-paths picture, ticks the checklist
and approves; the second approves; the keyring on disk then holds exactly the
approved certificates and the audit page shows both approvals. A key whose
user ID is `<script>window.pwned=1</script>` is shown and runs nothing.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pysequoia
import pytest
from playwright import sync_api as playwright_api

sys.path.insert(0, str(Path(__file__).parent / "web"))

import web_scenario

from keywatch.proposals import Review

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    keys = web_scenario.make_keys(tmp_path_factory.mktemp("browser-keys"))
    workspace = web_scenario.build_workspace(tmp_path_factory.mktemp("browser") / "ws", keys)
    return workspace, keys


@pytest.fixture(scope="module")
def server(world):
    """`keywatch serve` on a free loopback port (the OS picks it; the command prints the URL)."""
    workspace, _ = world
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("KEYWATCH_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "keywatch", "-w", str(workspace.root), "serve",
                             "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = _wait_for_url(proc, timeout=30)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_url(proc: subprocess.Popen, timeout: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if selector.select(timeout=0.2):
            line = proc.stdout.readline()
            seen += line
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            if match:
                return match.group(1)
    proc.kill()
    raise AssertionError(f"`keywatch serve` printed no URL: stdout {seen!r}, stderr {proc.stderr.read()!r}")


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run tests/setup.sh (apt-get install chromium)"
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Reviewer:
    """One person in their own browser context, with an eye on the console (a CSP violation is an error)."""

    def __init__(self, browser, base: str, name: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.sign_in(name)

    def sign_in(self, name: str) -> None:
        self.page.goto(self.base + "/")
        assert self.page.url.startswith(self.base + "/login")
        self.page.fill("#username", name)
        self.page.fill("#password", web_scenario.PASSWORD)
        self.page.click("button:has-text('Sign in')")
        self.page.wait_for_url(self.base + "/")

    def approve(self, proposal_id: int, comment: str) -> str:
        page = self.page
        page.goto(f"{self.base}/proposals/{proposal_id}")
        boxes = page.locator("input[name=checklist]")
        assert boxes.count() >= 1
        for i in range(boxes.count()):
            boxes.nth(i).check()
        page.fill("#approve-comment", comment)
        page.click("#approve-form button[type=submit]")
        page.wait_for_load_state()
        return page.locator(".flash").first.inner_text()

    def close(self) -> None:
        self.context.close()


def test_two_reviewers_sign_off_the_handover(server, browser, world, tmp_path):
    workspace, keys = world
    alice = Reviewer(browser, server, "alice")
    page = alice.page

    # The dashboard lists the high-risk proposal first; alice opens it.
    first = page.locator("table.data tbody tr").first
    assert "high risk" in first.inner_text()
    first.locator("a[href='/proposals/1']").first.click()
    page.wait_for_url(server + "/proposals/1")

    risk = page.locator("#risk").inner_text()
    assert "possible maintainer handover" in risk and "certified only by the outgoing signer" in risk
    picture = page.locator("#trust-paths")
    picture.scroll_into_view_if_needed()
    page.wait_for_function("document.getElementById('trust-paths').complete")
    assert page.evaluate("document.getElementById('trust-paths').naturalWidth") > 0
    page.screenshot(path=str(tmp_path / "proposal.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'proposal.png'}")

    message = alice.approve(1, "announced on the upstream list; old key certified the new one")
    assert "It has 1 of 2 approvals" in message
    keyring = workspace.root / "keyrings" / "pkg.keyring"
    assert {c.fingerprint.upper() for c in pysequoia.Cert.split_bytes(keyring.read_bytes())} == \
        {keys["old"].fingerprint}
    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(r".*/login$"))

    bob = Reviewer(browser, server, "bob")
    assert "the keyring of pkg has been written" in bob.approve(1, "")

    # Exactly the approved content is on disk: the bytes the proposal's digest names, old + new.
    store = workspace.store()
    try:
        approved = Review(workspace.root, workspace.config(), store, workspace.audit(store)).get(1)
    finally:
        store.close()
    assert approved.state == "applied"
    assert keyring.read_bytes() == approved.content
    assert {c.fingerprint.upper() for c in pysequoia.Cert.split_bytes(keyring.read_bytes())} == \
        {keys["old"].fingerprint, keys["new"].fingerprint}

    bob.page.goto(server + "/audit/")
    rows = bob.page.locator("table.audit tbody tr")
    approvals = [rows.nth(i).inner_text() for i in range(rows.count()) if "\tapprove\t" in rows.nth(i).inner_text()]
    assert len(approvals) == 2
    assert any("alice" in row for row in approvals) and any("bob" in row for row in approvals)
    assert "keyring-write" in bob.page.locator("table.audit").inner_text()

    assert alice.problems == [] and bob.problems == []
    alice.close()
    bob.close()


def test_a_hostile_user_id_runs_no_script(server, browser, world):
    _, keys = world
    vera = Reviewer(browser, server, "vera")
    page = vera.page
    page.goto(f"{server}/keys/{keys['hostile'].fingerprint}")
    assert page.locator("h1").inner_text() == web_scenario.HOSTILE_UID
    page.wait_for_function("document.getElementById('trust-paths').complete")
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.goto(f"{server}/proposals/2")
    assert web_scenario.HOSTILE_UID in page.locator("h1").inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.goto(f"{server}/keys/")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert vera.problems == []
    vera.close()
