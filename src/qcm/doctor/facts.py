"""What the doctor knows about a module and its host, and what it makes of it: plain data. No I/O.

``evidence.py`` gathers these facts (QMI, MBIM, AT, the host); ``rules.py`` turns them into
findings. The module's state is read from QMI when it answered, else from the AT port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..at.parser import Response
from ..at.readings import MODE_OF_CFUN, RAT_OF_ACT, SIM_OF_CPIN, csq_dbm, stat_of, state_of_stat
from ..model import Registration
from ..modules import Modem

__all__ = ["Facts", "REGISTRATION_COMMANDS"]

REGISTRATION_COMMANDS = (("AT+CEREG?", "+CEREG:"), ("AT+CGREG?", "+CGREG:"), ("AT+CREG?", "+CREG:"))


@dataclass
class Facts:
    modem: Optional[Modem] = None
    variant_hint: str = ""                          # what the label says (EC25-A), if the user told us
    wanted_mode: Optional[str] = None              # the USB mode the user asked for (None: the module's usual)
    host_raw_ip: Optional[bool] = None
    link_up: Optional[bool] = None                  # the network interface is up (IFF_UP): something uses it
    fcc_unlock: str = ""                            # the FCC-locked unit whose unlock qcm connect sends (its model)
    holders: Dict[str, List[Tuple[int, str]]] = field(default_factory=dict)   # port -> [(pid, name)]
    qmi_problem: str = ""                           # why QMI evidence is missing
    at_problem: str = ""
    silent: Dict[str, str] = field(default_factory=dict)  # port -> what went unanswered (free, but mute)
    denied: List[str] = field(default_factory=list)  # ports we may not open (not root)
    qmi_unanswered: List[str] = field(default_factory=list)  # requests that timed out among answered ones
    at_unanswered: List[str] = field(default_factory=list)
    # from QMI
    manufacturer: str = ""
    model: str = ""
    revision: str = ""
    imsi: str = ""
    operating_mode: Optional[str] = None
    hardware_restricted: Optional[bool] = None
    sim: Optional[str] = None                       # ready, pin, puk, blocked, absent
    pin_retries: Optional[int] = None
    puk_retries: Optional[int] = None
    registration: Optional[Registration] = None
    link_layer: Optional[str] = None
    qmi_failures: List[Tuple[str, str, int, str]] = field(default_factory=list)  # (service, message, code, name)
    # from AT
    at: Dict[str, Response] = field(default_factory=dict)
    # from a running qcm
    manager: Optional[Dict[str, Any]] = None

    def at_value(self, command: str, prefix: str) -> Optional[str]:
        response = self.at.get(command)
        return response.value(prefix) if response is not None and response.ok else None

    def at_text(self, command: str) -> Optional[str]:
        response = self.at.get(command)
        return response.lines[0] if response is not None and response.ok and response.lines else None

    def not_examined(self) -> List[str]:
        """What the report could not look at, and why."""
        return [p for p in (self.qmi_problem, self.at_problem) if p] + self.qmi_unanswered + self.at_unanswered

    # What the module's state is, from QMI when it answered, else from the AT port.

    def sim_state(self) -> Optional[str]:
        """ready, pin, puk, blocked, absent or network-locked."""
        if self.sim is not None:
            return self.sim
        cpin = self.at_value("AT+CPIN?", "+CPIN:")
        if cpin is not None:
            return SIM_OF_CPIN.get(cpin.upper(), cpin.lower())
        answer = self.at.get("AT+CPIN?")
        return "absent" if answer is not None and answer.error_code == 10 else None  # +CME ERROR: 10

    def radio_mode(self) -> Optional[str]:
        if self.operating_mode is not None:
            return self.operating_mode
        cfun = self.at_value("AT+CFUN?", "+CFUN:")
        return MODE_OF_CFUN.get(cfun.split(",")[0].strip(), "cfun-%s" % cfun) if cfun is not None else None

    def network(self) -> Optional[Registration]:
        """The registration, as QMI's serving system or else the best of +CEREG, +CGREG and +CREG
        (a module on 3G or 2G is registered although +CEREG, the LTE one, says 0)."""
        if self.registration is not None:
            return self.registration
        stats = [stat_of(v) for v in (self.at_value(c, p) for c, p in REGISTRATION_COMMANDS) if v]
        if not stats:
            return None
        # The most useful of the three: a registration that carries data, then what explains its absence.
        best = next((s for s in ("1", "5", "6", "7", "9", "10", "3", "2", "8", "11", "0", "4") if s in stats), stats[0])
        state, roaming = state_of_stat(best)
        cops = [f.strip().strip('"') for f in (self.at_value("AT+COPS?", "+COPS:") or "").split(",")]
        cgatt = self.at_value("AT+CGATT?", "+CGATT:")
        return Registration(state, (cgatt == "1") if cgatt is not None else state == "registered", roaming,
                            operator=cops[2] if len(cops) > 2 else "",
                            rat=RAT_OF_ACT.get(cops[3], "") if len(cops) > 3 else "",
                            signal_dbm=csq_dbm(self.at_value("AT+CSQ", "+CSQ:") or ""))
