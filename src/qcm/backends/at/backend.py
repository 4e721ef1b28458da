"""The AT backend: Ethernet-style modules (ECM, RNDIS, NCM), dialled on their AT port, addressed
by DHCP and router advertisements on their Ethernet interface; on the seam of ``backends.base``.

The control channel is the module's AT port (discovery names it the module's control port in
these modes). ``dial.py`` prepares the module and waits for the network, ``calls.py`` starts and
ends the PDP context with the firmware's own commands, and ``io.ip_config.DynamicIp`` gets and
keeps the addresses. Both families of a dual-stack connection share one context (PDP type
IPv4v6): the first bearer starts it, the last one ends it.

What the module says unasked becomes supervisor events: the context ended (``+QNETDEVSTATUS:
<cid>,0``, ``+QIURC: "pdpdeact"``, with AT+CEER's reason), registration came back (``+CEREG``),
a SIM is ready (``+CPIN: READY``), the port hung up (the module reset); and from the link: a
changed lease or prefix, or a lost one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Dict, List, Optional, Set, Tuple

from ...connect import events as ev
from ...connect import supervisor as sv
from ...discovery import Modem
from ...errors import ModemError, NetConfigError, QcmError
from ...io.at_port import AtPort
from ...io.dhcp_socket import RaSwitch
from ...io.ip_config import DynamicIp
from ...model import IpSettings
from ..base import Backend, Bearer, BearerId
from . import answers
from .calls import ACTIVATE, STYLES, Calls
from .dial import AtDial

__all__ = ["AtBackend"]

log = logging.getLogger(__name__)


class AtBackend(Backend):
    name = "ethernet"         # its key in the registry (saved states name it)
    modes = ("ethernet",)

    port: Optional[AtPort] = None
    dial: Optional[AtDial] = None
    calls: Optional[Calls] = None
    ip: Optional[DynamicIp] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: Dict[BearerId, Bearer] = {}
        self.active: Set[int] = set()             # contexts we started (or found up) and still hold
        self._locks: Dict[int, asyncio.Lock] = {}
        self._kept = False
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._stat: Dict[str, str] = {}

    # ---------------------------------------------------------------- the channel

    @property
    def path(self) -> str:
        path = self.modem.at_port or self.modem.control
        if not path:
            raise ModemError("%s has no AT port" % self.modem.usb_path,
                             "bind the option driver to its serial interfaces (see qcm doctor)")
        return path

    async def open(self) -> None:
        await self.close()
        port = await AtPort(self.path, show_personal=self.context.show_personal).open()
        self.port = port
        port.on_unsolicited(self._on_line)
        port.on_lost(lambda reason: self._lost(port, reason))
        self.dial = AtDial(port, self.context)
        self.calls = Calls(port, self.context.request_timeout)
        netdev = self.modem.netdev
        if netdev:
            self.ip = DynamicIp(netdev, self.context.report, self._address_changed, self._address_lost)
        self._kept = False

    def _lost(self, port: AtPort, reason: str) -> None:
        if port is self.port:
            self.context.emit(sv.ModemLost("the AT port %s %s" % (port.path, reason)))

    async def close(self) -> None:
        port, ip = self.port, self.ip
        self.port = self.dial = self.calls = self.ip = None
        self.live.clear()
        self.active.clear()
        for task in list(self._tasks):
            task.cancel()
        if ip is not None:  # a connection handed over keeps its lease and the kernel's hands off its RAs
            ip.close(release=not self._kept, restore=not self._kept)
        if port is not None:
            port.close()

    @property
    def is_open(self) -> bool:
        return self.port is not None and self.port.fd is not None

    def _dial(self) -> AtDial:
        if self.dial is None:
            raise ModemError("the AT port %s is not open" % self.path)
        return self.dial

    def _calls(self) -> Calls:
        if self.calls is None:
            raise ModemError("the AT port %s is not open" % self.path)
        return self.calls

    # ---------------------------------------------------------------- the sequence

    async def prepare(self) -> None:
        self.identity, style = await self._dial().prepare()
        self._calls().style = style

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        calls = self._calls()
        cid = bearer.pdn
        lock = self._locks.setdefault(cid, asyncio.Lock())
        if self.ip is not None:
            self.ip.expect(bearer.family)
        async with lock:  # both families of one context: the first starts it, the second finds it up
            if cid not in self.active:
                address = await calls.address(cid)
                command = ACTIVATE[calls.style] % cid
                if address is not None:
                    self.context.report(ev.Notice("context %d was already active (left by an earlier run); "
                                                  "using it" % cid, True))
                else:
                    address = await calls.activate(cid, self.context.plan.start_timeout)
                self.active.add(cid)
                self.context.report(ev.ContextActivated(cid, command, str(address)))
        if self.ip is None:
            raise NetConfigError("%s has no network interface to configure" % self.modem.usb_path)
        try:
            settings = await self.ip.acquire(bearer.family, self.context.plan.start_timeout)
        except BaseException:
            await self._release(bearer, cid)
            raise
        self.context.report(ev.SettingsReceived(settings))
        handle: Dict[str, Any] = {"cid": cid, "style": calls.style}
        if bearer.family == 6 and self.ip.accept_ra_before is not None:
            handle.update({"netdev": netdev, "accept_ra": self.ip.accept_ra_before})  # for qcm disconnect
        started = Bearer(bearer, netdev, settings, handle)
        self.live[bearer] = started
        return started

    async def settings(self, bearer: Bearer) -> IpSettings:
        current = self.ip.current(bearer.family) if self.ip is not None else None
        if current is None:
            raise NetConfigError("%s has no %s right now" % (bearer.id, "DHCP lease" if bearer.family == 4
                                                              else "router advertisement"))
        return current

    async def is_up(self, bearer: Bearer) -> bool:
        address = await self._calls().address(int(bearer.handle["cid"]))
        connected = address is not None and self.ip is not None and self.ip.current(bearer.family) is not None
        self.context.report(ev.CallStatus(bearer.family, connected))
        return connected

    async def stop(self, bearer: Bearer) -> bool:
        self.live.pop(bearer.id, None)
        if self.ip is not None:
            self.ip.stop(bearer.family, release=True)
        if not self.is_open:
            return False
        return await self._release(bearer.id, int(bearer.handle["cid"]))

    async def _release(self, bearer: BearerId, cid: int) -> bool:
        """End the context once no bearer uses it any more."""
        if any(b.pdn == cid for b in self.live) or cid not in self.active or self.calls is None:
            return True
        self.active.discard(cid)
        return await self.calls.deactivate(cid)

    async def radio_cycle(self) -> None:
        self.active.clear()  # the radio going off ends every context
        await self._dial().radio_cycle()

    def keep(self, bearers: List[Bearer]) -> None:
        """Contexts outlive the AT port by themselves; only the leases must not be given back."""
        self._kept = True
        self.live.clear()
        self.active.clear()

    # ---------------------------------------------------------------- without a connection

    @classmethod
    async def read_imei(cls, modem: Modem) -> str:
        path = modem.at_port or modem.control
        if not path:
            return ""
        try:
            port = await AtPort(path).open()
        except QcmError:
            return ""
        try:
            await port.command("ATE0", 3.0, check=False)
            answer = await port.command("AT+CGSN", 3.0, check=False)
            return next((re.sub(r"\D", "", line) for line in answer.lines if re.search(r"\d{14}", line)), "")
        except QcmError:
            return ""
        finally:
            port.close()

    @classmethod
    async def stop_saved(cls, control: str, bearers: List[Tuple[BearerId, Dict[str, Any]]]) -> List[str]:
        try:
            port = await AtPort(control).open()
        except ModemError as exc:
            return ["modem not reachable (%s): its calls ended with it" % exc]
        details = []
        try:
            await port.command("ATE0", 3.0, check=False)
            stopped: Dict[int, bool] = {}
            for bearer, handle in bearers:
                cid = int(handle["cid"])
                style = str(handle.get("style", "cgact"))
                if cid not in stopped:  # both families of a context: one command ends it
                    stopped[cid] = await Calls(port, 5.0, style if style in STYLES else "cgact").deactivate(cid)
                details.append("%s call %s" % (bearer, "stopped" if stopped[cid] else "not confirmed stopped"))
                netdev = str(handle.get("netdev", ""))
                if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,14}", netdev) and \
                        str(handle.get("accept_ra", "")) in ("0", "1", "2"):
                    switch = RaSwitch(netdev)  # the kernel may use advertisements there again
                    switch.before = str(handle["accept_ra"])
                    switch.restore()
        finally:
            port.close()
        return details

    # ---------------------------------------------------------------- what the module says unasked

    def _on_line(self, line: str) -> None:
        news = answers.call_news(line)
        if news is not None:
            if self.calls is not None:
                self.calls.news(news)
            if not news.up and news.cid in self.active:
                self.active.discard(news.cid)
                self._spawn(self._dropped(news.cid))
            return
        registration = answers.urc_stat(line)
        if registration is not None:
            name, stat = registration
            before = self._stat.get(name)
            self._stat[name] = stat
            if self.dial is not None:
                self.dial.network_news()
            if stat in ("1", "5") and before not in ("1", "5"):
                self.context.emit(sv.Registered())
            return
        if re.match(r"\+CPIN:\s*READY", line):
            self.context.emit(sv.SimInserted())

    async def _dropped(self, cid: int) -> None:
        """The network ended a context: every bearer on it is down, with AT+CEER's reason."""
        reason = await self.calls.end_reason() if self.calls is not None else ""
        for bearer in [b for b in self.live.values() if b.id.pdn == cid]:
            self.context.emit(sv.CallDropped(bearer.id, "the network ended the %s call (context %d)%s" % (
                bearer.id, cid, ": %s" % reason if reason else "")))

    def _address_changed(self, family: int) -> None:
        for bearer in [b for b in self.live.values() if b.family == family]:
            self.context.emit(sv.AddressChanged(bearer.id))

    def _address_lost(self, family: int, reason: str) -> None:
        for bearer in [b for b in self.live.values() if b.family == family]:
            self.context.emit(sv.CallDropped(bearer.id, "%s: %s" % (bearer.id, reason)))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
