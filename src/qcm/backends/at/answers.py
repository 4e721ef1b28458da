"""What the AT answers of the dial sequence mean, sans I/O: registration, PDP contexts, the call
states Quectel's firmware reports (AT+QNETDEVSTATUS, AT+QIACT?, AT+CGACT?), unsolicited lines,
and the strings that may go inside an AT command.

Solicited answers and URCs can share a prefix: ``+CEREG: 2,1`` answers ``AT+CEREG?`` while
``+CEREG: 1`` (or ``+CEREG: 1,"1A2B","01A2B3C4",7`` with location reporting) is the network's
news, and ``+QNETDEVSTATUS: 1,1,"IPV4"`` is a URC while ``+QNETDEVSTATUS: 4F10190A,...`` answers
``AT+QNETDEVSTATUS=1``. The AT core hands a URC that arrives during a command with the same
prefix to that command, so the readers here tell them apart by their shape.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from ...ascii import is_digits
from ...at.readings import RAT_OF_ACT, STATE_OF_STAT, csq_dbm
from ...errors import UsageError
from ...model import Registration

__all__ = ["fields", "registration_stat", "urc_stat", "registration", "qnetdevstatus_address", "qiact_address",
           "cgact_active", "cgpaddr_address", "ceer_text", "CallNews", "call_news", "quoted", "PDP_TYPES",
           "AUTH_NUMBERS", "qicsgp"]

PDP_TYPES = {"ipv4": 1, "ipv6": 2, "ipv4-or-ipv6": 3}        # AT+QICSGP <context_type>
CGDCONT_TYPES = {"ipv4": "IP", "ipv6": "IPV6", "ipv4-or-ipv6": "IPV4V6"}
AUTH_NUMBERS = {(): 0, ("pap",): 1, ("chap",): 2, ("chap", "pap"): 3, ("pap", "chap"): 3}


def fields(value: str) -> List[str]:
    """Comma-separated fields, commas inside quotes kept, quotes removed."""
    out: List[str] = []
    current: List[str] = []
    inside = False
    for char in value:
        if char == '"':
            inside = not inside
        elif char == "," and not inside:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    out.append("".join(current).strip())
    return out


def _after(line: str, prefix: str) -> Optional[str]:
    return line[len(prefix):].strip() if line.startswith(prefix) else None


def registration_stat(lines: Iterable[str], name: str) -> Optional[str]:
    """<stat> from the solicited answer to ``AT+<name>?`` (``+CEREG: <n>,<stat>[,...]``), skipping URCs."""
    for line in lines:
        value = _after(line, "+%s:" % name)
        if value is None:
            continue
        raw = [f.strip() for f in value.split(",")]
        if len(raw) >= 2 and is_digits(raw[0]) and not raw[1].startswith('"'):
            return raw[1]
    return None


def urc_stat(line: str) -> Optional[Tuple[str, str]]:
    """(name, <stat>) of a registration URC: ``+CEREG: 1`` or ``+CEREG: 5,"1A2B","01A2B3C4",7``."""
    match = re.match(r"\+(CREG|CGREG|CEREG|C5GREG):\s*(\d+)\s*(,\s*\".*)?$", line)
    return (match.group(1), match.group(2)) if match else None


def registration(stats: Iterable[Optional[str]], attached: Optional[str], cops: Optional[str],
                 csq: Optional[str]) -> Registration:
    """The registration from +CEREG/+CGREG/+CREG <stat>s (the best wins: a module on 3G is
    registered although +CEREG, the LTE one, says 0), AT+CGATT? and AT+COPS?/AT+CSQ."""
    known = [s for s in stats if s is not None]
    best = next((s for s in ("1", "5", "3", "2", "0", "4") if s in known), "0")
    state, roaming = STATE_OF_STAT.get(best, ("unknown", False))
    parts = fields(cops or "")
    mcc = mnc = None
    operator = parts[2] if len(parts) > 2 else ""
    if len(parts) > 2 and parts[1] == "2" and re.fullmatch(r"\d{5,6}", parts[2]):  # numeric format
        mcc, mnc, operator = int(parts[2][:3]), int(parts[2][3:]), ""
    rat = RAT_OF_ACT.get(parts[3], "") if len(parts) > 3 else ""
    ps = attached == "1" if attached is not None else state == "registered"
    return Registration(state, ps, roaming, mcc, mnc, operator, rat if state == "registered" else "",
                        signal_dbm=csq_dbm(csq) if csq is not None else None)


def _le_hex_address(text: str) -> Optional[ipaddress.IPv4Address]:
    """``4F10190A`` -> 10.25.16.79 (Quectel prints addresses least significant byte first)."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", text):
        return ipaddress.IPv4Address(bytes.fromhex(text)[::-1])
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def qnetdevstatus_address(lines: Iterable[str]) -> Optional[ipaddress.IPv4Address]:
    """The call's address from the answer to ``AT+QNETDEVSTATUS=<cid>`` (None: not connected)."""
    for line in lines:
        value = _after(line, "+QNETDEVSTATUS:")
        if value is None:
            continue
        parts = fields(value)
        if len(parts) >= 4:  # the answer; a URC has three fields (cid, state, "IPV4")
            return _le_hex_address(parts[0])
    return None


