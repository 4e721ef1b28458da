"""Progress lines for people, from the dial sequence's events (qcm's own style)."""

from __future__ import annotations

import logging
from typing import Optional

from ..connect import events as ev
from ..log import REPORT

__all__ = ["TextReporter", "NamedReporter", "describe_event"]


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
    if isinstance(event, ev.ContextActivated):
        return "context %d up (%s)%s" % (event.cid, event.command, ", modem address %s" % event.address
                                         if event.address else "")
    if isinstance(event, ev.CallStarted):
        return "IPv%d call up (handle 0x%08x)" % (event.family, event.handle)
    if isinstance(event, ev.SettingsReceived):
        return "IPv%d: %s" % (event.settings.family, _settings(event.settings))
    if isinstance(event, ev.HostConfigured):
        return "%s configured: %s; DNS %s" % (event.netdev, "; ".join(event.routes) or "no default route", event.dns)
    if isinstance(event, ev.Connected):
        return "%s in %.2f s (%s on %s)%s" % ("reconnected" if event.again else "connected", event.seconds,
                                              ", ".join("IPv%d" % f for f in event.families), event.netdev,
                                              "; it had gone down: %s" % event.cause if event.cause else "")
    if isinstance(event, ev.Disconnecting):
        return "disconnecting: %s" % event.reason
    if isinstance(event, ev.Disconnected):
        return "disconnected%s" % (": " + ", ".join(event.details) if event.details else "")
    if isinstance(event, ev.Notice):
        return event.text
    return None


class TextReporter:
    """Events as lines, through the one output path (``qcm.log``): warnings at warning level."""

    def __init__(self, show_personal: bool = False) -> None:
        self.show_personal = show_personal
        self.log = logging.getLogger(REPORT)

    def __call__(self, event: ev.Event) -> None:
        line = describe_event(event, self.show_personal)
        if line is not None:
            warning = isinstance(event, ev.Notice) and event.warning
            self.log.log(logging.WARNING if warning else logging.INFO, line)


class NamedReporter(TextReporter):
    """``qcm daemon``: each line begins with the connection's name (its configuration, or USB path)."""

    def __init__(self, name: str, show_personal: bool = False) -> None:
        super().__init__(show_personal)
        self.name = name

    def __call__(self, event: ev.Event) -> None:
        line = describe_event(event, self.show_personal)
        if line is not None:
            warning = isinstance(event, ev.Notice) and event.warning
            self.log.log(logging.WARNING if warning else logging.INFO, "%s: %s", self.name, line)
