"""How fast the review UI's pages answer with 10,000 events and 1,000 keys in the database (issue 5).

    python3 bench/web.py [--keys 1000] [--events 10000] [--requests 30] [--json OUT] [--keep DIR]
    python3 bench/web.py --profile PAGE      # one page under cProfile, in process (Flask test client)

It builds a workspace programmatically: 1,000 certificates made with pysequoia
(imported as one concatenated keyring), 10,000 events over 50 upstreams (every
kind and severity), 5 configured upstreams with packaging keyrings, releases
and their signers, one open proposal and a reviewer account. It then starts
the real server (`keywatch -w ROOT serve --port 0`, waitress) as a child
process, logs in over HTTP with httpx (CSRF token from the login form) and
times N sequential GETs of each page, round-robin over the pages so that the
machine's noise is shared between them. Goal: median < 100 ms per page.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is called web.py: keep its directory off the path so that `import web` finds the review UI.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx
import pysequoia

from keywatch import events, ingest, upstreams, users, workspace
from keywatch.events import EventDraft, SEVERITIES
from keywatch.proposals import Review

GOAL_MS = 100.0
KINDS = ("bad_signature", "unsigned_release", "signer_key_unavailable", "invalid_signature", "new_signer",
         "co_signer_added", "signer_stopped", "signer_changed", "handover_suspected", "uid_added", "uid_removed",
         "uid_revoked", "subkey_added", "expiry_changed", "key_revoked", "key_expiring", "weak_algorithm",
         "key_source_changed")
CONFIGURED = 5  # upstreams in keywatch.toml (events name 50)
RELEASES = 40  # per configured upstream
PASSWORD = "bench password 123"


def build(root: Path, n_keys: int, n_events: int, n_upstreams: int) -> dict:
    t0 = time.perf_counter()
    ws, _ = workspace.init(root)
    tsks = [pysequoia.Tsk.generate(f"Bench Signer {k} <signer{k}@example.org>") for k in range(n_keys)]
    certs = [bytes(t.extract_certificate()) for t in tsks]
    t_gen = time.perf_counter() - t0
    store = ws.store()
    ingest.import_bytes(store, b"".join(certs), "bench")
    fprs = [r[0] for r in store.conn.execute("SELECT fingerprint FROM certs ORDER BY fingerprint")]
    assert len(fprs) == n_keys, f"{len(fprs)} certificates in the store, expected {n_keys}"
    t_import = time.perf_counter() - t0 - t_gen

    names = [f"up{n:02d}" for n in range(n_upstreams)]
    (root / "keyrings").mkdir(exist_ok=True)
    for n, name in enumerate(names[:CONFIGURED]):
        ring = [pysequoia.Cert.from_bytes(certs[(n * 7 + i) % n_keys]) for i in range(3)]
        (root / "keyrings" / f"{name}.keyring").write_text("".join(str(c) for c in ring))
        upstreams.add_upstream(ws.config_path, {
            "name": name, "keyring": f"keyrings/{name}.keyring", "keyring_format": "opensuse",
            "index": f"https://example.org/{name}/", "pattern": rf"{name}-(?P<version>[0-9.]+)\.tar\.gz"})

    now = int(time.time())
    with store.transaction() as conn:
        for n, name in enumerate(names[:CONFIGURED]):
            for r in range(RELEASES):
                version = f"1.{r}"
                conn.execute("INSERT INTO releases VALUES (?,?,?,?,?,?,?,?,?)",
                             (name, version, f"https://example.org/{name}/{name}-{version}.tar.gz", "ab" * 32, 16384,
                              f"https://example.org/{name}/{name}-{version}.tar.gz.sig", "signed",
                              now - (RELEASES - r) * 86400, "index"))
                signer = fprs[(n * 7 + r // 10) % n_keys]
                conn.execute("INSERT INTO release_signers VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             (name, version, f"{n:02d}{r:04d}" + "0" * 58, signer, signer, signer[-16:],
                              now - (RELEASES - r) * 86400, 10, "good", int(r < 30), None))
            conn.execute("INSERT INTO upstream_state VALUES (?,?,?,?,?,?)",
                         (name, now - 600, now - 600, None, now + 3600, None))
        drafts = []
        for i in range(n_events):
            kind = KINDS[i % len(KINDS)]
            upstream = names[i % n_upstreams]
            fpr = fprs[i % n_keys]
            drafts.append(EventDraft(kind, SEVERITIES[(i // len(KINDS)) % len(SEVERITIES)], upstream,
                                     f"{upstream} event {i}: {kind} about {fpr}", f"bench|{i}",
                                     f"1.{i % RELEASES}", fpr, {"n": i}))
        # Spread over ~6 months, oldest first (created is the `now` of record()).
        for i in range(0, n_events, 100):
            events.record(conn, drafts[i:i + 100], now - (n_events - i) * 1500)
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == n_events

    with store.transaction() as conn:
        users.add_user(conn, "rita", "reviewer", PASSWORD, now)
    review = Review(ws.root, ws.config(), store, ws.audit(store))
    subject = fprs[-1]
    proposal = review.propose(ws.config().upstream(names[0]), "add-signer", subject, "carol",
                              title="add a new signer", add=[subject], risk_level="high",
                              risk_reasons=["certified by nobody", "first signed a release 3 days after creation"])
    store.close()
    return {"upstreams": names, "configured": names[:CONFIGURED], "fingerprints": fprs, "proposal": proposal.id,
            "subject": subject, "generate_s": round(t_gen, 1), "import_s": round(t_import, 1),
            "build_s": round(time.perf_counter() - t0, 1)}


def pages(info: dict) -> list[tuple[str, str]]:
    fpr = info["subject"]
    name = info["configured"][0]
    return [("dashboard", "/"), ("proposals", "/proposals/"), ("proposal", f"/proposals/{info['proposal']}"),
            ("keys", "/keys/"), ("key", f"/keys/{fpr}"), ("paths.svg", f"/keys/{fpr}/paths.svg"),
            ("upstreams", "/upstreams/"), ("upstream", f"/upstreams/{name}"), ("audit", "/audit/")]


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(["keywatch", "-w", str(root), "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+?/) ", line)
    if not match:
        proc.kill()
        raise SystemExit(f"keywatch serve did not print its URL: {line!r}")
    return proc, match.group(1)


def login(client: httpx.Client) -> None:
    form = client.get("/login").text
    token = re.search(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', form)
    answer = client.post("/login", data={token.group(1): token.group(2), "username": "rita", "password": PASSWORD})
    if answer.status_code != 303:
        raise SystemExit(f"login failed: HTTP {answer.status_code}")


def measure(url: str, targets: list[tuple[str, str]], n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name, _ in targets}
    with httpx.Client(base_url=url, timeout=60) as client:
        login(client)
        for name, path in targets:  # one warm-up each; checks the page really answers
            answer = client.get(path)
            if answer.status_code != 200 or "/login" in str(answer.url):
                raise SystemExit(f"{path}: HTTP {answer.status_code} {answer.url}")
        for _ in range(n):
            for name, path in targets:
                start = time.perf_counter()
                answer = client.get(path)
                elapsed = time.perf_counter() - start
                assert answer.status_code == 200, (path, answer.status_code)
                times[name].append(elapsed * 1000)
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def profile(root: Path, path: str, n: int) -> None:
    from web import create_app

    app = create_app(root)
    client = app.test_client()
    with client.session_transaction() as session:
        session["user"], session["since"], session.permanent = "rita", int(time.time()), True
    assert client.get(path).status_code == 200
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        client.get(path)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--upstreams", type=int, default=50)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--keep", type=Path, help="build the workspace here (must not exist) and keep it")
    parser.add_argument("--profile", metavar="PAGE", help="profile this page name in process instead of timing")
    args = parser.parse_args()

    temp = None
    if args.keep:
        root = args.keep
    else:
        temp = tempfile.mkdtemp(prefix="kw-bench-web-")
        root = Path(temp) / "ws"
    try:
        print(f"building the workspace in {root} …", flush=True)
        info = build(root, args.keys, args.events, args.upstreams)
        print(f"  {args.keys} keys (generated in {info['generate_s']} s, imported in {info['import_s']} s), "
              f"{args.events} events, built in {info['build_s']} s", flush=True)
        targets = pages(info)
        if args.profile:
            profile(root, dict(targets)[args.profile], args.requests)
            return 0
        load_before = os.getloadavg()
        proc, url = start_server(root)
        try:
            times = measure(url, targets, args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        load_after = os.getloadavg()
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)

    rows = []
    print(f"\n{args.requests} requests per page; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after, on {os.cpu_count()} CPUs\n")
    print("| page | path | median ms | p90 ms | min ms | max ms | goal < 100 ms median |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, path in targets:
        values = times[name]
        row = {"page": name, "path": path, "median_ms": round(statistics.median(values), 1),
               "p90_ms": round(p90(values), 1), "min_ms": round(min(values), 1), "max_ms": round(max(values), 1)}
        row["met"] = row["median_ms"] < GOAL_MS
        rows.append(row)
        print(f"| {name} | `{path}` | {row['median_ms']} | {row['p90_ms']} | {row['min_ms']} | {row['max_ms']} | "
              f"{'met' if row['met'] else 'NOT MET'} |")
    missed = [r["page"] for r in rows if not r["met"]]
    print(f"\ngoal: {'met on every page' if not missed else 'not met on ' + ', '.join(missed)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "keys": args.keys, "events": args.events, "upstreams": args.upstreams, "requests": args.requests,
            "load_before": load_before, "load_after": load_after, "cpus": os.cpu_count(), "build": info | {
                "fingerprints": None}, "pages": rows, "goal_ms": GOAL_MS, "missed": missed}, indent=2))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
