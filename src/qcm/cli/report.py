"""Progress lines for people, from the dial sequence's events (qcm's own style)."""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Callable, Optional, TextIO

from ..connect import events as ev
from ..printable import printable

__all__ = ["TextReporter", "LineWriter", "describe_event"]


class LineWriter:
    """Log lines to a stream or a file descriptor that may fail: a full disk, a reader that went away.

    A log is never worth the connection: the first failure is reported once on stderr, then
    lines to a file are still tried (the disk may get space again, and a failing write is
    quick) while a broken stream is pointed at /dev/null, so that its buffered lines cannot
    fail again when the process exits.
    """

    def __init__(self, prog: str, name: str, stream: Optional[IO[str]] = None, fd: Optional[int] = None,
                 errors: Optional[IO[str]] = None) -> None:
        self.prog, self.name, self.stream, self.fd, self.errors = prog, name, stream, fd, errors
        self.warned = False

    def write(self, text: str) -> None:
        try:
            if self.fd is not None:
                os.write(self.fd, text.encode("utf-8", "backslashreplace"))
            elif self.stream is not None:
                self.stream.write(text)
                self.stream.flush()
        except (OSError, ValueError) as exc:
            self._warn(exc)
            if self.stream is not None:
                self._silence()

    def _warn(self, exc: Exception) -> None:
        if self.warned:
            return
        self.warned = True
        errors = self.errors or sys.stderr
        try:
            errors.write("%s: warning: cannot write to %s (%s); carrying on without it\n"
                         % (self.prog, self.name, getattr(exc, "strerror", None) or exc))
            errors.flush()
        except (OSError, ValueError):
            pass  # nowhere left to say it

    def _silence(self) -> None:
        stream, self.stream = self.stream, None
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())  # type: ignore[union-attr]
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def _imei(identity: ev.ModemIdentity, show_personal: bool) -> str:
    return identity.imei if show_personal else "###"


def _settings(settings: ev.IpSettings) -> str:
    text = "%s" % settings.address
    if settings.gateway:
        text += " gateway %s" % settings.gateway
    if settings.dns:
        text += " dns %s" % ", ".join(str(d) for d in settings.dns)
    if settings.mtu:
        text += " mtu %d" % settings.mtu
    return text


def describe_event(event: ev.Event, show_personal: bool = False) -> Optional[str]:
    """One line for an event, or None for events not worth a line."""
    if isinstance(event, ev.ModemFound):
        return "found %s" % event.description
    if isinstance(event, ev.ClientsAllocated):
        return "clients: %s" % ", ".join("%s%s %d" % (s, "" if r == "main" else "/" + r, c)
                                         for s, r, c in event.clients)
    if isinstance(event, ev.Identified):
        i = event.identity
        return "modem %s %s, firmware %s, IMEI %s" % (i.manufacturer, i.model, i.revision, _imei(i, show_personal))
    if isinstance(event, ev.DataFormat):
        host = "n/a" if event.host_raw_ip is None else ("raw-ip" if event.host_raw_ip else "802-3")
        changed = " (switched: %s)" % ", ".join(event.changed) if event.changed else ""
        return "data format: modem %s, host %s%s" % (event.modem, host, changed)
    if isinstance(event, ev.SimReady):
        return "SIM %s" % ("ready" if event.state == "ready" else "unlocked with the PIN")
    if isinstance(event, ev.RadioOnline):
        return "radio turned on (was %s)" % event.previous if event.changed else None
    if isinstance(event, ev.ProfileChecked):
        if not event.supported:
            return "profile %d: the modem does not support profile requests; the APN goes with the call" % event.index
        return "profile %d: apn %s, auth %s, %s%s" % (event.index, event.apn, event.auth, event.pdp_type,
                                                      " (updated)" if event.changed else "")
    if isinstance(event, ev.Waiting):
        return "waiting for the network (%.0f s): %s" % (event.elapsed, event.registration.describe())
    if isinstance(event, ev.Registered):
        return event.registration.describe()
    if isinstance(event, ev.CallStarted):
        return "IPv%d call up (handle 0x%08x)" % (event.family, event.handle)
    if isinstance(event, ev.SettingsReceived):
        return "IPv%d: %s" % (event.settings.family, _settings(event.settings))
    if isinstance(event, ev.HostConfigured):
        return "%s configured: %s; DNS %s" % (event.netdev, "; ".join(event.routes) or "no default route", event.dns)
    if isinstance(event, ev.Connected):
        return "%s in %.2f s (%s on %s)" % ("reconnected" if event.again else "connected", event.seconds,
                                            ", ".join("IPv%d" % f for f in event.families), event.netdev)
    if isinstance(event, ev.Disconnecting):
        return "disconnecting: %s" % event.reason
    if isinstance(event, ev.Disconnected):
        return "disconnected%s" % (": " + ", ".join(event.details) if event.details else "")
    if isinstance(event, ev.Notice):
        return ("warning: " if event.warning else "") + event.text
    return None


class TextReporter:
    def __init__(self, stream: Optional[TextIO] = None, show_personal: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.out = LineWriter("qcm", "standard output", stream or sys.stdout)
        self.show_personal = show_personal
        self.clock = clock

    def __call__(self, event: ev.Event) -> None:
        line = describe_event(event, self.show_personal)
        if line is None:
            return
        now = self.clock()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + ".%03d" % int((now % 1) * 1000)
        self.out.write("%s %s\n" % (stamp, printable(line)))  # modem and network text: no terminal escapes
