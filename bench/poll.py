"""Polling 1,000 upstreams: the first poll of a fresh workspace, and the steady-state re-poll.

Why: keywatch is meant to re-poll a few thousand upstreams every few hours
from one machine. The goal on this 2-core machine is a steady-state re-poll
(nothing changed: every URL answers 304 Not Modified) of at least 100
upstreams per second, start-up included.

Setup: one HTTP server on 127.0.0.1 (tests/httpserver.py's LoopbackServer,
threaded, in this process) serves N simulated upstreams. Each has an index
page listing R releases (a 16 KiB tarball and its detached signature each),
a KEYS file and a packaging keyring, and its releases are signed by one of K
keys (made with pysequoia). Index pages and KEYS files carry ETags; tarballs
and signatures do not (they are fetched once).

Measured, with `python -m keywatch -w WS poll --json` as a child process:

- first poll: fresh workspace (keywatch init + a keywatch.toml with N
  [[upstream]] tables); every index, KEYS file, signature and tarball is
  fetched, every signature verified. `--runs` fresh workspaces.
- steady-state re-poll: the same workspace polled again, `--repolls` times
  each; the run is checked to have made exactly 2 conditional requests per
  upstream (index and KEYS, both answered 304) and raised nothing.
- `keywatch --version`: the fixed start-up cost inside every figure.
- parsing keywatch.toml (keywatch.config.load_config, in this process):
  the other fixed cost of every poll, and of every `watch` tick.

The server sends with TCP_NODELAY, as production web servers do
(`--server-nagle` turns that off: http.server writes headers and body in
two send()s, and with Nagle's algorithm each body then waits ~40 ms for the
client's delayed ACK; that is the test server's cost, not keywatch's).

Wall time, upstreams/s (N / wall), CPU time (user+system of keywatch) and
peak RSS (maximum resident set size), both from /usr/bin/time -f: the largest
single process of the keywatch tree, and keywatch polls in one process; and
the CPU time the server threads of this process spent meanwhile (they share
the 2 cores). Medians.

Run: python3 bench/poll.py [--upstreams 1000] [--runs 3] [--repolls 3] [--json OUT]
     python3 bench/poll.py --profile OUT.prof   (one steady-state re-poll under cProfile)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pysequoia

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import httpserver
from httpserver import LoopbackServer

from keywatch.config import load_config

Json = dict[str, Any]
GOAL_UPSTREAMS_PER_S = 100


@dataclass
class Sample:
    kind: str
    wall_s: float
    upstreams_per_s: float
    cpu_s: float
    max_rss_mb: float
    server_cpu_s: float
    requests: int


class Upstreams:
    """N upstreams served by one LoopbackServer; releases signed by one of K keys."""

    def __init__(self, server: LoopbackServer, count: int, keys: int, releases: int) -> None:
        self.server, self.count, self.releases = server, count, releases
        tsks = [pysequoia.Tsk.generate(f"Release Signer {k} <signer{k}@example.org>") for k in range(keys)]
        self.certs = [bytes(tsk.extract_certificate()) for tsk in tsks]
        signers = [tsk.signer() for tsk in tsks]
        for n in range(count):
            key = n % keys
            base = f"/u{n:04d}/"
            names = []
            for r in range(releases):
                version = f"1.{r}"
                tarball = (f"project {n} version {version}\n".encode() * 700)[:16384]
                signature = pysequoia.sign(signers[key], tarball, mode=pysequoia.SignatureMode.DETACHED, armor=False)
                name = f"p{n:04d}-{version}.tar.gz"
                server.route(base + name, tarball)
                server.route(base + name + ".sig", signature)
                names += [name, name + ".sig"]
            page = "<html><body><h1>Index of " + base + "</h1>" + "".join(
                f'<a href="{name}">{name}</a><br>\n' for name in names) + "</body></html>"
            server.route(base, page.encode(), content_type="text/html", etag=f'"index-{n}"')
            server.route(base + "KEYS", self.certs[key], content_type="application/pgp-keys", etag=f'"keys-{key}"')

    def workspace(self, root: Path, concurrency: int) -> Path:
        """A fresh workspace with one [[upstream]] per simulated upstream, each with its packaging keyring."""
        subprocess.run([sys.executable, "-m", "keywatch", "init", str(root)], check=True, capture_output=True)
        tables = [f"[monitor]\nconcurrency = {concurrency}\n"]
        for n in range(self.count):
            keyring = root / "keyrings" / f"u{n:04d}.keyring"
            keyring.write_bytes(self.certs[n % len(self.certs)])
            base = self.server.url(f"/u{n:04d}/")
            tables.append(f"""
