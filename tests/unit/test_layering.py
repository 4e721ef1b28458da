"""Architecture rules a test can hold: the protocol cores and the pure decisions do no I/O, followed
through every import (relative ones included); no shell anywhere; the core runs on Python 3.9."""

import ast
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, Set

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "qcm"
IO_MODULES = {"asyncio", "os", "socket", "subprocess", "select", "selectors", "termios", "tty", "fcntl", "threading",
              "shutil", "signal", "pty", "mmap", "ctypes", "multiprocessing", "urllib", "http", "tempfile"}

# Modules that take bytes, events and the time and return frames, events and actions. Each one, and
# everything it imports inside qcm, must stay free of I/O.
PURE = ["qcm.qmi", "qcm.mbim", "qcm.at.parser", "qcm.at.readings", "qcm.netlink.rtnl", "qcm.connect.supervisor",
        "qcm.doctor.rules", "qcm.doctor.facts", "qcm.doctor.firmware", "qcm.modules", "qcm.model",
        "qcm.dhcp", "qcm.ascii", "qcm.backends.mbim.readings", "qcm.backends.at.answers", "qcm.sim.modem",
        "qcm.sim.handlers", "qcm.sim.router", "qcm.sim.router6", "qcm.sim.dhcp_server", "qcm.sim.packets", "qcm.errors", "qcm.printable", "qcm.sim.mbim_device",
        "qcm.uevent"]


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = SRC) -> Iterator[str]:
    """Every module ``path`` imports, anywhere in it, with relative imports made absolute."""
    package = module_name(path, root) if path.name == "__init__.py" else module_name(path, root).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            for alias in node.names:  # "from . import handlers" imports a module, not a name
                yield "%s.%s" % (target, alias.name)


def imported(path: Path) -> Set[str]:
    """The top-level names of what ``path`` imports (``asyncio``, ``qcm``...)."""
    return {name.split(".")[0] for name in imports_of(path)}


def graph(root: Path = SRC) -> Dict[str, Set[str]]:
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    edges: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        found: Set[str] = set()
        for target in imports_of(path, root):
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            parts = target.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in modules)
            found.add(target.split(".")[0])
        edges[name] = found
    return edges


def io_reached(start: str, edges: Dict[str, Set[str]]) -> Dict[str, str]:
    """For each I/O module reachable from ``start`` (a module or a package's every module), one path to it."""
    roots = [m for m in edges if m == start or m.startswith(start + ".")]
    seen: Dict[str, str] = {}
    found: Dict[str, str] = {}
    stack = [(m, m) for m in roots]
    while stack:
        module, trail = stack.pop()
        if module in seen:
            continue
        seen[module] = trail
        for target in edges.get(module, ()):
            if target in IO_MODULES:
                found.setdefault(target, "%s -> %s" % (trail, target))
            elif target in edges and target not in seen:
                stack.append((target, "%s -> %s" % (trail, target)))
    return found


@pytest.mark.parametrize("start", PURE)
def test_pure_parts_reach_no_io(start):
    bad = io_reached(start, graph())
    assert not bad, "%s reaches I/O: %s" % (start, "; ".join(sorted(bad.values())))


def test_the_rule_catches_an_io_import_hidden_behind_a_relative_one(tmp_path):
    # The violation a review found the old test could not see: qmi/render.py importing the QMI port.
    root = tmp_path / "qcm"
    for package in ("", "qmi", "io"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "qmi" / "render.py").write_text("from ..io.qmi_port import QmiPort\n")
    (root / "io" / "qmi_port.py").write_text("import asyncio\n")
    assert "asyncio" in io_reached("qcm.qmi", graph(root))


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
