"""The SIM over AT: its state (AT+CPIN?), its tries (AT+QPINC), and the PIN, sent at most once.

A PIN goes through the same guard as over QMI (``connect.pin_guard``): recorded before it is
sent, never sent again once the SIM rejected it, and a PIN whose answer was lost counts as
rejected unless the SIM still shows as many tries as before.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Optional, Tuple

from ...at.readings import SIM_OF_CPIN
from ...connect import events as ev
from ...connect.pin_guard import PinGuard
from ...errors import ModemError, Recovery, SimAbsentError, SimError
from ...io.at_port import AtPort
from ...model import SimStatus
from ..base import BackendContext
from .answers import quoted

__all__ = ["AtSim", "CME_SIM_ABSENT"]

CME_SIM_ABSENT, CME_SIM_PIN, CME_SIM_PUK, CME_SIM_FAILURE, CME_SIM_BUSY, CME_WRONG_PIN = 10, 11, 12, 13, 14, 16


class AtSim:
    def __init__(self, port: AtPort, context: BackendContext, timeout: float) -> None:
        self.port = port
        self.context = context
        self.timeout = timeout
        self.pin_guard: PinGuard = context.pin_guard or PinGuard(None)

    async def status(self) -> SimStatus:
        answer = await self.port.command("AT+CPIN?", self.timeout, check=False)
        code = answer.error_code
        if code == CME_SIM_ABSENT:
            return SimStatus("absent", detail="+CME ERROR: 10")
        if code in (CME_SIM_BUSY,):
            return SimStatus("initializing", detail="SIM busy")
        if code == CME_SIM_FAILURE:
            return SimStatus("absent", detail="SIM failure")
        value = answer.value("+CPIN:")
        if not answer.ok or value is None:
            raise ModemError("AT+CPIN? answered %s" % answer.final)
        state = SIM_OF_CPIN.get(value.strip().upper(), "unknown (%s)" % value)
        pin, puk = await self._tries() if state != "ready" else (None, None)
        return SimStatus(state, pin, puk, value)

    async def _tries(self) -> Tuple[Optional[int], Optional[int]]:
        """PIN and PUK tries left (Quectel's AT+QPINC; other modules may not know it)."""
        answer = await self.port.command('AT+QPINC="SC"', self.timeout, check=False)
        match = re.search(r'"SC"\s*,\s*(\d+)\s*,\s*(\d+)', answer.value("+QPINC:") or "")
        return (int(match.group(1)), int(match.group(2))) if answer.ok and match else (None, None)

    async def ready(self) -> None:
        """Unlock the SIM if it needs its PIN and the user gave one; else explain what it needs."""
        sim = await self.status()
        report = self.context.report
        if sim.state == "ready":
            report(ev.SimReady("ready"))
        elif sim.state == "absent":
            raise SimAbsentError("no SIM card: the module sees no card (%s)" % sim.detail,
                                 "insert a SIM (contacts down, the right way round) and power-cycle the module")
        elif sim.state == "pin":
            await self._verify(sim.pin_retries)
        elif sim.state == "puk":
            raise SimError("the SIM is blocked and needs its PUK (%s tries left)" % _tries(sim.puk_retries),
                           "unblock it in a phone; qcm never enters PUKs, a wrong one can destroy the SIM")
        elif sim.state == "network-locked":
            raise SimError("the module is locked to another operator's SIMs (PH-SIM PIN)",
                           "ask the seller or that operator for the unlock code")
        elif sim.state == "initializing":
            raise SimError("the SIM is not ready yet (%s)" % sim.detail,
                           "wait for it to initialise; if it stays so, check it in a phone", Recovery.RETRY)
        else:
            raise SimError("the SIM is in an unexpected state: %s" % sim.detail, "check it with qcm doctor",
                           Recovery.RETRY)

    async def _verify(self, retries: Optional[int]) -> None:
        plan = self.context.plan
        pin = plan.pin
        if not pin:
            raise SimError("the SIM is locked with a PIN (%s tries left)" % _tries(retries),
                           "run again with -p PIN; qcm never guesses a PIN")
        sim, shown = await self._key()
        if plan.retry_rejected_pin:
            self.pin_guard.forget(sim)
        self.pin_guard.check(sim, pin, retries, shown)
        self.pin_guard.sending(sim, pin, retries)  # before it goes out: a lost answer still counts
        try:
            answer = await self.port.command("AT+CPIN=%s" % quoted("PIN", pin), self.timeout, check=False)
        except ModemError as exc:
            raise SimError("the SIM's answer to the PIN was lost (%s); not sending it again" % exc,
                           "check the PIN, then run qcm again: it sends the PIN again only if the SIM shows "
                           "that it never arrived") from None
        self.pin_guard.answered(sim, pin, answer.ok)
        if answer.ok:
            self.context.report(ev.SimReady("pin-verified"))
            await self._wait_ready()
            return
        left, _ = await self._tries()
        if answer.error_code == CME_SIM_PUK or left == 0:
            raise SimError("the SIM rejected the PIN and is now blocked: it needs its PUK",
                           "unblock it in a phone; qcm does not enter PUKs")
        raise SimError("the SIM rejected the PIN (%s, %s tries left); not retrying, now or in later runs" % (
            answer.final, _tries(left)), "check the PIN; every wrong try uses one up")

    async def _key(self) -> Tuple[str, str]:
        """Which SIM this is, for the PIN record: its ICCID if the module tells it before the PIN,
        else the module's IMEI; and how to show it."""
        personal = self.context.show_personal
        answer = await self.port.command("AT+QCCID", self.timeout, check=False)
        iccid = re.sub(r"\D", "", answer.value("+QCCID:") or "") if answer.ok else ""
        if iccid:
            return "iccid:" + iccid, iccid if personal else "ICCID ...%s" % iccid[-4:]
        answer = await self.port.command("AT+CGSN", self.timeout, check=False)
        imei = next((re.sub(r"\D", "", line) for line in answer.lines if re.search(r"\d{14}", line)), "") \
            if answer.ok else ""
        return "imei:" + imei, "in the module with IMEI %s" % (imei if personal else "###")

    async def _wait_ready(self, timeout: float = 10.0) -> None:
        """After the PIN the SIM needs a moment before AT+CPIN? says READY."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = await self.port.command("AT+CPIN?", self.timeout, check=False)
            if answer.ok and (answer.value("+CPIN:") or "").upper() == "READY":
                return
            await asyncio.sleep(0.2)


def _tries(count: Optional[int]) -> str:
    return "?" if count is None else str(count)
