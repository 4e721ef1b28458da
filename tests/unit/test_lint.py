"""Undefined names, unused imports and syntax errors fail the build (ruff's pyflakes rules)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_pyflakes():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F,E9", "--quiet",
                             "src", "tests", "bench", "scripts"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
