"""The packaging's Python outside src/ (tools/, scripts without a .py suffix, the OpenWrt bridge, the
Debian wrapper) passes the same pyflakes rules as the rest (tests/unit/test_lint.py) and
compiles on Python 3.9, the oldest qcm supports: OpenWrt and older Debian run these files too."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "contrib" / "openwrt" / "qcm-netifd", ROOT / "scripts" / "build-cli-docs",
         *sorted((ROOT / "tools").glob("*.py"))]


def wrapper(tmp_path: Path) -> Path:
    """The Debian wrapper as scripts/build-deb writes it for qcm."""
    text = (ROOT / "contrib" / "debian" / "wrapper").read_text()
    path = tmp_path / "qcm"
    path.write_text(text.replace("@COMMAND@", "qcm").replace("@MODULE@", "qcm.cli.main"))
    return path


def test_pyflakes(tmp_path):
    files = [str(f) for f in FILES + [wrapper(tmp_path)]]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F,E9", "--quiet", *files],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def python39() -> str:
    candidate = Path.home() / ".pyenv/versions/3.9.18/bin/python"
    return str(candidate) if candidate.exists() else ""


@pytest.mark.skipif(not python39(), reason="no Python 3.9 interpreter on this machine")
def test_compiles_on_python39(tmp_path):
    code = "import sys\nfor name in sys.argv[1:]:\n    compile(open(name).read(), name, 'exec')\n"
    files = [str(f) for f in FILES + [wrapper(tmp_path)]]
    result = subprocess.run([python39(), "-c", code, *files], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
