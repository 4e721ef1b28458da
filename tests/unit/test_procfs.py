"""port_holders: the other processes that hold a device file open, by pid and name."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from qcm.io.procfs import port_holders


def test_finds_another_process_holding_a_file_and_never_ourselves(tmp_path: Path) -> None:
    port = tmp_path / "cdc-wdm0"
    port.write_text("")
    link = tmp_path / "alias"
    link.symlink_to(port)                     # the same file by another name counts
    with open(port):                          # we hold it too: never listed
        holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1]); "
                                   "print(flush=True); time.sleep(60)", str(port)], stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"\n"
            found = port_holders([str(link), str(tmp_path / "free")])
            assert [pid for pid, _ in found[str(link)]] == [holder.pid]
            assert found[str(link)][0][1].startswith("python")
            assert str(tmp_path / "free") not in found
        finally:
            holder.kill()
            holder.wait()
    deadline = time.monotonic() + 10
    while port_holders([str(port)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert port_holders([str(port)]) == {}


def test_a_proc_tree_that_is_missing_or_half_gone_is_not_an_error(tmp_path: Path) -> None:
    assert port_holders(["/dev/null"], tmp_path / "absent") == {}
    (tmp_path / "123").mkdir()                # a process that left between listdir and readlink
    (tmp_path / "self").mkdir()
    assert port_holders(["/dev/null"], tmp_path) == {}
