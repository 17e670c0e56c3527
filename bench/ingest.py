"""Import time and memory on the Debian keyring: keywatch against sq-wot, in one interleaved run.

Why: the acceptance criteria compare keywatch's first import of the Debian
keyring (905 certificates, 48,788 signatures, every one verified) with what
Sequoia's sq-wot needs to read the same file, build its web of trust and list
the authenticated bindings (goal: at most 1.5x), ask that re-importing the
unchanged file costs at most a tenth of the first import, and that keywatch's
peak RSS stays under 500 MB. The tools run round-robin, N times each, so a
busy machine slows all of them alike; medians are compared. `keywatch
--version` is timed too: the fixed start-up cost that bounds any re-import.

sq-wot 0.2 has no --time option, so it runs under faketime at 2022-12-25, the
day after the keyring was published. libfaketime intercepts every clock call,
so sq-wot is also timed without faketime (evaluated now: a different, smaller
web of trust) and under `faketime -f +0` (the real clock through libfaketime),
which separates faketime's own cost from the change of date.

Memory: ru_maxrss from wait4() covers the process and its waited-for
descendants (keywatch forks verification workers) but is the peak of the
largest single process; a sampler also sums the proportional set size (PSS)
of the whole process tree every 250 ms, which counts pages shared after fork
once.

Run: python3 bench/ingest.py [--runs N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from debian_keyring import KEYRING_SHA256, debian_keyring

# Steve McIntyre's key: valid on 2022-12-25, no expiry, and the issuer of good non-SHA-1 certifications on
# 130 certificates of the keyring, so the web of trust sq-wot lists from it is not trivial (210 bindings).
ROOT = "CEBB52301D617E910390FE16587979573442684E"
FAKE_DATE = "2022-12-25 00:00:00"
# The keywatch script pip installed for this Python, called directly: a version manager's shim on PATH
# (pyenv's is a bash script) would add its own start-up to every keywatch run and to no sq-wot run.
_INSTALLED = Path(sysconfig.get_path("scripts")) / "keywatch"
KEYWATCH = str(_INSTALLED) if _INSTALLED.exists() else "keywatch"
Json = dict[str, Any]
SAMPLE_SECONDS = 0.25  # each sample of a ~200 MB tree costs ~8 ms of CPU (the kernel walks its pages)


@dataclass
class Sample:
    wall_s: float
    cpu_s: float  # user + system, the process and its waited-for descendants
    max_rss_mb: float  # ru_maxrss: the largest single process of the tree
    tree_pss_mb: float  # sampled peak of the PSS summed over the whole tree
    result: str  # what the tool reported, to check every run did the same work


def tree_pss_kb(root: int) -> int:
    """PSS of a process and all its descendants, in kB; processes that exit meanwhile count 0."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending += map(int, children.read().split())
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def measure(command: list[str], check: Callable[[str], str]) -> Sample:
    """Run a command once; `check` turns its stdout into a result string or raises."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        done, peak = threading.Event(), [0]

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                peak[0] = max(peak[0], tree_pss_kb(process.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, so Popen must not wait
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)}: exit {process.returncode}\n{err.read().decode()}")
        result = check(out.read().decode())
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak[0] / 1024, result)


def imported(expected: str) -> Callable[[str], str]:
    """Check keywatch's import summary: every certificate `expected` (new or unchanged), no errors."""
    def check(stdout: str) -> str:
        summary = json.loads(stdout)
        if summary["errors"] or summary["rejected"] or summary[expected] != summary["certs"]:
            raise SystemExit(f"unexpected import summary: { {k: v for k, v in summary.items() if k != 'fingerprints'} }")
        return f"{summary['certs']} certs {expected}"
    return check


def bindings(stdout: str) -> str:
    return f"{sum(line.startswith('[') for line in stdout.splitlines())} bindings"


