"""The MBIM core and the simulator's MBIM device model do no I/O (the rule test_layering.py
holds for qmi/), and the MBIM core loads and works on Python 3.9."""

import subprocess
from pathlib import Path

import pytest

from test_layering import IO_MODULES, SRC, imported, python39

PURE_FILES = sorted((SRC / "mbim").rglob("*.py")) + [SRC / "sim" / "mbim_device.py"]


@pytest.mark.parametrize("path", PURE_FILES, ids=[str(p.relative_to(SRC)) for p in PURE_FILES])
def test_mbim_core_has_no_io(path: Path):
    bad = IO_MODULES.intersection(imported(path))
    assert not bad, "%s imports %s" % (path.relative_to(SRC), ", ".join(sorted(bad)))


@pytest.mark.skipif(python39() is None, reason="no Python 3.9 interpreter on this machine")
def test_mbim_core_runs_on_python39():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from qcm.mbim.catalogue import load; "
            "from qcm.mbim.message import build; c = load(); "
            "print(len(build(c.command('basic-connect', 'Connect'), 'set', 1, {'access_string': 'x'}, version=3).encode()))")
    result = subprocess.run([python39(), "-c", code, str(SRC.parent)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "116", result.stderr
