"""The trust graph on the Debian keyring: agreement with sq-wot, and speed and memory side by side.

Why: the trust-graph acceptance criteria ask that keywatch's web-of-trust
amounts equal sq-wot's on the Debian keyring 2022.12.24 at 2022-12-25 from
several roots, with every difference explained, and that, after the import,
`keywatch trust FPR` answers in at most a tenth of the time of one
`sq-wot authenticate` run, `keywatch trust list` from one root in at most the
time of `sq-wot list`, with peak memory no higher than sq-wot's.

Agreement, for each root set: every binding either tool lists (amount > 0),
compared by amount, under three rule sets:

- `keywatch`: keywatch's own rules (graph.py) — the headline rate;
- `sq-wot-0.2`: the rule set that reproduces sq-wot 0.2 where keywatch's
  rules deliberately differ (graph.Rules);
- `sq-wot-0.2 + Sequoia policy`: the same, with Sequoia 1.12's cut-off for
  RIPEMD-160 self-signatures (2013-02-01, policy.rs), which keywatch's
  policy.py sets at 2023-02-01 (computed on a scratch copy of the store).

Each difference under `keywatch` rules is explained by the rule flags whose
flip (from the sq-wot-0.2 rule set, with Sequoia's policy) changes that
binding's amount, and by `policy` when the sq-wot-0.2 rule set alone still
differs; anything else is reported as unexplained.

Timing: the tools run round-robin, N times each (sq-wot under faketime at
2022-12-25, as it has no --time). keywatch runs as the installed `keywatch`
command if `keywatch trust` is registered, else through the same entry point
with the command added (`keywatch.cli._COMMANDS`), which is what registering
it does. The first trust question after an import derives the trust tables
(trust/tables.py); that happens once, before the timed runs, and its cost is
reported on its own. Peak memory is ru_maxrss from wait4(). The in-process
numbers (that derivation, graph build, one report, one list) show where the
time goes.

Run: python3 bench/trust.py [--runs N] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from debian_keyring import KEYRING_SHA256, debian_keyring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from certgen import sq_wot_list_bindings

AT = "2022-12-25"
FAKE_DATE = "2022-12-25 00:00:00"
MCINTYRE = "CEBB52301D617E910390FE16587979573442684E"
ROOT_SETS = {
    # Plain certifications: 210 bindings, all direct.
    "McIntyre": [MCINTYRE],
    # Trust signatures (depth 1, amounts 60 and 120): paths through introducers, partial amounts added up.
    "Ortolo": ["240BBA15B694DD00E38030D8D6EFA6AC4B10D847"],
    "herrmann": ["D1E1316E93A760A8104D85FABB3A68018649AA06"],
    "Kostecke": ["187DAC2552E81F4C2F335B46420A4295E9DBDDBC"],
    # A key that expired in 2019 but still has a (SHA-1) self-signature valid on 2022-12-25.
    "Blarson (expired)": ["23AAEC75ABBAC703F6593B40049B6D88E31734DB"],
    "three roots": [MCINTYRE, "240BBA15B694DD00E38030D8D6EFA6AC4B10D847",
                    "D1E1316E93A760A8104D85FABB3A68018649AA06"],
}
# One binding for `trust FPR` / `sq-wot authenticate`.
TARGET = ("0C19C882237D25D43B8A41BE70373CF1290DB9CE", "Varun Hiremath <varun@debian.org>")
SEQUOIA_RIPEMD160 = 1359676800  # 2013-02-01: Sequoia 1.12's cut-off for RIPEMD-160, both resistances

LAUNCHER = ("import sys; from keywatch.cli import _COMMANDS, main; "
            "_COMMANDS.setdefault('trust', 'trust:trust_group'); sys.argv[0] = 'keywatch'; main()")


# --- running and measuring ---------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    result: str


def measure(command: list[str], check) -> Sample:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode("utf-8", "replace")
        result = check(process.returncode, text, err.read().decode("utf-8", "replace"))
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, result)


def keywatch_command() -> list[str]:
    probe = subprocess.run(["keywatch", "trust", "--help"], capture_output=True, check=False)
    return ["keywatch"] if probe.returncode == 0 else [sys.executable, "-c", LAUNCHER]


def expect_json(kind: str):
    def check(code: int, stdout: str, stderr: str) -> str:
        if code != 0:
            raise SystemExit(f"keywatch exited {code}: {stderr}")
        doc = json.loads(stdout)
        if kind == "list":
            return f"{len(doc)} bindings"
        return f"amount {doc['amount']}, {doc['disjoint_paths']} disjoint paths, risk {doc['risk']['level']}"
    return check


def expect_wot(code: int, stdout: str, stderr: str) -> str:
    if code not in (0, 1) or stderr.strip():
        raise SystemExit(f"sq-wot exited {code}: {stderr}")
    return f"{sum(line.startswith('[') for line in stdout.splitlines())} bindings"


# --- agreement ---------------------------------------------------------------------------------------


def amounts(store, roots: list[str], rules) -> dict[tuple[str, str], int]:
    from keywatch.trust import report
    from keywatch.trust.wot import Root

    return {(e["fingerprint"], e["user_id"]): e["amount"]
            for e in report.list_bindings(store, _ts(AT), [Root(r) for r in roots], 1, rules)}


def _ts(day: str) -> int:
    from keywatch.types import parse_time, to_timestamp

    return to_timestamp(parse_time(day))


def agreement(workspace: Path, keyring: Path) -> dict:
    from keywatch import policy
    from keywatch.store import Store
    from keywatch.trust import graph, tables

    flags = [f.name for f in dataclasses.fields(graph.Rules) if f.name != "name"]
    variants = {f: dataclasses.replace(graph.SQ_WOT_0_2, name=f"sq-wot-0.2 but {f}",
                                       **{f: getattr(graph.KEYWATCH, f)}) for f in flags}
    scratch = workspace.parent / "scratch.db"
    shutil.copyfile(workspace / "keywatch.db", scratch)
    results = {}
    store = Store(workspace / "keywatch.db")
    sequoia = Store(scratch)
    saved = policy.HASH_CUTOFFS[policy.RIPEMD160]
    try:
        tables.refresh(store)
        policy.HASH_CUTOFFS[policy.RIPEMD160] = (SEQUOIA_RIPEMD160, SEQUOIA_RIPEMD160)
        tables.refresh(sequoia)
        for label, roots in ROOT_SETS.items():
            oracle = {(b.fingerprint, b.user_id): b.amount
                      for b in sq_wot_list_bindings(keyring, roots, at=_dt(AT), workdir=workspace.parent)}
            policy.HASH_CUTOFFS[policy.RIPEMD160] = saved
            mine = amounts(store, roots, graph.KEYWATCH)
            compatible = amounts(store, roots, graph.SQ_WOT_0_2)
            policy.HASH_CUTOFFS[policy.RIPEMD160] = (SEQUOIA_RIPEMD160, SEQUOIA_RIPEMD160)
            with_policy = amounts(sequoia, roots, graph.SQ_WOT_0_2)
            mine_policy = amounts(sequoia, roots, graph.KEYWATCH)
            flipped = {f: amounts(sequoia, roots, rules) for f, rules in variants.items()}
            results[label] = _compare(roots, oracle, mine, compatible, with_policy, mine_policy, flipped)
    finally:
        policy.HASH_CUTOFFS[policy.RIPEMD160] = saved
        store.close()
        sequoia.close()
        scratch.unlink()
    return results


def _dt(day: str):
    import datetime as dt

    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def _compare(roots, oracle, mine, compatible, with_policy, mine_policy, flipped) -> dict:
    everything = sorted(set(oracle) | set(mine) | set(compatible))

    def rate(found: dict) -> dict:
        equal = sum(found.get(b, 0) == oracle.get(b, 0) for b in everything)
        return {"equal": equal, "of": len(everything)}

    differences = []
    for binding in everything:
        expected, got = oracle.get(binding, 0), mine.get(binding, 0)
        if expected == got:
            continue
        causes = []
        if compatible.get(binding, 0) != expected and with_policy.get(binding, 0) == expected:
            causes.append("policy: RIPEMD-160 self-signatures (keywatch accepts them until 2023-02-01, "
                          "Sequoia 1.12 until 2013-02-01)")
        if mine_policy.get(binding, 0) != with_policy.get(binding, 0):
            causes += [f"rule: {f}" for f, found in flipped.items()
                       if found.get(binding, 0) != with_policy.get(binding, 0)]
        explained = with_policy.get(binding, 0) == expected and bool(causes)
        differences.append({"fingerprint": binding[0], "user_id": binding[1], "sq_wot": expected,
                            "keywatch": got, "causes": causes, "explained": explained})
    return {"roots": roots, "bindings": len(everything), "keywatch": rate(mine), "sq-wot-0.2": rate(compatible),
            "sq-wot-0.2 + Sequoia policy": rate(with_policy), "differences": differences}


# --- in-process breakdown ------------------------------------------------------------------------------


def breakdown(workspace: Path) -> dict:
    from keywatch.store import Store
    from keywatch.trust import graph, report, tables
    from keywatch.trust.wot import Root

    scratch = workspace.parent / "breakdown.db"
    shutil.copyfile(workspace / "keywatch.db", scratch)
    store = Store(scratch)
    try:
        for table in ("trust_timelines", "trust_state"):
            store.conn.execute(f"DELETE FROM {table}")
        started = time.perf_counter()
        tables.refresh(store)
        derive = time.perf_counter() - started
        roots = [Root(MCINTYRE)]
        at = _ts(AT)
        timings = {"derive trust tables after the import (once)": derive}
        for name, work in (
                ("build the graph at 2022-12-25", lambda: graph.build(store.conn, at)),
                ("trust FPR: graph, amounts, metrics, risk",
                 lambda: report.key_report(store, TARGET[0], at, roots)),
                ("trust list from one root", lambda: report.list_bindings(store, at, roots))):
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                work()
                runs.append(time.perf_counter() - started)
            timings[name] = statistics.median(runs)
        return timings
    finally:
        store.close()
        scratch.unlink()


# --- main ----------------------------------------------------------------------------------------------


def round_robin(keywatch: list[str], workspace: Path, keyring: Path, runs: int) -> dict[str, list[Sample]]:
    fake = ["faketime", FAKE_DATE]
    wot = ["sq-wot", "--keyring", str(keyring), "--trust-root", MCINTYRE]
    steps = {
        "keywatch trust FPR --json": (
            [*keywatch, "-w", str(workspace), "trust", TARGET[0], "--at", AT, "--root", MCINTYRE, "--json"],
            expect_json("key")),
        "sq-wot authenticate (1 binding)": (
            [*fake, *wot, "authenticate", "--trust-amount", "120000", TARGET[1], TARGET[0]], expect_wot),
        "keywatch trust list --json (1 root)": (
            [*keywatch, "-w", str(workspace), "trust", "list", "--at", AT, "--root", MCINTYRE, "--json"],
            expect_json("list")),
        "sq-wot list (1 root)": ([*fake, *wot, "list", "--trust-amount", "120000"], expect_wot),
        "keywatch --version (start-up)": ([*keywatch, "--version"], lambda code, out, err: out.strip()),
    }
    names = list(steps)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    env = {**os.environ, "TZ": "UTC"}
    os.environ.update(env)
    for run in range(runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            command, check = steps[name]
            samples[name].append(measure(command, check))
        print(f"round {run + 1}/{runs} done", file=sys.stderr)
    return samples


def summarise(samples: list[Sample]) -> dict:
    walls = [s.wall_s for s in samples]
    return {"wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
            "cpu_s_median": statistics.median(s.cpu_s for s in samples),
            "max_rss_mb": max(s.max_rss_mb for s in samples), "results": sorted({s.result for s in samples})}


def criteria(summary: dict) -> dict:
    def ratio(a: str, b: str, goal: float) -> dict:
        value = summary[a]["wall_s"]["median"] / summary[b]["wall_s"]["median"]
        return {"value": value, "goal": f"<= {goal}", "met": value <= goal}

    memory = max(summary[n]["max_rss_mb"] for n in summary if n.startswith("keywatch trust"))
    wot_memory = min(summary[n]["max_rss_mb"] for n in summary if n.startswith("sq-wot"))
    return {
        "trust FPR / sq-wot authenticate": ratio("keywatch trust FPR --json", "sq-wot authenticate (1 binding)", 0.1),
        "trust list / sq-wot list": ratio("keywatch trust list --json (1 root)", "sq-wot list (1 root)", 1.0),
        "peak RSS keywatch / sq-wot": {"value": memory / wot_memory, "goal": "<= 1.0", "met": memory <= wot_memory},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--json", type=Path, help="write the samples, the agreement and the summary here")
    args = parser.parse_args()
    keyring = debian_keyring()
    keywatch = keywatch_command()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        subprocess.run([*keywatch, "init", str(workspace)], check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run([*keywatch, "-w", str(workspace), "import", str(keyring), "--json"], check=True,
                       capture_output=True)
        ingest = time.perf_counter() - started
        print(f"import: {ingest:.1f} s", file=sys.stderr)
        # The timed commands run first, while this process is small: a child's ru_maxrss counts the
        # parent's pages it starts with, and the agreement below loads the whole graph here.
        subprocess.run([*keywatch, "-w", str(workspace), "trust", "list", "--at", AT, "--root", MCINTYRE, "--json"],
                       check=True, capture_output=True)  # derives the trust tables once, as the first question does
        samples = round_robin(keywatch, workspace, keyring, args.runs)
        agreed = agreement(workspace, keyring)
        inside = breakdown(workspace)
    summary = {name: summarise(runs) for name, runs in samples.items()}
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "at": AT, "keyring_sha256": KEYRING_SHA256,
        "machine": {"nproc": len(os.sched_getaffinity(0)), "loadavg": os.getloadavg()},
        "keywatch_command": "keywatch" if keywatch == ["keywatch"] else "entry point with trust registered",
        "runs": args.runs, "agreement": agreed, "in_process_s": inside, "summary": summary,
        "criteria": criteria(summary), "samples": {n: [dataclasses.asdict(s) for s in r] for n, r in samples.items()},
    }
    print("\nagreement with sq-wot list at 2022-12-25 (bindings with an amount > 0 in either):")
    print(f"{'roots':20} {'bindings':>8} {'keywatch rules':>15} {'sq-wot-0.2 rules':>17} {'+ Sequoia policy':>17}")
    for label, found in agreed.items():
        cells = [f"{found[k]['equal']}/{found[k]['of']}" for k in ("keywatch", "sq-wot-0.2",
                                                                     "sq-wot-0.2 + Sequoia policy")]
        print(f"{label:20} {found['bindings']:>8} {cells[0]:>15} {cells[1]:>17} {cells[2]:>17}")
    for label, found in agreed.items():
        for d in found["differences"]:
            state = "explained" if d["explained"] else "UNEXPLAINED"
            print(f"  {label}: {d['fingerprint']} {d['user_id']!r}: sq-wot {d['sq_wot']}, keywatch {d['keywatch']}"
                  f" — {state}: {'; '.join(d['causes']) or '?'}")
    print("\nin-process (median of 5, seconds):")
    for name, seconds in inside.items():
        print(f"  {name:48} {seconds:8.3f}")
    print(f"\n{'':38} {'wall s: median [min-max]':>26} {'cpu s':>7} {'maxRSS MB':>10}  result")
    for name, s in summary.items():
        wall = s["wall_s"]
        print(f"{name:38} {wall['median']:8.3f} [{wall['min']:6.3f}-{wall['max']:6.3f}] {s['cpu_s_median']:7.2f}"
              f" {s['max_rss_mb']:10.0f}  {', '.join(s['results'])}")
    print()
    for name, c in report["criteria"].items():
        print(f"{name:40} {c['value']:8.3f}  goal {c['goal']:7}  {'met' if c['met'] else 'NOT met'}")
    print(f"\nkeywatch ran as: {report['keywatch_command']}; nproc {report['machine']['nproc']}, "
          f"load average {report['machine']['loadavg'][0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
