"""The simulated modem's AT port, sans I/O: command lines in, response lines out.

It reads and changes the same ``SimModem`` as the QMI side, so both ports tell one story:
the SIM, the operating mode (AT+CFUN), the registration, the firmware, the profiles, the
calls, and the USB network mode (AT+QCFG="usbnet", taking effect at the next reset).
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional

from ..ascii import is_digits
from .at_data import AtDataCalls
from .config import CFUN_MODES
from .modem import SimModem

__all__ = ["SimAt"]

CFUN_OF_MODE = {**{mode: n for n, mode in CFUN_MODES.items()}, "persistent-low-power": 0}
USBNET_NUMBERS = {"qmi": 0, "ecm": 1, "mbim": 2, "rndis": 3, "ncm": 5}
USBNET_NAMES_EXT = {"qmi": "rmnet", "ecm": "ecm", "mbim": "mbim", "rndis": "rndis", "ncm": "ncm"}  # AT+QCFGEXT spelling
_STAT = {"home": 1, "roaming": 5, "searching": 2, "denied": 3, "none": 0}
_ACT = {"lte": 7, "umts": 2, "gsm": 0, "5gnr": 13}
_PDP = {"ipv4": "IP", "ipv6": "IPV6", "ipv4v6": "IPV4V6"}
_CME = {"IncorrectPin": 16, "PinBlocked": 12, "UimUninitialized": 10, "NoEffect": 3}
_CEER_TEXT = {"gsm-wcdma-unknown-apn": "Missing or unknown APN", "authentication-failed": "User authentication failed",
              "gsm-wcdma-option-unsubscribed": "Requested service option not subscribed",
              "gsm-wcdma-operator-determined-barring": "Operator determined barring",
              "gsm-wcdma-regular-deactivation": "Regular deactivation", "no-service": "No service",
              "gsm-wcdma-insufficient-resources": "Insufficient resources",
              "gsm-wcdma-unknown-pdp": "Unknown PDP address or PDP type"}


class SimAt:
    def __init__(self, modem: Callable[[], SimModem], on_reset: Callable[[], None],
                 clock: Callable[[], float] = lambda: 0.0) -> None:
        self._modem = modem
        self.on_reset = on_reset
        self.clock = clock  # the time comes from outside (the server's monotonic clock), as for SimModem
        self.echo = True  # modules start with echo on
        self.pending_usbnet: Optional[str] = None
        self.pending_nat: Optional[bool] = None
        self.data_calls = AtDataCalls()
        self.registration_urc: Dict[str, int] = {}   # AT+CREG/CGREG/CEREG=n: n >= 1 reports changes
        self._registration_seen: Optional[str] = None

    @property
    def modem(self) -> SimModem:
        return self._modem()

    def handle(self, line: str) -> List[str]:
        """The lines answering one command line (the echo first when echo is on)."""
        out = [line] if self.echo else []
        command = line.strip()
        if not command.upper().startswith("AT"):
            return out + ["ERROR"]
        body = command[2:]
        if body.upper() in ("E0", "E1"):
            self.echo = body.upper() == "E1"
            return out + ["OK"]
        answers: List[str] = []
        for part in [p for p in body.split(";") if p] or [""]:
            result = self._one(part)
            if result is None:
                return out + answers + ["ERROR"]
            if result and result[-1].startswith("+CME ERROR"):
                return out + answers + result
            answers += result
        return out + answers + ["OK"]

    def _one(self, part: str) -> Optional[List[str]]:
        """Lines of one command of a line (without OK), None for ERROR."""
        m, c = self.modem, self.modem.config
        upper = part.upper()
        simple: Dict[str, Callable[[], List[str]]] = {
            "": lambda: [],
            "I": lambda: [c.manufacturer, c.model, "Revision: %s" % c.revision],
            "+CGMI": lambda: [c.manufacturer], "+CGMM": lambda: [c.model], "+CGMR": lambda: [c.revision],
            "+QGMR": lambda: [c.revision if "_" in c.revision else "%s_%s" % (c.revision, c.firmware_build)],
            "+GSN": lambda: [c.imei], "+CGSN": lambda: [c.imei],
            "+CPAS": lambda: ["+CPAS: 0"],
            "+CFUN?": lambda: ["+CFUN: %d" % CFUN_OF_MODE.get(m.mode, 0)],
            "+COPS?": self._cops, "+CSQ": self._csq, "+QCSQ": self._qcsq, "+QNWINFO": self._qnwinfo,
            "+CGATT?": lambda: ["+CGATT: %d" % (1 if m.registered and c.ps_attached else 0)],
            '+QPINC="SC"': lambda: ['+QPINC: "SC",%d,%d' % (m.pin_retries, m.puk_retries)],
            "+CGDCONT?": self._cgdcont, "+CGPADDR": self._cgpaddr, "+CEER": self._ceer,
            "+QENG=\"SERVINGCELL\"": self._qeng,
        }
        if upper in simple:
            return simple[upper]()
        match = re.fullmatch(r"\+(CREG|CGREG|CEREG|C5GREG)\?", upper)
        if match:
            return ["+%s: %d,%d" % (match.group(1), self.registration_urc.get(match.group(1), 0),
                                    _STAT.get(m.registration, 0))]
        match = re.fullmatch(r"\+(CREG|CGREG|CEREG|C5GREG)=([0-2])", upper)
        if match:
            self.registration_urc[match.group(1)] = int(match.group(2))
            self._registration_seen = m.registration
            return []
        if upper in ("+CIMI", "+QCCID", "+CPIN?"):
            return self._sim(upper)
        if upper.startswith("+CPIN="):
            outcome = m.try_pin(part.split("=", 1)[1].strip().strip('"'), self.clock())
            return [] if outcome == "ok" else ["+CME ERROR: %d" % _CME.get(outcome, 100)]
        if upper.startswith("+CGPADDR="):
            wanted = "+CGPADDR: %s," % part.split("=", 1)[1].strip()
            return [line for line in self._cgpaddr() if line.startswith(wanted)] or None
        if upper.startswith("+CFUN="):
            return self._cfun(upper.split("=", 1)[1])
        if upper.startswith("+CGDCONT="):
            return self._set_cgdcont(part.split("=", 1)[1])
        if upper.startswith("+QCFG="):
            return self._qcfg(part.split("=", 1)[1])
        if upper.startswith("+QCFGEXT="):
            return self._qcfgext(part.split("=", 1)[1])
        return self.data_calls.handle(m, part, self.clock())

    def unsolicited(self) -> List[str]:
        """URCs due since the last look: calls the AT port started that came up or ended, and
        registration changes for the +CxREG reporting switched on."""
        m = self.modem
        lines = self.data_calls.unsolicited(m)
        if self._registration_seen is not None and m.registration != self._registration_seen:
            for name, n in sorted(self.registration_urc.items()):
                if n:
                    lines.append("+%s: %d" % (name, _STAT.get(m.registration, 0)))
        self._registration_seen = m.registration
        return lines

    # ------------------------------------------------------------------ SIM

    def _sim(self, upper: str) -> List[str]:
        m = self.modem
        if m.sim_state == "absent":
            return ["+CME ERROR: 10"]  # SIM not inserted
        if upper == "+CPIN?":
            return ["+CPIN: %s" % {"ready": "READY", "pin": "SIM PIN", "puk": "SIM PUK",
                                   "blocked": "SIM PUK"}[m.sim_state]]
        if m.sim_state != "ready":
            return ["+CME ERROR: %d" % (11 if m.sim_state == "pin" else 12)]
        return [m.config.imsi] if upper == "+CIMI" else ["+QCCID: %s" % m.config.iccid]

    # ------------------------------------------------------------------ radio

    def _cfun(self, argument: str) -> List[str]:
        values = [v.strip() for v in argument.split(",")]
        if not is_digits(values[0]) or int(values[0]) not in CFUN_MODES:
            return ["+CME ERROR: 50"]
        if len(values) > 1 and values[1] == "1":
            self.on_reset()  # AT+CFUN=1,1: the module restarts (and applies a new usbnet mode)
            return []
        if self.modem.config.set_mode_error:
            return ["+CME ERROR: 3"]
        mode = CFUN_MODES[int(values[0])]
        if self.modem.config.hardware_restricted and mode == "online":
            return ["+CME ERROR: 3"]
        self.modem.after_response(self.modem.set_mode(mode, self.clock()))
        return []

    # ------------------------------------------------------------------ network

    def _cops(self) -> List[str]:
        m = self.modem
        if not m.registered:
            return ["+COPS: 0"]
        return ['+COPS: 0,0,"%s",%d' % (m.config.operator, _ACT.get(m.config.rat, 7))]

    def _csq(self) -> List[str]:
        m = self.modem
        if not m.registered and m.registration != "denied":
            return ["+CSQ: 99,99"]
        return ["+CSQ: %d,99" % max(0, min(31, (m.config.rssi + 113) // 2))]

    def _qcsq(self) -> List[str]:
        m = self.modem
        if not m.registered:
            return ['+QCSQ: "NOSERVICE"']
        c = m.config
        return ['+QCSQ: "%s",%d,%d,%d,%d' % (c.rat.upper(), c.rssi, c.rsrp, int(c.snr * 5), c.rsrq)]

    def _qnwinfo(self) -> List[str]:
        m = self.modem
        if not m.registered:
            return ["+QNWINFO: No Service"]
        c = m.config
        return ['+QNWINFO: "FDD %s","%03d%02d","%s BAND 4",2175' % (c.rat.upper(), c.mcc, c.mnc, c.rat.upper())]

    def _qeng(self) -> List[str]:
        m = self.modem
        if not m.registered:
            return ['+QENG: "servingcell","SEARCH"']
        c = m.config
        return ['+QENG: "servingcell","NOCONN","%s","FDD",%d,%02d,1A2B3C,321,2175,4,5,5,2D1,%d,%d,%d,%d,-'
                % (c.rat.upper(), c.mcc, c.mnc, c.rsrp, c.rsrq, c.rssi, int(c.snr))]

    # ------------------------------------------------------------------ data

    def _cgdcont(self) -> List[str]:
        return ['+CGDCONT: %d,"%s","%s","0.0.0.0",0,0,0,0' % (index, _PDP.get(p["pdp_type"], "IPV4V6"), p["apn"])
                for index, p in sorted(self.modem.profiles.items())]

    def _set_cgdcont(self, argument: str) -> Optional[List[str]]:
        values = [v.strip().strip('"') for v in argument.split(",")]
        if not is_digits(values[0]):
            return None
        pdp = {v: k for k, v in _PDP.items()}.get(values[1].upper() if len(values) > 1 else "IP", "ipv4")
        profile = self.modem.profiles.setdefault(int(values[0]), {"apn": "", "pdp_type": "ipv4", "name": "",
                                                                  "auth": "none", "username": "", "password": ""})
        profile.update({"pdp_type": pdp, "apn": values[2] if len(values) > 2 else ""})
        return []

    def _cgpaddr(self) -> List[str]:
        """Each defined context with the addresses of the calls on its APN (context 1 also takes calls
        whose APN no context names: the module's default bearer)."""
        profiles = self.modem.profiles or {1: {"apn": ""}}
        named = {str(p["apn"]).lower() for p in profiles.values()}
        lines = []
        for index, profile in sorted(profiles.items()):
            addresses = [str(address.ip) for call in self.modem.calls.values()
                         if call.apn.lower() == str(profile["apn"]).lower()
                         or (index == 1 and call.apn.lower() not in named)
                         for address in (call.ipv4, call.ipv6) if address is not None]
            lines.append("+CGPADDR: %d,%s" % (index, ",".join('"%s"' % a for a in addresses or ["0.0.0.0"])))
        return lines

    def _ceer(self) -> List[str]:
        last = self.modem.last_call_end
        if not last:
            return ['+CEER: "No cause information available"']
        return ['+CEER: "%s"' % _CEER_TEXT.get(last[0], last[0])]

    # ------------------------------------------------------------------ USB configuration

    def _usbnet(self) -> str:
        return self.pending_usbnet or self.modem.config.usbnet

    def _qcfg(self, argument: str) -> Optional[List[str]]:
        values = [v.strip() for v in argument.split(",")]
        name = values[0].strip('"').lower()
        c = self.modem.config
        if name == "usbnet":
            if c.usbnet_command != "qcfg":
                return None  # BG95-class modules only know AT+QCFGEXT
            if len(values) > 1:
                wanted = {v: k for k, v in USBNET_NUMBERS.items()}.get(int(values[1]) if is_digits(values[1]) else -1)
                if wanted is None:
                    return None
                self.pending_usbnet = wanted
                return []
            return ['+QCFG: "usbnet",%d' % USBNET_NUMBERS[self._usbnet()]]
        if name == "nat":
            if len(values) > 1:
                if values[1] not in ("0", "1"):
                    return None
                self.pending_nat = values[1] == "1"  # takes effect at the next restart, as on the module
                return []
            nat = c.nat if self.pending_nat is None else self.pending_nat
            return ['+QCFG: "nat",%d' % int(nat)]
        readings = {"band": c.bands, "nwscanmode": str(c.nwscanmode), "nwscanseq": c.nwscanseq}
        if name in readings:
            return ['+QCFG: "%s",%s' % (name, readings[name])] if len(values) == 1 else []
        return None

    def _qcfgext(self, argument: str) -> Optional[List[str]]:
        values = [v.strip().strip('"').lower() for v in argument.split(",")]
        if values[0] != "usbnet" or self.modem.config.usbnet_command != "qcfgext":
            return None
        if len(values) > 1:
            wanted = {v: k for k, v in USBNET_NAMES_EXT.items()}.get(values[1])
            if wanted != "ecm":
                return None  # BG95-class firmware offers ecm (and modem, PPP only), not rmnet, mbim or rndis
            self.pending_usbnet = wanted
            return []
        return ['+QCFGEXT: "usbnet","%s"' % USBNET_NAMES_EXT[self._usbnet()]]
