#!/usr/bin/env python3
"""Codec throughput: QMI frames encoded and decoded per second, for the mix a dial produces.

Each round builds every frame of the mix from values (catalogue-driven encoder), reassembles
them from one byte stream (FrameParser), and decodes them back to values. Reports the median
of several runs. Then the catalogue's start-up cost, each run in a fresh interpreter: the time
to import the QMI codec and to load the catalogue, and the memory the catalogue keeps (and
keeps once the mix has been coded once), by tracemalloc.
Run: .venv/bin/python bench/codec.py [--runs 7] [--seconds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qcm.qmi.catalogue import catalogue  # noqa: E402
from qcm.qmi.message import build, decode  # noqa: E402
from qcm.qmi.qmux import FrameParser  # noqa: E402

# Run in a fresh interpreter: what a process pays for the catalogue before its first request.
LOAD_PROBE = r"""
import gc, json, sys, time, tracemalloc
sys.path[:0] = [sys.argv[1], sys.argv[2]]
start = time.perf_counter()
from qcm.qmi.catalogue import catalogue
from qcm.qmi.message import build, decode
from qcm.qmi.qmux import FrameParser
imported = time.perf_counter()
catalogue()
loaded = time.perf_counter()
import codec
catalogue.cache_clear()
gc.collect()
tracemalloc.start()
catalogue()
gc.collect()
kept = tracemalloc.get_traced_memory()[0]
codec.one_round(codec.mix())
gc.collect()
used = tracemalloc.get_traced_memory()[0]
print(json.dumps({"import": imported - start, "load": loaded - imported, "kept": kept, "used": used}))
"""


def load_cost(runs: int) -> None:
    # As an installed package runs: from compiled bytecode (kept in a directory of our own, as
    # the environment may say not to write any next to the sources).
    with tempfile.TemporaryDirectory(prefix="qcm-bench-pyc-") as pycache:
        env = dict(os.environ, PYTHONPYCACHEPREFIX=pycache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        samples = []
        for run in range(runs + 1):
            out = subprocess.run([sys.executable, "-c", LOAD_PROBE, str(ROOT / "src"), str(ROOT / "bench")],
                                 capture_output=True, text=True, timeout=60, check=True, env=env).stdout
            if run:  # the first one writes the bytecode
                samples.append(json.loads(out))

    def median(key: str) -> float:
        return statistics.median(sample[key] for sample in samples)
    print("catalogue: import of the codec %.1f ms, catalogue() %.1f ms; keeps %.0f KB, %.0f KB once the "
          "mix is coded (medians of %d fresh processes)"
          % (median("import") * 1e3, median("load") * 1e3, median("kept") / 1024, median("used") / 1024, runs))



def mix():
    """(message, kind, values): the frames of a dual-stack dial, in proportion."""
    c = catalogue()
    card = {"index_gw_primary": 0, "index_1x_primary": 0xFFFF, "index_gw_secondary": 0xFFFF,
            "index_1x_secondary": 0xFFFF, "cards": [{
                "card_state": "present", "upin_state": "not-initialized", "upin_retries": 0, "upuk_retries": 0,
                "error_code": 0, "applications": [{
                    "type": "usim", "state": "ready", "personalization_state": "ready", "personalization_feature": 0,
                    "personalization_retries": 0, "personalization_unblock_retries": 0,
                    "application_identifier_value": list(range(16)), "upin_replaces_pin1": False,
                    "pin1_state": "enabled-verified", "pin1_retries": 3, "puk1_retries": 10,
                    "pin2_state": "enabled-not-verified", "pin2_retries": 3, "puk2_retries": 10}]}]}
    serving = {"serving_system": {"registration_state": "registered", "cs_attach_state": "attached",
                                  "ps_attach_state": "attached", "selected_network": "3gpp",
                                  "radio_interfaces": ["lte"]},
               "roaming_indicator": "off", "data_service_capability": ["lte"],
               "current_plmn": {"mcc": 302, "mnc": 720, "description": "Rogers"}, "lac_3gpp": 1, "cid_3gpp": 2}
    settings = {"ipv4_address": "100.64.0.2", "ipv4_gateway_address": "100.64.0.1",
                "ipv4_gateway_subnet_mask": "255.255.255.252", "primary_ipv4_dns_address": "198.51.100.53",
                "secondary_ipv4_dns_address": "198.51.100.54", "mtu": 1500, "ip_family": 4,
                "ipv6_address": {"address": "2001:db8:4000::1002", "prefix_length": 64}}
    return [
        (c.method("CTL", "Allocate CID"), "request", {"service": "wds"}),
        (c.method("CTL", "Allocate CID"), "response", {"allocation_info": {"service": "wds", "cid": 1}}),
        (c.method("DMS", "Get Revision"), "response", {"revision": "EC25EFAR06A11M4G"}),
        (c.method("UIM", "Get Card Status"), "response", {"card_status": card}),
        (c.method("NAS", "Get Serving System"), "response", serving),
        (c.indication("NAS", "Serving System"), "indication", serving),
        (c.method("WDS", "Start Network"), "request", {"apn": "internet", "ip_family_preference": 4,
                                                       "authentication_preference": ["pap", "chap"]}),
        (c.method("WDS", "Start Network"), "response", {"packet_data_handle": 0x8723E780}),
        (c.indication("WDS", "Packet Service Status"), "indication", {
            "connection_status": {"status": "connected", "reconfiguration_required": False}}),
        (c.method("WDS", "Get Current Settings"), "response", settings),
        (c.method("NAS", "Get Signal Info"), "response", {"lte_signal_strength": {"rssi": -65, "rsrq": -9,
                                                                                  "rsrp": -95, "snr": 120}}),
        (c.method("WDA", "Get Data Format"), "response", {"link_layer_protocol": "raw-ip"}),
    ]


def one_round(frames) -> int:
    stream = b"".join(build(d, kind, 1, 7, values) for d, kind, values in frames)
    parser = FrameParser(max_frame_size=0x10000)
    parser.feed(stream)
    count = 0
    for frame in parser.events():
        decode(frame)
        count += 1
    return count


def measure(frames, seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while True:
        done += one_round(frames)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--no-load", action="store_true", help="leave out the catalogue's start-up cost")
    args = parser.parse_args()
    frames = mix()
    one_round(frames)  # warm the catalogue and caches
    rates = [measure(frames, args.seconds) for _ in range(args.runs)]
    size = sum(len(build(d, k, 1, 7, v)) for d, k, v in frames) / len(frames)
    print("codec: %d frames per round, %.0f bytes average" % (len(frames), size))
    print("frames encoded+decoded per second: median %.0f (min %.0f, max %.0f) over %d runs of %.1f s"
          % (statistics.median(rates), min(rates), max(rates), args.runs, args.seconds))
    if not args.no_load:
        load_cost(args.runs)


if __name__ == "__main__":
    main()
