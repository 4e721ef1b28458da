"""What each command loads: a structural guard of start-up time and memory, no timing.

Each check runs a fresh interpreter, does what the command does (or imports what its path
imports), and looks at ``sys.modules``: ``qcm status`` needs the control client and JSON, not
the connection stack or an event loop; ``qcm connect`` over QMI needs neither DHCP, GobiNet,
MBIM, AT, the configuration reader nor the simulator; no command's parser loads another's.
bench/startup.py measures what these modules cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Set

from conftest import SRC

# Never wanted by a plain QMI connect (each has its own path: --ip-config dhcp, GobiNet, MBIM and
# Ethernet modes, --config, PIN records, the doctor, the simulator).
NOT_FOR_QMI_CONNECT = ["qcm.dhcp", "qcm.io.ip_config", "qcm.io.dhcp_socket", "qcm.io.gobinet", "qcm.qmi.gobinet",
                       "qcm.mbim", "qcm.backends.mbim", "qcm.io.mbim_port", "qcm.at", "qcm.backends.at",
                       "qcm.io.at_port", "qcm.config", "tomllib", "qcm.sim", "qcm.doctor", "hashlib", "ctypes",
                       "ssl"]
NOT_FOR_STATUS = ["asyncio", "qcm.cli.connect", "qcm.connect.manager", "qcm.connect.service", "qcm.backends",
                  "qcm.qmi", "qcm.discovery", "dataclasses", "tempfile"] + NOT_FOR_QMI_CONNECT


def loaded_after(code: str, tmp_path: Path) -> Set[str]:
    """The modules a fresh interpreter holds after running ``code`` (not those blocked: ssl is None)."""
    # -S: no site-packages .pth files (coverage's, which measures subprocesses, loads modules of its own).
    program = code + "\nimport json, sys\nprint(json.dumps(sorted(m for m, v in sys.modules.items() if v)))\n"
    env = dict(os.environ, PYTHONPATH=str(SRC), QCM_RUN_DIR=str(tmp_path / "run"))
    result = subprocess.run([sys.executable, "-S", "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def present(modules: Set[str], unwanted: List[str]) -> List[str]:
    return sorted(m for m in modules if any(m == u or m.startswith(u + ".") for u in unwanted))


def test_qcm_status_loads_the_control_client_not_the_connection_stack(tmp_path):
    modules = loaded_after("from qcm.cli.main import main\n"
                           "assert main(['status', '--json']) == 3  # nothing runs: its own exit status", tmp_path)
    assert "qcm.connect.control_client" in modules and "qcm.io.control" in modules
    assert present(modules, NOT_FOR_STATUS) == []


def test_a_command_builds_only_its_own_parser(tmp_path):
    modules = loaded_after("from qcm.cli.main import main\n"
                           "try:\n    main(['connect', '--help'])\nexcept SystemExit:\n    pass", tmp_path)
    others = ["qcm.cli.%s" % name for name in ("sim", "doctor", "daemon", "decode", "usbnet", "at", "status")]
    assert present(modules, others + ["qcm.sim", "tomllib", "asyncio", "qcm.connect"]) == []


def test_the_qmi_connect_path_leaves_out_what_other_paths_need(tmp_path):
    modules = loaded_after("import qcm.cli  # (blocks ssl, as the command line does)\n"
                           "from qcm.cli.main import build_parser\n"
                           "import qcm.cli.connect as c\n"
                           "args = build_parser('connect').parse_args(['connect', '-4', '-6', '-s', 'internet'])\n"
                           "c.connect_options(args, {})\n"
                           "import qcm.connect.manager, qcm.cli.report, qcm.io.notify\n"
                           "from qcm.backends import load_backend\n"
                           "load_backend('qmi')", tmp_path)
    assert "qcm.backends.qmi.dial" in modules and "qcm.io.qmi_port" in modules
    assert present(modules, NOT_FOR_QMI_CONNECT) == []


def test_the_backend_registry_loads_no_backend_until_one_is_chosen(tmp_path):
    modules = loaded_after("import qcm.backends", tmp_path)
    assert present(modules, ["qcm.backends.qmi", "qcm.backends.mbim", "qcm.backends.at"]) == []
