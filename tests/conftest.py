"""Shared fixtures: a real workspace on disk and the real `keywatch` command run as a subprocess."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from kwrunner import Keywatch  # noqa: E402 - needs the path above


@pytest.fixture
def kw(tmp_path: Path) -> Keywatch:
    """A freshly initialised workspace and a runner for it."""
    runner = Keywatch(tmp_path / "ws")
    runner("init", str(tmp_path / "ws"))
    return runner