def qiact_address(lines: Iterable[str], cid: int) -> Optional[ipaddress.IPv4Address]:
    """``+QIACT: <cid>,<state>,<type>,"<address>"``: the context's address when it is active."""
    for line in lines:
        parts = fields(_after(line, "+QIACT:") or "")
        if len(parts) >= 2 and parts[0] == str(cid) and parts[1] == "1":
            try:
                return ipaddress.IPv4Address(parts[3]) if len(parts) > 3 else ipaddress.IPv4Address("0.0.0.0")
            except ValueError:
                return ipaddress.IPv4Address("0.0.0.0")
    return None


def cgact_active(lines: Iterable[str], cid: int) -> bool:
    """``+CGACT: <cid>,<state>`` lines: whether this context is active."""
    for line in lines:
        parts = fields(_after(line, "+CGACT:") or "")
        if len(parts) >= 2 and parts[0] == str(cid):
            return parts[1] == "1"
    return False


def cgpaddr_address(lines: Iterable[str], cid: int) -> Optional[ipaddress.IPv4Address]:
    for line in lines:
        parts = fields(_after(line, "+CGPADDR:") or "")
        if parts and parts[0] == str(cid):
            for text in parts[1:]:
                try:
                    address = ipaddress.ip_address(text)
                except ValueError:
                    continue
                if address.version == 4 and not address.is_unspecified:
                    return address  # type: ignore[return-value]
    return None


def ceer_text(lines: Iterable[str]) -> str:
    """The reason AT+CEER gives for the last call end ("" when it has none)."""
    for line in lines:
        value = _after(line, "+CEER:")
        if value is not None:
            text = ",".join(fields(value)).strip()
            return "" if text.lower() in ("", "no cause information available") else text
    return ""


@dataclass(frozen=True)
class CallNews:
    """A URC about a context: it came up (True) or went down (False)."""

    cid: int
    up: bool


def call_news(line: str) -> Optional[CallNews]:
    """``+QNETDEVSTATUS: <cid>,<0|1>,"IPV4"``, ``+QIURC: "pdpdeact",<cid>``, ``+CGEV: NW PDN DEACT <cid>``."""
    match = re.match(r'\+QNETDEVSTATUS:\s*(\d+)\s*,\s*([01])\s*,\s*"IPV[46]"', line)
    if match:
        return CallNews(int(match.group(1)), match.group(2) == "1")
    match = re.match(r'\+QIURC:\s*"pdpdeact"\s*,\s*(\d+)', line)
    if match:
        return CallNews(int(match.group(1)), False)
    match = re.match(r"\+CGEV:\s*(?:NW|ME)\s+PDN\s+DEACT\s+(\d+)", line)
    if match:
        return CallNews(int(match.group(1)), False)
    return None


def quoted(what: str, value: str) -> str:
    """A value inside an AT string: AT has no escapes, so a quote, a control character or a
    non-ASCII character cannot be sent; say so instead of sending something else."""
    if any(c == '"' or ord(c) < 0x20 or ord(c) > 0x7E for c in value):
        raise UsageError("the %s cannot contain quotes, control characters or non-ASCII characters over AT" % what,
                         "use only printable ASCII characters without '\"'")
    return '"%s"' % value


def qicsgp(lines: Iterable[str]) -> Optional[Tuple[int, str, str, str, int]]:
    """(context type, APN, user, password, auth) from ``+QICSGP: 1,"apn","user","pass",0``."""
    for line in lines:
        parts = fields(_after(line, "+QICSGP:") or "")
        if len(parts) >= 5 and is_digits(parts[0]) and is_digits(parts[4]):
            return int(parts[0]), parts[1], parts[2], parts[3], int(parts[4])
    return None
