"""One module's connection: find it, dial it through its backend, configure the host, keep it up.

The decisions (when to redial, which recovery rung, when to give up) are the pure
``Supervisor``'s; the service carries out its actions and feeds it events: what the backend
hears from the modem (a call ended, the address changed, the network or the SIM came back, the
control channel vanished), the module coming back, failed probes, the safety-net poll, and stop
requests. Whatever was done is undone on every exit path. ``--once`` dials, configures and hands
the bearers over to a state file for ``qcm disconnect``.

The service knows nothing of signals, systemd or control sockets: the lifecycle around it
(``manager.py``) does, through ``Hooks``, so that several services can share one event loop.

Several PDNs on one module: each bearer comes up on its PDN's own network interface (a QMAP mux
link), and each interface has its own ``Host``; the module's interface (the parent) carries the
aggregation. A PDN that drops is redialled alone while the others pass traffic (the supervisor
redials only the bearers that are down). One process per PDN (quectel-CM -n N -m M) shares the
module: it locks only its PDN (``io/pdn_lock.py``), goes by its PDN's interface (control socket,
status), and shares the control port through a qmi-proxy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union, cast

from ..backends import backend_for
from ..backends.base import Backend, BackendContext, Bearer, BearerId, Pdn
from ..discovery import Modem
from ..errors import NoModemError, NotImplementedOption, PortBusyError, QcmError, Recovery
from ..io.lock import ModuleLock
from ..io.pdn_lock import PdnLock
from ..io.probe import run_probe
from ..io.procfs import port_holders
from ..io.qmap_links import links_for
from ..io.qmi_proxy import proxy_listening
from ..model import ModemIdentity
from . import events as ev
from . import supervisor as sv
from .finder import Finder
from .host import Host, HostOptions, table_of
from .options import ConnectOptions
from .pin_guard import PinGuard
from .state import SavedBearer, SavedConnection, state_path

__all__ = ["ConnectionService", "Hooks"]

log = logging.getLogger(__name__)

State = sv.State
DOWN_EVENTS = (sv.CallDropped, sv.ProbeFailed, sv.ModemLost, sv.ModemUnresponsive)


class Hooks:
    """What the lifecycle around a service hears from it (defaults: nothing)."""

    async def attached(self, service: "ConnectionService") -> None:
        """The module is found and ours; raise to refuse it (a control socket already in use...)."""

    def ready(self, text: str) -> None:
        """Connected for the first time."""

    def status(self, text: str) -> None:
        """What the connection is doing now, in a few words."""

    def changed(self) -> None:
        """Something in ``status()`` changed."""


class ConnectionService:
    def __init__(self, options: ConnectOptions, report: ev.Reporter, hooks: Optional[Hooks] = None, *,
                 choose_backend: Callable[[Modem], Type[Backend]] = backend_for,
                 make_host: Callable[[str, Optional[Path], HostOptions], Host] = Host) -> None:
        self.options = options
        self._reporter = report
        self.hooks = hooks or Hooks()
        self.choose_backend = choose_backend    # tests: a backend without a modem behind it
        self.make_host = make_host              # tests: a host that needs no root
        self.finder = Finder(options, lambda text, warning: self.report(ev.Notice(text, warning)))
        self._status_text = ""
        self.modem: Optional[Modem] = None
        self.backend: Optional[Backend] = None
        self.host: Optional[Host] = None            # the module's interface (with several PDNs: the parent)
        self.hosts: Dict[str, Host] = {}            # the bearers' interfaces, when they are not the module's
        self.netdev: Optional[str] = None           # what this service goes by: the module's interface, or
                                                    # its PDN's when one process dials one PDN of a shared module
        self.bearers: Dict[BearerId, Bearer] = {}
        self.supervisor = sv.Supervisor(frozenset(options.plan.bearers), options.policy)
        self.pin_guard = PinGuard(options.state_dir / "pin" if options.state_dir else None)
        self.lock: Optional[Union[ModuleLock, PdnLock]] = None
        self.started = time.monotonic()
        self.connected_at: Optional[float] = None
        self.down_since: Optional[float] = None
        self.events: "asyncio.Queue[Any]" = asyncio.Queue()
        self.prepared = False
        self.sim_state = "unknown"
        self.supervising = False
        self._exit: Optional[int] = None
        self._tasks: Dict[str, "asyncio.Task[Any]"] = {}
        self._keep_bearers = False
        self._bugs_logged: set = set()
        self._registration_read: Tuple[Optional[Backend], float] = (None, 0.0)  # by which backend, when

    def report(self, event: ev.Event) -> None:
        """Tell the user; a broken stdout or a full log disk must not stop the connection. What it
        waits for (a module, the network) also goes to systemd's STATUS line while not connected."""
        try:
            self._reporter(event)
        except (OSError, ValueError) as exc:
            log.warning("cannot report progress: %s", exc)
        waiting = ""
        if isinstance(event, ev.Waiting):
            waiting = "waiting for the network: %s" % event.registration.describe()
        elif isinstance(event, ev.Notice) and event.warning and "waiting for" in event.text:
            waiting = event.text
        if waiting and waiting != self._status_text and self.supervisor.state != State.CONNECTED:
            self._status_text = waiting
            self.hooks.status(waiting)

    # ================================================================ entry points

    async def run(self) -> int:
        """Connect and stay connected (or, with ``once``, connect and hand over); the exit status."""
        self.events = asyncio.Queue()  # bound to the running loop (Python 3.9)
        self.modem = await self.finder.find(wait=not self.options.once)
        self._found()
        self._claim()
        if self.options.plan.shared:
            await self._own_pdn_link()
        module = self.modem
        # The lifecycle names its control socket after ``modem.netdev``: a process for one PDN goes by its
        # PDN's interface there, so that several of them (and qcm status -i, quectel-CM -k) tell them apart.
        self.modem = replace(module, netdev=self.netdev)
        try:
            await self.hooks.attached(self)
        finally:
            self.modem = module
        if self.options.once:
            return await self._once()
        return await self._supervise()

    def stop(self, reason: str) -> None:
        self.events.put_nowait(sv.StopRequested(reason))

    async def _own_pdn_link(self) -> None:
        """quectel-CM -m: this process's PDN's mux link, made (or found) before anything is dialled."""
        assert self.modem is not None and self.modem.netdev
        pdn = self.options.plan.first_pdn
        host = self._parent_host()
        self.netdev = await host.mux_link(pdn.mux, host.qmap_versions()[0] if host.qmap_versions() else "qmap")
        self.report(ev.Notice("PDN %d rides QMAP mux id 0x%02x on %s (a link of %s)" % (
            pdn.index, pdn.mux, self.netdev, self.modem.netdev)))

    async def _once(self) -> int:
        if self.options.plan.multiplexed:
            raise NotImplementedOption("connect --once with several PDNs (QMAP) is not implemented",
                                       "stay in the foreground (without --once), or dial one PDN")
        bearers = frozenset(self.options.plan.bearers)
        await self._bring_up(bearers, sv.REBIND if self.options.rebind_first else sv.REDIAL)
        self._connected(bearers)
        self._hand_over()
        return 0

    async def _supervise(self) -> int:
        supervisor = self.supervisor
        self._execute(supervisor.start(time.monotonic(), sv.REBIND if self.options.rebind_first else sv.REDIAL))
        self._start_background()
        self.supervising = True
        while self._exit is None:
            deadline = supervisor.timer()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = await asyncio.wait_for(self.events.get(), timeout)
            except asyncio.TimeoutError:
                event = sv.TimerExpired()
            self._handle(event)
        return self._exit

    # ================================================================ supervision

    def _handle(self, event: Any) -> None:
        now = time.monotonic()
        before = self.supervisor.state
        if isinstance(event, DOWN_EVENTS) and self.down_since is None:
            self.down_since = now
        if isinstance(event, (sv.CallDropped, sv.ProbeFailed)) and len(self.bearers) > 1:
            self._spawn("check-others", self._check_others(event.bearer))
        self._execute(self.supervisor.handle(event, now))
        if self.supervisor.state == State.CONNECTED and before != State.CONNECTED:
            self._connected(frozenset(self.bearers))
        self.hooks.changed()

    def _execute(self, actions: List[sv.Action]) -> None:
        exiting = any(isinstance(a, sv.Exit) for a in actions)
        for action in actions:
            if isinstance(action, sv.Note):
                self.report(ev.Notice(action.text, action.warning))
                if self.supervisor.state != State.CONNECTED:
                    self.hooks.status(action.text)
            elif isinstance(action, sv.Disconnect):
                if not exiting:  # else the teardown that follows takes everything down
                    self._spawn("disconnect-%s" % sorted(_ids(action.bearers)), self._disconnect(action))
            elif isinstance(action, sv.Connect):
                self._spawn("connect", self._connect_task(action))
            elif isinstance(action, sv.Refresh):
                self._spawn("refresh-%s" % action.bearer, self._refresh(cast(BearerId, action.bearer)))
            elif isinstance(action, sv.Exit):
                if action.status == 0:
                    self.report(ev.Disconnecting("stop requested"))
                self._exit = action.status

    def _spawn(self, name: str, coroutine: Any) -> None:
        old = self._tasks.get(name)
        if old is not None and not old.done():
            old.cancel()
        task = asyncio.ensure_future(coroutine)
        self._tasks[name] = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            self._bug(failure, "a background task")

    def _bug(self, exc: BaseException, where: str) -> None:
        """A bug in qcm: its traceback once per kind, then one line; the connection carries on."""
        key = (type(exc).__name__, str(exc))
        if key in self._bugs_logged:
            log.error("internal error in %s again: %s: %s", where, type(exc).__name__, exc)
            return
        self._bugs_logged.add(key)
        log.error("internal error in %s (please report it)", where, exc_info=exc)

    async def _connect_task(self, action: sv.Connect) -> None:
        try:
            await self._bring_up(_ids(action.bearers), action.rung)
        except asyncio.CancelledError:
            raise
        except QcmError as exc:
            self.prepared = False  # look at SIM, radio and data format again next time
            if exc.recovery == Recovery.WAIT_FOR_SIM:
                self.sim_state = "absent"
            reason = str(exc) + ("; hint: %s" % exc.hint if exc.hint and exc.recovery == Recovery.FATAL else "")
            self.events.put_nowait(sv.ConnectFailed(reason, exc.recovery, exc.exit_status))
            return
        except Exception as exc:  # a bug: report it, keep supervising
            self._bug(exc, "a connection attempt")
            self.events.put_nowait(sv.ConnectFailed("internal error: %s: %s" % (type(exc).__name__, exc),
                                                    Recovery.RETRY))
            return
        self.sim_state = "ready"
        if action.rung != sv.REDIAL:
            self.report(ev.Notice("connection restored by %s" % sv.describe_rung(action.rung)))
        self.events.put_nowait(sv.Connected(action.bearers))

    # ================================================================ bringing bearers up

    async def _bring_up(self, wanted: "frozenset[BearerId]", rung: str) -> None:
        assert self.modem is not None and self.modem.netdev
        if rung == sv.REBIND:
            await self._close_backend()
            self.modem = await self.finder.rebind(self.modem)
        backend = self.backend
        if backend is None or rung in (sv.REOPEN, sv.REBIND) or not backend.is_open:
            backend = await self._open_backend()
        if rung == sv.RADIO:
            await backend.radio_cycle()
            self.prepared = False
        if not self.prepared:
            await backend.prepare()
            self.prepared = True
        await backend.wait_registered()
        netdev = self.modem.netdev
        assert netdev is not None
        started = await asyncio.gather(*(backend.start(b, netdev) for b in sorted(wanted)), return_exceptions=True)
        for result in started:
            if isinstance(result, Bearer):
                self.bearers[result.id] = result
        errors = [r for r in started if isinstance(r, BaseException)]
        if errors:
            for bearer_id in wanted:  # all or none: a half-up attempt is taken down again
                bearer = self.bearers.pop(bearer_id, None)
                if bearer is not None:
                    await backend.stop(bearer)
            raise errors[0]
        self._sync_host()

    def _sync_host(self) -> None:
        """Each interface gets the calls that are up on it (with several PDNs, each PDN's link its own)."""
        by_netdev: Dict[str, List[Bearer]] = {}
        for bearer in sorted(self.bearers.values(), key=lambda b: b.id):
            by_netdev.setdefault(bearer.netdev, []).append(bearer)
        for netdev in sorted(set(by_netdev) | set(self.hosts)):
            bearers = by_netdev.get(netdev, [])
            host = self._host_for(netdev, bearers)
            applied = host.sync(bearers)
            if not bearers:
                continue
            dns = applied.describe_dns()
            if host.dns_problem:
                dns = "not installed"
                self.report(ev.Notice("the DNS servers could not be installed (%s); the connection is up, and "
                                      "names resolve as they did before" % host.dns_problem, True))
            elif host.dns_note:
                dns = "recorded, not installed"
                self.report(ev.Notice(host.dns_note))
            self.report(ev.HostConfigured(host.netdev, tuple(b.settings for b in bearers),
                                          tuple(applied.describe_routes()), dns))

    def _host_for(self, netdev: str, bearers: List[Bearer]) -> Host:
        """The ``Host`` of an interface: the module's own (one PDN, not multiplexed), or one per PDN link
        with the routing its PDN gets (the default routes, or its own table and source rules)."""
        host = self.hosts.get(netdev)
        if host is not None:
            return host
        if self.host is not None and netdev == self.host.netdev and not self.options.plan.multiplexed:
            return self.host
        pdn = self.options.plan.pdn(bearers[0].id.pdn) if bearers else self.options.plan.first_pdn
        host = self.make_host(netdev, None, self._host_options(pdn))
        self.hosts[netdev] = host
        return host

    def _host_options(self, pdn: Pdn) -> HostOptions:
        plan, options = self.options.plan, self.options.host
        routes = options.routes + pdn.routes
        if pdn.index == plan.default_pdn:
            return replace(options, routes=routes)
        return replace(options, default_route=False, table=table_of(pdn.index), routes=routes, dns_default=False)

    def _parent_host(self) -> Host:
        """The module's interface: with several PDNs, the parent of their mux links."""
        modem = self.modem
        assert modem is not None and modem.netdev
        if self.host is None or self.host.netdev != modem.netdev:
            self.host = self.make_host(modem.netdev, modem.raw_ip_path, self.options.host)
            if self.options.plan.multiplexed:
                self.host.mux = links_for(Path(modem.sysfs_root), modem.netdev, modem.driver)
        else:
            self.host.raw_ip_path = modem.raw_ip_path
        return self.host

    async def _open_backend(self) -> Backend:
        """(Re)open the control channel with fresh state: after a reset, or when it stopped answering."""
        await self._close_backend()
        modem = self.modem
        assert modem is not None and modem.netdev
        host = self._parent_host()
        context = BackendContext(self.options.plan, self.report, self.events.put_nowait, host, self.pin_guard,
                                 self.options.request_timeout, self.options.show_personal, self.options.transport)
        backend = self.choose_backend(modem)(modem, context)
        self.prepared = False
        try:
            await backend.open()
        except BaseException:
            await backend.close()  # half open (the port, but no clients) is not open
            raise
        self.backend = backend
        return backend

    async def _close_backend(self) -> None:
        backend, self.backend = self.backend, None
        self.prepared = False
        if backend is not None:
            await backend.close()

    # ================================================================ carrying out the supervisor's actions

    async def _disconnect(self, action: sv.Disconnect) -> None:
        dropped = [self.bearers.pop(b) for b in action.bearers if b in self.bearers]
        if action.modem_gone:
            self.bearers.clear()
            await self._close_backend()
            self._clear_hosts()
            self._spawn("wait-modem", self._wait_modem_back())
            return
        backend = self.backend
        if backend is not None and backend.is_open:
            for bearer in dropped:
                await backend.stop(bearer)  # harmless if the network already ended it
        if self.host is not None:
            try:
                self._sync_hosts_quietly()
            except QcmError as exc:
                log.warning("host update after a drop: %s", exc)

    def _sync_hosts_quietly(self) -> None:
        """After a drop: each interface keeps only the calls still up on it (the others' untouched)."""
        by_netdev: Dict[str, List[Bearer]] = {}
        for bearer in self.bearers.values():
            by_netdev.setdefault(bearer.netdev, []).append(bearer)
        if not self.options.plan.multiplexed and self.host is not None:
            self.host.sync(by_netdev.get(self.host.netdev, []))
        for netdev, host in self.hosts.items():
            host.sync(by_netdev.get(netdev, []))

    def _clear_hosts(self) -> List[str]:
        """Undo every interface's configuration: the PDN links first, then the module's (which removes
        the mux links it made); never raises."""
        details: List[str] = []
        for netdev, host in sorted(self.hosts.items()):
            details.extend(host.clear())
            details.append("%s unconfigured" % netdev)
        self.hosts.clear()
        if self.host is not None:
            details.extend(self.host.clear())
            details.append("%s unconfigured" % self.host.netdev)
        return details

    async def _refresh(self, bearer_id: BearerId) -> None:
        bearer = self.bearers.get(bearer_id)
        backend = self.backend
        if bearer is None or backend is None or self.host is None:
            return
        try:
            settings = await backend.settings(bearer)
        except QcmError as exc:
            self.events.put_nowait(sv.CallDropped(bearer_id, "%s settings unreadable: %s" % (bearer_id, exc)))
            return
        if settings == bearer.settings:
            return
        self.report(ev.Notice("%s address changed: %s -> %s" % (bearer_id, bearer.settings.address,
                                                                 settings.address)))
        self.bearers[bearer_id] = Bearer(bearer.id, bearer.netdev, settings, bearer.handle, bearer.started)
        try:
            self._sync_host()
        except QcmError as exc:
            self.events.put_nowait(sv.CallDropped(bearer_id, "%s: the host could not follow the new address: %s"
                                                  % (bearer_id, exc)))

    async def _wait_modem_back(self) -> None:
        assert self.modem is not None
        self.report(ev.Notice("the module went away; waiting for it to come back", True))
        self.hooks.status("waiting for the module to come back")
        self.modem = await self.finder.wait_back(self.modem, timeout=None)
        self.report(ev.Notice("the module is back: %s" % self.modem.describe()))
        self.events.put_nowait(sv.ModemBack())

    # ================================================================ background checks

    def _start_background(self) -> None:
        self._spawn("poll", self._poll_loop())
        if self.options.probes:
            self._spawn("probe", self._probe_loop())

    async def _poll_loop(self) -> None:
        """The safety net: indications can be lost, modems can wedge; every so often, ask."""
        while True:
            await asyncio.sleep(self.options.poll_interval)
            backend = self.backend  # the channel may be replaced while we wait for answers
            if self.supervisor.state != State.CONNECTED or backend is None:
                continue
            for bearer in list(self.bearers.values()):
                try:
                    if not await backend.is_up(bearer):
                        self.events.put_nowait(sv.CallDropped(bearer.id, "%s call found down by the poll" % bearer.id))
                    elif (await backend.settings(bearer)).address != bearer.settings.address:
                        self.events.put_nowait(sv.AddressChanged(bearer.id))
                except TimeoutError as exc:
                    self.events.put_nowait(sv.ModemUnresponsive("the modem stopped answering: %s" % exc))
                    break
                except QcmError as exc:
                    log.warning("poll: %s", exc)
                except Exception as exc:  # the safety net itself must not fall
                    self._bug(exc, "the poll")

    async def _check_others(self, dropped: Any) -> None:
        """One bearer went down: ask at once whether the others are still up (their end may have been
        announced while the modem was not answering, and lost), instead of waiting for the poll."""
        backend = self.backend
        if backend is None or not backend.is_open:
            return
        for bearer in [b for b in self.bearers.values() if b.id != dropped]:
            try:
                if not await backend.is_up(bearer):
                    self.events.put_nowait(sv.CallDropped(bearer.id, "%s call found down after %s went down"
                                                          % (bearer.id, dropped)))
            except QcmError as exc:
                log.warning("checking the %s call: %s", bearer.id, exc)

    async def _probe_loop(self) -> None:
        # Misses in a row, per call: a bearer dialled again (its start time changes) starts over.
        failures: Dict[Any, int] = {}
        while True:
            await asyncio.sleep(self.options.probe_interval)
            if self.supervisor.state != State.CONNECTED or self.host is None:
                continue
            for bearer in list(self.bearers.values()):
                probes = [p for p in self.options.probes if p.family == bearer.family]
                if not probes:
                    continue
                results = await asyncio.gather(*(run_probe(p, bearer.netdev) for p in probes),
                                               return_exceptions=True)
                call = (bearer.id, bearer.started)
                missed = 0 if any(r is True for r in results) else failures.get(call, 0) + 1
                failures = {k: v for k, v in failures.items() if k[0] != bearer.id}  # forget its earlier calls
                failures[call] = missed
                if missed >= self.options.probe_failures:
                    failures[call] = 0
                    self.events.put_nowait(sv.ProbeFailed(bearer.id, "%d in a row: %s" % (
                        self.options.probe_failures, ", ".join(p.describe() for p in probes))))

    # ================================================================ the module

    def _found(self) -> None:
        modem = self.modem
        assert modem is not None
        self.choose_backend(modem)  # refuses a mode no backend speaks, with what to do instead
        if not modem.control or not modem.netdev:
            raise NoModemError("%s has no %s" % (modem.usb_path, "control port" if not modem.control else
                                                  "network interface"))
        if self.options.plan.multiplexed and modem.mode != "qmi":
            raise NotImplementedOption("several PDNs on one module (QMAP) are implemented for QMI modules; %s "
                                       "works in %s mode" % (modem.usb_path, modem.mode.upper()),
                                       "dial one PDN (without --pdn or -m)")
        self.report(ev.ModemFound(modem.describe(), modem.usb_path, modem.usb_id, modem.control, modem.netdev,
                                  modem.driver, modem.driver_version, modem.mode))

    def _claim(self) -> None:
        """Refuse, before touching anything, a module that another manager or program holds."""
        modem = self.modem
        assert modem is not None and modem.netdev and modem.control
        plan = self.options.plan
        self.netdev = modem.netdev
        lock: Union[ModuleLock, PdnLock]
        if plan.shared:  # one process per PDN: the module is shared, this PDN is ours
            lock = PdnLock(self.options.run_dir, modem.netdev, plan.first_pdn.mux, plan.profile)
        else:
            lock = ModuleLock(self.options.run_dir, modem.netdev)
        lock.acquire()
        self.lock = lock
        if state_path(self.options.run_dir, modem.netdev).exists():
            raise PortBusyError("a connection made by qcm connect --once is up on %s" % modem.netdev,
                                "end it with qcm disconnect -i %s first" % modem.netdev)
        ports = [modem.control, *modem.control_aliases]
        holders = [h for held in port_holders(ports).values() for h in held]
        if modem.mode == "mbim" and plan.mbim_proxy is not False:
            holders = [h for h in holders if h[1] != "mbim-proxy"]  # the proxy shares the port: we go through it
        if modem.mode == "qmi" and plan.qmi_proxy is not False and holders and proxy_listening():
            holders = []  # whoever holds the port serves it on the qmi-proxy socket: we go through that
        # With --inhibit-modemmanager the attached hook asks ModemManager to let go (manager.py); without,
        # the hint offers that instead of stopping it for every module.
        if self.options.inhibit_modemmanager:
            holders = [h for h in holders if h[1] != "ModemManager"]
        hint = "stop it first (see qcm doctor)"
        if any(name == "ModemManager" for _, name in holders):
            hint = ("run qcm connect --inhibit-modemmanager, which asks ModemManager to let go of this module for as "
                    "long as qcm runs; or keep it away for good with the udev rule (ID_MM_DEVICE_IGNORE)")
        if holders and self.options.transport is None:
            raise PortBusyError("%s is held by %s" % (modem.control, ", ".join(
                "%s (pid %d)" % (name, pid) for pid, name in holders)), hint)

    def _connected(self, bearers: "frozenset[BearerId]") -> None:
        first = self.connected_at is None
        since = self.started if first else (self.down_since or time.monotonic())
        self.connected_at = time.monotonic()
        self.down_since = None
        netdev = self.netdev or (self.modem.netdev if self.modem and self.modem.netdev else "?")
        cause = "" if first else self.supervisor.last_error
        netdevs = sorted({b.netdev for b in self.bearers.values()}) or [netdev]
        self.report(ev.Connected(", ".join(netdevs), tuple(sorted(b.family for b in bearers)),
                                 self.connected_at - since, not first, cause))
        ups = sorted(self.bearers.values(), key=lambda b: b.id)
        if len(netdevs) > 1:
            text = "connected: %s" % ", ".join("%s %s on %s" % (b.id, b.settings.address.ip, b.netdev) for b in ups)
        else:
            text = "connected: %s on %s" % (", ".join("%s %s" % (b.id, b.settings.address.ip) for b in ups),
                                            netdevs[0])
        if first:
            self.hooks.ready(text)
        else:
            self.hooks.status(text)

    # ================================================================ status

    async def refresh_registration(self, max_age: float = 0.0) -> None:
        """Read registration and signal again, unless this backend read them within ``max_age`` s
        (``qcm status`` in a loop then costs the module nothing and answers at once)."""
        backend = self.backend
        if backend is None or not backend.is_open:
            return
        read_by, read_at = self._registration_read
        if read_by is backend and time.monotonic() - read_at <= max_age:
            return
        try:
            await asyncio.wait_for(backend.read_registration(), 2.0)
            self._registration_read = (backend, time.monotonic())  # a reopened backend reads afresh
        except (QcmError, asyncio.TimeoutError):
            pass

    def status(self) -> Dict[str, Any]:
        modem, backend = self.modem, self.backend
        identity = backend.identity if backend else ModemIdentity()
        registration = backend.registration if backend else None
        snapshot = self.supervisor.snapshot()
        state = str(snapshot["state"])
        if snapshot["waiting"] and self.supervisor.state == State.BACKING_OFF:
            state = "%s (%s)" % (state, snapshot["waiting"])
        bearers = []
        plan = self.options.plan
        links = {b.id.pdn: b.netdev for b in self.bearers.values()}
        for bearer_id in plan.bearers:
            bearer = self.bearers.get(bearer_id)
            netdev = links.get(bearer_id.pdn) or (self.netdev if plan.shared or not plan.multiplexed else None) or (
                modem.netdev if modem and not plan.multiplexed else None)
            entry: Dict[str, Any] = {"pdn": bearer_id.pdn, "family": bearer_id.family, "netdev": netdev,
                                     "apn": plan.pdn(bearer_id.pdn).apn, "state": "up" if bearer else "down"}
            if bearer is not None:
                settings = bearer.settings
                entry.update({"address": str(settings.address),
                              "gateway": str(settings.gateway) if settings.gateway else None,
                              "dns": [str(d) for d in settings.dns], "mtu": settings.mtu,
                              "up_for": round(time.monotonic() - bearer.started, 1)})
            bearers.append(entry)
        sharing = getattr(backend, "sharing", "") if backend is not None else ""
        return {
            "pid": os.getpid(),
            "netdev": self.netdev or (modem.netdev if modem else None),
            "parent": modem.netdev if modem and plan.multiplexed else None,
            "proxy": sharing or None,
            "control": modem.control if modem else None,
            "usb_path": modem.usb_path if modem else None,
            "backend": backend.name if backend else None,
            "model": identity.model, "manufacturer": identity.manufacturer, "revision": identity.revision,
            "imei": identity.imei if self.options.show_personal or not identity.imei else "###",
            "state": state,
            "families": list(self.options.plan.families),
            "profile": self.options.plan.profile,
            "apn": self.options.plan.apn,
            "sim": self.sim_state,
            "registration": _registration_json(registration),
            "bearers": bearers,
            "uptime": round(time.monotonic() - self.connected_at, 1)
            if self.connected_at and self.supervisor.state == State.CONNECTED else 0,
            "reconnects": snapshot["reconnects"],
            "last_error": snapshot["last_error"],
            "recovery_rung": snapshot["rung"],
        }

    # ================================================================ --once and teardown

    def _hand_over(self) -> None:
        """``--once``: save what ``qcm disconnect`` needs, then keep the bearers up past our exit."""
        modem, backend = self.modem, self.backend
        assert modem is not None and modem.control and modem.netdev and backend is not None
        bearers = list(self.bearers.values())
        SavedConnection(backend.name, modem.control, modem.netdev, [SavedBearer.of(b) for b in bearers],
                        self.host.applied if self.host else None).save(state_path(self.options.run_dir, modem.netdev))
        backend.keep(bearers)  # only once saved: else the teardown must stop them
        self._keep_bearers = True

    async def teardown(self) -> None:
        """Undo everything done so far; each step bounded, none allowed to stop the others."""
        for task in list(self._tasks.values()):
            task.cancel()
        details: List[str] = []
        if not self._keep_bearers:
            backend = self.backend
            if backend is not None and backend.is_open:
                bearers = list(self.bearers.values())
                stopped = await asyncio.gather(*(backend.stop(b) for b in bearers))
                details += ["%s call %s" % (b.id, "stopped" if ok else "not confirmed stopped")
                            for b, ok in zip(bearers, stopped)]
            self.bearers.clear()
            details.extend(self._clear_hosts())
        await self._close_backend()
        if self.lock is not None:
            self.lock.release()
        if self.connected_at is not None and not self._keep_bearers:
            self.report(ev.Disconnected(details))


def _ids(keys: "frozenset[Any]") -> "frozenset[BearerId]":
    """The supervisor's opaque keys are this service's bearer ids."""
    return cast("frozenset[BearerId]", keys)


def _registration_json(registration: Any) -> Optional[Dict[str, Any]]:
    if registration is None:
        return None
    return {"state": registration.state, "ps_attached": registration.ps_attached, "roaming": registration.roaming,
            "operator": registration.operator, "mcc": registration.mcc, "mnc": registration.mnc,
            "rat": registration.rat, "signal_dbm": registration.signal_dbm,
            "reject_cause": registration.reject_cause, "text": registration.describe()}

