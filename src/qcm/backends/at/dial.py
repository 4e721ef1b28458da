"""The dial sequence over AT, up to a registered module with its APN stored (Ethernet-style modes).

What quectel-CM's ``atc.c`` asks, in fewer commands: identity (ATI, AT+CGSN), which dial
commands the firmware has (AT+QCFG="usbnet" on EC2x, AT+QCFGEXT="usbnet" on BG95-class), the
SIM and its PIN (``sim.py``), the radio (AT+CFUN), registration URCs switched on
(AT+CGREG=2, AT+CEREG=2), the APN and credentials in the context (AT+QICSGP, else AT+CGDCONT),
and the registration (AT+CEREG?/AT+CGREG?/AT+CREG?, AT+CGATT?, AT+COPS?, AT+CSQ).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Optional, Tuple

from ...at import usbnet
from ...connect import events as ev
from ...errors import ModemError, RadioError, Recovery, RegistrationError
from ...io.at_port import AtPort
from ...model import ModemIdentity, Registration
from ..base import BackendContext
from . import answers
from .sim import AtSim

__all__ = ["AtDial", "POLL_INTERVAL"]

POLL_INTERVAL = 5.0
REGISTRATION = ("CEREG", "CGREG", "CREG")


class AtDial:
    def __init__(self, port: AtPort, context: BackendContext) -> None:
        self.port = port
        self.context = context
        self.plan = context.plan
        self.report = context.report
        self.timeout = context.request_timeout
        self.sim = AtSim(port, context, self.timeout)
        self.identity = ModemIdentity()
        self.registration: Optional[Registration] = None
        self.usbnet: Optional[str] = None
        self._network_news = asyncio.Event()

    async def command(self, text: str, check: bool = False, timeout: Optional[float] = None):  # type: ignore[no-untyped-def]
        return await self.port.command(text, timeout or self.timeout, check=check)

    async def together(self, *commands: str) -> Tuple[str, ...]:
        """The answer lines of several commands sent as one line (one round trip: ``AT+CEREG?;+CSQ``);
        one by one when the module refuses the line (an error in any part fails it all)."""
        answer = await self.command("AT" + ";".join(c[2:] for c in commands))
        if answer.ok:
            return answer.lines
        lines: Tuple[str, ...] = ()
        for command in commands:
            one = await self.command(command)
            lines += one.lines if one.ok else ()
        return lines

    def network_news(self) -> None:
        """A registration URC arrived: a waiting ``wait_registered`` looks again at once."""
        self._network_news.set()

    # ---------------------------------------------------------------- preparation

    async def prepare(self) -> Tuple[ModemIdentity, str]:
        """Identity, dial style, SIM and PIN, radio, registration URCs, APN; the identity and the style."""
        await self.command("ATE0")
        await self._identify()
        style = await self._style()
        await self.sim.ready()
        await self._radio_online()
        await self.together("AT+CGREG=2", "AT+CEREG=2")  # URCs on registration changes (+location: told apart)
        await self._profile()
        return self.identity, style

    async def _identify(self) -> None:
        lines = [line for line in await self.together("ATI", "AT+CGSN") if line.strip()]
        revision = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("revision")), "")
        imei = next((re.sub(r"\D", "", line) for line in lines if re.fullmatch(r"(\+CGSN:\s*)?\d{14,16}", line)), "")
        others = [line for line in lines if not line.lower().startswith("revision")
                  and not re.fullmatch(r"(\+CGSN:\s*)?\d{14,16}", line)]
        self.identity = ModemIdentity(others[0] if others else "", others[1] if len(others) > 1 else "",
                                      revision, imei)
        self.report(ev.Identified(self.identity))

    async def _style(self) -> str:
        """The firmware's dial commands, from which usbnet command it answers (as qcm usbnet reads it)."""
        for style, dial in (("qcfg", "qnetdevctl"), ("qcfgext", "qiact")):
            answer = await self.command(usbnet.QUERY[style])
            value = answer.value(usbnet.PREFIX[style]) if answer.ok else None
            if value is not None:
                self.usbnet = usbnet.mode_of(value)
                return dial
        return "cgact"

    async def _radio_online(self) -> None:
        answer = await self.command("AT+CFUN?")
        value = (answer.value("+CFUN:") or "").split(",")[0].strip() if answer.ok else ""
        if value == "1":
            self.report(ev.RadioOnline("online", False))
            return
        if value == "7":
            raise RadioError("the radio is offline (AT+CFUN? 7); it needs a reset to come back",
                             "power-cycle the module (or AT+CFUN=1,1) and check its firmware")
        turned = await self.command("AT+CFUN=1", timeout=max(self.timeout, 15.0))
        if not turned.ok:
            raise RadioError("the radio is off (AT+CFUN? %s) and the module refused to turn it on (%s)" % (
                value or "?", turned.final), "a hardware line (W_DISABLE#) may hold it off; see qcm doctor")
        self.report(ev.RadioOnline("cfun-%s" % (value or "?"), True))

    async def _profile(self) -> None:
        """The APN and credentials in the context the call uses (what quectel-CM's -s does)."""
        plan = self.plan
        if plan.apn is None:
            return
        cid = plan.profile
        kind = answers.PDP_TYPES[plan.pdp_type]
        auth = answers.AUTH_NUMBERS[tuple(plan.auth_flags)]
        wanted = (kind, plan.apn, plan.username, plan.password, auth)
        line = "AT+QICSGP=%d,%d,%s,%s,%s,%d" % (cid, kind, answers.quoted("APN", plan.apn),
                                                answers.quoted("user name", plan.username),
                                                answers.quoted("password", plan.password), auth)
        current = await self.command("AT+QICSGP=%d" % cid)
        stored = answers.qicsgp(current.lines) if current.ok else None
        shown = ",".join(plan.auth_flags) or "none"
        if current.ok:  # AT+QICSGP is there (an answer we cannot read is rewritten)
            changed = False
            if stored != wanted and plan.write_profile:
                changed = (await self.command(line)).ok
                if not changed:
                    self.report(ev.Notice("cannot store the APN in context %d; using what it holds" % cid, True))
            self.report(ev.ProfileChecked(cid, plan.apn, plan.username, shown, plan.pdp_type, changed))
            return
        # Without AT+QICSGP: the 3GPP context definition (no credentials: AT+CGAUTH is not universal).
        define = 'AT+CGDCONT=%d,"%s",%s' % (cid, answers.CGDCONT_TYPES[plan.pdp_type],
                                            answers.quoted("APN", plan.apn))
        changed = (await self.command(define)).ok
        if plan.username or plan.password:
            self.report(ev.Notice("this module has no AT+QICSGP: the user name and password are not sent", True))
        self.report(ev.ProfileChecked(cid, plan.apn, plan.username, shown, plan.pdp_type, changed, supported=changed))

    # ---------------------------------------------------------------- registration

    async def read_registration(self) -> Registration:
        lines = await self.together(*("AT+%s?" % name for name in REGISTRATION), "AT+CGATT?", "AT+COPS?", "AT+CSQ")

        def value(prefix: str) -> Optional[str]:
            return next((line[len(prefix):].strip() for line in lines if line.startswith(prefix)), None)
        stats = [answers.registration_stat(lines, name) for name in REGISTRATION]
        self.registration = answers.registration(stats, value("+CGATT:"), value("+COPS:"), value("+CSQ:"))
        return self.registration

    async def wait_registered(self) -> Registration:
        """Until registered and attached for packet data, showing what it waits for."""
        timeout = self.plan.register_timeout
        start = time.monotonic()
        last_shown: Optional[Tuple[str, str, bool]] = None
        last_time = 0.0
        while True:
            self._network_news.clear()
            registration = await self.read_registration()
            if registration.registered and registration.ps_attached:
                self.report(ev.Registered(registration))
                return registration
            elapsed = time.monotonic() - start
            key = (registration.state, registration.rat, registration.ps_attached)
            if key != last_shown or elapsed - last_time >= 10:
                self.report(ev.Waiting(registration, elapsed))
                last_shown, last_time = key, elapsed
            if elapsed >= timeout:
                raise _registration_error(registration, elapsed)
            try:
                await asyncio.wait_for(self._network_news.wait(), max(0.05, min(POLL_INTERVAL, timeout - elapsed)))
            except asyncio.TimeoutError:
                pass

    async def radio_cycle(self) -> None:
        """Recovery rung: radio off and on again (AT+CFUN=0, then 1)."""
        await self.port.command("AT+CFUN=0", max(self.timeout, 15.0))
        await asyncio.sleep(1.0)
        answer = await self.port.command("AT+CFUN=1", max(self.timeout, 15.0), check=False)
        if not answer.ok:
            raise ModemError("the radio did not come back on after AT+CFUN=0 (AT+CFUN=1: %s)" % answer.final)


def _registration_error(registration: Registration, elapsed: float) -> RegistrationError:
    text = "no packet service after %.0f s: %s" % (elapsed, registration.describe())
    if registration.state == "registration-denied":
        return RegistrationError(text, "the network refuses this SIM: check that it is activated for data and "
                                 "allowed to roam here", Recovery.WAIT_FOR_NETWORK)
    return RegistrationError(text, "check the antenna, that the module's bands and firmware match this region "
                             "(qcm doctor), and that the SIM is activated; try again outdoors or near a window")
