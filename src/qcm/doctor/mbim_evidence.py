"""What ``qcm doctor`` reads from a module in MBIM mode, into the same ``Facts`` QMI fills.

It only reads, and leaves the MBIM function as it found it: it asks without OPEN first (a
function another run left open, with a session up, stays so; re-opening can reset it), opens
only when the function says NotOpened, and then closes what it opened. It never agrees an
MBIMEx version (that is device-wide, for every user of the modem) and never turns the radio on
or unlocks anything: an FCC-locked radio shows as the operating mode ``fcc-locked``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

from ..backends.mbim import readings
from ..backends.mbim.backend import transport_for
from ..discovery import Modem
from ..errors import ModemError
from ..io.mbim_port import MbimPort, MbimRequestError
from ..mbim.message import Message
from .facts import Facts

__all__ = ["gather", "wanted"]

# (service, command, query values): what the doctor asks, all at once.
QUERIES = {
    "caps": ("basic-connect", "device_caps", None),
    "ready": ("basic-connect", "subscriber_ready_status", None),
    "pin": ("basic-connect", "pin", None),
    "radio": ("basic-connect", "radio_state", None),
    "register": ("basic-connect", "register_state", None),
    "packet": ("basic-connect", "packet_service", None),
    "signal": ("basic-connect", "signal_state", None),
    "session": ("basic-connect", "connect", {"session_id": 0}),
    "services": ("basic-connect", "device_services", None),
}


def wanted(modem: Optional[Modem], wanted_mode: Optional[str]) -> Optional[str]:
    """The USB mode the user wants: what they asked for, else MBIM for a module in MBIM mode
    (qcm connect speaks it, so it is not a mode to switch away from)."""
    if wanted_mode is None and modem is not None and modem.mode == "mbim":
        return "mbim"
    return wanted_mode


async def gather(facts: Facts, modem: Modem, timeout: float) -> None:
    assert modem.control is not None
    port = await MbimPort(transport_for(modem.control, None)).open()
    opened = False
    try:
        try:
            first = await port.request("basic-connect", "device_caps", timeout=timeout, check=False)
        except MbimRequestError:  # FUNCTION_ERROR NotOpened: nobody opened it, so may we
            await port.open_device(timeout)
            opened = True
            first = await port.request("basic-connect", "device_caps", timeout=timeout, check=False)
        answers = await _ask(facts, port, timeout)
        answers["caps"] = first
        _read(facts, modem, answers)
        if answers.get("quectel") is not None:
            _read_quectel(facts, answers["quectel"])
    finally:
        if opened:
            await port.close_device(1.0)
        port.close()


async def _ask(facts: Facts, port: MbimPort, timeout: float) -> Dict[str, Message]:
    keys = [k for k in QUERIES if k != "caps"]
    results = await asyncio.gather(*(port.request(QUERIES[k][0], QUERIES[k][1], "query", QUERIES[k][2],
                                                  timeout=timeout, check=False) for k in keys), return_exceptions=True)
    answers: Dict[str, Message] = {}
    for key, result in zip(keys, results):
        if isinstance(result, TimeoutError):
            facts.qmi_unanswered.append(str(result))  # one slow request costs only its own answer
        elif isinstance(result, BaseException):
            raise result
        else:
            answers[key] = result
            _failure(facts, result)
    offered = {str(getattr(e["device_service_id"], "name", e["device_service_id"])): set(e.get("cids") or [])
               for e in (answers.get("services") or _EMPTY).get("device_services") or []}
    if 1 in offered.get("quectel", set()):
        try:
            answers["quectel"] = await port.request("quectel", "radio_state", timeout=timeout, check=False)
        except ModemError:
            pass
    return answers


class _Empty:
    def get(self, key: str, default: Any = None) -> Any:
        return default


_EMPTY: Any = _Empty()


def _failure(facts: Facts, message: Message) -> None:
    """A failed query is evidence too (the QMI side's list, by MBIM status name)."""
    if message.ok or message.status is None or message.definition is None:
        return
    name = readings.name_of(message.status)
    if name in ("pin-required", "sim-not-inserted", "bad-sim", "not-initialized", "context-not-activated"):
        return  # the SIM or session state itself, read elsewhere
    facts.qmi_failures.append(("MBIM %s" % message.definition.service.name, message.definition.name,
                               int(message.status), name))


def _read(facts: Facts, modem: Modem, a: Dict[str, Message]) -> None:
    caps = a.get("caps")
    if caps is not None and caps.ok:
        identity = readings.identity(caps, modem.manufacturer)
        facts.revision, facts.model, facts.manufacturer = identity.revision, identity.model, identity.manufacturer
    ready = a.get("ready")
    if ready is not None and (ready.ok or ready.values):
        sim = readings.sim_status(ready, a.get("pin"))
        facts.sim = sim.state if sim.state in ("ready", "pin", "puk", "blocked", "absent") else None
        facts.pin_retries, facts.puk_retries = sim.pin_retries, sim.puk_retries
        facts.imsi = str(ready.get("subscriber_id", "") or "")
    elif ready is not None and readings.name_of(ready.status) == "sim-not-inserted":
        facts.sim = "absent"
    radio = a.get("radio")
    if radio is not None and radio.ok:
        hardware, software = readings.name_of(radio.get("hw_radio_state")), readings.name_of(radio.get("sw_radio_state"))
        facts.hardware_restricted = hardware == "off"
        facts.operating_mode = "online" if software == "on" else "low-power"
    register = a.get("register")
    if register is not None and register.ok:
        facts.registration = readings.registration(register, a.get("packet"), a.get("signal"))


def _read_quectel(facts: Facts, radio: Message) -> None:
    if radio.ok and readings.name_of(radio.get("radio_state")) == "fcc-locked":
        facts.operating_mode = "fcc-locked"  # what ModemManager calls it; the vendor unlock lifts it
