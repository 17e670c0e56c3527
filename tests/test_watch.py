"""`keywatch watch` as a long-running process: polls each upstream on its interval, stops cleanly, resumes.

The upstreams are index pages on a real HTTP server on 127.0.0.1; the server's
request log says when each upstream was polled (one request to its index per
poll). The watcher is a real subprocess, stopped with a real SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from httpserver import LoopbackServer, serve, slow

INTERVALS = {"fast": "1s", "medium": "2s", "slow": "1h"}


def polls(server: LoopbackServer, name: str) -> list[float]:
    """When the upstream's index was requested: once per poll."""
    return [r.at for r in server.requests if r.path == f"/{name}/"]


def seconds_between(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Watcher:
    """`keywatch watch --tick 0.2` in its own process; its standard error goes to a file."""

    def __init__(self, kw, log) -> None:
        self.log = log
        env = {**os.environ, "KEYWATCH_WORKSPACE": str(kw.workspace)}
        env.pop("KEYWATCH_DEBUG", None)
        with open(log, "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "keywatch", "watch", "--tick", "0.2"],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                            env=env, cwd=kw.workspace.parent)

    def terminate(self) -> float:
        """SIGTERM; returns how long the watcher took to exit."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        return time.monotonic() - sent

    @property
    def stderr(self) -> str:
        return self.log.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server():
    with LoopbackServer() as running:
        for name in INTERVALS:
            running.route(f"/{name}/", f"<html><body>{name}: no releases yet</body></html>".encode(),
                          content_type="text/html", etag=f'"{name}"')
        yield running


def test_watch_polls_on_interval_stops_on_sigterm_and_resumes_its_schedule(kw, server, tmp_path):
    (kw.workspace / "keywatch.toml").write_text("".join(f"""
[[upstream]]
name = "{name}"
index = {json.dumps(server.url(f"/{name}/"))}
pattern = 'x-([\\d.]+)\\.tar\\.gz'
interval = "{interval}"
""" for name, interval in INTERVALS.items()), encoding="utf-8")

    watcher = Watcher(kw, tmp_path / "watch-1.log")
    try:
        wait_for(lambda: len(polls(server, "fast")) >= 4 and len(polls(server, "medium")) >= 2, 20,
                 "fast to be polled 4 times and medium twice")
        fast, medium = polls(server, "fast"), polls(server, "medium")
        assert len(polls(server, "slow")) == 1
        assert watcher.process.poll() is None, watcher.stderr
        # Schedules are kept in whole seconds: an interval of N s is never shorter than N - 1 s.
        assert all(b - a > 0.8 for a, b in itertools.pairwise(medium)), medium
        assert all(b - a > 0.1 for a, b in itertools.pairwise(fast)), fast  # one poll per due time, not one per tick
        assert len(fast) > len(medium)

        took = watcher.terminate()
    finally:
        watcher.kill()
    assert watcher.process.returncode == 0, watcher.stderr
    assert took < 3, took
    assert "SIGTERM received" in watcher.stderr and "keywatch: watch stopped" in watcher.stderr
    assert "fast: ok, 0 new releases, 0 events" in watcher.stderr

    listed = {u["name"]: u for u in kw("upstream", "list", "--json").json()}
    assert all(listed[name]["last_error"] is None and listed[name]["last_success"] for name in INTERVALS)
    slow = listed["slow"]
    assert seconds_between(slow["last_poll"], slow["next_poll"]) == 3600

    # Restarted: the upstreams that are due are polled at once, the slow one waits for its hour.
    before = {name: len(polls(server, name)) for name in INTERVALS}
    watcher = Watcher(kw, tmp_path / "watch-2.log")
    try:
        wait_for(lambda: len(polls(server, "fast")) >= before["fast"] + 2
                 and len(polls(server, "medium")) >= before["medium"] + 1, 20,
                 "the restarted watcher to poll fast twice and medium once")
        assert len(polls(server, "slow")) == before["slow"] == 1
        took = watcher.terminate()
    finally:
        watcher.kill()
    assert watcher.process.returncode == 0 and took < 3, (watcher.stderr, took)
    assert "keywatch: watch stopped" in watcher.stderr and "slow:" not in watcher.stderr


def test_sigterm_during_a_poll_finishes_the_round_then_stops(kw, tmp_path):
    with LoopbackServer() as server:
        server.handle("/stalling/", slow(1.5, serve(b"<html><body>nothing yet</body></html>",
                                                   content_type="text/html")))
        (kw.workspace / "keywatch.toml").write_text(f"""
[[upstream]]
name = "stalling"
index = {json.dumps(server.url("/stalling/"))}
pattern = 'x-([\\d.]+)\\.tar\\.gz'
interval = "1h"
""", encoding="utf-8")
        watcher = Watcher(kw, tmp_path / "watch.log")
        try:
            wait_for(lambda: polls(server, "stalling"), 20, "the poll to start")
            asked = polls(server, "stalling")[0]
            took = watcher.terminate()
        finally:
            watcher.kill()
        waited = time.monotonic() - took - asked  # how long the request had waited when SIGTERM came
    assert watcher.process.returncode == 0, watcher.stderr
    assert 1.5 - waited - 0.3 < took < 5, (took, waited)  # waited for the answer, then stopped
    assert "stalling: ok, 0 new releases, 0 events" in watcher.stderr
    assert watcher.stderr.rstrip().endswith("keywatch: watch stopped")
    [state] = kw("upstream", "list", "--json").json()
    assert state["last_success"] is not None and seconds_between(state["last_poll"], state["next_poll"]) == 3600
