"""The lifecycle around a connection service: signals, systemd, the control socket, metrics.

``qcm connect`` (and the quectel-CM drop-in) runs one ``ConnectionService`` under a ``Manager``:
SIGTERM asks the service to stop (exit 0 once torn down), SIGINT before the first connection
means the user gave up (exit 130); systemd hears READY, STATUS, WATCHDOG and STOPPING; the
root-only control socket answers ``qcm status`` and ``qcm disconnect``; metrics go to a file.
The teardown always runs, bounded in time, even when the modem no longer answers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Dict, Optional

from ..io.control import ControlServer, socket_path
from ..io.files import write_atomic
from ..io.notify import Notifier
from . import events as ev
from .metrics import render as render_metrics
from .options import ConnectOptions
from .service import ConnectionService, Hooks

__all__ = ["Manager"]

log = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0        # the whole teardown on SIGTERM, even with a modem that stopped answering


class Manager(Hooks):
    def __init__(self, options: ConnectOptions, report: ev.Reporter, notifier: Optional[Notifier] = None,
                 **service_args: Any) -> None:
        self.options = options
        self.notifier = notifier or Notifier()
        self.service = ConnectionService(options, report, self, **service_args)
        self.control: Optional[ControlServer] = None
        self._stopped_by: Optional[int] = None
        self._watchdog: Optional["asyncio.Task[Any]"] = None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        main = asyncio.ensure_future(self.service.run())
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum, main)
        if self.notifier.watchdog_interval:
            self._watchdog = asyncio.ensure_future(self._watchdog_loop())
        try:
            return await main
        except asyncio.CancelledError:
            if self._stopped_by == signal.SIGTERM:
                return 0  # a service asked to stop is not a failure, connected or not
            self.service.report(ev.Notice("interrupted before the connection was up"))
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
        # SIGTERM asks a service to stop (exit 0 once torn down). SIGINT before the first
        # connection means the user gave up waiting (exit 130). Either way the teardown runs.
        self._stopped_by = signum
        interrupted = signum == signal.SIGINT and not self.service.supervisor.ever_connected
        if self.options.once or interrupted or not self.service.supervising:
            main.cancel()
        else:
            self.service.stop("stopped by %s" % signal.Signals(signum).name)

    async def _teardown(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        try:
            await self.service.teardown()
        finally:
            if self.control is not None:
                await self.control.close()

    async def _watchdog_loop(self) -> None:
        assert self.notifier.watchdog_interval
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(self.notifier.watchdog_interval)

    # ---------------------------------------------------------------- hooks from the service

    async def attached(self, service: ConnectionService) -> None:
        if self.options.once:
            return
        assert service.modem is not None
        control = ControlServer(socket_path(self.options.run_dir, service.modem.netdev or "wwan"), self._on_control)
        await control.start()
        self.control = control  # only once it is ours: the teardown removes it

    def ready(self, text: str) -> None:
        self.notifier.ready(text)

    def status(self, text: str) -> None:
        self.notifier.status(text)

    def changed(self) -> None:
        path = self.options.metrics_file
        if path is None:
            return
        try:
            write_atomic(path, render_metrics(self.service.status()))
        except (OSError, ValueError) as exc:  # a full disk, or a path that names no file
            log.warning("cannot write metrics to %s: %s", path, getattr(exc, "strerror", None) or exc)

    # ---------------------------------------------------------------- the control socket

    async def _on_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        command = request.get("command")
        if command == "status":
            await self.service.refresh_registration()
            return {"ok": True, "status": self.service.status()}
        if command == "disconnect":
            self.service.stop("qcm disconnect")
            return {"ok": True}
        if command == "metrics":
            return {"ok": True, "metrics": render_metrics(self.service.status())}
        return {"ok": False, "error": "unknown command %r" % command}
