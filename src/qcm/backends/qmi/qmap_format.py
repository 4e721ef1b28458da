"""The QMAP data format qcm asks for, and what the modem's answer means (no I/O).

WDA Set Data Format: raw IP, QMAP aggregation both ways, the module's data endpoint (USB
interface), and the sizes quectel-CM and ModemManager use: downlink up to 32 packets and 16 KiB
per transfer (16 KiB is also rmnet's and most drivers' receive-buffer limit), uplink 11 packets
and 8 KiB ("by test result, 11 can get best TPUT", quectel-CM). The modem answers with what it
agreed, which may be less, and may be an older QMAP version: those answered values are the ones
used (the parent interface's MTU is set to the downlink size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ...qmi.message import Message
from ...qmi.qmap import version_of

__all__ = ["QmapFormat", "agreed_format", "set_data_format_values", "DL_DATAGRAMS", "DL_SIZE", "UL_DATAGRAMS",
           "UL_SIZE"]

DL_DATAGRAMS, DL_SIZE = 32, 16384
UL_DATAGRAMS, UL_SIZE = 11, 8192


@dataclass(frozen=True)
class QmapFormat:
    """The QMAP aggregation the modem agreed to."""
    version: str                  # the WDA aggregation protocol: qmap, qmapv4, qmapv5
    downlink_datagrams: int
    downlink_size: int
    uplink_datagrams: int
    uplink_size: int
    min_padding: int = 0

    def describe(self) -> str:
        return ("raw-ip with QMAP v%d aggregation: down %d packets / %d bytes per transfer, up %d / %d, "
                "padding %d" % (version_of(self.version) or 0, self.downlink_datagrams, self.downlink_size,
                                self.uplink_datagrams, self.uplink_size, self.min_padding))


def set_data_format_values(version: str, endpoint: Dict[str, Any]) -> Dict[str, Any]:
    return {"qos_format": False, "link_layer_protocol": "raw-ip",
            "uplink_data_aggregation_protocol": version, "downlink_data_aggregation_protocol": version,
            "downlink_data_aggregation_max_datagrams": DL_DATAGRAMS, "downlink_data_aggregation_max_size": DL_SIZE,
            "endpoint_info": endpoint,
            "uplink_data_aggregation_max_datagrams": UL_DATAGRAMS, "uplink_data_aggregation_max_size": UL_SIZE}


def _name(message: Message, key: str) -> str:
    return str(getattr(message.get(key), "name", message.get(key) or ""))


def _number(message: Message, key: str, default: int) -> int:
    value = message.get(key)
    try:
        return int(value) if value else default
    except (TypeError, ValueError):
        return default


def agreed_format(message: Message, accepted: Tuple[str, ...]) -> Optional[QmapFormat]:
    """The QMAP format a Get or Set Data Format answer says is in force, if the host's links can read
    it (raw IP, the same QMAP version both ways, among ``accepted``); None otherwise."""
    if not message.ok or _name(message, "link_layer_protocol") != "raw-ip":
        return None
    down, up = _name(message, "downlink_data_aggregation_protocol"), _name(message, "uplink_data_aggregation_protocol")
    if down not in accepted or (up and up != down):
        return None
    size = _number(message, "downlink_data_aggregation_max_size", DL_SIZE)
    if not 1500 <= size <= 65535:
        return None  # an answer no interface can be set to; better refused than half working
    return QmapFormat(down, _number(message, "downlink_data_aggregation_max_datagrams", DL_DATAGRAMS), size,
                      _number(message, "uplink_data_aggregation_max_datagrams", UL_DATAGRAMS),
                      _number(message, "uplink_data_aggregation_max_size", UL_SIZE),
                      _number(message, "download_minimum_padding", 0))
