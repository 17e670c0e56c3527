"""The README's first command runs `keywatch demo`: it must show a caught handover and a pending proposal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KEYRINGS = Path(__file__).resolve().parent.parent / "keyrings"


def sq_fingerprints(path: Path) -> set[str]:
    """What `sq inspect` (an independent parser) finds in a key file: the certificates' fingerprints."""
    out = subprocess.run(["sq", "inspect", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split(":", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("Fingerprint:")}


def test_demo_catches_the_handover_and_leaves_a_high_risk_proposal(tmp_path):
    directory = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "keywatch", "demo", str(directory), "--no-serve"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "reviewer alice / password" in run.stdout

    def kw(*args: str):
        out = subprocess.run([sys.executable, "-m", "keywatch", "-w", str(directory), *args, "--json"],
                             capture_output=True, text=True, timeout=120, check=True)
        return json.loads(out.stdout)

    kinds = {e["kind"] for e in kw("events")}
    assert {"new_signer", "signer_changed", "handover_suspected"} <= kinds
    [proposal] = kw("proposals", "list")
    assert proposal["state"] == "open" and proposal["risk"]["level"] == "high"
    assert proposal["required_approvals"] == 2
    assert kw("audit", "verify")["intact"]
    # The real upstream keys kept in keyrings/ are imported too and listed with their findings.
    real = set().union(*(sq_fingerprints(f) for f in KEYRINGS.rglob("*") if f.is_file()))
    listed = {key["fingerprint"]: key for key in kw("key", "list")}
    assert real and real <= set(listed)
    assert f"every signature verified ({len(real)})" in run.stdout
    assert any(f["severity"] == "error" for fpr in real for f in listed[fpr]["findings"])  # e.g. DSA-1024
    # Running it again starts afresh in the same directory (it is marked as a demo).
    again = subprocess.run([sys.executable, "-m", "keywatch", "demo", str(directory), "--no-serve"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(kw("proposals", "list")) == 1


def test_demo_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious").mkdir()
    run = subprocess.run([sys.executable, "-m", "keywatch", "demo", str(tmp_path / "precious"), "--no-serve"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "not a keywatch demo" in run.stderr
