"""Architecture rules that a test can hold: the protocol core does no I/O and runs on Python 3.9."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "qcm"
PURE = ["qmi"]  # packages that take bytes/events/time and return frames/events/actions
IO_MODULES = {"asyncio", "os", "socket", "subprocess", "select", "selectors", "termios", "tty", "fcntl", "threading"}


def imported(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package", PURE)
def test_protocol_core_has_no_io(package):
    for path in sorted((SRC / package).rglob("*.py")):
        bad = IO_MODULES.intersection(imported(path))
        assert not bad, "%s imports %s" % (path.relative_to(SRC), ", ".join(sorted(bad)))


def test_no_shell_anywhere():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        for needle in ("shell=True", "os.system(", "os.popen("):
            assert needle not in text, "%s uses %s" % (path, needle)


def python39():
    """A working Python 3.9 (the oldest we support), if this machine has one."""
    for candidate in (str(Path.home() / ".pyenv/versions/3.9.18/bin/python"), shutil.which("python3.9")):
        if candidate and Path(candidate).exists():
            check = subprocess.run([candidate, "--version"], capture_output=True, text=True)
            if check.returncode == 0 and "3.9" in check.stdout + check.stderr:
                return candidate
    return None


@pytest.mark.skipif(python39() is None, reason="no Python 3.9 interpreter on this machine")
def test_sources_compile_on_python39():
    result = subprocess.run([python39(), "-c", "import compileall, sys; "
                             "sys.exit(0 if compileall.compile_dir(sys.argv[1], quiet=1, legacy=False, "
                             "force=True, workers=1, optimize=0) else 1)", str(SRC)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    core = subprocess.run([python39(), "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from qcm.qmi.catalogue import catalogue; from qcm.qmi.message import build; "
                           "from qcm.qmi.client import ClientCore; "
                           "print(len(build(catalogue().method('DMS', 'Get Revision'), 'request', 1, 1)))",
                           str(SRC.parent)], capture_output=True, text=True, timeout=60)
    assert core.returncode == 0 and core.stdout.strip() == "13", core.stderr
