"""The real `keywatch` command run as a subprocess against one workspace, as a user would from a shell.

A plain module (not conftest) so test modules can import it by name without
colliding with tests/web/conftest.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Keywatch:
    """Runs `python -m keywatch` against one workspace, as a user would from a shell."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    def __call__(self, *args: str, input: bytes | None = None, check: bool = True, env: dict | None = None) -> Result:
        full_env = {**os.environ, "KEYWATCH_WORKSPACE": str(self.workspace), **(env or {})}
        full_env.pop("KEYWATCH_DEBUG", None)
        proc = subprocess.run([sys.executable, "-m", "keywatch", *args], input=input, capture_output=True,
                              env=full_env, cwd=self.workspace.parent, timeout=300)
        result = Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        if check and result.code != 0:
            raise AssertionError(f"keywatch {' '.join(args)} exited {result.code}: {result.stderr}")
        return result

    def query(self, sql: str, *args) -> list[tuple]:
        """Read the workspace's database directly (read-only), to check what a command stored."""
        db = sqlite3.connect(f"file:{self.workspace / 'keywatch.db'}?mode=ro", uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()
