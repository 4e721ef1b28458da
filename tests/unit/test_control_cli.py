"""qcm status and qcm disconnect as a user runs them: bad -i values, a manager answering an
error or escape sequences, and a user who is not root next to a running manager."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from test_control_socket import ServerThread

SRC = Path(__file__).resolve().parents[2] / "src"


def qcm(*args: str, user: Any = None, python: str = sys.executable) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run([python, "-m", "qcm", *args], capture_output=True, text=True, timeout=60, env=env,
                          user=user, group=None if user is None else "nogroup", cwd="/")


def one_line_error(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert [line for line in result.stderr.splitlines() if "hint:" not in line] != []
    assert len(result.stderr.splitlines()) <= 2, result.stderr


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="qcmc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("command", ["status", "disconnect"])
@pytest.mark.parametrize("name", ["w" * 300, "../../etc/x", "a/b", ".", "..", "wwan0\x1b]0;x\x07", "wl an0"],
                         ids=["300 chars", "dotdot path", "slash", "dot", "dotdot", "escape", "space"])
def test_a_bad_interface_name_is_a_usage_error(command: str, name: str, short_dir: Path) -> None:
    result = qcm(command, "-i", name, "--run-dir", str(short_dir))
    assert result.returncode == 2, result.stderr
    one_line_error(result)


class OneAnswer:
    """A fake manager at RUN/wwan0.sock that answers every request with ``reply``."""

    def __init__(self, run_dir: Path, reply: Dict[str, Any]) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(run_dir / "wwan0.sock"))
        self.sock.listen(8)
        self.data = (json.dumps(reply) + "\n").encode()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    connection.recv(4096)
                    connection.sendall(self.data)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        self.thread.join(10)


def test_status_says_what_the_manager_refused(short_dir: Path) -> None:
    fake = OneAnswer(short_dir / "run", {"ok": False, "error": "unknown command 'status'"})
    try:
        result = qcm("status", "--run-dir", str(short_dir / "run"))
    finally:
        fake.close()
    assert result.returncode == 9 and "unknown command" in result.stderr
    one_line_error(result)


def test_status_prints_names_from_the_network_without_their_escape_sequences(short_dir: Path) -> None:
    status = {"netdev": "wwan0", "state": "connected", "model": "EC25\x1b[2J", "manufacturer": "Quectel",
              "revision": "R\x9b31m", "sim": "ready", "registration": {"text": "home on \x1b]0;owned\x07Rogers"},
              "calls": [{"family": 4, "state": "up", "address": "100.64.0.2/30", "dns": ["\x1b[H"]}],
              "uptime": 3.0, "reconnects": 1, "last_error": "bad\rline"}
    fake = OneAnswer(short_dir / "run", {"ok": True, "status": status})
    try:
        result = qcm("status", "--run-dir", str(short_dir / "run"))
    finally:
        fake.close()
    assert result.returncode == 0, result.stderr
    assert not any(ord(c) < 32 and c != "\n" or 127 <= ord(c) < 160 for c in result.stdout), repr(result.stdout)
    assert "\\x1b]0;owned\\x07Rogers" in result.stdout and "bad\\x0dline" in result.stdout


@pytest.fixture
def root_only_run_dir() -> Iterator[Path]:
    """As /run/qcm: a 0700 directory inside one anybody may enter."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run qcm as another user")
    top = Path(tempfile.mkdtemp(prefix="qcmc-"))
    os.chmod(top, 0o755)
    yield top / "run"
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.root
@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["disconnect"], ["status", "-i", "wwan0"],
                                  ["disconnect", "-i", "wwan0"]])
def test_a_user_who_is_not_root_is_told_it_needs_root(root_only_run_dir: Path, args: List[str]) -> None:
    running = ServerThread(root_only_run_dir / "wwan0.sock")  # a manager is running, in a 0700 directory
    try:
        assert oct(root_only_run_dir.stat().st_mode & 0o777) == "0o700"
        # The venv's interpreter lives under /root; the system one runs qcm from the source tree.
        result = qcm(*args, "--run-dir", str(root_only_run_dir), user="nobody", python="/usr/bin/python3")
    finally:
        running.stop()
    assert result.returncode == 10, result.stderr
    assert "root" in result.stderr and "no qcm connection is running" not in result.stderr
    one_line_error(result)


def test_status_names_bearers_of_other_pdns(short_dir: Path) -> None:
    status = {"netdev": "wwan0", "state": "connected", "bearers": [
        {"pdn": 1, "family": 4, "state": "up", "address": "100.64.0.2/30", "gateway": "100.64.0.1", "dns": []},
        {"pdn": 2, "family": 6, "state": "down"}], "uptime": 1, "reconnects": 0}
    fake = OneAnswer(short_dir / "run", {"ok": True, "status": status})
    try:
        result = qcm("status", "--run-dir", str(short_dir / "run"))
    finally:
        fake.close()
    assert result.returncode == 0, result.stderr
    assert "  IPv4: up 100.64.0.2/30 gateway 100.64.0.1 dns -\n" in result.stdout
    assert "  PDN 2 IPv6: down\n" in result.stdout


def test_status_shows_each_bearers_link_and_apn_and_how_the_port_is_shared() -> None:
    from qcm.cli.status import describe

    lines = describe({"netdev": "qmimux0", "parent": "wwan0", "control": "/dev/cdc-wdm0",
                      "proxy": "serving qmi-proxy", "state": "connected", "bearers": [
                          {"pdn": 1, "family": 4, "netdev": "qmimux0", "apn": "internet", "state": "up",
                           "address": "100.64.0.2/30", "gateway": "100.64.0.1", "dns": ["198.51.100.53"]},
                          {"pdn": 2, "family": 6, "netdev": "qmimux1", "apn": "corp\x1b[2J", "state": "down"}],
                      "uptime": 1, "reconnects": 0})
    assert "  control port: /dev/cdc-wdm0, serving qmi-proxy" in lines
    assert "  PDN links on: wwan0" in lines
    assert "  IPv4 (qmimux0, APN internet): up 100.64.0.2/30 gateway 100.64.0.1 dns 198.51.100.53" in lines
    assert "  PDN 2 IPv6 (qmimux1, APN corp\\x1b[2J): down" in lines  # the network's text, escaped
