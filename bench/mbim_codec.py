#!/usr/bin/env python3
"""MBIM codec throughput: messages encoded and decoded per second, for the mix a connection
sequence produces (quectel-CM's order: open, device caps, device services, radio on,
subscriber ready, register state, packet service, connect query and set, IP configuration,
and the indications that follow).

Each round builds every message of the mix from values (catalogue-driven encoder, cut to the
4096-byte transfer size), reassembles them from one byte stream (FrameParser), and decodes
them back to values. Reports the median of several runs, like bench/codec.py does for QMI.
Run: .venv/bin/python bench/mbim_codec.py [--runs 7] [--seconds 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qcm.mbim.catalogue import catalogue  # noqa: E402
from qcm.mbim.framing import OPEN, OPEN_DONE, Frame, FrameParser  # noqa: E402
from qcm.mbim.message import build, decode  # noqa: E402


def mix():
    """(frame builder arguments): the messages of one dual-stack MBIM connection, both ways."""
    c = catalogue()
    bc = "basic-connect"
    caps = {"device_type": "embedded", "cellular_class": ["gsm"], "voice_class": "no-voice", "sim_class": ["removable"],
            "data_class": ["gprs", "edge", "umts", "hsdpa", "hsupa", "lte"], "sms_caps": ["pdu-receive", "pdu-send"],
            "control_caps": ["reg-manual", "hw-radio-switch"], "max_sessions": 8, "device_id": "866758045439136",
            "firmware_info": "EC25AFAR05A07M4G", "hardware_info": "EC25"}
    services = {"max_dss_sessions": 0, "device_services": [
        {"device_service_id": "basic-connect", "cids": [1, 2, 3, 4, 6, 9, 10, 11, 12, 13, 15, 16, 19, 20]},
        {"device_service_id": "ms-basic-connect-extensions", "cids": [6, 15]},
        {"device_service_id": "quectel", "cids": [1]}]}
    register = {"register_state": "home", "register_mode": "automatic", "available_data_classes": ["lte"],
                "current_cellular_class": ["gsm"], "provider_id": "302720", "provider_name": "Rogers",
                "registration_flag": ["packet-service-automatic-attach"]}
    packet = {"packet_service_state": "attached", "highest_available_data_class": ["lte"],
              "uplink_speed": 50000000, "downlink_speed": 150000000}
    context = {"session_id": 0, "activation_state": "activated", "ip_type": "ipv4v6", "context_type": "internet"}
    config = {"session_id": 0, "ipv4_configuration_available": ["address", "gateway", "dns", "mtu"],
              "ipv6_configuration_available": ["address", "gateway", "dns", "mtu"],
              "ipv4_address": [{"on_link_prefix_length": 30, "ipv4_address": "100.64.0.2"}],
              "ipv6_address": [{"on_link_prefix_length": 64, "ipv6_address": "2001:db8:4000::1002"}],
              "ipv4_gateway": "100.64.0.1", "ipv6_gateway": "2001:db8:4000::1",
              "ipv4_dns_server": ["198.51.100.53", "198.51.100.54"], "ipv6_dns_server": ["2001:db8:100::53"],
              "ipv4_mtu": 1500, "ipv6_mtu": 1500}
    return [
        (None, OPEN, {}), (None, OPEN_DONE, {}),
        (c.command(bc, "Device Caps"), "query", {}), (c.command(bc, "Device Caps"), "response", caps),
        (c.command(bc, "Device Services"), "query", {}), (c.command(bc, "Device Services"), "response", services),
        (c.command(bc, "Radio State"), "set", {"radio_state": "on"}),
        (c.command(bc, "Radio State"), "response", {"hw_radio_state": "on", "sw_radio_state": "on"}),
        (c.command(bc, "Subscriber Ready Status"), "query", {}),
        (c.command(bc, "Subscriber Ready Status"), "response", {
            "ready_state": "initialized", "subscriber_id": "302720123456789", "sim_icc_id": "89302720401234567890",
            "telephone_numbers": ["+15550100123"]}),
        (c.command(bc, "Register State"), "query", {}), (c.command(bc, "Register State"), "response", register),
        (c.command(bc, "Packet Service"), "query", {}), (c.command(bc, "Packet Service"), "response", packet),
        (c.command(bc, "Connect"), "query", {"session_id": 0}),
        (c.command(bc, "Connect"), "response", dict(context, activation_state="deactivated")),
        (c.command(bc, "Connect"), "set", {"session_id": 0, "activation_command": "activate", "access_string": "internet",
                                           "ip_type": "ipv4-and-ipv6", "context_type": "internet"}),
        (c.command(bc, "Connect"), "response", context),
        (c.command(bc, "IP Configuration"), "query", {"session_id": 0}),
        (c.command(bc, "IP Configuration"), "response", config),
        (c.command(bc, "Register State"), "notification", register),
        (c.command(bc, "Connect"), "notification", dict(context, activation_state="deactivated", nw_error=36)),
    ]


def encode(items) -> bytes:
    out = []
    for index, (definition, kind, values) in enumerate(items, 1):
        if definition is None:
            frame = Frame(kind, index, max_control_transfer=4096) if kind == OPEN else Frame(kind, index, status=0)
        else:
            frame = build(definition, kind, 0 if kind == "notification" else index, values)
        out.extend(frame.fragments(4096))
    return b"".join(out)


def one_round(items) -> int:
    parser = FrameParser()
    parser.feed(encode(items))
    count = 0
    for frame in parser.events():
        decode(frame)
        count += 1
    return count


def measure(items, seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while True:
        done += one_round(items)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    items = mix()
    assert one_round(items) == len(items)  # warms the catalogue's layout cache, and checks the mix
    rates = [measure(items, args.seconds) for _ in range(args.runs)]
    print("mbim codec: %d messages per round, %.0f bytes average" % (len(items), len(encode(items)) / len(items)))
    print("messages encoded+decoded per second: median %.0f (min %.0f, max %.0f) over %d runs of %.1f s"
          % (statistics.median(rates), min(rates), max(rates), args.runs, args.seconds))


if __name__ == "__main__":
    main()
