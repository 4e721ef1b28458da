"""What the answers of the standard 3GPP status commands mean (27.007), in the words QMI uses.

The doctor reads the module through QMI when it can and through the AT port when it cannot
(ECM or MBIM mode, a silent control port); these turn AT+CPIN?, AT+CFUN?, AT+CEREG?/CGREG?/
CREG?, AT+COPS?, AT+CSQ and AT+CGATT? answers into the same states the QMI side produces.
"""

from __future__ import annotations

from typing import Optional, Tuple

from ..ascii import parse_int

__all__ = ["SIM_OF_CPIN", "MODE_OF_CFUN", "STATE_OF_STAT", "STAT_NAMES", "RAT_OF_ACT", "stat_of", "state_of_stat",
           "csq_dbm", "qpinc_tries"]

SIM_OF_CPIN = {"READY": "ready", "SIM PIN": "pin", "SIM PUK": "puk", "PH-SIM PIN": "network-locked",
               "SIM PIN2": "ready", "SIM PUK2": "ready"}  # PIN2 guards only the fixed dialling numbers
MODE_OF_CFUN = {"1": "online", "0": "mode-only-low-power", "4": "low-power", "5": "factory-test", "7": "offline"}
# <stat> of +CREG/+CGREG/+CEREG -> (QMI-style registration state, roaming). 6 to 11 came with LTE:
# "SMS only" and "CSFB not preferred" are registrations that carry data; emergency-only and
# RLOS attachments do not.
STATE_OF_STAT = {"0": ("not-registered", False), "1": ("registered", False), "2": ("not-registered-searching", False),
                 "3": ("registration-denied", False), "4": ("unknown", False), "5": ("registered", True),
                 "6": ("registered", False), "7": ("registered", True), "8": ("emergency-only", False),
                 "9": ("registered", False), "10": ("registered", True), "11": ("limited-service", False)}
# What 27.007 calls each <stat>, for evidence lines.
STAT_NAMES = {"0": "not registered, not searching", "1": "registered, home network",
              "2": "not registered, searching", "3": "registration denied", "4": "unknown (out of coverage?)",
              "5": "registered, roaming", "6": "registered for SMS only, home network",
              "7": "registered for SMS only, roaming", "8": "attached for emergency bearer services only",
              "9": "registered, CSFB not preferred, home network", "10": "registered, CSFB not preferred, roaming",
              "11": "attached for restricted local operator services (RLOS) only"}
RAT_OF_ACT = {"0": "gsm", "2": "umts", "3": "gsm", "4": "umts", "5": "umts", "6": "umts", "7": "lte", "8": "lte-m",
              "9": "nb-iot", "10": "lte", "11": "5gnr", "12": "5gnr", "13": "5gnr"}


def stat_of(value: str) -> str:
    """The <stat> of a +CREG/+CGREG/+CEREG answer: "0,1" and "2,1,..." carry it second, the URC "1" alone."""
    fields = [f.strip() for f in value.split(",")]
    return fields[1] if len(fields) > 1 else fields[0]


def state_of_stat(stat: str) -> Tuple[str, bool]:
    """(registration state, roaming) of a <stat>; "unknown" for values 27.007 does not define."""
    return STATE_OF_STAT.get(stat, ("unknown", False))


def csq_dbm(value: str) -> Optional[int]:
    """RSSI in dBm from ``+CSQ: <rssi>,<ber>``; None for 99 (not known, often: no network) or garbage."""
    rssi = parse_int(value.split(",")[0], 0, 31)
    return None if rssi is None else -113 + 2 * rssi


def qpinc_tries(value: str) -> Optional[Tuple[int, int]]:
    """(PIN tries left, PUK tries left) from Quectel's ``+QPINC: "SC",<pin>,<puk>``; None for anything else."""
    fields = value.split(",")
    if len(fields) != 3:
        return None
    pin, puk = parse_int(fields[1], 0, 255), parse_int(fields[2], 0, 255)
    return (pin, puk) if pin is not None and puk is not None else None
