#!/usr/bin/env python3
"""Codec throughput: QMI frames encoded and decoded per second, for the mix a dial produces.

Each round builds every frame of the mix from values (catalogue-driven encoder), reassembles
them from one byte stream (FrameParser), and decodes them back to values. Reports the median
of several runs. Run: .venv/bin/python bench/codec.py [--runs 7] [--seconds 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qcm.qmi.catalogue import catalogue  # noqa: E402
from qcm.qmi.message import build, decode  # noqa: E402
from qcm.qmi.qmux import FrameParser  # noqa: E402



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
    args = parser.parse_args()
    frames = mix()
    one_round(frames)  # warm the catalogue and caches
    rates = [measure(frames, args.seconds) for _ in range(args.runs)]
    size = sum(len(build(d, k, 1, 7, v)) for d, k, v in frames) / len(frames)
    print("codec: %d frames per round, %.0f bytes average" % (len(frames), size))
    print("frames encoded+decoded per second: median %.0f (min %.0f, max %.0f) over %d runs of %.1f s"
          % (statistics.median(rates), min(rates), max(rates), args.runs, args.seconds))


if __name__ == "__main__":
    main()