[[upstream]]
name = "u{n:04d}"
keyring = "keyrings/u{n:04d}.keyring"
index = "{base}"
pattern = 'p{n:04d}-([\\d.]+)\\.tar\\.gz'
keys = ["{base}KEYS"]
""")
        (root / "keywatch.toml").write_text("".join(tables), encoding="utf-8")
        return root


def run(command: list[str], server: LoopbackServer, kind: str, count: int) -> tuple[Sample, str]:
    """One keywatch process under /usr/bin/time: wall time, its CPU and peak RSS, server CPU meanwhile.

    Peak RSS comes from /usr/bin/time, whose child is forked from a small process: ru_maxrss of a child
    forked straight from this one would count this process's pages (the server's routes) until exec.
    """
    server.clear_log()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as usage:
        server_cpu = time.process_time()
        started = time.perf_counter()
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", usage.name, *command], stdout=out,
                                   stderr=err, stdin=subprocess.DEVNULL)
        process.wait()
        wall = time.perf_counter() - started
        server_cpu = time.process_time() - server_cpu
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        fields = usage.read().split()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {process.returncode}\n{stderr[-2000:]}")
    max_rss_kb, user, system = int(fields[-3]), float(fields[-2]), float(fields[-1])
    sample = Sample(kind, wall, count / wall, user + system, max_rss_kb / 1024, server_cpu, len(server.requests))
    return sample, stdout


def check_first(stdout: str, upstreams: Upstreams) -> None:
    report = json.loads(stdout)
    releases = sum(len(u["new_releases"]) for u in report["upstreams"])
    if report["failed"] or releases != upstreams.count * upstreams.releases or report["events"]:
        raise SystemExit(f"first poll did not do the expected work: failed={report['failed']} "
                         f"releases={releases} events={report['events']}")


def check_steady(stdout: str, upstreams: Upstreams) -> None:
    report = json.loads(stdout)
    releases = sum(len(u["new_releases"]) for u in report["upstreams"])
    requests = upstreams.server.requests
    conditional = [r for r in requests if "if-none-match" in r.headers]
    if report["failed"] or releases or report["events"] or len(requests) != 2 * upstreams.count \
            or len(conditional) != len(requests):
        raise SystemExit(f"re-poll was not a steady state: failed={report['failed']} releases={releases} "
                         f"events={report['events']} requests={len(requests)} conditional={len(conditional)}")


def poll_command(workspace: Path) -> list[str]:
    return [sys.executable, "-m", "keywatch", "-w", str(workspace), "poll", "--json"]


def summarise(samples: list[Sample]) -> Json:
    def stats(values: list[float]) -> Json:
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {"runs": len(samples), "wall_s": stats([s.wall_s for s in samples]),
            "upstreams_per_s": stats([s.upstreams_per_s for s in samples]),
            "cpu_s": stats([s.cpu_s for s in samples]), "max_rss_mb": stats([s.max_rss_mb for s in samples]),
            "server_cpu_s": stats([s.server_cpu_s for s in samples]),
            "requests": stats([float(s.requests) for s in samples])}


def table(summary: dict[str, Json]) -> str:
    header = (f"{'run':<30} {'n':>3} {'wall s':>8} {'upstr/s':>8} {'CPU s':>7} {'RSS MB':>7} {'srv CPU s':>9}"
              f" {'requests':>8}")
    lines = [header]
    for name, s in summary.items():
        rate = f"{s['upstreams_per_s']['median']:>8.1f}" if s["requests"]["median"] else f"{'-':>8}"
        lines.append(f"{name:<30} {s['runs']:>3} {s['wall_s']['median']:>8.2f} {rate}"
                     f" {s['cpu_s']['median']:>7.2f} {s['max_rss_mb']['median']:>7.1f}"
                     f" {s['server_cpu_s']['median']:>9.2f} {s['requests']['median']:>8.0f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--upstreams", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=5, help="distinct signing keys (default 5)")
    parser.add_argument("--releases", type=int, default=3, help="releases per upstream (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="fresh workspaces, each polled first (default 3)")
    parser.add_argument("--repolls", type=int, default=3, help="steady-state re-polls per workspace (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="monitor.concurrency (default 16, as init)")
    parser.add_argument("--json", type=Path, help="write every sample and the summary here")
    parser.add_argument("--profile", type=Path, help="instead: profile one steady-state re-poll (cProfile) here")
    parser.add_argument("--server-nagle", action="store_true",
                        help="leave Nagle's algorithm on in the test server (see the docstring)")
    args = parser.parse_args()
    # Web servers (nginx, Apache) send with TCP_NODELAY. http.server does not by default, and it writes a
    # response's headers and body in two send()s: with Nagle on, the body waits for the client's delayed ACK
    # (40 ms on Linux) on every response with a body, which made the first poll mostly waiting.
    httpserver.Exchange.disable_nagle_algorithm = not args.server_nagle

    load_before = os.getloadavg()
    samples: list[Sample] = []
    config_s: list[float] = []
    scratch = Path(tempfile.mkdtemp(prefix="keywatch-bench-poll-"))
    try:
        with LoopbackServer() as server:
            made = time.perf_counter()
            upstreams = Upstreams(server, args.upstreams, args.keys, args.releases)
            print(f"{args.upstreams} upstreams served in {time.perf_counter() - made:.1f} s", file=sys.stderr)
            if args.profile:
                workspace = upstreams.workspace(scratch / "profiled", args.concurrency)
                check_first(run(poll_command(workspace), server, "first", args.upstreams)[1], upstreams)
                command = [sys.executable, "-m", "cProfile", "-o", str(args.profile), "-m", "keywatch",
                           "-w", str(workspace), "poll", "--json"]
                sample, stdout = run(command, server, "profiled re-poll", args.upstreams)
                check_steady(stdout, upstreams)
                print(f"profiled re-poll: {sample.wall_s:.2f} s; profile in {args.profile}", file=sys.stderr)
                return
            startup = [run([sys.executable, "-m", "keywatch", "--version"], server, "start-up", args.upstreams)[0]
                       for _ in range(3)]
            for number in range(args.runs):
                workspace = upstreams.workspace(scratch / f"ws{number}", args.concurrency)
                for _ in range(1 if number else 3):  # in-process, the same text every poll starts by parsing
                    parsed = time.perf_counter()
                    load_config(workspace / "keywatch.toml")
                    config_s.append(time.perf_counter() - parsed)
                sample, stdout = run(poll_command(workspace), server, "first poll", args.upstreams)
                check_first(stdout, upstreams)
                samples.append(sample)
                for _ in range(args.repolls):
                    sample, stdout = run(poll_command(workspace), server, "steady-state re-poll", args.upstreams)
                    check_steady(stdout, upstreams)
                    samples.append(sample)
                shutil.rmtree(workspace)
                print(f"workspace {number + 1}/{args.runs} done", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    summary = {kind: summarise([s for s in samples if s.kind == kind]) for kind in ("first poll",
                                                                                     "steady-state re-poll")}
    summary["keywatch --version (start-up)"] = summarise(startup)
    steady = summary["steady-state re-poll"]["upstreams_per_s"]["median"]
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"nproc": len(os.sched_getaffinity(0)), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "parameters": {k: v for k, v in vars(args).items() if k not in ("json", "profile")},
        "summary": summary,
        "config_parse_s": {"median": statistics.median(config_s), "samples": config_s},
        "goal": {"steady_state_upstreams_per_s": f">= {GOAL_UPSTREAMS_PER_S}", "value": steady,
                 "met": steady >= GOAL_UPSTREAMS_PER_S},
        "samples": [asdict(s) for s in samples + startup],
    }
    print(table(summary))
    print(f"parsing keywatch.toml ({args.upstreams} [[upstream]] tables, in-process): "
          f"{statistics.median(config_s):.2f} s median")
    print(f"steady-state goal >= {GOAL_UPSTREAMS_PER_S} upstreams/s: {steady:.1f} "
          f"({'met' if report['goal']['met'] else 'NOT met'}); load average before {load_before[0]:.2f}, "
          f"after {report['machine']['loadavg_after'][0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
