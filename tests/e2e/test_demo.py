"""scripts/demo runs its whole story on the simulator: the module listed, connected, pinged, disconnected."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]


def test_demo_lists_the_simulated_module_and_connects():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True, text=True,
                            timeout=110)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no cellular module found" not in output
    listed = output.split("qcm list", 1)[1].split("== ", 1)[0]
    assert "2c7c:0125 Quectel EC25" in listed and "net wwan0" in listed
    assert "demo finished: connected, pinged, disconnected" in output
