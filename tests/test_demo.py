"""The README's first command runs `keywatch demo`: it must show a caught handover and a pending proposal."""

from __future__ import annotations

import json
import subprocess
import sys


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
    # Running it again starts afresh in the same directory (it is marked as a demo).
    again = subprocess.run([sys.executable, "-m", "keywatch", "demo", str(directory), "--no-serve"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(kw("proposals", "list")) == 1


def test_demo_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious").mkdir()
    run = subprocess.run([sys.executable, "-m", "keywatch", "demo", str(tmp_path / "precious"), "--no-serve"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "not a keywatch demo" in run.stderr