def round_robin(keyring: Path, runs: int) -> dict[str, list[Sample]]:
    """Every tool `runs` times; each round starts one tool later, so no tool always runs first."""
    sq_wot = ["sq-wot", "--keyring", str(keyring), "--trust-root", ROOT, "list", "--trust-amount", "1"]
    samples: dict[str, list[Sample]] = {}

    def keywatch() -> None:
        with tempfile.TemporaryDirectory() as workspace:
            subprocess.run([KEYWATCH, "init", workspace], check=True, capture_output=True)
            command = [KEYWATCH, "-w", workspace, "import", str(keyring), "--json"]
            samples.setdefault("keywatch first ingest", []).append(measure(command, imported("new")))
            samples.setdefault("keywatch re-import", []).append(measure(command, imported("unchanged")))

    def tool(name: str, command: list[str], check: Callable[[str], str] = bindings) -> Callable[[], None]:
        return lambda: samples.setdefault(name, []).append(measure(command, check))

    steps = [
        keywatch,
        tool("keywatch --version (start-up)", [KEYWATCH, "--version"], lambda stdout: stdout.strip()),
        tool(f"sq-wot list (faketime {FAKE_DATE[:10]})", ["faketime", FAKE_DATE, *sq_wot]),
        tool("sq-wot list (no faketime)", sq_wot),
        tool("sq-wot list (faketime -f +0)", ["faketime", "-f", "+0", *sq_wot]),
    ]
    for run in range(runs):
        for step in steps[run % len(steps):] + steps[:run % len(steps)]:
            step()
        print(f"round {run + 1}/{runs} done", file=sys.stderr)
    return samples


def summarise(samples: list[Sample]) -> Json:
    walls = [s.wall_s for s in samples]
    return {
        "wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "cpu_s_median": statistics.median(s.cpu_s for s in samples),
        "max_rss_mb": {"median": statistics.median(s.max_rss_mb for s in samples),
                       "max": max(s.max_rss_mb for s in samples)},
        "tree_pss_mb": {"median": statistics.median(s.tree_pss_mb for s in samples),
                        "max": max(s.tree_pss_mb for s in samples)},
        "results": sorted({s.result for s in samples}),
    }


def criteria(summary: dict[str, Json]) -> dict[str, Json]:
    """The acceptance criteria's ratios and limits, from medians (memory: worst run), and the CPU-time
    ratio, which a busy machine disturbs less than wall time (no goal of its own)."""
    first = summary["keywatch first ingest"]["wall_s"]["median"]
    fake = f"sq-wot list (faketime {FAKE_DATE[:10]})"

    def ratio(value: float, goal: float | None) -> Json:
        return {"value": value, "goal": f"<= {goal}" if goal else "-", "met": value <= goal if goal else None}

    keywatch = [summary[name] for name in ("keywatch first ingest", "keywatch re-import")]
    return {
        f"first ingest / {fake}": ratio(first / summary[fake]["wall_s"]["median"], 1.5),
        "first ingest / sq-wot list (no faketime)":
            ratio(first / summary["sq-wot list (no faketime)"]["wall_s"]["median"], 1.5),
        f"first ingest / {fake}, CPU time":
            ratio(summary["keywatch first ingest"]["cpu_s_median"] / summary[fake]["cpu_s_median"], None),
        "re-import / first ingest": ratio(summary["keywatch re-import"]["wall_s"]["median"] / first, 0.10),
        "keywatch peak RSS, largest process (MB)": ratio(max(s["max_rss_mb"]["max"] for s in keywatch), 500),
        "keywatch peak PSS, whole tree (MB)": ratio(max(s["tree_pss_mb"]["max"] for s in keywatch), 500),
    }


def version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool (default 5)")
    parser.add_argument("--json", type=Path, help="write every sample and the summary here")
    args = parser.parse_args()
    keyring = debian_keyring()
    load_before = os.getloadavg()
    samples = round_robin(keyring, args.runs)
    summary = {name: summarise(runs) for name, runs in samples.items()}
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"nproc": len(os.sched_getaffinity(0)),
                    "mem_total_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "versions": {"keywatch": version([KEYWATCH, "--version"]), "sq-wot": version(["sq-wot", "--version"]),
                     "python": sys.version.split()[0]},
        "keyring_sha256": KEYRING_SHA256, "trust_root": ROOT, "runs": args.runs,
        "summary": summary, "criteria": criteria(summary),
        "samples": {name: [asdict(s) for s in runs] for name, runs in samples.items()},
    }
    print(f"\n{'':34} {'wall s: median [min-max]':>26} {'cpu s':>7} {'maxRSS MB':>10} {'tree PSS MB':>12}  result")
    for name, s in summary.items():
        wall = s["wall_s"]
        print(f"{name:34} {wall['median']:8.2f} [{wall['min']:6.2f}-{wall['max']:6.2f}] {s['cpu_s_median']:7.2f}"
              f" {s['max_rss_mb']['max']:10.0f} {s['tree_pss_mb']['max']:12.0f}  {', '.join(s['results'])}")
    print()
    for name, c in report["criteria"].items():
        verdict = {True: "met", False: "NOT met", None: ""}[c["met"]]
        print(f"{name:60} {c['value']:8.2f}  goal {c['goal']:7}  {verdict}")
    print(f"\nnproc {report['machine']['nproc']}, load average before {load_before[0]:.2f}, "
          f"after {report['machine']['loadavg_after'][0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
