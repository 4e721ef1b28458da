"""``qcm connect``: find the module, dial, configure the host, hold the connection, tear down.

The manager owns the order of things and the clean-up: whatever was done (clients allocated,
calls started, addresses and routes and DNS set) is undone on every exit path — success
followed by SIGINT/SIGTERM or ``qcm disconnect``, a failure half-way, a call the network ends,
a modem that vanishes. ``--once`` stops after configuring and leaves the call up, with a
state file for ``qcm disconnect``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..discovery import Modem, scan, select
from ..errors import CallRejectedError, ModemError, NoModemError, QcmError, UsageError
from ..io.control import ControlServer, NotRunning, ask, socket_path
from ..io.qmi_port import QmiPort
from ..qmi.message import Message
from . import events as ev
from .dial import Bearer, Dialer, DialPlan, family_role
from .host import Applied, Host, HostOptions
from .session import ModemSession
from .state import CallRecord, SavedConnection, state_path

__all__ = ["ConnectOptions", "Manager", "disconnect"]

log = logging.getLogger("qcm.connect")


@dataclass(frozen=True)
class ConnectOptions:
    plan: DialPlan = field(default_factory=DialPlan)
    host: HostOptions = field(default_factory=HostOptions)
    interface: Optional[str] = None
    control: Optional[str] = None
    usb_path: Optional[str] = None
    imei: Optional[str] = None
    sysfs: Path = Path("/sys")
    dev: Path = Path("/dev")
    run_dir: Path = Path("/run/qcm")
    once: bool = False
    request_timeout: float = 10.0
    show_personal: bool = False
    first_found: bool = False           # quectel-CM picks the first module when several are present


class Stop(Exception):
    """Why the manager stops holding the connection."""

    def __init__(self, reason: str, error: Optional[QcmError] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class Manager:
    def __init__(self, options: ConnectOptions, report: ev.Reporter) -> None:
        self.options = options
        self.report = report
        self.modem: Optional[Modem] = None
        self.port: Optional[QmiPort] = None
        self.session: Optional[ModemSession] = None
        self.dialer: Optional[Dialer] = None
        self.host: Optional[Host] = None
        self.bearers: List[Bearer] = []
        self.applied: Optional[Applied] = None
        self.control: Optional[ControlServer] = None
        self.started = time.monotonic()
        self.connected_at: Optional[float] = None
        self._stop: Optional["asyncio.Future[Stop]"] = None
        self._keep_call = False

    # ---------------------------------------------------------------- entry

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = loop.create_future()
        main = asyncio.ensure_future(self._connect_and_hold())
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum, main)
        try:
            return await main
        except asyncio.CancelledError:
            self.report(ev.Notice("interrupted before the connection was up"))
            return 130
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await self._teardown()

    def _on_signal(self, signum: int, main: "asyncio.Future[int]") -> None:
        name = signal.Signals(signum).name
        if self.connected_at is None:
            main.cancel()  # still dialing: abandon it, the teardown undoes what was done
        else:
            self.request_stop(Stop("stopped by %s" % name))

    def request_stop(self, stop: Stop) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(stop)

    # ---------------------------------------------------------------- the job

    async def _connect_and_hold(self) -> int:
        options = self.options
        self.modem = modem = await self._find_modem()
        if modem.mode != "qmi":
            raise UsageError("%s works in %s mode; qcm connect speaks QMI only so far" % (modem.usb_path, modem.mode),
                             "switch the module to QMI (AT+QCFG=\"usbnet\",0) or see qcm doctor")
        if not modem.control or not modem.netdev:
            raise NoModemError("%s has no %s" % (modem.usb_path, "control port" if not modem.control else
                                                  "network interface"))
        self.report(ev.ModemFound(modem.describe(), modem.usb_path, modem.usb_id, modem.control, modem.netdev,
                                  modem.driver, modem.driver_version, modem.mode))
        if not options.once:
            self.control = ControlServer(socket_path(options.run_dir, modem.netdev), self._on_control)
            await self.control.start()
        self.port = await QmiPort(modem.control, show_personal=options.show_personal).open()
        self.port.on_lost(lambda reason: self.request_stop(Stop("the control port %s" % reason, ModemError(
            "the modem's control port %s" % reason, "the module reset or was unplugged"))))
        self.session = ModemSession(self.port, options.request_timeout)
        self.host = Host(modem.netdev, modem.raw_ip_path, options.host)
        self.dialer = dialer = Dialer(self.session, options.plan, self.report, self.host)
        await dialer.open_clients()
        await dialer.prepare()
        await dialer.wait_registered()
        self.bearers = await dialer.start_all()
        self.applied = self.host.configure(self.bearers)
        self.report(ev.HostConfigured(modem.netdev, tuple(b.settings for b in self.bearers),
                                      tuple(self.applied.describe_routes()),
                                      _describe_dns(self.applied)))
        self.connected_at = time.monotonic()
        self.report(ev.Connected(modem.netdev, tuple(b.family for b in self.bearers),
                                 self.connected_at - self.started))
        if options.once:
            self._save_for_disconnect()
            return 0
        self.port.on_indication(self._on_indication)
        stop = await self._stop  # type: ignore[misc]
        self.report(ev.Disconnecting(stop.reason))
        if stop.error is not None:
            raise stop.error
        return 0

    async def _find_modem(self) -> Modem:
        options = self.options
        modems = scan(options.sysfs, options.dev)
        if options.imei:
            candidates = [m for m in modems if m.mode == "qmi" and m.control]
            for candidate in candidates:
                if await _imei_of(candidate) == options.imei:
                    return candidate
            raise NoModemError("no module with IMEI %s among %d QMI module(s)" % (options.imei, len(candidates)))
        return select(modems, options.interface, options.control, options.usb_path,
                      require_single=not options.first_found)

    # ---------------------------------------------------------------- while connected

    def _on_indication(self, message: Message) -> None:
        if message.service_name != "WDS" or message.name != "Packet Service Status":
            return
        bearer = next((b for b in self.bearers if b.cid == message.client_id), None)
        status = message.get("connection_status") or {}
        if bearer is None or getattr(status.get("status"), "name", "") != "disconnected":
            return
        reason = message.get("call_end_reason")
        text = "the network ended the IPv%d call%s" % (
            bearer.family, ": %s (%d)" % (reason.name, int(reason)) if reason is not None else "")
        self.bearers.remove(bearer)
        self.request_stop(Stop(text, CallRejectedError(text)))

    async def _on_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        command = request.get("command")
        if command == "status":
            return {"ok": True, "status": self.status()}
        if command == "disconnect":
            self.request_stop(Stop("qcm disconnect"))
            return {"ok": True}
        return {"ok": False, "error": "unknown command %r" % command}

    def status(self) -> Dict[str, Any]:
        modem = self.modem
        identity = self.dialer.identity if self.dialer else None
        return {
            "netdev": modem.netdev if modem else None,
            "control": modem.control if modem else None,
            "model": identity.model if identity else "",
            "revision": identity.revision if identity else "",
            "state": "connected" if self.connected_at else "connecting",
            "profile": self.options.plan.profile,
            "uptime": round(time.monotonic() - self.connected_at, 1) if self.connected_at else 0,
            "calls": [{"family": b.family, "address": str(b.settings.address),
                       "gateway": str(b.settings.gateway) if b.settings.gateway else None,
                       "dns": [str(d) for d in b.settings.dns], "mtu": b.settings.mtu} for b in self.bearers],
        }

    # ---------------------------------------------------------------- --once

    def _save_for_disconnect(self) -> None:
        assert self.modem is not None and self.session is not None and self.modem.control and self.modem.netdev
        calls = [CallRecord(b.family, self.session.keep(("WDS", family_role(b.family))), b.handle)
                 for b in self.bearers]
        self.options.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        SavedConnection(self.modem.control, self.modem.netdev, calls, self.applied).save(
            state_path(self.options.run_dir, self.modem.netdev))
        self._keep_call = True

    # ---------------------------------------------------------------- teardown

    async def _teardown(self) -> None:
        """Undo everything done so far; each step bounded, none allowed to stop the others."""
        details: List[str] = []
        if not self._keep_call:
            if self.dialer is not None and self.port is not None and self.port.is_open:
                for bearer in list(self.bearers):
                    await self.dialer.stop(bearer)
                    details.append("IPv%d call stopped" % bearer.family)
            if self.host is not None and self.applied is not None:
                details.extend(self.host.unconfigure(self.applied))
                details.append("%s unconfigured" % self.host.netdev)
        if self.session is not None:
            await self.session.close()
        if self.port is not None:
            self.port.close()
        if self.control is not None:
            await self.control.close()
        if self.connected_at is not None and not self._keep_call:
            self.report(ev.Disconnected(details))


async def _imei_of(modem: Modem) -> str:
    port = await QmiPort(modem.control).open()  # type: ignore[arg-type]
    session = ModemSession(port, 3.0)
    try:
        await session.allocate([("DMS", "main")])
        return str((await session.request("DMS", "Get IDs")).get("imei", ""))
    except QcmError:
        return ""
    finally:
        await session.close()
        port.close()


def _describe_dns(applied: Applied) -> str:
    if applied.dns is None:
        return "unchanged"
    return "%s via %s" % (", ".join(applied.dns.servers), applied.dns.method if applied.dns.method == "resolvconf"
                          else applied.dns.target)


# ---------------------------------------------------------------------- disconnect

async def disconnect(netdev: str, run_dir: Path, report: ev.Reporter) -> int:
    """Stop the manager holding ``netdev``, or undo what ``connect --once`` left."""
    try:
        reply = await asyncio.get_running_loop().run_in_executor(
            None, ask, socket_path(run_dir, netdev), {"command": "disconnect"})
        if not reply.get("ok"):
            raise QcmError("the manager refused: %s" % reply.get("error"))
        await _wait_gone(socket_path(run_dir, netdev))
        report(ev.Notice("the manager of %s disconnected" % netdev))
        return 0
    except NotRunning:
        pass
    path = state_path(run_dir, netdev)
    if not path.exists():
        raise NotRunning("no qcm connection on %s (no manager running, no state in %s)" % (netdev, run_dir))
    saved = SavedConnection.load(path)
    details: List[str] = []
    try:
        port = await QmiPort(saved.control).open()
    except ModemError as exc:
        details.append("modem not reachable (%s): its calls ended with it" % exc)
        port = None
    if port is not None:
        try:
            for call in saved.calls:
                await port.request("WDS", "Stop Network", {"packet_data_handle": call.handle}, call.cid,
                                   timeout=3.0, check=False)
                await port.request("CTL", "Release CID", {"release_info": {"service": "wds", "cid": call.cid}},
                                   timeout=3.0, check=False)
                details.append("IPv%d call stopped" % call.family)
        except QcmError as exc:
            details.append("modem: %s" % exc)
        finally:
            port.close()
    if saved.applied is not None:
        details.extend(Host(saved.netdev, None).unconfigure(saved.applied))
        details.append("%s unconfigured" % saved.netdev)
    path.unlink()
    report(ev.Disconnected(details))
    return 0


async def _wait_gone(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
