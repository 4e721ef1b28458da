"""The MBIM core loads and works on Python 3.9 (test_layering.py holds it, and the simulator's MBIM
device model, to no I/O)."""

import subprocess
import pytest

from test_layering import SRC, python39


@pytest.mark.skipif(python39() is None, reason="no Python 3.9 interpreter on this machine")
def test_mbim_core_runs_on_python39():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from qcm.mbim.catalogue import load; "
            "from qcm.mbim.message import build; c = load(); "
            "print(len(build(c.command('basic-connect', 'Connect'), 'set', 1, {'access_string': 'x'}, version=3).encode()))")
    result = subprocess.run([python39(), "-c", code, str(SRC.parent)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "116", result.stderr
