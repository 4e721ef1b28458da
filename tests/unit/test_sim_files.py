"""sim.json and --trace hold the PIN, passwords and identities: root-only files, never written
through a link someone planted."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from netns import SRC
from qcm.errors import UsageError
from qcm.sim.private_files import open_trace, write_private


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_simulator_files_are_private(start_sim):
    sim = start_sim("--pin", "0042")
    assert mode(sim.directory / "sim.json") == 0o600
    assert mode(sim.trace) == 0o600


def test_write_private_replaces_without_following_links(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    target = tmp_path / "sim.json"
    (tmp_path / (".sim.json.%d.tmp" % os.getpid())).symlink_to(victim)  # planted where the temporary goes
    write_private(target, "{}\n")
    assert victim.read_text() == "keep\n"
    assert target.read_text() == "{}\n" and mode(target) == 0o600 and not target.is_symlink()


def test_trace_refuses_a_link_and_tightens_an_existing_file(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "trace"
    link.symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        open_trace(link)
    assert victim.read_text() == "keep\n"
    loose = tmp_path / "loose"
    loose.write_text("old\n")
    os.chmod(loose, 0o644)
    open_trace(loose).close()
    assert mode(loose) == 0o600 and loose.read_text() == "old\n"


def test_trace_through_a_link_ends_in_one_line_and_status_2(tmp_path):
    (tmp_path / "trace").symlink_to(tmp_path / "elsewhere")
    result = subprocess.run([sys.executable, "-m", "qcm", "sim", "--dir", str(tmp_path / "m"), "--no-data-path",
                             "--trace", str(tmp_path / "trace")], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert result.returncode == 2 and "symbolic link" in result.stderr, result.stderr
    assert not (tmp_path / "elsewhere").exists()
