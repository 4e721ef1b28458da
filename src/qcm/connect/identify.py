"""Which module is which, when the user names it by what the module (or its SIM) says: the IMEI, the
SIM's ICCID. Each module present is asked briefly, through its own protocol, unless another program
holds its port (asking would steal that program's answers). Used by ``qcm connect --iccid`` and by
``qcm daemon`` for configurations that name their module so.
"""

from __future__ import annotations

import asyncio
import re
from typing import Awaitable, Callable, Dict, Tuple

from ..backends import BACKENDS, load_backend
from ..discovery import Modem, scan
from ..errors import NoModemError, QcmError
from ..io.procfs import port_holders
from . import events as ev
from .options import ConnectOptions

__all__ = ["read_iccid", "read_imei", "askable", "find_by_iccid"]

ASK_TIMEOUT = 3.0


def askable(modem: Modem) -> bool:
    """A module whose port we may open to ask it: a protocol we speak, and nobody else holding the port."""
    ports = [p for p in (modem.control, *modem.control_aliases) if p]
    return modem.mode in BACKENDS and bool(ports) and not port_holders(ports)


async def read_imei(modem: Modem) -> str:
    if not askable(modem):
        return ""
    return await load_backend(modem.mode).read_imei(modem)


async def read_iccid(modem: Modem) -> str:
    """The ICCID of the SIM in ``modem`` (digits only), or "" when it cannot be asked or has no SIM."""
    if not askable(modem):
        return ""
    reader: Callable[[Modem], Awaitable[str]] = {"qmi": _qmi, "mbim": _mbim, "ethernet": _at}[modem.mode]
    try:
        found = await asyncio.wait_for(reader(modem), 3 * ASK_TIMEOUT)
    except (QcmError, asyncio.TimeoutError, OSError):
        return ""
    return re.sub(r"[^0-9]", "", found)


async def _qmi(modem: Modem) -> str:
    from ..backends.qmi.session import ModemSession
    from ..io.qmi_port import QmiPort
    from ..io.gobinet import control_transport
    assert modem.control is not None
    port = await QmiPort(control_transport(modem.control)).open()
    session = ModemSession(port, ASK_TIMEOUT)
    try:
        await session.allocate([("DMS", "main")])
        answer = await session.request("DMS", "UIM Get ICCID", check=False)
        return str(answer.get("iccid", "")) if answer.ok else ""
    finally:
        await session.close()
        port.close()


async def _mbim(modem: Modem) -> str:
    from ..backends.mbim.backend import transport_for
    from ..io.mbim_port import MbimPort
    assert modem.control is not None
    port = MbimPort(transport_for(modem.control, None))
    try:
        await port.open()
        await port.open_device(ASK_TIMEOUT)
        ready = await port.request("basic-connect", "subscriber_ready_status", timeout=ASK_TIMEOUT, check=False)
        return str(ready.get("sim_icc_id", "") or "")
    finally:
        await port.close_device()
        port.close()


async def _at(modem: Modem) -> str:
    from ..io.at_port import AtPort
    path = modem.at_port or modem.control
    assert path is not None
    port = await AtPort(path).open()
    try:
        await port.command("ATE0", ASK_TIMEOUT, check=False)
        answer = await port.command("AT+QCCID", ASK_TIMEOUT, check=False)
        if not answer.ok:
            answer = await port.command("AT+CCID", ASK_TIMEOUT, check=False)
        return next((line.split(":", 1)[-1] for line in answer.lines if re.search(r"\d{18}", line)), "")
    finally:
        port.close()


async def find_by_iccid(options: ConnectOptions, iccid: str, report: ev.Reporter, wait: bool) -> Modem:
    """The module whose SIM has ``iccid`` (among those the other choices allow), waiting for it to appear
    when ``wait``."""
    from ..discovery import select
    told = False
    asked: Dict[Tuple[str, str], str] = {}  # each appearance of a module is asked once: (USB path, control port) -> ICCID
    while True:
        modems = scan(options.sysfs, options.dev)
        try:
            candidates = [select(modems, options.interface, options.control, options.usb_path, require_single=False)]
            if not (options.interface or options.control or options.usb_path):
                candidates = modems
        except NoModemError:
            candidates = []
        for modem in candidates:
            key = (modem.usb_path, modem.control or "")
            if key not in asked:
                asked[key] = await read_iccid(modem)
            if asked[key] == iccid:
                return modem
        problem = "no module with the SIM of the ICCID given (--iccid) among %d module(s)" % len(candidates)
        if not wait:
            raise NoModemError(problem, "qcm list shows the modules; AT+QCCID on a module's AT port its SIM's ICCID")
        if not told:
            report(ev.Notice("%s; waiting for it to appear" % problem, True))
            told = True
        await asyncio.sleep(1.0)
