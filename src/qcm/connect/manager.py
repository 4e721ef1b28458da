"""The lifecycle around connection services: signals, systemd, control sockets, metrics.

``qcm connect`` (and the quectel-CM drop-in) runs one ``ConnectionService`` under a ``Manager``:
SIGTERM asks the service to stop (exit 0 once torn down), SIGINT before the first connection
means the user gave up (exit 130); systemd hears READY, STATUS, WATCHDOG and STOPPING; the
root-only control socket ``RUN_DIR/IFACE.sock`` answers ``qcm status`` and ``qcm disconnect``;
metrics go to a file. The teardown always runs, bounded in time, even when the modem no longer
answers.

``qcm daemon`` (and ``qcm connect --all``) runs one service per module in the same event loop:
services are added while it runs (``add``: a module that appears, a configuration that finds its
module), each on its own module and interface, each stopping on its own (a rejected PIN, ``qcm
disconnect -i IFACE``) while the others go on. One control socket, ``RUN_DIR/daemon.sock``,
lists and controls them all; the metrics carry each connection's name as the ``module`` label;
SIGTERM stops and tears down every one of them at once, within the same bound.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

from ..discovery import Modem
from ..errors import QcmError
from ..io.control import ControlServer, socket_path
from ..io.files import write_atomic
from ..io.notify import Notifier
from . import events as ev
from .control_client import DAEMON
from .finder import Finder
from .metrics import render as render_metrics, render_all
from .options import ConnectOptions
from .service import ConnectionService, Hooks

__all__ = ["Manager", "Connection"]

log = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0        # the whole teardown on SIGTERM, even with a modem that stopped answering
STATUS_TIMEOUT = 5.0       # a daemon's status: every connection's registration read at once, within this
STATUS_FRESH = 5.0         # registration and signal read this recently are shown without asking again


class Connection(Hooks):
    """One service under the manager: its task, how it ended, its own control socket (qcm connect), and
    the hooks through which it tells the manager what it does."""

    def __init__(self, manager: "Manager", name: str, service: ConnectionService) -> None:
        self.manager = manager
        self.name = name
        self.service = service
        self.task: Optional["asyncio.Task[int]"] = None
        self.control: Optional[ControlServer] = None
        self.exit_status: Optional[int] = None       # set once its service ended
        self.failure = ""                            # why it ended, when not asked to
        self.stopped_by = ""                         # who asked it to end (qcm disconnect)
        self.text = ""                               # its STATUS line
        self.torn_down = False
        self.ended: Optional[asyncio.Event] = None   # qcm daemon: set once it ended and was torn down
        self.closers: List[Callable[[], Awaitable[None]]] = []  # what to release at its end (ModemManager)

    @property
    def netdev(self) -> Optional[str]:
        modem = self.service.modem
        return modem.netdev if modem is not None else None

    async def attached(self, service: ConnectionService) -> None:
        await self.manager._attached(self)

    def ready(self, text: str) -> None:
        self.text = text
        self.manager._ready(self, text)

    def status(self, text: str) -> None:
        self.text = text
        self.manager._status(self, text)

    def changed(self) -> None:
        self.manager._changed()

    def status_json(self) -> Dict[str, Any]:
        status = self.service.status()
        status["name"] = self.name
        if self.exit_status is not None:
            status["state"] = "stopped" if not self.failure else "failed"
            status["exit_status"] = self.exit_status
            if self.failure:
                status["last_error"] = self.failure
            elif self.stopped_by:
                status["last_error"] = "stopped by %s" % self.stopped_by
        return status


class _FoundFirst:
    """A service's finder that already knows its module the first time it is asked; after that (a reset,
    a re-bind) the service's own finder looks, as for qcm connect."""

    def __init__(self, finder: Finder, modem: Modem) -> None:
        self.finder = finder
        self.modem: Optional[Modem] = modem

    async def find(self, wait: bool) -> Modem:
        modem, self.modem = self.modem, None
        return modem if modem is not None else await self.finder.find(wait)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.finder, name)


