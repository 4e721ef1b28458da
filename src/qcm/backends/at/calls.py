"""Starting, watching and ending a PDP context over AT, the way each firmware family expects.

* ``qnetdevctl``: EC2x/EG2x/EM/RM firmware (AT+QCFG="usbnet"): ``AT+QNETDEVCTL=<cid>,1,1`` asks for
  the call and for ``+QNETDEVSTATUS: <cid>,<0|1>,"IPV4"`` URCs; ``AT+QNETDEVSTATUS=<cid>`` answers
  the address while it is up and ERROR when not (what quectel-CM polls); ``AT+QNETDEVCTL=<cid>,0,0``
  ends it.
* ``qiact``: BG95/BG77/BG600L firmware (AT+QCFGEXT): ``AT+QIACT=<cid>`` answers once the context
  is active, ``AT+QIACT?`` lists active ones, ``AT+QIDEACT=<cid>`` ends it, and the network's end
  comes as ``+QIURC: "pdpdeact",<cid>``.
* ``cgact``: anything else, 3GPP's ``AT+CGACT=<1|0>,<cid>`` and ``AT+CGACT?``.

A call the firmware refuses says why in ``AT+CEER``, which becomes the error's text.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Callable, Dict, Optional

from ...errors import CallRejectedError, ModemError, Recovery
from ...io.at_port import AtPort
from . import answers

__all__ = ["Calls", "STYLES", "ACTIVATE"]

STYLES = ("qnetdevctl", "qiact", "cgact")
ACTIVATE = {"qnetdevctl": "AT+QNETDEVCTL=%d,1,1", "qiact": "AT+QIACT=%d", "cgact": "AT+CGACT=1,%d"}
DEACTIVATE = {"qnetdevctl": "AT+QNETDEVCTL=%d,0,0", "qiact": "AT+QIDEACT=%d", "cgact": "AT+CGACT=0,%d"}
CME_NO_SERVICE = 30
STATUS_POLL = 1.0  # quectel-CM polls AT+QNETDEVSTATUS once a second; the URC usually comes first


class Calls:
    def __init__(self, port: AtPort, timeout: float, style: str = "cgact",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self.timeout = timeout
        self.style = style
        self.clock = clock
        self._came_up: Dict[int, asyncio.Event] = {}

    def news(self, news: answers.CallNews) -> None:
        """A URC said a context came up: wake whoever waits for it."""
        if news.up:
            self._event(news.cid).set()

    def _event(self, cid: int) -> asyncio.Event:
        if cid not in self._came_up:
            self._came_up[cid] = asyncio.Event()
        return self._came_up[cid]

    async def address(self, cid: int) -> Optional[ipaddress.IPv4Address]:
        """The context's IPv4 address while it is active (0.0.0.0 if active without one); None if not."""
        if self.style == "qnetdevctl":
            answer = await self.port.command("AT+QNETDEVSTATUS=%d" % cid, self.timeout, check=False)
            return answers.qnetdevstatus_address(answer.lines) if answer.ok else None
        if self.style == "qiact":
            answer = await self.port.command("AT+QIACT?", self.timeout, check=False)
            return answers.qiact_address(answer.lines, cid) if answer.ok else None
        answer = await self.port.command("AT+CGACT?", self.timeout, check=False)
        if not answer.ok or not answers.cgact_active(answer.lines, cid):
            return None
        paddr = await self.port.command("AT+CGPADDR=%d" % cid, self.timeout, check=False)
        return answers.cgpaddr_address(paddr.lines, cid) or ipaddress.IPv4Address("0.0.0.0")

    async def activate(self, cid: int, timeout: float) -> ipaddress.IPv4Address:
        """Start the context and wait until the firmware says it is up; its address (as the modem
        knows it: in NAT mode the host gets another one by DHCP)."""
        came_up = self._event(cid)
        came_up.clear()
        command = ACTIVATE[self.style] % cid
        answer = await self.port.command(command, timeout, check=False)
        if not answer.ok:
            raise await self.rejected(cid, command, answer.final, answer.error_code)
        deadline = self.clock() + timeout
        while True:
            address = await self.address(cid)
            if address is not None:
                return address
            left = deadline - self.clock()
            if left <= 0:
                raise await self.rejected(cid, command, "not up after %.0f s" % timeout, None)
            try:
                await asyncio.wait_for(came_up.wait(), min(STATUS_POLL, left))
            except asyncio.TimeoutError:
                pass
            came_up.clear()

    async def deactivate(self, cid: int) -> bool:
        try:
            answer = await self.port.command(DEACTIVATE[self.style] % cid, min(self.timeout, 10.0), check=False)
        except ModemError:
            return False
        return answer.ok

    async def end_reason(self) -> str:
        """What AT+CEER says about the last call end ("" if nothing, or if it cannot be asked)."""
        try:
            answer = await self.port.command("AT+CEER", min(self.timeout, 3.0), check=False)
        except ModemError:
            return ""
        return answers.ceer_text(answer.lines) if answer.ok else ""

    async def rejected(self, cid: int, command: str, final: str, code: Optional[int]) -> CallRejectedError:
        reason = await self.end_reason()
        text = "the network refused the call on context %d (%s: %s%s)" % (
            cid, command, final, "; AT+CEER: %s" % reason if reason else "")
        if code == CME_NO_SERVICE:
            return CallRejectedError(text, "the module has no service: check the antenna and the registration",
                                     Recovery.WAIT_FOR_NETWORK)
        return CallRejectedError(text, "check the APN, user name and password with the operator (-s APN USER PASS)")
