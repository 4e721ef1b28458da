#!/usr/bin/env python3
"""The fault storm: random simulator faults against a supervised connection for N minutes.

In a network namespace with the simulated modem's data path, runs
``qcm connect -4 -6 -s internet --probe ping:198.51.100.1 --probe-interval 2`` and, at random
intervals of a few seconds, injects a random fault: drop, deregister, reset, mute, garbage,
SIM out, readdress, blackhole, signal. Faults with an undo get it after a random time (register,
unmute, sim-insert; a reset comes back by itself; a blackhole ends when the calls are set up
again). IPv4 and IPv6 are pinged through the module all along.

Reports faults per kind, recoveries, the longest outage, the time from the last fault (or undo)
to traffic again, the manager's exit status and tracebacks, and at start and end its open fds,
RSS and the client ids it holds on the modem; after it is stopped, what it left in the namespace.
Exits 1 if the manager exited, printed a traceback, leaked fds or client ids, left addresses or
routes behind, or had no traffic within 60 s of the last fault.

Run as root: .venv/bin/python bench/storm.py [--minutes 10] [--seed N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import PYTHON, BenchLab, ask, proc_status_kb  # noqa: E402

V4, V6 = "198.51.100.1", "2001:db8:100::1"
KINDS = ["drop", "deregister", "reset", "mute", "garbage", "sim-remove", "readdress", "blackhole", "signal"]
RECOVERY_LIMIT = 60.0
Undo = Tuple[float, str, Dict[str, Any]]  # (when, command, values)


class StormLab(BenchLab):
    """The bench lab, with each process's output kept in a file (tracebacks are looked for)."""

    def start(self, argv: List[str]) -> subprocess.Popen:
        log_path = self.work / ("process%d.log" % len(self.processes))
        with open(log_path, "w") as log:
            process = subprocess.Popen(self.inside(argv), env=self.env, stdout=log, stderr=subprocess.STDOUT)
        process.log_path = log_path  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def snapshot(self) -> Dict[str, Any]:
        """Global addresses and the routes of the namespace (what qcm must leave as it found it)."""
        def ip(*args: str) -> Any:
            return json.loads(self.run(["ip", "-j", *args]).stdout or "[]")
        addresses = sorted((a["ifname"], i["local"], i["prefixlen"]) for a in ip("address", "show")
                           for i in a.get("addr_info", []) if i.get("scope") != "link")
        routes = sorted(json.dumps(r, sort_keys=True) for family in ("-4", "-6") for r in ip(family, "route", "show")
                        if not r.get("dst", "").startswith("fe80:"))
        return {"addresses": addresses, "routes": routes}


