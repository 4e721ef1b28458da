"""``qcm connect``: find the module, dial, configure the host, keep it up, tear down.

The decisions (when to redial, which recovery rung, when to give up) are the pure
``Supervisor``'s; this module carries out its actions and feeds it events: indications from
the modem (a call ended, the address changed, the network or the SIM came back), the control
port vanishing, the module coming back, failed probes, the safety-net poll, and requests on
the control socket. Whatever was done is undone on every exit path. ``--once`` dials, configures
and exits, leaving the call up with a state file for ``qcm disconnect``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..discovery import Modem, scan, select
from ..errors import (CallRejectedError, ModemError, NoModemError, PermissionProblem, PortBusyError, QcmError,
                      RegistrationError, SimAbsentError, SimError, UsageError)
from ..io.files import write_atomic
from ..io.control import ControlServer, NotRunning, ask, prepare_run_dir, socket_path
from ..io.lock import ModuleLock
from ..io.notify import Notifier
from ..io.procfs import port_holders
from ..io.probe import Probe, run_probe
from ..io.qmi_port import QmiPort, RequestTimeout
from ..qmi.message import Message
from . import events as ev
from . import supervisor as sv
from .dial import Bearer, Dialer, DialPlan, card_state_of, family_role
from .host import Host, HostOptions
from .metrics import render as render_metrics
from .pin_guard import PinGuard
from .session import ModemSession
from .state import CallRecord, SavedConnection, state_path

__all__ = ["ConnectOptions", "Manager", "disconnect"]

log = logging.getLogger("qcm.connect")

STOP_TIMEOUT = 15.0        # the whole teardown on SIGTERM, even with a modem that stopped answering
MODEM_POLL = 0.25          # how often sysfs is checked for a module that went away


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
    state_dir: Optional[Path] = Path("/var/lib/qcm")  # what must survive a reboot (rejected PINs)
    once: bool = False
    request_timeout: float = 10.0
    show_personal: bool = False
    first_found: bool = False           # quectel-CM picks the first module when several are present
    policy: sv.Policy = field(default_factory=sv.Policy)
    poll_interval: float = 60.0         # safety net behind the indications
    probes: Tuple[Probe, ...] = ()
    probe_interval: float = 30.0
    probe_failures: int = 3
    metrics_file: Optional[Path] = None
    rebind_first: bool = False          # quectel-CM -r: re-bind the driver before the first attempt


class Manager:
    def __init__(self, options: ConnectOptions, report: ev.Reporter, notifier: Optional[Notifier] = None) -> None:
        self.options = options
        self._reporter = report
        self.notifier = notifier or Notifier()
        self.modem: Optional[Modem] = None
        self.port: Optional[QmiPort] = None
        self.session: Optional[ModemSession] = None
        self.dialer: Optional[Dialer] = None
        self.host: Optional[Host] = None
        self.bearers: Dict[int, Bearer] = {}
        self.control: Optional[ControlServer] = None
        self.supervisor = sv.Supervisor(frozenset(options.plan.families), options.policy)
        self.started = time.monotonic()
        self.connected_at: Optional[float] = None
        self.down_since: Optional[float] = None
        self.events: "asyncio.Queue[Any]" = asyncio.Queue()
        self.prepared = False
        self.pin_guard = PinGuard(options.state_dir / "pin" if options.state_dir else None)
        self.lock: Optional[ModuleLock] = None
        self.sim_state = "unknown"
        self._supervising = False
        self._stopped_by: Optional[int] = None
        self._exit: Optional[int] = None
        self._tasks: Dict[str, "asyncio.Task[Any]"] = {}
        self._keep_call = False

    def report(self, event: ev.Event) -> None:
        """Tell the user; a broken stdout or a full log disk must not stop the connection."""
        try:
            self._reporter(event)
        except (OSError, ValueError) as exc:
            log.warning("cannot report progress: %s", exc)

    # ================================================================ entry

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.events = asyncio.Queue()  # bound to the running loop (Python 3.9)
        main = asyncio.ensure_future(self._once() if self.options.once else self._supervise())
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum, main)
        try:
            return await main
        except asyncio.CancelledError:
            if self._stopped_by == signal.SIGTERM:
                return 0  # a service asked to stop is not a failure, connected or not
            self.report(ev.Notice("interrupted before the connection was up"))
            return 130
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            self.notifier.stopping()
            teardown = asyncio.ensure_future(self._teardown())
            done, _ = await asyncio.wait([teardown], timeout=STOP_TIMEOUT)
            if not done:
                teardown.cancel()
                log.warning("teardown took longer than %.0f s; leaving the rest", STOP_TIMEOUT)
            self.notifier.close()

    def _on_signal(self, signum: int, main: "asyncio.Future[int]") -> None:
        name = signal.Signals(signum).name
        # SIGTERM asks a service to stop (exit 0 once torn down). SIGINT before the first
        # connection means the user gave up waiting (exit 130). Either way the teardown runs.
        self._stopped_by = signum
        interrupted = signum == signal.SIGINT and not self.supervisor.ever_connected
        if self.options.once or interrupted or not self._supervising:
            main.cancel()
        else:
            self.events.put_nowait(sv.StopRequested("stopped by %s" % name))

    # ================================================================ --once

    async def _once(self) -> int:
        self.modem = await self._find_modem(wait=False)
        self._found()
        self._claim()
        families = frozenset(self.options.plan.families)
        await self._bring_up(families, sv.REBIND if self.options.rebind_first else sv.REDIAL)
        self._connected(families)
        self._save_for_disconnect()
        return 0

    # ================================================================ supervised

    async def _supervise(self) -> int:
        self.modem = await self._find_modem(wait=True)
        self._found()
        self._claim()
        control = ControlServer(socket_path(self.options.run_dir, self.modem.netdev or "wwan"), self._on_control)
        await control.start()
        self.control = control  # only once it is ours: the teardown removes it
        first = self.supervisor.start(time.monotonic())
        if self.options.rebind_first:
            first = [sv.Connect(a.families, sv.REBIND) if isinstance(a, sv.Connect) else a for a in first]
        self._execute(first)
        self._start_background()
        self._supervising = True
        while self._exit is None:
            timeout = None
            deadline = self.supervisor.timer()
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())
            try:
                event = await asyncio.wait_for(self.events.get(), timeout)
            except asyncio.TimeoutError:
                self._execute(self.supervisor.on_timer(time.monotonic()))
                continue
            self._handle(event)
        return self._exit

    def _handle(self, event: Any) -> None:
        before = self.supervisor.state
        if isinstance(event, (sv.CallDropped, sv.ProbeFailed, sv.ModemLost, sv.ModemUnresponsive)) \
                and self.down_since is None:
            self.down_since = time.monotonic()
        actions = self.supervisor.handle(event, time.monotonic())
        if isinstance(event, sv.Connected) and self.supervisor.state == sv.CONNECTED and before != sv.CONNECTED:
            self._connected(frozenset(self.bearers))
        elif isinstance(event, sv.ConnectFailed) and not event.fatal:
            wait = max(0.0, (self.supervisor.timer() or time.monotonic()) - time.monotonic())
            self.report(ev.Notice("%s; next attempt in %.0f s" % (event.reason, wait), True))
            self.notifier.status("retrying: %s" % event.reason)
        elif isinstance(event, sv.ConnectFailed):
            self.report(ev.Notice(event.reason, True))
        self._execute(actions)
        self._write_metrics()

    def _execute(self, actions: List[Any]) -> None:
        exiting = any(isinstance(a, sv.Exit) for a in actions)
        for action in actions:
            if exiting and isinstance(action, sv.Disconnect):
                continue  # the teardown that follows the exit takes everything down
            if isinstance(action, sv.Connect):
                self._spawn("connect", self._connect_task(action))
            elif isinstance(action, sv.Disconnect):
                self._spawn("disconnect-%s" % sorted(action.families), self._disconnect(action))
            elif isinstance(action, sv.Refresh):
                self._spawn("refresh-%d" % action.family, self._refresh(action.family))
            elif isinstance(action, sv.Exit):
                if action.status == 0:
                    self.report(ev.Disconnecting(self.supervisor.last_error if self.supervisor.state != sv.STOPPING
                                                 else "stop requested"))
                self._exit = action.status

    def _spawn(self, name: str, coroutine: Any) -> None:
        old = self._tasks.get(name)
        if old is not None and not old.done():
            old.cancel()
        task = asyncio.ensure_future(coroutine)
        self._tasks[name] = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("internal error in a background task", exc_info=task.exception())

    async def _connect_task(self, action: sv.Connect) -> None:
        try:
            await self._bring_up(action.families, action.rung)
        except asyncio.CancelledError:
            raise
        except QcmError as exc:
            self.prepared = False  # look at SIM, radio and data format again next time
            self.sim_state = "absent" if isinstance(exc, SimAbsentError) else self.sim_state
            self.events.put_nowait(_failure(exc))
            return
        except Exception as exc:  # a bug: report it, keep supervising
            log.exception("connect attempt failed unexpectedly")
            self.events.put_nowait(sv.ConnectFailed("internal error: %s" % exc, kind="modem"))
            return
        self.sim_state = "ready"
        if action.rung != sv.REDIAL:
            self.report(ev.Notice("connection restored by %s" % sv.describe_rung(action.rung)))
        self.events.put_nowait(sv.Connected(action.families))

    # ================================================================ bringing families up

    async def _bring_up(self, families: "frozenset[int]", rung: str) -> None:
        assert self.modem is not None
        if rung == sv.REBIND:
            await self._rebind_driver()
        if rung in (sv.REOPEN, sv.REBIND) or self.port is None or not self.port.is_open:
            await self._open_session()
        assert self.dialer is not None
        if rung == sv.RADIO:
            await self.dialer.radio_cycle()
            self.prepared = False
        if not self.prepared:
            await self.dialer.prepare()
            self.prepared = True
        await self.dialer.wait_registered()
        started = await asyncio.gather(*(self.dialer.start(f) for f in sorted(families)), return_exceptions=True)
        errors = [r for r in started if isinstance(r, BaseException)]
        for bearer in started:
            if isinstance(bearer, Bearer):
                self.bearers[bearer.family] = bearer
        if errors:
            for family in families:
                bearer = self.bearers.pop(family, None)
                if bearer is not None:
                    await self.dialer.stop(bearer)
            raise errors[0]
        assert self.host is not None
        applied = self.host.sync(list(self.bearers.values()))
        self.report(ev.HostConfigured(self.host.netdev, tuple(b.settings for b in self.bearers.values()),
                                      tuple(applied.describe_routes()), _describe_dns(applied)))

    async def _open_session(self) -> None:
        """(Re)open the control port with fresh client ids: after a reset, or when it stopped answering."""
        await self._close_session()
        modem = self.modem
        assert modem is not None and modem.control and modem.netdev
        self.port = await QmiPort(modem.control, show_personal=self.options.show_personal).open()
        port = self.port
        port.on_lost(lambda reason: self.events.put_nowait(sv.ModemLost("the control port %s" % reason))
                     if port is self.port else None)
        port.on_indication(self._on_indication)
        self.session = ModemSession(port, self.options.request_timeout)
        self.host = self.host if self.host is not None and self.host.netdev == modem.netdev else \
            Host(modem.netdev, modem.raw_ip_path, self.options.host)
        self.dialer = Dialer(self.session, self.options.plan, self.report, self.host, self.pin_guard)
        self.prepared = False
        await self.dialer.open_clients()

    async def _close_session(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.port is not None:
            self.port.close()
        self.port = self.session = self.dialer = None
        self.prepared = False

    async def _rebind_driver(self) -> None:
        """Unbind and bind the module's network interface driver, as quectel-CM's -r does."""
        modem = self.modem
        assert modem is not None
        driver_dir = Path(modem.sysfs_root) / "bus" / "usb" / "drivers" / modem.driver
        interface = "%s:1.%d" % (modem.usb_path, modem.interface or 0)
        await self._close_session()
        self.report(ev.Notice("re-binding %s to %s" % (interface, modem.driver), True))
        try:
            (driver_dir / "unbind").write_text(interface)
        except OSError as exc:
            raise ModemError("cannot unbind %s: %s" % (interface, exc.strerror)) from None
        try:
            await asyncio.sleep(1.0)
        finally:  # even when stopped meanwhile: never leave the module unbound
            try:
                (driver_dir / "bind").write_text(interface)
            except OSError as exc:
                log.warning("cannot bind %s again: %s", interface, exc.strerror)
        self.modem = await self._wait_for_modem(timeout=30.0)

    # ================================================================ events from the modem

    def _on_indication(self, message: Message) -> None:
        service, name = message.service_name, message.name
        if service == "WDS" and name == "Packet Service Status":
            bearer = next((b for b in self.bearers.values() if b.cid == message.client_id), None)
            if bearer is None:
                return
            status = message.get("connection_status") or {}
            state = getattr(status.get("status"), "name", "")
            if state == "disconnected":
                reason = message.get("call_end_reason")
                text = "the network ended the IPv%d call%s" % (
                    bearer.family, ": %s (%d)" % (reason.name, int(reason)) if reason is not None else "")
                self.events.put_nowait(sv.CallDropped(bearer.family, text))
            elif state == "connected" and status.get("reconfiguration_required"):
                self.events.put_nowait(sv.AddressChanged(bearer.family))
        elif service == "NAS" and name == "Serving System":
            serving = message.get("serving_system") or {}
            if getattr(serving.get("ps_attach_state"), "name", "") == "attached":
                self.events.put_nowait(sv.Registered())
        elif service == "UIM" and name == "Card Status":
            if card_state_of(message) == "present":
                self.events.put_nowait(sv.SimInserted())

    async def _disconnect(self, action: sv.Disconnect) -> None:
        families = [f for f in action.families if f in self.bearers]
        dropped = [self.bearers.pop(f) for f in families]
        if action.modem_gone:
            self.bearers.clear()
            await self._close_session()
            if self.host is not None:
                self.host.clear()
            self._spawn("wait-modem", self._wait_modem_back())
            return
        if self.dialer is not None and self.port is not None and self.port.is_open:
            for bearer in dropped:
                await self.dialer.stop(bearer)  # harmless if the network already ended it
        if self.host is not None:
            try:
                self.host.sync(list(self.bearers.values()))
            except QcmError as exc:
                log.warning("host update after a drop: %s", exc)

    async def _refresh(self, family: int) -> None:
        bearer = self.bearers.get(family)
        if bearer is None or self.dialer is None or self.host is None:
            return
        try:
            settings = await self.dialer.settings(family)
        except QcmError as exc:
            self.events.put_nowait(sv.CallDropped(family, "IPv%d settings unreadable: %s" % (family, exc)))
            return
        if settings != bearer.settings:
            self.report(ev.Notice("IPv%d address changed: %s -> %s" % (family, bearer.settings.address,
                                                                        settings.address)))
            self.bearers[family] = Bearer(family, bearer.cid, bearer.handle, settings, bearer.started)
            try:
                self.host.sync(list(self.bearers.values()))
            except QcmError as exc:
                self.events.put_nowait(sv.CallDropped(family, "IPv%d: the host could not follow the new address: %s"
                                                      % (family, exc)))

    async def _wait_modem_back(self) -> None:
        self.report(ev.Notice("the module went away; waiting for it to come back", True))
        self.notifier.status("waiting for the module to come back")
        self.modem = await self._wait_for_modem(timeout=None)
        self.report(ev.Notice("the module is back: %s" % self.modem.describe()))
        self.events.put_nowait(sv.ModemBack())

    async def _wait_for_modem(self, timeout: Optional[float]) -> Modem:
        """The same module with its control port and interface present: same USB path, or, when
        it was chosen by IMEI, the same IMEI wherever it was plugged in again."""
        assert self.modem is not None
        wanted = self.modem.usb_path
        deadline = None if timeout is None else time.monotonic() + timeout
        asked: Dict[Tuple[str, str], str] = {}  # each appearance of a module is asked its IMEI once
        while True:
            for modem in scan(self.options.sysfs, self.options.dev):
                if not (modem.control and modem.netdev and Path(modem.control).exists()):
                    continue
                if self.options.imei:
                    key = (modem.usb_path, os.path.realpath(modem.control))
                    if key not in asked:
                        asked[key] = await _imei_of(modem)
                    if asked[key] == self.options.imei:
                        return modem
                elif modem.usb_path == wanted:
                    return modem
            if deadline is not None and time.monotonic() > deadline:
                raise NoModemError("the module did not come back within %.0f s" % timeout)  # type: ignore[str-format]
            await asyncio.sleep(MODEM_POLL)

    # ================================================================ background checks

    def _start_background(self) -> None:
        self._spawn("poll", self._poll_loop())
        if self.options.probes:
            self._spawn("probe", self._probe_loop())
        if self.notifier.watchdog_interval:
            self._spawn("watchdog", self._watchdog_loop())

    async def _poll_loop(self) -> None:
        """The safety net: indications can be lost, modems can wedge; every so often, ask."""
        while True:
            await asyncio.sleep(self.options.poll_interval)
            dialer = self.dialer  # the session may be replaced while we wait for answers
            if self.supervisor.state != sv.CONNECTED or dialer is None:
                continue
            for family, bearer in list(self.bearers.items()):
                try:
                    if not await dialer.call_connected(family):
                        self.events.put_nowait(sv.CallDropped(family, "IPv%d call found down by the poll" % family))
                    elif (await dialer.settings(family)).address != bearer.settings.address:
                        self.events.put_nowait(sv.AddressChanged(family))
                except RequestTimeout as exc:
                    self.events.put_nowait(sv.ModemUnresponsive("the modem stopped answering: %s" % exc))
                    break
                except Exception as exc:  # the safety net itself must not fall
                    log.warning("poll: %s", exc)

    async def _probe_loop(self) -> None:
        failures: Dict[int, int] = {}
        while True:
            await asyncio.sleep(self.options.probe_interval)
            if self.supervisor.state != sv.CONNECTED or self.host is None:
                continue
            for family in list(self.bearers):
                probes = [p for p in self.options.probes if p.family == family]
                if not probes:
                    continue
                results = await asyncio.gather(*(run_probe(p, self.host.netdev) for p in probes),
                                               return_exceptions=True)
                results = [r is True for r in results]
                failures[family] = 0 if any(results) else failures.get(family, 0) + 1
                if failures[family] >= self.options.probe_failures:
                    failures[family] = 0
                    self.events.put_nowait(sv.ProbeFailed(family))

    async def _watchdog_loop(self) -> None:
        assert self.notifier.watchdog_interval
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(self.notifier.watchdog_interval)

    # ================================================================ reporting

    def _found(self) -> None:
        modem = self.modem
        assert modem is not None
        if modem.mode != "qmi":
            raise UsageError("%s works in %s mode; qcm connect speaks QMI only so far" % (modem.usb_path, modem.mode),
                             "switch the module to QMI (AT+QCFG=\"usbnet\",0), see qcm doctor")
        if not modem.control or not modem.netdev:
            raise NoModemError("%s has no %s" % (modem.usb_path, "control port" if not modem.control else
                                                  "network interface"))
        self.report(ev.ModemFound(modem.describe(), modem.usb_path, modem.usb_id, modem.control, modem.netdev,
                                  modem.driver, modem.driver_version, modem.mode))

    def _claim(self) -> None:
        """Refuse, before touching anything, a module that another manager or program holds."""
        modem = self.modem
        assert modem is not None and modem.netdev and modem.control
        lock = ModuleLock(self.options.run_dir, modem.netdev)
        lock.acquire()
        self.lock = lock
        saved = state_path(self.options.run_dir, modem.netdev)
        if saved.exists():
            raise PortBusyError("a connection made by qcm connect --once is up on %s" % modem.netdev,
                                "end it with qcm disconnect -i %s first" % modem.netdev)
        holders = port_holders([modem.control]).get(modem.control, [])
        if holders:
            raise PortBusyError("%s is held by %s" % (modem.control, ", ".join(
                "%s (pid %d)" % (name, pid) for pid, name in holders)),
                "stop it first (ModemManager: systemctl stop ModemManager; see qcm doctor)")

    def _connected(self, families: "frozenset[int]") -> None:
        first = self.connected_at is None
        since = self.started if first else (self.down_since or time.monotonic())
        self.connected_at = time.monotonic()
        self.down_since = None
        netdev = self.modem.netdev if self.modem else "?"
        self.report(ev.Connected(netdev or "?", tuple(sorted(families)), self.connected_at - since, not first))
        text = "connected: %s on %s" % (", ".join("IPv%d %s" % (b.family, b.settings.address.ip)
                                                  for b in sorted(self.bearers.values(), key=lambda b: b.family)),
                                        netdev)
        if first:
            self.notifier.ready(text)
        else:
            self.notifier.status(text)

    async def _on_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        command = request.get("command")
        if command == "status":
            await self._refresh_registration()
            return {"ok": True, "status": self.status()}
        if command == "disconnect":
            self.events.put_nowait(sv.StopRequested("qcm disconnect"))
            return {"ok": True}
        if command == "metrics":
            return {"ok": True, "metrics": render_metrics(self.status())}
        return {"ok": False, "error": "unknown command %r" % command}

    async def _refresh_registration(self) -> None:
        if self.dialer is not None and self.port is not None and self.port.is_open:
            try:
                await asyncio.wait_for(self.dialer.read_registration(), 2.0)
            except (QcmError, asyncio.TimeoutError, KeyError):
                pass

    def status(self) -> Dict[str, Any]:
        modem = self.modem
        dialer = self.dialer
        identity = dialer.identity if dialer else ev.ModemIdentity()
        registration = dialer.registration if dialer else None
        snapshot = self.supervisor.snapshot()
        state = snapshot["state"]
        if snapshot["waiting"] and state == sv.BACKING_OFF:
            state = "%s (%s)" % (state, snapshot["waiting"])
        calls = []
        for family in self.options.plan.families:
            bearer = self.bearers.get(family)
            entry: Dict[str, Any] = {"family": family, "state": "up" if bearer else "down"}
            if bearer is not None:
                entry.update({"address": str(bearer.settings.address),
                              "gateway": str(bearer.settings.gateway) if bearer.settings.gateway else None,
                              "dns": [str(d) for d in bearer.settings.dns], "mtu": bearer.settings.mtu,
                              "handle": bearer.handle, "up_for": round(time.monotonic() - bearer.started, 1)})
            calls.append(entry)
        return {
            "pid": os.getpid(),
            "netdev": modem.netdev if modem else None,
            "control": modem.control if modem else None,
            "usb_path": modem.usb_path if modem else None,
            "model": identity.model, "manufacturer": identity.manufacturer, "revision": identity.revision,
            "imei": identity.imei,
            "state": state,
            "families": list(self.options.plan.families),
            "profile": self.options.plan.profile,
            "apn": self.options.plan.apn,
            "sim": self.sim_state,
            "registration": _registration_json(registration),
            "calls": calls,
            "uptime": round(time.monotonic() - self.connected_at, 1)
            if self.connected_at and state == sv.CONNECTED else 0,
            "reconnects": snapshot["reconnects"],
            "last_error": snapshot["last_error"],
            "recovery_rung": snapshot["rung"],
        }

    def _write_metrics(self) -> None:
        path = self.options.metrics_file
        if path is None:
            return
        try:
            write_atomic(path, render_metrics(self.status()))
        except OSError as exc:
            log.warning("cannot write metrics to %s: %s", path, exc.strerror)

    # ================================================================ finding the module

    async def _find_modem(self, wait: bool) -> Modem:
        options = self.options
        shown = False
        while True:
            try:
                modems = scan(options.sysfs, options.dev)
                if options.imei:
                    return await self._by_imei(modems)
                return select(modems, options.interface, options.control, options.usb_path,
                              require_single=not options.first_found)
            except NoModemError as exc:
                if not wait:
                    raise
                if not shown:
                    self.report(ev.Notice("%s; waiting for it to appear" % exc, True))
                    shown = True
                await asyncio.sleep(1.0)

    async def _by_imei(self, modems: List[Modem]) -> Modem:
        candidates = [m for m in modems if m.mode == "qmi" and m.control]
        for candidate in candidates:
            if await _imei_of(candidate) == self.options.imei:
                return candidate
        raise NoModemError("no module with the IMEI given (--imei) among %d QMI module(s)" % len(candidates))

    # ================================================================ --once and teardown

    def _save_for_disconnect(self) -> None:
        assert self.modem is not None and self.session is not None and self.modem.control and self.modem.netdev
        calls = [CallRecord(b.family, b.cid, b.handle) for b in self.bearers.values()]
        prepare_run_dir(self.options.run_dir)
        SavedConnection(self.modem.control, self.modem.netdev, calls, self.host.applied if self.host else None).save(
            state_path(self.options.run_dir, self.modem.netdev))
        for bearer in self.bearers.values():  # only once saved: else the teardown must release them
            self.session.keep(("WDS", family_role(bearer.family)))
        self._keep_call = True

    async def _teardown(self) -> None:
        """Undo everything done so far; each step bounded, none allowed to stop the others."""
        for task in list(self._tasks.values()):
            task.cancel()
        details: List[str] = []
        if not self._keep_call:
            if self.dialer is not None and self.port is not None and self.port.is_open:
                stopped = await asyncio.gather(*(self.dialer.stop(b) for b in self.bearers.values()))
                details += ["IPv%d call %s" % (b.family, "stopped" if ok else "not confirmed stopped")
                            for b, ok in zip(self.bearers.values(), stopped)]
            self.bearers.clear()
            if self.host is not None:
                details.extend(self.host.clear())
                details.append("%s unconfigured" % self.host.netdev)
        try:
            await self._close_session()
        except Exception as exc:  # the port may be wedged or gone; the rest must still happen
            log.warning("closing the control port: %s", exc)
        if self.control is not None:
            await self.control.close()
        if self.lock is not None:
            self.lock.release()
        if self.connected_at is not None and not self._keep_call:
            self.report(ev.Disconnected(details))


def _failure(exc: QcmError) -> sv.ConnectFailed:
    """How the supervisor should take a failed attempt."""
    if isinstance(exc, SimAbsentError):
        return sv.ConnectFailed(str(exc), kind="sim", waiting="waiting for a SIM")
    if isinstance(exc, (SimError, UsageError, PermissionProblem)):
        return sv.ConnectFailed(str(exc) + ("; hint: %s" % exc.hint if exc.hint else ""), fatal=True,
                                status=exc.exit_status)
    if isinstance(exc, (ModemError, NoModemError)):
        return sv.ConnectFailed(str(exc), kind="modem")
    if isinstance(exc, RegistrationError):
        return sv.ConnectFailed(str(exc), kind="registration", waiting="waiting for the network")
    if isinstance(exc, CallRejectedError):
        return sv.ConnectFailed(str(exc), kind="call")
    return sv.ConnectFailed(str(exc))


def _registration_json(registration: Optional[ev.Registration]) -> Optional[Dict[str, Any]]:
    if registration is None:
        return None
    return {"state": registration.state, "ps_attached": registration.ps_attached, "roaming": registration.roaming,
            "operator": registration.operator, "mcc": registration.mcc, "mnc": registration.mnc,
            "rat": registration.rat, "signal_dbm": registration.signal_dbm,
            "reject_cause": registration.reject_cause, "text": registration.describe()}


async def _imei_of(modem: Modem) -> str:
    """The module's IMEI, or "" if its port cannot be asked (gone, or another program's)."""
    if not modem.control or port_holders([modem.control]):
        return ""
    try:
        port = await QmiPort(modem.control).open()
    except QcmError:
        return ""
    session = ModemSession(port, 3.0)
    try:
        await session.allocate([("DMS", "main")])
        return str((await session.request("DMS", "Get IDs")).get("imei", ""))
    except QcmError:
        return ""
    finally:
        await session.close()
        port.close()


def _describe_dns(applied: Any) -> str:
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
    try:
        saved = SavedConnection.load(path, netdev)
    except FileNotFoundError:
        raise NotRunning("no qcm connection on %s (no manager running, no state in %s)" % (netdev, run_dir)) from None
    details: List[str] = []
    try:
        port: Optional[QmiPort] = await QmiPort(saved.control).open()
    except ModemError as exc:
        details.append("modem not reachable (%s): its calls ended with it" % exc)
        port = None
    if port is not None:
        # The saved clients go into a session, whose close() releases them as any other.
        session = ModemSession(port, 3.0)
        session.clients = {("WDS", family_role(call.family)): call.cid for call in saved.calls}
        try:
            for call in saved.calls:
                try:
                    await session.request("WDS", "Stop Network", {"packet_data_handle": call.handle},
                                          role=family_role(call.family), check=False)
                    details.append("IPv%d call stopped" % call.family)
                except QcmError as exc:
                    details.append("IPv%d: %s" % (call.family, exc))
        finally:
            await session.close()
            port.close()
    if saved.applied is not None:
        details.extend(Host(saved.netdev, None, applied=saved.applied).clear())
        details.append("%s unconfigured" % saved.netdev)
    path.unlink()
    report(ev.Disconnected(details))
    return 0


async def _wait_gone(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
