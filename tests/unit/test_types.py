"""The type checker in the suite: mypy over src/qcm, zero errors (configuration in pyproject.toml,
[tool.mypy]; a `# type: ignore` names its error code and says why)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_error(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_no_blanket_type_ignore() -> None:
    blanket = [("%s:%d" % (path.relative_to(ROOT), number), line.strip())
               for path in sorted((ROOT / "src" / "qcm").rglob("*.py"))
               for number, line in enumerate(path.read_text().splitlines(), 1)
               if re.search(r"type:\s*ignore(?!\[)", line)]
    assert not blanket, "a type: ignore without an error code: %s" % blanket
