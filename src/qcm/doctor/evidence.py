"""What ``qcm doctor`` looks at: the module through QMI and its AT port, and the host around it.

Gathering only reads: no PIN is entered, no mode is changed, no process is touched. QMI
requests go out together; AT commands, one at a time by the protocol's rule, run alongside
them. A port another process holds is not opened (reading from it would steal its answers).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..at.parser import Response
from ..connect.dial import registration_of, reject_cause, sim_state_of
from ..connect.events import Registration
from ..connect.session import ModemSession
from ..discovery import Modem
from ..errors import PermissionProblem, QcmError
from ..io.at_port import AtPort
from ..io.control import ask, socket_path
from ..io.qmi_port import QmiPort
from ..qmi.message import Message

__all__ = ["Facts", "gather", "port_holders", "AT_COMMANDS"]

AT_COMMANDS = ("AT+CPIN?", "AT+QGMR", "AT+CGMM", "AT+CFUN?", "AT+COPS?", "AT+CEREG?", "AT+CREG?", "AT+CSQ",
               "AT+QNWINFO", "AT+CGATT?", "AT+CGDCONT?", 'AT+QCFG="usbnet"', 'AT+QCFG="band"', "AT+CEER", "AT+CIMI")

# QMI requests whose failure is itself evidence (a firmware without them, a BG95 without QMI data).
QMI_PROBES = (("WDS", "Get Profile List", {"profile_type": "3gpp"}),
              ("WDS", "Get Profile Settings", {"profile_id": {"profile_type": "3gpp", "profile_index": 1}}),
              ("WDS", "Get Packet Service Status", None))


@dataclass
class Facts:
    modem: Optional[Modem] = None
    variant_hint: str = ""                          # what the label says (EC25-A), if the user told us
    wanted_mode: str = "qmi"
    host_raw_ip: Optional[bool] = None
    holders: Dict[str, List[Tuple[int, str]]] = field(default_factory=dict)   # port -> [(pid, name)]
    qmi_problem: str = ""                           # why QMI evidence is missing
    at_problem: str = ""
    silent: Dict[str, str] = field(default_factory=dict)  # port -> what went unanswered (free, but mute)
    denied: List[str] = field(default_factory=list)  # ports we may not open (not root)
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


def port_holders(paths: List[str], proc: Path = Path("/proc")) -> Dict[str, List[Tuple[int, str]]]:
    """Which processes (other than us) hold these device files open, by name and pid."""
    wanted = {os.path.realpath(p): p for p in paths if p}
    found: Dict[str, List[Tuple[int, str]]] = {}
    me = os.getpid()
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look at
        for real, path in wanted.items():
            if real in targets:
                found.setdefault(path, []).append((int(entry.name), name))
    return found


async def _qmi(facts: Facts, control: str, timeout: float) -> None:
    port = await QmiPort(control).open()
    session = ModemSession(port, timeout)
    try:
        await session.allocate([("DMS", "main"), ("NAS", "main"), ("UIM", "main"), ("WDA", "main"),
                                ("WDS", "ipv4")])
        requests = {
            "revision": session.request("DMS", "Get Revision", check=False),
            "model": session.request("DMS", "Get Model", check=False),
            "manufacturer": session.request("DMS", "Get Manufacturer", check=False),
            "mode": session.request("DMS", "Get Operating Mode", check=False),
            "card": session.request("UIM", "Get Card Status", check=False),
            "pin": session.request("DMS", "UIM Get PIN Status", check=False),
            "imsi": session.request("DMS", "UIM Get IMSI", check=False),
            "serving": session.request("NAS", "Get Serving System", check=False),
            "signal": session.request("NAS", "Get Signal Info", check=False),
            "system": session.request("NAS", "Get System Info", check=False),
            "format": session.request("WDA", "Get Data Format", check=False),
        }
        for service, name, values in QMI_PROBES:
            requests["probe " + name] = session.request(service, name, values, role="ipv4", check=False)
        answers = dict(zip(requests, await asyncio.gather(*requests.values(), return_exceptions=True)))
        for key, answer in answers.items():
            if isinstance(answer, BaseException):
                raise answer
            if not answer.ok and answer.result is not None and answer.definition is not None:
                facts.qmi_failures.append((answer.service_name, answer.definition.name, int(answer.result.error),
                                           answer.result.error.name))
        _read_qmi(facts, answers)
    finally:
        await session.close()
        port.close()


def _read_qmi(facts: Facts, a: Dict[str, Message]) -> None:
    facts.revision = a["revision"].get("revision", "")
    facts.model = a["model"].get("model", "")
    facts.manufacturer = a["manufacturer"].get("manufacturer", "")
    facts.imsi = a["imsi"].get("imsi", "")
    if a["mode"].ok:
        facts.operating_mode = a["mode"]["mode"].name
        facts.hardware_restricted = bool(a["mode"].get("hardware_restricted_mode"))
    if a["card"].ok:
        facts.sim, facts.pin_retries, facts.puk_retries = sim_state_of(a["card"])
    elif a["pin"].ok:
        status = a["pin"]["pin1_status"]
        facts.sim = {"enabled-not-verified": "pin", "blocked": "puk", "permanently-blocked": "blocked"}.get(
            status["current_status"].name, "ready")
        facts.pin_retries, facts.puk_retries = status["verify_retries_left"], status["unblock_retries_left"]
    elif a["pin"].result is not None and a["pin"].result.error.name in ("UimUninitialized", "NoSim"):
        facts.sim = "absent"
    if a["serving"].ok:
        registration = registration_of(a["serving"], a["signal"])
        cause = reject_cause(a["system"])
        if cause is not None:
            registration = replace(registration, reject_cause=cause)
        facts.registration = registration
    if a["format"].ok and "link_layer_protocol" in a["format"]:
        facts.link_layer = a["format"]["link_layer_protocol"].name


def _read_manager(facts: Facts, status: Dict[str, Any]) -> None:
    """A running qcm holds the control port: it is not a culprit, and what it knows stands in for QMI."""
    ours = status.get("pid")
    facts.holders = {port: kept for port, kept in ((port, [h for h in holders if h[0] != ours])
                                                   for port, holders in facts.holders.items()) if kept}
    facts.revision, facts.model = status.get("revision") or "", status.get("model") or ""
    facts.manufacturer = status.get("manufacturer") or ""
    facts.sim = status.get("sim") if status.get("sim") not in ("", "unknown") else None
    registration = status.get("registration")
    if registration:
        facts.registration = Registration(**{k: v for k, v in registration.items() if k != "text"})


async def _at(facts: Facts, path: str, timeout: float) -> None:
    port = await AtPort(path).open()
    try:
        for command in AT_COMMANDS:
            facts.at[command] = await port.command(command, timeout, check=False)
        if not facts.at['AT+QCFG="usbnet"'].ok:  # BG95-class modules have AT+QCFGEXT instead
            command = 'AT+QCFGEXT="usbnet"'
            facts.at[command] = await port.command(command, timeout, check=False)
    finally:
        port.close()


async def gather(modem: Optional[Modem], run_dir: Path, timeout: float = 3.0, variant: str = "",
                 wanted_mode: str = "qmi") -> Facts:
    facts = Facts(modem=modem, variant_hint=variant, wanted_mode=wanted_mode)
    if modem is None:
        return facts
    if modem.raw_ip_path is not None:
        try:
            facts.host_raw_ip = modem.raw_ip_path.read_text().strip().upper().startswith("Y")
        except OSError:
            pass
    facts.holders = port_holders([p for p in (modem.control, modem.at_port) if p])
    if modem.netdev:
        try:
            facts.manager = ask(socket_path(run_dir, modem.netdev), {"command": "status"}, timeout=3)["status"]
        except QcmError:
            pass
    if facts.manager is not None:
        _read_manager(facts, facts.manager)
    jobs = []
    if modem.mode != "qmi" or not modem.control:
        facts.qmi_problem = "no QMI control port (the module is in %s mode)" % modem.mode
    elif modem.control in facts.holders:
        facts.qmi_problem = "the control port is held by another process"
    elif facts.manager is not None:
        facts.qmi_problem = "a qcm manager holds the control port (its status is used instead)"
    else:
        jobs.append(("qmi", _qmi(facts, modem.control, timeout)))
    if not modem.at_port or not os.path.exists(modem.at_port):
        facts.at_problem = "no AT port (no serial driver bound to the module's AT interface)"
    elif modem.at_port in facts.holders:
        facts.at_problem = "the AT port is held by another process"
    else:
        jobs.append(("at", _at(facts, modem.at_port, timeout)))
    results = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
    for (name, _), result in zip(jobs, results):
        if isinstance(result, BaseException):
            problem = str(result) if isinstance(result, QcmError) else "%s: %s" % (type(result).__name__, result)
            if name == "qmi":
                facts.qmi_problem = problem
            else:
                facts.at_problem = problem
            if isinstance(result, PermissionProblem):
                facts.denied.append(modem.control if name == "qmi" else modem.at_port)
            if isinstance(result, TimeoutError):
                facts.silent["%s port %s" % ("QMI control" if name == "qmi" else "AT",
                                             modem.control if name == "qmi" else modem.at_port)] = problem
    return facts
