"""`keywatch verify` on a large file, side by side with sha256sum in the same run.

Goal (packaging-integration issue): verifying a 1 GB file runs at >= 80% of
sha256sum's throughput on the same file, with memory flat. The two commands
alternate (round-robin) so they share the machine's noise; medians are
reported. The signature is made by gpg with a fresh Ed25519 key and
`--digest-algo SHA256`, so both tools compute SHA-256 over the same bytes.

Usage: python3 bench/verify.py [--size-mb 1024] [--runs 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command, via /usr/bin/time."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {proc.stderr.strip()}")
    return elapsed, int(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        home = work_dir / "gnupg"
        home.mkdir(mode=0o700)
        gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
        subprocess.run([*gpg, "--quick-generate-key", "Bench <bench@example.org>", "ed25519", "sign", "1y"],
                       check=True, capture_output=True)
        cert = work_dir / "cert.pgp"
        cert.write_bytes(subprocess.run([*gpg, "--export"], check=True, capture_output=True).stdout)
        data = work_dir / "big.tar"
        block = os.urandom(1 << 20)
        with data.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(block)
        signature = work_dir / "big.tar.sig"
        subprocess.run([*gpg, "--digest-algo", "SHA256", "--detach-sign", "-o", str(signature), str(data)],
                       check=True, capture_output=True)
        results: dict[str, list[tuple[float, int]]] = {"keywatch verify": [], "sha256sum": []}
        for _ in range(args.runs):
            results["keywatch verify"].append(timed(["keywatch", "verify", "--keyring", str(cert), str(data)]))
            results["sha256sum"].append(timed(["sha256sum", str(data)]))
    summary = {}
    for name, runs in results.items():
        seconds = statistics.median(t for t, _ in runs)
        summary[name] = {"median_s": round(seconds, 3), "mb_per_s": round(args.size_mb / seconds, 1),
                         "peak_rss_mb": round(max(m for _, m in runs) / 1024, 1)}
    ratio = summary["keywatch verify"]["mb_per_s"] / summary["sha256sum"]["mb_per_s"]
    summary["throughput_ratio"] = round(ratio, 2)
    summary["load"] = os.getloadavg()[0]
    for name in results:
        row = summary[name]
        print(f"{name:16} {row['median_s']:7.2f} s  {row['mb_per_s']:7.1f} MB/s  peak {row['peak_rss_mb']} MB")
    print(f"throughput keywatch/sha256sum: {ratio:.2f} (goal >= 0.80); load average {summary['load']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