class Pinger(threading.Thread):
    """Pings one address through the module twice a second; outages are runs of failures."""

    def __init__(self, lab: StormLab, address: str) -> None:
        super().__init__(daemon=True)
        self.lab, self.address = lab, address
        self.samples: List[Tuple[float, bool]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self.samples.append((started, self.lab.ping(self.address, wait="1")))
            self.stopping.wait(max(0.0, 0.5 - (time.monotonic() - started)))

    def outages(self, back_at: Optional[float]) -> List[Tuple[float, float]]:
        """(start, seconds) of each run of failed pings; one still running when the pings stopped
        ends at ``back_at`` (traffic seen again after the storm), or never."""
        found: List[Tuple[float, float]] = []
        down_since: Optional[float] = None
        for at, ok in self.samples:
            if not ok and down_since is None:
                down_since = at
            elif ok and down_since is not None:
                found.append((down_since, at - down_since))
                down_since = None
        if down_since is not None:
            found.append((down_since, back_at - down_since if back_at is not None else float("inf")))
        return found


class Storm:
    def __init__(self, lab: StormLab, rng: random.Random, gap: Tuple[float, float], undo_after: Tuple[float, float]):
        self.lab, self.rng, self.gap, self.undo_after = lab, rng, gap, undo_after
        self.injected: Counter = Counter()
        self.failed: Counter = Counter()
        self.pending: List[Undo] = []
        self.busy_until: Dict[str, float] = {}  # a kind is not repeated while it is in force
        self.events: List[str] = []
        self.started = time.monotonic()
        self.last_action = self.started
        self.blackholed: Dict[int, int] = {}  # family -> handle of a call blackholed (v6 has no probe)

    def ctl(self, command: str, **values: Any) -> bool:
        now = time.monotonic()
        try:
            reply = self.lab.sim_ctl(command, **values)
        except Exception as exc:  # the simulator is gone or wedged: reported, the storm stops
            self.events.append("%8.2f %s %s -> %s" % (now - self.started, command, values, exc))
            raise
        self.events.append("%8.2f %s %s -> %s" % (now - self.started, command, values,
                                                  reply.get("done") or reply.get("error")))
        self.last_action = max(self.last_action, now)
        return bool(reply.get("ok"))

    def inject(self, now: float) -> None:
        kinds = [k for k in KINDS if self.busy_until.get(k, 0) <= now]
        kind = self.rng.choice(kinds)
        values: Dict[str, Any] = {}
        undo: Optional[str] = None
        hold = self.rng.uniform(*self.undo_after)
        if kind == "drop":
            family = self.rng.choice([None, 4, 6])
            values = {} if family is None else {"family": family}
        elif kind == "deregister":
            undo = "register"
        elif kind == "reset":
            values = {"seconds": round(self.rng.uniform(0.5, 4.0), 1)}
            self.busy_until[kind] = now + values["seconds"]
            self.last_action = max(self.last_action, now + values["seconds"])
        elif kind == "mute":
            undo = "unmute"
        elif kind == "garbage":
            values = {"bytes": self.rng.randint(1, 600)}
        elif kind == "sim-remove":
            undo = "sim-insert"
        elif kind == "readdress":
            values = {"family": self.rng.choice([4, 6])}
        elif kind == "blackhole":
            self.note_blackhole()
        elif kind == "signal":
            values = {"rsrp": self.rng.randint(-140, -44), "rsrq": self.rng.randint(-20, -3),
                      "rssi": self.rng.randint(-110, -50), "snr": round(self.rng.uniform(-10, 30), 1)}
        ok = self.ctl(kind, **values)
        self.injected[kind] += 1
        if not ok:
            self.failed[kind] += 1
        if undo is not None:
            self.pending.append((now + hold, undo, {}))
            self.busy_until[kind] = now + hold
        if kind == "reset":  # the modem starts over: no SIM out, mute or deregistration survives it
            self.blackholed.clear()

    def note_blackhole(self) -> None:
        for call in self.lab.sim_ctl("status")["status"]["calls"]:
            self.blackholed[call["family"]] = call["handle"]

    def undo_due(self, now: float, everything: bool = False) -> None:
        for item in sorted(self.pending):
            if everything or item[0] <= now:
                self.pending.remove(item)
                self.ctl(item[1], **item[2])

    def next_gap(self) -> float:
        return self.rng.uniform(*self.gap)


def fds(pid: int) -> int:
    """Open files, the fewest of a few looks (a status socket just answered may still be closing)."""
    counts = []
    for _ in range(10):
        counts.append(len(list(Path("/proc/%d/fd" % pid).iterdir())))
        time.sleep(0.05)
    return min(counts)


def manager_status(lab: StormLab) -> Dict[str, Any]:
    return ask(lab.work / "run" / "wwan0.sock", {"command": "status"}, timeout=10)["status"]


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


def first_traffic(lab: StormLab, address: str, since: float, results: Dict[str, Optional[float]]) -> None:
    while time.monotonic() - since < RECOVERY_LIMIT:
        if lab.ping(address, wait="0.3"):
            results[address] = time.monotonic() - since
            return
        time.sleep(0.05)
    results[address] = None


def tracebacks(text: str) -> List[str]:
    lines = text.splitlines()
    return ["\n".join(lines[i:i + 12]) for i, line in enumerate(lines) if line.startswith("Traceback")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; printed)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="simulated modem answer delay")
    parser.add_argument("--gap", type=float, nargs=2, default=(1.0, 6.0), metavar=("MIN", "MAX"),
                        help="seconds between faults (uniform)")
    parser.add_argument("--undo-after", type=float, nargs=2, default=(0.5, 8.0), metavar=("MIN", "MAX"),
                        help="seconds before a fault is undone (uniform)")
    parser.add_argument("--probe6", action="store_true", help="also probe IPv6 (catches an IPv6 blackhole)")
    parser.add_argument("--keep", type=Path, help="copy the logs and the fault list into this directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    problems: List[str] = []
    with StormLab("--latency-ms", str(args.latency_ms)) as lab:
        resolv = lab.work / "resolv.conf"
        resolv.write_text("nameserver 192.0.2.53\n")
        before_ns = lab.snapshot()
        probes = ["--probe", "ping:" + V4] + (["--probe", "ping:" + V6] if args.probe6 else [])
        manager = lab.start([PYTHON, "-m", "qcm", "connect", "-4", "-6", "-s", "internet", *probes,
                             "--probe-interval", "2", "--resolv-conf", str(resolv), "--dns", "file"])
        sim = lab.processes[0]
        if not wait_for(lambda: manager_status(lab)["state"] == "connected" and lab.ping(V4) and lab.ping(V6), 60):
            print("the manager did not connect in 60 s:\n" + Path(manager.log_path).read_text())  # type: ignore
            return 1
        start = {"fds": fds(manager.pid), "rss": proc_status_kb(manager.pid, "VmRSS"),
                 "clients": lab.sim_ctl("status")["status"]["clients"], "reconnects": manager_status(lab)["reconnects"]}
        print("seed %d; %.1f min; connected: fds %d, RSS %d kB, client ids %s" % (
            seed, args.minutes, start["fds"], start["rss"], start["clients"]))

        pingers = {V4: Pinger(lab, V4), V6: Pinger(lab, V6)}
        for pinger in pingers.values():
            pinger.start()
        storm = Storm(lab, random.Random(seed), tuple(args.gap), tuple(args.undo_after))
        end = storm.started + args.minutes * 60
        next_fault = storm.started + storm.next_gap()
        status_failures: List[str] = []
        next_status = storm.started + 2
        stopped_early = ""
        try:
            while time.monotonic() < end:
                now = time.monotonic()
                if manager.poll() is not None or sim.poll() is not None:
                    stopped_early = "the %s exited (%s)" % ("manager" if manager.poll() is not None else "simulator",
                                                            manager.returncode if manager.poll() is not None
                                                            else sim.returncode)
                    break
                storm.undo_due(now)
                if now >= next_fault:
                    storm.inject(now)
                    next_fault = now + storm.next_gap()
                if now >= next_status:  # qcm status keeps answering through the storm
                    try:
                        manager_status(lab)
                    except Exception as exc:
                        status_failures.append("%8.2f %s" % (now - storm.started, exc))
                    next_status = now + 2
                time.sleep(0.05)
            if not stopped_early:
                storm.undo_due(time.monotonic(), everything=True)
        except Exception as exc:
            stopped_early = "the simulator stopped answering its control socket (%s)" % exc
        for pinger in pingers.values():
            pinger.stopping.set()
        for pinger in pingers.values():
            pinger.join(10)
        if stopped_early:
            problems.append(stopped_early)

        # ---- after the last fault: traffic again?
        recovery: Dict[str, Optional[float]] = {}
        if not stopped_early:
            since = storm.last_action
            waiters = [threading.Thread(target=first_traffic, args=(lab, a, since, recovery)) for a in (V4, V6)]
            for waiter in waiters:
                waiter.start()
            for waiter in waiters:
                waiter.join(RECOVERY_LIMIT + 30)
        excused_v6 = False
        if recovery.get(V6) is None and not args.probe6 and 6 in storm.blackholed:
            calls = {c["family"]: c["handle"] for c in lab.sim_ctl("status")["status"]["calls"]}
            excused_v6 = calls.get(6) == storm.blackholed[6]  # still the blackholed call: nothing probes it
        for address, family in ((V4, 4), (V6, 6)):
            if recovery.get(address) is None and not (family == 6 and excused_v6) and not stopped_early:
                problems.append("no IPv%d traffic within %.0f s of the last fault" % (family, RECOVERY_LIMIT))

        # ---- resources at the end, once settled
        end_state: Dict[str, Any] = {}
        if manager.poll() is None:
            wait_for(lambda: lab.sim_ctl("status")["status"]["clients"] == start["clients"], 20)
            end_state = {"fds": fds(manager.pid), "rss": proc_status_kb(manager.pid, "VmRSS"),
                         "clients": lab.sim_ctl("status")["status"]["clients"]}
            try:
                status = manager_status(lab)
                end_state["reconnects"], end_state["state"] = status["reconnects"], status["state"]
            except Exception as exc:
                end_state["state"] = "status failed: %s" % exc
            if end_state["fds"] > start["fds"]:
                problems.append("open fds grew: %d -> %d" % (start["fds"], end_state["fds"]))
            if end_state["clients"] != start["clients"]:
                problems.append("client ids held: %s -> %s" % (start["clients"], end_state["clients"]))
            manager.terminate()
            try:
                exit_status: Optional[int] = manager.wait(30)
            except subprocess.TimeoutExpired:
                exit_status = None
                problems.append("the manager did not stop within 30 s of SIGTERM")
        else:
            exit_status = manager.returncode
            problems.append("the manager exited during the storm with status %s" % exit_status)
        after_stop_clients = lab.sim_ctl("status")["status"]["clients"] if sim.poll() is None else "simulator gone"
        if after_stop_clients != {}:
            problems.append("client ids still held after the manager stopped: %s" % after_stop_clients)
        if exit_status not in (0, None) and manager.returncode is not None and not stopped_early:
            problems.append("the manager's exit status on SIGTERM was %s" % exit_status)
        after_ns = lab.snapshot()
        leftovers = {key: sorted(set(map(str, after_ns[key])) - set(map(str, before_ns[key])))
                     for key in ("addresses", "routes")}
        if any(leftovers.values()):
            problems.append("left in the namespace: %s" % leftovers)
        if resolv.read_text() != "nameserver 192.0.2.53\n":
            problems.append("resolv.conf not restored: %r" % resolv.read_text())
        manager_log = Path(manager.log_path).read_text()  # type: ignore[attr-defined]
        sim_log = Path(sim.log_path).read_text()  # type: ignore[attr-defined]
        manager_tracebacks, sim_tracebacks = tracebacks(manager_log), tracebacks(sim_log)
        if manager_tracebacks:
            problems.append("%d traceback(s) in the manager's output" % len(manager_tracebacks))

        # ---- report
        elapsed = time.monotonic() - storm.started
        print("faults injected: %d in %.0f s: %s" % (sum(storm.injected.values()), elapsed,
                                                     ", ".join("%s %d" % kv for kv in sorted(storm.injected.items()))))
        if storm.failed:
            print("faults the simulator refused: %s" % dict(storm.failed))
        for address, family in ((V4, 4), (V6, 6)):
            back = recovery.get(address)
            outages = pingers[address].outages(storm.last_action + back if back is not None else None)
            longest = max(outages, key=lambda o: o[1]) if outages else None
            print("IPv%d: %d outages, %d recoveries; longest %s; traffic %s after the last fault%s" % (
                family, len(outages), sum(1 for o in outages if o[1] != float("inf")),
                "%.1f s (from %.0f s)" % (longest[1], longest[0] - storm.started) if longest else "none",
                "%.2f s" % recovery[address] if recovery.get(address) is not None else "NOT within %.0f s"
                % RECOVERY_LIMIT, " (IPv6 call still blackholed, and nothing probes IPv6: not counted)"
                if family == 6 and excused_v6 else ""))
        print("manager: reconnects %s -> %s, state at the end %s, exit status %s on SIGTERM" % (
            start["reconnects"], end_state.get("reconnects"), end_state.get("state", "-"), exit_status))
        print("status requests that failed during the storm: %d%s" % (
            len(status_failures), "".join("\n  " + s for s in status_failures[:10])))
        print("open fds: %s -> %s; RSS %s -> %s kB; client ids %s -> %s, after stop %s" % (
            start["fds"], end_state.get("fds"), start["rss"], end_state.get("rss"), start["clients"],
            end_state.get("clients"), after_stop_clients))
        print("namespace after the end: %s" % ("as before" if not any(leftovers.values()) else leftovers))
        print("tracebacks: manager %d, simulator %d" % (len(manager_tracebacks), len(sim_tracebacks)))
        for text in (manager_tracebacks + sim_tracebacks)[:3]:
            print("  " + text.replace("\n", "\n  "))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(manager.log_path, args.keep / "manager.log")  # type: ignore[attr-defined]
            shutil.copy(sim.log_path, args.keep / "sim.log")  # type: ignore[attr-defined]
            (args.keep / "faults.txt").write_text("\n".join(storm.events) + "\n")
            (args.keep / "pings.json").write_text(json.dumps({a: [(round(t - storm.started, 2), ok)
                                                                  for t, ok in p.samples]
                                                              for a, p in pingers.items()}))
    print("RESULT: %s" % ("ok" if not problems else "FAILED: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
