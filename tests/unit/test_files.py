"""Root never writes through, nor trusts, what another user could have planted (issue: planted links)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qcm.connect.state import SavedConnection, StateDamaged, state_path
from qcm.errors import PortBusyError
from qcm.io.files import Untrusted, ensure_private_dir, read_private, resolve_trusted, write_atomic
from qcm.io.lock import ModuleLock

NOBODY = 65534
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's files needs root")


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim"
    path.write_text("precious\n")
    path.chmod(0o644)
    return path


def test_write_atomic_replaces_a_planted_link_instead_of_following_it(tmp_path, victim):
    target = tmp_path / "metrics.prom"
    target.symlink_to(victim)
    (tmp_path / ".metrics.prom.tmp").symlink_to(victim)  # the temporary name the old code used
    write_atomic(target, "qcm_connected 1\n", 0o640)
    assert victim.read_text() == "precious\n" and victim.stat().st_mode & 0o777 == 0o644
    assert not target.is_symlink() and target.read_text() == "qcm_connected 1\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_private_dirs_are_created_0700_all_the_way(tmp_path):
    old = os.umask(0o022)
    try:
        ensure_private_dir(tmp_path / "a" / "b" / "run")
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "run"):
        assert path.stat().st_mode & 0o777 == 0o700


def test_a_directory_others_can_write_or_a_link_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(Untrusted):
        ensure_private_dir(shared)
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(Untrusted):
        ensure_private_dir(tmp_path / "link")


@root_only
def test_a_directory_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(Untrusted):
        ensure_private_dir(theirs)


def test_read_private_refuses_links_and_files_others_can_write(tmp_path, victim):
    link = tmp_path / "state.json"
    link.symlink_to(victim)
    with pytest.raises(Untrusted):
        read_private(link)
    writable = tmp_path / "writable.json"
    writable.write_text("{}")
    writable.chmod(0o666)
    with pytest.raises(Untrusted):
        read_private(writable)
    with pytest.raises(FileNotFoundError):
        read_private(tmp_path / "none.json")


@root_only
def test_resolve_trusted_follows_roots_links_only(tmp_path, victim):
    private = tmp_path / "etc"
    private.mkdir(mode=0o755)
    (private / "resolv.conf").symlink_to(victim)
    assert resolve_trusted(private / "resolv.conf") == victim
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    planted = sticky / "resolv.conf"
    planted.symlink_to(victim)
    os.chown(planted, NOBODY, NOBODY, follow_symlinks=False)
    with pytest.raises(Untrusted):
        resolve_trusted(planted)
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(Untrusted):
        resolve_trusted(open_dir / "resolv.conf")
    assert resolve_trusted(sticky / "new.conf") == sticky / "new.conf"  # our own new file in /tmp is fine


def test_the_module_lock_admits_one_manager(tmp_path):
    first = ModuleLock(tmp_path / "run", "wwan0")
    first.acquire()
    second = ModuleLock(tmp_path / "run", "wwan0")
    with pytest.raises(PortBusyError, match="pid %d" % os.getpid()):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def _state(run: Path, netdev: str, text: str) -> Path:
    ensure_private_dir(run)
    path = state_path(run, netdev)
    path.write_text(text)
    path.chmod(0o600)
    return path


GOOD = {"version": 2, "backend": "qmi", "control": "/dev/cdc-wdm0", "netdev": "wwan0",
        "bearers": [{"pdn": 1, "family": 4, "netdev": "wwan0", "handle": {"cid": 3, "packet_data_handle": 1}}],
        "applied": {"netdev": "wwan0", "addresses": [["100.64.0.2", 30]],
                    "routes": [{"family": 4, "gateway": "100.64.0.1", "metric": 700}], "mtu_before": 1500,
                    "dns": {"method": "file", "target": "/etc/resolv.conf", "servers": ["198.51.100.53"]}}}


def test_a_good_state_loads(tmp_path):
    saved = SavedConnection.load(_state(tmp_path / "run", "wwan0", json.dumps(GOOD)), "wwan0")
    assert saved.bearers[0].handle == {"cid": 3, "packet_data_handle": 1} and saved.applied is not None and saved.applied.routes[0]["metric"] == 700


@pytest.mark.parametrize("text", ["", "{", json.dumps(GOOD)[:57], "[]", "null", json.dumps(dict(GOOD, bearers=[{}])),
                                  json.dumps(dict(GOOD, backend="mystery")),
                                  json.dumps(dict(GOOD, bearers=[dict(GOOD["bearers"][0], netdev="lo")])),
                                  json.dumps(dict(GOOD, bearers=[dict(GOOD["bearers"][0], handle={"cid": [1]})])),
                                  json.dumps(dict(GOOD, applied=dict(GOOD["applied"], addresses=[["x", 1]]))),
                                  json.dumps(dict(GOOD, netdev="lo")),
                                  json.dumps(dict(GOOD, applied=dict(GOOD["applied"], netdev="lo")))])
def test_a_damaged_or_planted_state_is_refused(tmp_path, text):
    with pytest.raises(StateDamaged):
        SavedConnection.load(_state(tmp_path / "run", "wwan0", text), "wwan0")


def test_qcm_disconnect_on_a_damaged_state_says_one_line(tmp_path):
    _state(tmp_path / "run", "wwan0", json.dumps(GOOD)[:40])
    result = subprocess.run([sys.executable, "-m", "qcm", "disconnect", "-i", "wwan0", "--run-dir",
                             str(tmp_path / "run")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 8, result.stderr
    assert "is damaged" in result.stderr and "Traceback" not in result.stderr