class Manager:
    def __init__(self, options: Optional[ConnectOptions], report: ev.Reporter, notifier: Optional[Notifier] = None,
                 *, run_dir: Optional[Path] = None, metrics_file: Optional[Path] = None,
                 **service_args: Any) -> None:
        """``options``: the one connection of ``qcm connect``. None: ``qcm daemon``, whose connections are
        added with ``add`` (by a watcher given to ``run``), under ``run_dir`` and writing ``metrics_file``."""
        self.notifier = notifier or Notifier()
        self.report = report
        self.service_args = service_args
        self.connections: Dict[str, Connection] = {}
        self.daemon = options is None
        self.options = options
        self.run_dir = run_dir if options is None else options.run_dir
        self.metrics_file = metrics_file if options is None else options.metrics_file
        self.control: Optional[ControlServer] = None      # the daemon's socket
        self._stopped_by: Optional[int] = None
        self._stopping: Optional[asyncio.Event] = None
        self._watchdog: Optional["asyncio.Task[Any]"] = None
        self._summary = ""
        self.single: Optional[Connection] = None
        self.pending: Callable[[], List[Dict[str, Any]]] = list  # qcm daemon: connections waiting for a module
        if options is not None:
            self.single = self._make(options.name or "", options, report)

    @property
    def service(self) -> ConnectionService:
        """``qcm connect``'s one service."""
        assert self.single is not None
        return self.single.service

    def _make(self, name: str, options: ConnectOptions, report: ev.Reporter) -> Connection:
        connection = Connection(self, name, None)  # type: ignore[arg-type]  # the service needs its hooks
        connection.service = ConnectionService(options, report, connection, **self.service_args)
        self.connections[name] = connection
        return connection

    # ================================================================ running

    async def run(self, watcher: Optional[Callable[["Manager"], Awaitable[None]]] = None) -> int:
        """``qcm connect``: its service's exit status. ``qcm daemon``: runs ``watcher`` (which adds the
        connections) until SIGTERM or SIGINT, then 0 once every connection is torn down."""
        if self.single is not None:
            return await self._run_single(self.single)
        return await self._run_daemon(watcher)

    async def _run_single(self, connection: Connection) -> int:
        loop = asyncio.get_running_loop()
        main = asyncio.ensure_future(connection.service.run())
        connection.task = main
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal_single, signum, main)
        self._start_watchdog()
        try:
            return await main
        except asyncio.CancelledError:
            if self._stopped_by == signal.SIGTERM:
                return 0  # a service asked to stop is not a failure, connected or not
            connection.service.report(ev.Notice("interrupted before the connection was up"))
            return 130
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            self.notifier.stopping()
            await self._bounded(self._teardown_all())
            self.notifier.close()

    def _on_signal_single(self, signum: int, main: "asyncio.Future[int]") -> None:
        # SIGTERM asks a service to stop (exit 0 once torn down). SIGINT before the first
        # connection means the user gave up waiting (exit 130). Either way the teardown runs.
        self._stopped_by = signum
        service = self.service
        interrupted = signum == signal.SIGINT and not service.supervisor.ever_connected
        if service.options.once or interrupted or not service.supervising:
            main.cancel()
        else:
            service.stop("stopped by %s" % signal.Signals(signum).name)

    async def _run_daemon(self, watcher: Optional[Callable[["Manager"], Awaitable[None]]]) -> int:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal_daemon, signum)
        self._start_watchdog()
        watching: Optional["asyncio.Task[None]"] = None
        try:
            assert self.run_dir is not None
            control = ControlServer(socket_path(self.run_dir, DAEMON), self._on_daemon_control)
            await control.start()
            self.control = control
            self.notifier.ready("running; control socket %s" % control.path)
            if watcher is not None:
                watching = asyncio.ensure_future(watcher(self))
                watching.add_done_callback(self._watcher_done)
            await self._stopping.wait()
            return 0
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            if watching is not None:
                watching.cancel()
            self.notifier.stopping()
            await self._bounded(self._stop_all())
            self.notifier.close()

    def _watcher_done(self, task: "asyncio.Task[None]") -> None:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:  # without it no module would get a connection any more: stop, and say why
            log.error("watching for modules failed: %s", failure, exc_info=not isinstance(failure, QcmError))
            if self._stopping is not None:
                self._stopping.set()

    def _on_signal_daemon(self, signum: int) -> None:
        self._stopped_by = signum
        log.info("stopping every connection (%s)", signal.Signals(signum).name)
        if self._stopping is not None:
            self._stopping.set()

    def add(self, name: str, options: ConnectOptions, report: Optional[ev.Reporter] = None,
            modem: Optional[Modem] = None) -> Connection:
        """``qcm daemon``: start a connection now, in this loop; it runs until it ends or the daemon stops.
        ``modem``: the module, as the caller just found it (sixteen services scanning sysfs for sixteen
        modules each would cost more than their dials)."""
        if name in self.connections and self.connections[name].exit_status is None:
            raise ValueError("connection %s is already running" % name)
        connection = self._make(name, options, report or self.report)
        if modem is not None:
            connection.service.finder = _FoundFirst(connection.service.finder, modem)  # type: ignore[assignment]
        connection.ended = asyncio.Event()
        connection.task = asyncio.ensure_future(connection.service.run())
        connection.task.add_done_callback(lambda task: asyncio.ensure_future(self._ended(connection, task)))
        self._summarise()
        return connection

    async def _ended(self, connection: Connection, task: "asyncio.Task[int]") -> None:
        """A connection of the daemon ended by itself (a fatal error) or was stopped: tear it down now,
        while the others go on."""
        if task.cancelled():
            connection.exit_status = 0
        else:
            failure = task.exception()
            if failure is None:
                connection.exit_status = task.result()
                if connection.exit_status:  # the supervisor gave up: what no retry can cure
                    connection.failure = connection.service.supervisor.last_error or "gave up"
            elif isinstance(failure, QcmError):
                connection.exit_status, connection.failure = failure.exit_status, str(failure)
            else:
                connection.exit_status, connection.failure = 70, "internal error: %s: %s" % (
                    type(failure).__name__, failure)
                log.error("connection %s failed", connection.name, exc_info=failure)
            if connection.failure:
                connection.service.report(ev.Notice("stopped: %s (exit status %d)" % (
                    connection.failure, connection.exit_status), True))
        try:
            await self._bounded(self._teardown(connection))
        finally:
            if connection.ended is not None:
                connection.ended.set()
        self._summarise()
        self._changed()

    async def stop(self, connection: Connection, reason: str) -> None:
        """End one connection (qcm disconnect -i IFACE); returns once it is torn down."""
        connection.stopped_by = reason
        task = connection.task
        if task is None or task.done():
            return
        if connection.service.supervising:
            connection.service.stop(reason)
        else:
            task.cancel()  # still looking for its module or dialling the first time
        if connection.ended is None:
            return
        try:  # its teardown runs in _ended, right after the task, and is bounded there
            await asyncio.wait_for(connection.ended.wait(), 2 * STOP_TIMEOUT)
        except asyncio.TimeoutError:
            log.warning("%s did not stop within %.0f s", connection.name, 2 * STOP_TIMEOUT)

    async def _stop_all(self) -> None:
        running = [c for c in self.connections.values() if c.task is not None and not c.task.done()]
        await asyncio.gather(*(self.stop(c, "stopped by %s" % signal.Signals(self._stopped_by).name
                                         if self._stopped_by else "the daemon stopping") for c in running),
                             return_exceptions=True)
        await self._teardown_all()

    # ================================================================ teardown

    async def _bounded(self, job: Awaitable[None]) -> None:
        teardown = asyncio.ensure_future(job)
        done, _ = await asyncio.wait([teardown], timeout=STOP_TIMEOUT)
        if not done:
            teardown.cancel()
            log.warning("teardown took longer than %.0f s; leaving the rest", STOP_TIMEOUT)

    async def _teardown_all(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        try:
            await asyncio.gather(*(self._teardown(c) for c in list(self.connections.values())))
        finally:
            if self.control is not None:
                await self.control.close()

    async def _teardown(self, connection: Connection) -> None:
        if connection.torn_down:
            return
        connection.torn_down = True
        try:
            await connection.service.teardown()
        finally:
            if connection.control is not None:
                await connection.control.close()
            for close in connection.closers:
                try:
                    await close()
                except Exception as exc:  # releasing ModemManager must not stop the rest
                    log.warning("%s: %s", connection.name or "teardown", exc)

    # ================================================================ hooks from the services

    async def _attached(self, connection: Connection) -> None:
        service = connection.service
        assert service.modem is not None
        options = service.options
        if options.inhibit_modemmanager:
            await self._inhibit_modemmanager(connection)
        if self.daemon or options.once:
            return
        control = ControlServer(socket_path(options.run_dir, service.modem.netdev or "wwan"),
                                lambda request: self._on_control(connection, request))
        await control.start()
        connection.control = control  # only once it is ours: the teardown removes it

    async def _inhibit_modemmanager(self, connection: Connection) -> None:
        """--inhibit-modemmanager: ModemManager lets go of the module for as long as this connection runs."""
        from .modemmanager import inhibit
        modem = connection.service.modem
        assert modem is not None
        release = await inhibit(modem, connection.service.report)
        if release is not None:
            connection.closers.append(release)

    def _ready(self, connection: Connection, text: str) -> None:
        if not self.daemon:
            self.notifier.ready(text)
        else:
            self._summarise()

    def _status(self, connection: Connection, text: str) -> None:
        if not self.daemon:
            self.notifier.status(text)
        else:
            self._summarise()

    def _summarise(self) -> None:
        """The daemon's STATUS line: how many are connected, and what the others wait for."""
        if not self.daemon:
            return
        running = [c for c in self.connections.values() if c.exit_status is None]
        connected = [c for c in running if c.service.supervisor.state.value == "connected"]
        others = ["%s %s" % (c.netdev or c.name, c.text or "starting") for c in running if c not in connected][:4]
        text = "%d of %d connected%s" % (len(connected), len(running), "; " + "; ".join(others) if others else "")
        if text != self._summary:
            self._summary = text
            self.notifier.status(text)

    def _changed(self) -> None:
        path = self.metrics_file
        if path is None:
            return
        try:
            write_atomic(path, self._metrics())
        except (OSError, ValueError) as exc:  # a full disk, or a path that names no file
            log.warning("cannot write metrics to %s: %s", path, getattr(exc, "strerror", None) or exc)

    def _metrics(self) -> str:
        if not self.daemon:
            return render_metrics(self.service.status())
        return render_all([c.status_json() for c in self.connections.values()])

    def _start_watchdog(self) -> None:
        if self.notifier.watchdog_interval:
            self._watchdog = asyncio.ensure_future(self._watchdog_loop())

    async def _watchdog_loop(self) -> None:
        assert self.notifier.watchdog_interval
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(self.notifier.watchdog_interval)

    # ================================================================ the control sockets

    async def _on_control(self, connection: Connection, request: Dict[str, Any]) -> Dict[str, Any]:
        """``RUN_DIR/IFACE.sock`` of ``qcm connect``."""
        command = request.get("command")
        service = connection.service
        if command == "status":
            await service.refresh_registration(STATUS_FRESH)
            return {"ok": True, "status": service.status()}
        if command == "disconnect":
            service.stop("qcm disconnect")
            return {"ok": True}
        if command == "metrics":
            return {"ok": True, "metrics": render_metrics(service.status())}
        return {"ok": False, "error": "unknown command %r" % command}

    def find(self, netdev: str) -> Optional[Connection]:
        """The connection on interface ``netdev`` (or named so), the running one first."""
        matches = [c for c in self.connections.values() if netdev in (c.netdev, c.name)]
        return next((c for c in matches if c.exit_status is None), matches[0] if matches else None)

    async def _on_daemon_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """``RUN_DIR/daemon.sock``: status (all, or "netdev"), disconnect (one: "netdev"), metrics."""
        command = request.get("command")
        netdev = request.get("netdev")
        if command not in ("status", "disconnect", "metrics"):
            return {"ok": False, "error": "unknown command %r (known: status, disconnect, metrics)" % command}
        if command == "metrics":
            return {"ok": True, "metrics": self._metrics()}
        if netdev is None:
            if command == "status":
                live = [c for c in self.connections.values() if c.exit_status is None]
                if live:  # each reading is bounded (2 s); all together, once more
                    await asyncio.wait([asyncio.ensure_future(c.service.refresh_registration(STATUS_FRESH))
                                        for c in live],
                                       timeout=STATUS_TIMEOUT)
                return {"ok": True, "daemon": {"pid": os.getpid()},
                        "connections": [c.status_json() for c in self.connections.values()] + self.pending()}
            running = [c for c in self.connections.values() if c.exit_status is None]
            if len(running) != 1:
                return {"ok": False, "error": "the daemon runs %d connections (%s): say which with -i" % (
                    len(running), ", ".join(c.netdev or c.name for c in running) or "none")}
            connection: Optional[Connection] = running[0]
        else:
            connection = self.find(str(netdev)) if isinstance(netdev, str) else None
        if connection is None:
            return {"ok": False, "unknown": True, "error": "no connection on %s" % str(netdev)[:40],
                    "netdevs": sorted(c.netdev or c.name for c in self.connections.values())}
        if command == "status":
            if connection.exit_status is None:
                await connection.service.refresh_registration(STATUS_FRESH)
            return {"ok": True, "status": connection.status_json()}
        await self.stop(connection, "qcm disconnect")
        return {"ok": True, "stopped": connection.netdev or connection.name}
