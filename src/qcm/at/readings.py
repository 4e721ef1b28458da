"""What the answers of the standard 3GPP status commands mean (27.007), in the words QMI uses.

The doctor reads the module through QMI when it can and through the AT port when it cannot
(ECM or MBIM mode, a silent control port); these turn AT+CPIN?, AT+CFUN?, AT+CEREG?/CGREG?/
CREG?, AT+COPS?, AT+CSQ and AT+CGATT? answers into the same states the QMI side produces.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["SIM_OF_CPIN", "MODE_OF_CFUN", "STATE_OF_STAT", "RAT_OF_ACT", "stat_of", "csq_dbm"]

SIM_OF_CPIN = {"READY": "ready", "SIM PIN": "pin", "SIM PUK": "puk", "PH-SIM PIN": "network-locked",
               "SIM PIN2": "ready", "SIM PUK2": "ready"}  # PIN2 guards only the fixed dialling numbers
MODE_OF_CFUN = {"1": "online", "0": "mode-only-low-power", "4": "low-power", "5": "factory-test", "7": "offline"}
# <stat> of +CREG/+CGREG/+CEREG -> (QMI-style registration state, roaming)
STATE_OF_STAT = {"0": ("not-registered", False), "1": ("registered", False), "2": ("not-registered-searching", False),
                 "3": ("registration-denied", False), "4": ("unknown", False), "5": ("registered", True)}
RAT_OF_ACT = {"0": "gsm", "2": "umts", "3": "gsm", "4": "umts", "5": "umts", "6": "umts", "7": "lte", "8": "lte-m",
              "9": "nb-iot", "10": "lte", "11": "5gnr", "12": "5gnr", "13": "5gnr"}


def stat_of(value: str) -> str:
    """The <stat> of a +CREG/+CGREG/+CEREG answer: "0,1" and "2,1,..." carry it second, the URC "1" alone."""
    fields = [f.strip() for f in value.split(",")]
    return fields[1] if len(fields) > 1 else fields[0]


def csq_dbm(value: str) -> Optional[int]:
    """RSSI in dBm from ``+CSQ: <rssi>,<ber>``; None for 99 (not known, often: no network)."""
    rssi = value.split(",")[0].strip()
    if not rssi.isdigit() or int(rssi) > 31:
        return None
    return -113 + 2 * int(rssi)
