"""What ``qcm doctor`` looks at: the module through QMI and its AT port, and the host around it.

Gathering only reads: no PIN is entered, no mode is changed, no process is touched. QMI
requests go out together; AT commands, one at a time by the protocol's rule, run alongside
them. A port another process holds is not opened (reading from it would steal its answers).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from ..at import usbnet
from ..at.parser import Response
from ..backends.qmi.backend import open_port
from ..backends.qmi.session import ModemSession
from ..discovery import Modem
from ..errors import PermissionProblem, QcmError
from ..io.at_port import AtPort, AtTimeout
from ..connect.control_client import ask_about
from ..io.procfs import port_holders
from ..io.qmi_proxy import proxy_listening
from ..model import Registration
from . import rules
from .facts import REGISTRATION_COMMANDS, Facts
from ..qmi import readings
from ..qmi.message import Message

__all__ = ["Facts", "gather", "read_at", "take_qmi_answers", "AT_COMMANDS", "QMI_REQUESTS", "QMI_PROBES"]

AT_COMMANDS = ("AT+CPIN?", "AT+QGMR", "AT+CGMM", "AT+CFUN?", "AT+COPS?", *(c for c, _ in REGISTRATION_COMMANDS),
               "AT+CSQ", "AT+QNWINFO", "AT+CGATT?", "AT+CGDCONT?", usbnet.QUERY["qcfg"], 'AT+QCFG="band"', "AT+CEER",
               "AT+CIMI")

# What the doctor asks through QMI: (key of the answer, service, message, values).
QMI_REQUESTS = (("revision", "DMS", "Get Revision", None), ("model", "DMS", "Get Model", None),
                ("manufacturer", "DMS", "Get Manufacturer", None), ("mode", "DMS", "Get Operating Mode", None),
                ("card", "UIM", "Get Card Status", None), ("pin", "DMS", "UIM Get PIN Status", None),
                ("imsi", "DMS", "UIM Get IMSI", None), ("serving", "NAS", "Get Serving System", None),
                ("signal", "NAS", "Get Signal Info", None), ("system", "NAS", "Get System Info", None),
                ("format", "WDA", "Get Data Format", None))
# QMI requests whose failure is itself evidence (a firmware without them, a BG95 without QMI data).
QMI_PROBES = (("WDS", "Get Profile List", {"profile_type": "3gpp"}),
              ("WDS", "Get Profile Settings", {"profile_id": {"profile_type": "3gpp", "profile_index": 1}}),
              ("WDS", "Get Packet Service Status", None))


async def _qmi(facts: Facts, control: str, timeout: float) -> None:
    port = await open_port(control, timeout)  # through the qmi-proxy when one serves the port
    session = ModemSession(port, timeout)
    try:
        await session.allocate([("DMS", "main"), ("NAS", "main"), ("UIM", "main"), ("WDA", "main"),
                                ("WDS", "ipv4")])
        requests = {key: session.request(service, name, values, check=False)
                    for key, service, name, values in QMI_REQUESTS}
        for service, name, values in QMI_PROBES:
            requests["probe " + name] = session.request(service, name, values, role="ipv4", check=False)
        results = dict(zip(requests, await asyncio.gather(*requests.values(), return_exceptions=True)))
        take_qmi_answers(facts, results)
    finally:
        await session.close()
        port.close()


def take_qmi_answers(facts: Facts, results: Dict[str, Any]) -> None:
    """Facts from the QMI answers (key -> message, or the exception the request ended with)."""
    answers: Dict[str, Message] = {}
    for key, answer in results.items():
        if isinstance(answer, TimeoutError):
            facts.qmi_unanswered.append(str(answer))  # one slow request costs only its own answer
            continue
        if isinstance(answer, BaseException):
            raise answer
        answers[key] = answer
        if not answer.ok and answer.result is not None and answer.definition is not None:
            facts.qmi_failures.append((answer.service_name, answer.definition.name, int(answer.result.error),
                                       answer.result.error.name))
    if not answers:
        raise next(a for a in results.values() if isinstance(a, BaseException))
    _read_qmi(facts, answers)


def _read_qmi(facts: Facts, a: Dict[str, Message]) -> None:
    """Facts from the answers that came (a timed-out request is missing from ``a``)."""
    def ok(key: str) -> bool:
        return key in a and a[key].ok

    facts.revision = a["revision"].get("revision", "") if "revision" in a else ""
    facts.model = a["model"].get("model", "") if "model" in a else ""
    facts.manufacturer = a["manufacturer"].get("manufacturer", "") if "manufacturer" in a else ""
    facts.imsi = a["imsi"].get("imsi", "") if "imsi" in a else ""
    if ok("mode"):
        facts.operating_mode = a["mode"]["mode"].name
        facts.hardware_restricted = bool(a["mode"].get("hardware_restricted_mode"))
    sim = None
    if ok("card"):
        sim = readings.sim_status(a["card"])
    elif "pin" in a:
        try:
            sim = readings.dms_sim_status(a["pin"])
        except QcmError:
            pass  # neither UIM nor DMS can tell: the SIM's state stays unknown
    if sim is not None:
        facts.sim, facts.pin_retries, facts.puk_retries = sim.state, sim.pin_retries, sim.puk_retries
    if ok("serving"):
        facts.registration = readings.with_reject_cause(readings.registration(a["serving"], a.get("signal")),
                                                        a.get("system"))
    if ok("format") and "link_layer_protocol" in a["format"]:
        facts.link_layer = a["format"]["link_layer_protocol"].name


def _read_manager(facts: Facts, status: Dict[str, Any]) -> None:
    """A running qcm holds the control port: it is not a culprit, and what it knows stands in for QMI."""
    ours = status.get("pid")
    facts.holders = {port: kept for port, kept in ((port, [h for h in holders if h[0] != ours])
                                                   for port, holders in facts.holders.items()) if kept}
    facts.revision, facts.model = _text(status.get("revision")), _text(status.get("model"))
    facts.manufacturer = _text(status.get("manufacturer"))
    facts.sim = _text(status.get("sim")) if _text(status.get("sim")) not in ("", "unknown") else None
    registration = status.get("registration")
    if isinstance(registration, dict):
        # A qcm of another version may say more, or say it differently: only fields of the expected type.
        typed = {k: v for k, v in registration.items() if k in _REGISTRATION_TYPES and
                 isinstance(v, _REGISTRATION_TYPES[k]) and (type(v) is bool) == (_REGISTRATION_TYPES[k] is bool)}
        try:
            facts.registration = Registration(**typed)  # type: ignore[arg-type]  # types checked above
        except TypeError:  # state or ps_attached missing
            pass


_REGISTRATION_TYPES = {"state": str, "ps_attached": bool, "roaming": bool, "mcc": int, "mnc": int, "operator": str,
                       "rat": str, "reject_cause": int, "signal_dbm": int}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


async def _at(facts: Facts, path: str, timeout: float) -> None:
    port = await AtPort(path).open()
    try:
        await read_at(facts, lambda command: port.command(command, timeout, check=False))
    finally:
        port.close()


async def read_at(facts: Facts, ask: Callable[[str], Awaitable[Response]]) -> None:
    """The AT evidence, through ``ask`` (the port's command; a transcript in the fuzz target)."""
    async def send(command: str) -> None:
        try:
            facts.at[command] = await ask(command)
        except AtTimeout as exc:
            if not facts.at:
                raise  # not even the first answer: the port is silent
            facts.at_unanswered.append(str(exc))  # a slow command (AT+COPS? may take minutes): go on

    for command in AT_COMMANDS:
        await send(command)
    if facts.at_value(usbnet.QUERY["qcfg"], usbnet.PREFIX["qcfg"]) is None:  # BG95-class: AT+QCFGEXT
        await send(usbnet.QUERY["qcfgext"])
    if facts.at_value("AT+CPIN?", "+CPIN:") != "READY":  # the tries left, for a PIN or PUK finding
        await send('AT+QPINC="SC"')


def link_up(modem: Modem) -> Optional[bool]:
    """Whether the module's network interface is up (IFF_UP in sysfs ``flags``); None if unknown."""
    if not modem.netdev:
        return None
    try:
        flags = (Path(modem.sysfs_root) / "class" / "net" / modem.netdev / "flags").read_text().strip()
        return bool(int(flags, 16) & 0x1)
    except (OSError, ValueError):
        return None


def manager_status(run_dir: Path, netdev: str) -> Optional[Dict[str, Any]]:
    """The status of the qcm managing ``netdev`` (its own ``qcm connect``, or ``qcm daemon``), if one runs."""
    try:
        _, reply = ask_about(run_dir, netdev, {"command": "status"}, timeout=3)
    except QcmError:
        return None
    return reply["status"] if isinstance(reply.get("status"), dict) else None


async def gather(modem: Optional[Modem], run_dir: Path, timeout: float = 3.0, variant: str = "",
                 wanted_mode: Optional[str] = None) -> Facts:
    from . import mbim_evidence  # MBIM-mode modules: the same facts over MBIM
    facts = Facts(modem=modem, variant_hint=variant, wanted_mode=mbim_evidence.wanted(modem, wanted_mode))
    if modem is None:
        return facts
    facts.host_raw_ip = modem.raw_ip  # discovery read qmi/raw_ip a moment ago
    facts.link_up = link_up(modem)
    if modem.mode == "mbim":
        from ..backends.mbim.unlock import unlock_for
        facts.fcc_unlock = unlock_for(modem.vendor_id, modem.product_id) or ""
    control_ports = [p for p in (modem.control, *modem.control_aliases) if p]
    facts.holders = port_holders(control_ports + ([modem.at_port] if modem.at_port else []))
    if modem.netdev:
        facts.manager = manager_status(run_dir, modem.netdev)
    if facts.manager is not None:
        _read_manager(facts, facts.manager)
    held = rules.culprits(facts)  # mbim-proxy shares an MBIM port: the doctor goes through it
    jobs = []
    if modem.mode not in ("qmi", "mbim") or not modem.control:
        facts.qmi_problem = "no QMI control port (the module is in %s mode)" % modem.mode
    elif any(port in held for port in control_ports):
        facts.qmi_problem = "the control port is held by another process"
    elif facts.manager is not None and not (modem.mode == "qmi" and proxy_listening()):
        # A running qcm serves its QMI port on the qmi-proxy socket: then the doctor reads through it.
        facts.qmi_problem = "a qcm manager holds the control port (its status is used instead)"
    else:
        jobs.append(("qmi", _qmi(facts, modem.control, timeout) if modem.mode == "qmi" else
                     mbim_evidence.gather(facts, modem, timeout)))
    if not modem.at_port or not os.path.exists(modem.at_port):
        facts.at_problem = "no AT port (no serial driver bound to the module's AT interface)"
    elif modem.at_port in held:
        facts.at_problem = "the AT port is held by another process"
    elif facts.manager is not None and modem.at_port in control_ports:
        # Ethernet-style modes: the AT port is the manager's control port, and a second reader would take
        # the answers it waits for.
        facts.at_problem = "a qcm manager holds the AT port, its control port (its status is used instead)"
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
                facts.denied.append((modem.control if name == "qmi" else modem.at_port) or "?")
            if isinstance(result, TimeoutError):
                facts.silent["%s port %s" % ("QMI control" if name == "qmi" else "AT",
                                             modem.control if name == "qmi" else modem.at_port)] = problem
    return facts
