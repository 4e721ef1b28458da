"""Data calls started over the AT port, sans I/O: what Ethernet-style modules (ECM, RNDIS, NCM) are
dialled with, from the same modem state as QMI.

EC2x/EG2x dial with ``AT+QNETDEVCTL`` and report with ``AT+QNETDEVSTATUS`` and the URC
``+QNETDEVSTATUS: <cid>,<state>,"IPV4"``; BG95-class modules (AT+QCFGEXT firmware) activate the
context with ``AT+QIACT`` and say when the network drops it with ``+QIURC: "pdpdeact",<cid>``;
both take the 3GPP ``AT+CGACT`` and store the APN with ``AT+CGDCONT`` or ``AT+QICSGP``. A call
started here is a call of the modem like any other (AT+CGPADDR, QMI and the data path see it).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Dict, List, Optional, Set, Tuple

from ..ascii import is_digits
from .modem import SimModem, SimQmiError

__all__ = ["AtDataCalls"]

_AUTH = {0: "none", 1: "pap", 2: "chap", 3: "pap-or-chap"}
_AUTH_NUMBER = {v: k for k, v in _AUTH.items()}
_PDP_NUMBER = {"ipv4": 1, "ipv6": 2, "ipv4v6": 3}


def _le_hex(address: ipaddress.IPv4Address) -> str:
    """An IPv4 address as +QNETDEVSTATUS shows it: 8 hex digits, least significant byte first."""
    return address.packed[::-1].hex().upper()


class AtDataCalls:
    def __init__(self) -> None:
        self.urc: Dict[int, bool] = {}       # cids whose AT+QNETDEVCTL asked for URCs
        self._reported: Set[int] = set()     # cids last seen connected (to report their end)

    @staticmethod
    def client(cid: int, family: int = 4) -> Tuple[str, int]:
        return ("AT" if family == 4 else "AT6", cid)

    def handle(self, m: SimModem, part: str, now: float) -> Optional[List[str]]:
        """Lines answering one command, None if it is not a data-call command or is wrong (ERROR)."""
        upper = part.upper()
        qnetdevctl = m.config.usbnet_command == "qcfg"   # EC2x; BG95-class firmware has AT+QIACT instead
        if upper == "+QNETDEVCTL=?" and qnetdevctl:
            return ["+QNETDEVCTL: (1-16),(0,1),(0,1)"]
        if upper == "+QNETDEVCTL?" and qnetdevctl:
            active = sorted(cid for (kind, cid) in m.calls if kind == "AT")
            return ["+QNETDEVCTL: 1,%d,%d,1" % (cid, int(self.urc.get(cid, False))) for cid in active] or \
                ["+QNETDEVCTL: 0,1,0,0"]
        if upper.startswith("+QNETDEVCTL=") and qnetdevctl:
            return self._qnetdevctl(m, part.split("=", 1)[1], now)
        if upper == "+QNETDEVSTATUS=?" and qnetdevctl:
            return ["+QNETDEVSTATUS: (1-16)"]
        if upper.startswith("+QNETDEVSTATUS=") and qnetdevctl:
            return self._status(m, part.split("=", 1)[1])
        if upper == "+CGACT?":
            return ["+CGACT: %d,%d" % (cid, int(self.client(cid) in m.calls)) for cid in sorted(m.profiles)]
        match = re.fullmatch(r"\+CGACT=([01]),(\d{1,2})", upper)
        if match:
            return self._activate(m, int(match.group(2)), match.group(1) == "1", now)
        if upper == "+QIACT?":
            return ['+QIACT: %d,1,1,"%s"' % (cid, call.ipv4.ip) for (kind, cid), call in sorted(m.calls.items())
                    if kind == "AT" and call.ipv4 is not None]
        match = re.fullmatch(r"\+QI(DE)?ACT=(\d{1,2})", upper)
        if match and not qnetdevctl:
            return self._activate(m, int(match.group(2)), match.group(1) is None, now)
        match = re.fullmatch(r"\+QICSGP=(\d{1,2})", upper)
        if match:
            profile = m.profiles.get(int(match.group(1)))
            if profile is None:
                return ['+QICSGP: 1,"","","",0']
            return ['+QICSGP: %d,"%s","%s","%s",%d' % (_PDP_NUMBER.get(profile["pdp_type"], 1), profile["apn"],
                                                      profile["username"], profile["password"],
                                                      _AUTH_NUMBER.get(profile["auth"], 0))]
        if upper.startswith("+QICSGP="):
            return self._set_profile(m, part.split("=", 1)[1])
        return None

    # ------------------------------------------------------------------ commands

    def _qnetdevctl(self, m: SimModem, argument: str, now: float) -> Optional[List[str]]:
        """``<cid>,<op>,<urc>`` as quectel-CM sends it; ``<op>,<cid>,<urc>`` (ASR firmware) is read too:
        a cid is never 0, so whichever of the first two numbers is 0 says 'disconnect'."""
        values = [v.strip() for v in argument.split(",")]
        if len(values) < 2 or not all(re.fullmatch(r"\d{1,2}", v) for v in values[:3]):
            return None
        first, second = int(values[0]), int(values[1])
        urc = len(values) > 2 and values[2] == "1"
        if first == 0 or second == 0:
            cid, connect = (second or first), False
        else:
            cid, connect = (first if second == 1 else second), True
        if not 1 <= cid <= 16:
            return None
        self.urc[cid] = urc
        return self._activate(m, cid, connect, now)

    def _activate(self, m: SimModem, cid: int, up: bool, now: float) -> Optional[List[str]]:
        from .handlers import start_call  # the network's rules for admitting a call live with QMI's
        if not up:
            m.end_call(self.client(cid), "client-end", ("cm", "client-end"))
            m.end_call(self.client(cid, 6), "client-end", ("cm", "client-end"))
            self._reported.discard(cid)
            return []
        if self.client(cid) in m.calls:
            return []
        profile = m.profiles.get(cid)
        if profile is None:
            return ["+CME ERROR: 50"]
        try:
            start_call(m, self.client(cid), 4, str(profile["apn"]), str(profile["username"]),
                       str(profile["password"]), {"pap", "chap"}, now)
        except SimQmiError:
            return ["+CME ERROR: 30" if not m.registered else "+CME ERROR: 148"]  # no service / unspecified GPRS error
        if profile["pdp_type"] in ("ipv6", "ipv4v6"):
            try:
                start_call(m, self.client(cid, 6), 6, str(profile["apn"]), str(profile["username"]),
                           str(profile["password"]), {"pap", "chap"}, now)
            except SimQmiError:
                pass  # the APN offers IPv4 only: the IPv4 call stands
        return []

    def _status(self, m: SimModem, argument: str) -> Optional[List[str]]:
        if not re.fullmatch(r"\s*\d{1,2}\s*", argument):
            return None
        call = m.calls.get(self.client(int(argument)))
        if call is None or call.ipv4 is None or call.gateway4 is None:
            return None  # ERROR: not connected (what quectel-CM polls for)
        dns = [ipaddress.IPv4Address(a) for a in m.config.dns4] + [ipaddress.IPv4Address("0.0.0.0")] * 2
        return ["+QNETDEVSTATUS: %s,%s,%s,%s,%s,%s, 85600, 85600" % (
            _le_hex(call.ipv4.ip), _le_hex(call.ipv4.netmask), _le_hex(call.gateway4), _le_hex(call.gateway4),
            _le_hex(dns[0]), _le_hex(dns[1]))]

    def _set_profile(self, m: SimModem, argument: str) -> Optional[List[str]]:
        """``AT+QICSGP=<cid>,<type>,"apn","user","password",<auth>``"""
        values = [v.strip().strip('"') for v in argument.split(",")]
        if not re.fullmatch(r"\d{1,2}", values[0]) or not 1 <= int(values[0]) <= 16:
            return None
        pdp = {"1": "ipv4", "2": "ipv6", "3": "ipv4v6"}.get(values[1] if len(values) > 1 else "1")
        auth = _AUTH.get(int(values[5])) if len(values) > 5 and is_digits(values[5]) else "none"
        if pdp is None or auth is None:
            return None
        profile = m.profiles.setdefault(int(values[0]), {"apn": "", "pdp_type": pdp, "name": "", "auth": "none",
                                                         "username": "", "password": ""})
        profile.update({"pdp_type": pdp, "apn": values[2] if len(values) > 2 else "",
                        "username": values[3] if len(values) > 3 else "",
                        "password": values[4] if len(values) > 4 else "", "auth": auth})
        return []

    # ------------------------------------------------------------------ unsolicited

    def unsolicited(self, m: SimModem) -> List[str]:
        """URCs for AT-started calls that came up or ended since the last look."""
        up = {cid for (kind, cid) in m.calls if kind == "AT"}
        lines = []
        qnetdevctl = m.config.usbnet_command == "qcfg"
        for cid in sorted(up - self._reported):
            if qnetdevctl and self.urc.get(cid):
                lines.append('+QNETDEVSTATUS: %d,1,"IPV4"' % cid)
        for cid in sorted(self._reported - up):
            if qnetdevctl:
                if self.urc.get(cid):
                    lines.append('+QNETDEVSTATUS: %d,0,"IPV4"' % cid)
            else:
                lines.append('+QIURC: "pdpdeact",%d' % cid)
        self._reported = up
        return lines
