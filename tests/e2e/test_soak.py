"""200 drop/redial cycles: no growth in open files, memory, or client ids held on the modem."""

import os
import time
from pathlib import Path

import pytest

from qcm.io.control import ask

pytestmark = pytest.mark.root

CYCLES = int(os.environ.get("QCM_SOAK_CYCLES", "200"))


def proc(pid, key):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def fds(pid):
    """Open files, the fewest of a few looks: the socket of the status request just answered may
    still be closing (a leak stays, a closing socket does not)."""
    counts = []
    for _ in range(10):
        counts.append(len(list(Path("/proc/%d/fd" % pid).iterdir())))
        time.sleep(0.02)
    return min(counts)


def test_soak_drop_and_redial(lab):
    lab = lab()
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-4", "-6", "-s", "internet")))
    lab.wait_connected(manager)
    sock = lab.run_dir / "wwan0.sock"
    sim_sock = lab.modem_dir / "ctl.sock"

    def status():
        return ask(sock, {"command": "status"}, timeout=10)["status"]

    def cycle(expected):
        ask(sim_sock, {"command": "drop"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s = status()
            if s["reconnects"] >= expected and s["state"] == "connected":
                return
            time.sleep(0.01)
        raise AssertionError("cycle %d did not reconnect: %s" % (expected, status()))

    for n in range(1, 21):  # warm up: caches, allocator arenas, lazily parsed messages
        cycle(n)
    fds_before, rss_before = fds(manager.pid), proc(manager.pid, "VmRSS")
    clients_before = ask(sim_sock, {"command": "status"})["status"]["clients"]
    started = time.monotonic()
    for n in range(21, 21 + CYCLES):
        cycle(n)
    elapsed = time.monotonic() - started
    fds_after, rss_after = fds(manager.pid), proc(manager.pid, "VmRSS")
    sim = ask(sim_sock, {"command": "status"})["status"]
    print("soak: %d cycles in %.1f s; fds %d -> %d; RSS %d -> %d kB; clients %s -> %s" % (
        CYCLES, elapsed, fds_before, fds_after, rss_before, rss_after, clients_before, sim["clients"]))
    assert fds_after <= fds_before
    assert rss_after - rss_before < 1024, "memory grew by %d kB" % (rss_after - rss_before)
    assert sim["clients"] == clients_before == {"DMS": 1, "NAS": 1, "UIM": 1, "WDA": 1, "WDS": 2}
    assert len(sim["calls"]) == 2 and lab.ping("198.51.100.1")
    manager.terminate()
    assert manager.wait(20) == 0
    assert ask(sim_sock, {"command": "status"})["status"]["clients"] == {}
