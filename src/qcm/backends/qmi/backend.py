"""The QMI backend: a module behind qmi_wwan (or a QMI pty), on the seam of ``backends.base``.

It owns the control port and the QMI session (client ids, released on close), runs the dial
sequence of ``dial.py``, and turns what the modem says unasked into supervisor events: the WDS
packet-service indication (a call ended, with its reason, or its address changed), NAS serving
system (the network is back), UIM card status (a SIM was inserted), and the port vanishing.

The port is shared on libqmi's qmi-proxy protocol (``io/qmi_proxy.py``): through a proxy that
runs (libqmi's, ModemManager's, another qcm's), or that ``--proxy`` starts; otherwise qcm opens
the port and serves the proxy socket itself, so that ``qmicli -p``, ModemManager, a second qcm
or the quectel-CM drop-in can use the modem while qcm holds its calls (``--no-proxy``: neither).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ...connect import supervisor as sv
from ...discovery import Modem
from ...connect import events as ev
from ...errors import ModemError, NetConfigError, QcmError
from ...io.qmi_port import QmiPort
from ...io.qmi_proxy import ProxyClientTransport, SharedPort, check_open_answer, proxy_listening
from ...model import IpSettings
from ...qmi import readings
from ...qmi.message import Message
from ..base import Backend, Bearer, BearerId
from .dial import QmiDial, wds_role
from .session import ModemSession

if TYPE_CHECKING:  # DHCP and router advertisements are loaded by the links that need them (``_dynamic_ip``)
    from ...io.ip_config import DynamicIp

__all__ = ["QmiBackend", "transport_for", "open_port", "control_transport"]

log = logging.getLogger(__name__)

SETTLE_TIMEOUT = 1.0  # seconds closing waits for the answers asked after the call (a module gives them in 0.1 s)


def is_gobinet(path: str) -> bool:
    """quectel-CM's rule (as ``io.gobinet.is_gobinet``): a control path starting with /dev/qcqmi is GobiNet's.
    Asked here, so that the GobiNet transport and its codec are loaded only for such a module."""
    return os.path.basename(path).startswith("qcqmi")


def control_transport(path: str) -> Any:
    """What to open for a QMI control path: GobiNet's transport for its device, else the path itself."""
    if not is_gobinet(path):
        return path
    from ...io.gobinet import control_transport as gobinet_transport
    return gobinet_transport(path)


def transport_for(modem: Modem, proxy: Optional[bool]) -> Any:
    """Where the QMI port is: through a qmi-proxy that runs (or that ``proxy`` True starts), else the
    device itself, served to others on the proxy socket unless ``proxy`` is False."""
    control = modem.control
    assert control is not None
    if is_gobinet(control):
        return control_transport(control)  # no CTL service there: nothing a proxy could share
    if proxy is not False and proxy_listening() and not SharedPort.listening_here:
        return ProxyClientTransport(control)  # (a proxy of this process serves another module, not this one)
    if proxy is True:
        return ProxyClientTransport(control, spawn=True)
    if proxy is False:
        return control
    return SharedPort(control, list(modem.control_aliases))


async def open_port(control: str, timeout: float = 5.0, show_personal: bool = False) -> QmiPort:
    """A QMI port to read a module that may be in use: through the qmi-proxy when one serves the
    socket (a running qcm serves it while it holds its calls), else the device itself. For the
    commands that only read (qcm status, qcm doctor): they never take the port from a dialer."""
    # The proxy socket may be this process's own (qcm daemon), serving another module than this one.
    ours = list(SharedPort.listening_here)
    through_proxy = proxy_listening() and (not ours or any(shared.accepts(control) for shared in ours))
    where: Any = ProxyClientTransport(control) if through_proxy else control_transport(control)
    port = await QmiPort(where, show_personal=show_personal).open()
    if isinstance(where, ProxyClientTransport):
        try:
            answer = await port.request("CTL", "Internal Proxy Open", {"device_path": control}, 0, timeout,
                                        check=False)
            check_open_answer(answer.ok, control, answer.result.describe() if answer.result else "no answer")
        except BaseException:
            port.close()
            raise
    return port


class QmiBackend(Backend):
    name = "qmi"
    modes = ("qmi",)

    port: Optional[QmiPort] = None
    session: Optional[ModemSession] = None
    dial: Optional[QmiDial] = None
    ip: Optional[DynamicIp] = None              # addresses by DHCP / router advertisements (``--ip-config``)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: Dict[BearerId, Bearer] = {}   # calls up on the modem, to match its indications
        self._kept = False
        self._after_call: Optional["asyncio.Future[None]"] = None  # identity, signal, indications: after a call

    # ---------------------------------------------------------------- the channel

    async def open(self) -> None:
        await self.close()
        context = self.context
        assert self.modem.control is not None
        where = context.transport(self.modem) if context.transport else transport_for(self.modem,
                                                                                      context.plan.qmi_proxy)
        port = await QmiPort(where, show_personal=context.show_personal).open()
        self.port = port
        port.on_lost(lambda reason: self._lost(port, reason))
        port.on_indication(self._on_indication)
        if isinstance(port.transport, ProxyClientTransport):
            await self._open_through_proxy(port, port.transport.device)
        elif isinstance(port.transport, SharedPort) and port.transport.serving:
            context.report(ev.Notice("serving %s on the qmi-proxy socket (qmicli -p, ModemManager and other "
                                     "qcm can share it)" % self.modem.control))
        self.session = ModemSession(port, context.request_timeout)
        self.dial = QmiDial(self.session, context, self.modem)
        await self.dial.open_clients()

    async def _open_through_proxy(self, port: QmiPort, device: str) -> None:
        """libqmi's handshake: CTL Internal Proxy Open with the device path, before anything else."""
        try:
            answer = await port.request("CTL", "Internal Proxy Open", {"device_path": device}, 0,
                                        self.context.request_timeout, check=False)
        except ModemError as exc:
            raise ModemError("the qmi-proxy closed the connection instead of opening %s (%s)" % (device, exc),
                             "it serves root only, and the device must be a QMI port it can open") from None
        check_open_answer(answer.ok, device, answer.result.describe() if answer.result else "no answer")
        self.context.report(ev.Notice("sharing %s through the qmi-proxy" % device))

    @property
    def sharing(self) -> str:
        """How the control port is shared: "serving qmi-proxy", "through qmi-proxy", or ""."""
        transport = self.port.transport if self.port is not None else None
        if isinstance(transport, ProxyClientTransport):
            return "through qmi-proxy"
        if isinstance(transport, SharedPort) and transport.serving:
            return "serving qmi-proxy"
        return ""

    def _lost(self, port: QmiPort, reason: str) -> None:
        if port is self.port:
            self.context.emit(sv.ModemLost("the control port %s" % reason))

    async def close(self) -> None:
        await self._settle_after_call()
        session, port, ip = self.session, self.port, self.ip
        self.port = self.session = self.dial = self.ip = None
        self.live.clear()
        if ip is not None:
            ip.close(release=not self._kept)
        try:
            if session is not None:
                await session.close()
        except Exception as exc:  # the port may be wedged or gone; closing must still finish
            log.warning("releasing the QMI clients: %s", exc)
        if port is not None:
            port.close()

    @property
    def is_open(self) -> bool:
        return self.port is not None and self.port.is_open

    def _dial(self) -> QmiDial:
        if self.dial is None:
            raise ModemError("the control port %s is not open" % self.modem.control)
        return self.dial

    # ---------------------------------------------------------------- the sequence

    async def prepare(self) -> None:
        self.identity = await self._dial().prepare()

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        dial = self._dial()
        ip = self._dynamic_ip(netdev)
        if ip is not None:
            ip.expect(bearer.family)
        started = await dial.start(bearer, netdev)
        if self._after_call is None or self._after_call.done():
            self._after_call = asyncio.ensure_future(self._ask_after_call(dial))
        if ip is not None:  # the modem's own settings give way to what the link's DHCP and RAs say
            try:
                settings = await ip.acquire(bearer.family, self.context.plan.start_timeout)
            except BaseException:
                await dial.stop(started)
                raise
            self.context.report(ev.SettingsReceived(settings))
            started = Bearer(started.id, started.netdev, settings, started.handle, started.started)
        self.live[bearer] = started
        return started

    async def _ask_after_call(self, dial: QmiDial) -> None:
        """With a call up, what it did not need (``QmiDial.after_call``), while the host is configured."""
        await dial.after_call()
        if dial is self.dial:
            self.identity = dial.identity
            self.registration = dial.registration or self.registration

    async def _settle_after_call(self) -> None:
        """Before the clients go: the questions asked after the call get their answers (a short wait: they
        were sent when the call came up), so that a --once run still reports the module it connected."""
        task, self._after_call = self._after_call, None
        if task is None or task.done():
            return
        if self.is_open:  # (a port that is gone answers nothing: no wait then)
            await asyncio.wait({task}, timeout=min(SETTLE_TIMEOUT, self.context.request_timeout))
        if not task.done():
            task.cancel()
        elif not task.cancelled() and task.exception() is not None:
            log.debug("after the call: %s", task.exception())

    def _dynamic_ip(self, netdev: str) -> Optional[DynamicIp]:
        """DHCP and router advertisements when asked for, and where the link is Ethernet-framed
        (GobiNet's usbN, qmi_wwan left in 802-3): there the modem's router is what configures hosts."""
        dial = self._dial()
        if self.context.plan.ip_config != "dhcp" and dial.link_layer != "802-3":
            return None
        if self.context.plan.multiplexed:
            return None  # mux links are raw IP: the modem's settings (the CLI refuses --ip-config dhcp there)
        if self.ip is None:
            from ...io.ip_config import DynamicIp
            self.ip = DynamicIp(netdev, self.context.report, self._address_changed, self._address_lost)
        return self.ip

    def _address_changed(self, family: int) -> None:
        for bearer in [b for b in self.live.values() if b.family == family]:
            self.context.emit(sv.AddressChanged(bearer.id))

    def _address_lost(self, family: int, reason: str) -> None:
        for bearer in [b for b in self.live.values() if b.family == family]:
            self.context.emit(sv.CallDropped(bearer.id, "%s: %s" % (bearer.id, reason)))

    async def settings(self, bearer: Bearer) -> IpSettings:
        if self.ip is not None:
            current = self.ip.current(bearer.family)
            if current is None:
                raise NetConfigError("%s has no address from the link right now" % bearer.id)
            return current
        return await self._dial().settings(bearer.id)

    async def is_up(self, bearer: Bearer) -> bool:
        connected = await self._dial().call_connected(bearer.id)
        return connected and (self.ip is None or self.ip.current(bearer.family) is not None)

    async def stop(self, bearer: Bearer) -> bool:
        self.live.pop(bearer.id, None)
        if self.ip is not None:
            self.ip.stop(bearer.family)
        if not self.is_open:
            return False
        return await self._dial().stop(bearer)

    async def radio_cycle(self) -> None:
        await self._dial().radio_cycle()

    def keep(self, bearers: List[Bearer]) -> None:
        assert self.session is not None
        for bearer in bearers:  # their WDS clients hold the calls: closing must not release them
            self.session.keep(("WDS", wds_role(bearer.id)))
        self.live.clear()
        self._kept = True

    @classmethod
    async def read_imei(cls, modem: Modem) -> str:
        if not modem.control:
            return ""
        try:
            port = await open_port(modem.control, 3.0)
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

    @classmethod
    async def stop_saved(cls, control: str, bearers: List[Tuple[BearerId, Dict[str, Any]]]) -> List[str]:
        try:
            port = await QmiPort(control_transport(control)).open()
        except ModemError as exc:
            return ["modem not reachable (%s): its calls ended with it" % exc]
        # The saved clients go into a session, whose close() releases them as any other.
        session = ModemSession(port, 3.0)
        session.clients = {("WDS", wds_role(bearer)): int(handle["cid"]) for bearer, handle in bearers}
        details = []
        try:
            for bearer, handle in bearers:
                try:
                    await session.request("WDS", "Stop Network", {"packet_data_handle": int(handle["packet_data_handle"])},
                                          role=wds_role(bearer), check=False)
                    details.append("%s call stopped" % bearer)
                except QcmError as exc:
                    details.append("%s: %s" % (bearer, exc))
        finally:
            await session.close()
            port.close()
        return details

    # ---------------------------------------------------------------- what the modem says unasked

    def _on_indication(self, message: Message) -> None:
        service, name = message.service_name, message.name
        emit = self.context.emit
        if service == "WDS" and name == "Packet Service Status":
            bearer = next((b for b in self.live.values() if b.handle["cid"] == message.client_id), None)
            if bearer is None:
                return
            status = message.get("connection_status") or {}
            state = getattr(status.get("status"), "name", "")
            if state == "disconnected":
                reason = message.get("call_end_reason")
                emit(sv.CallDropped(bearer.id, "the network ended the %s call%s" % (
                    bearer.id, ": %s (%d)" % (reason.name, int(reason)) if reason is not None else "")))
            elif state == "connected" and status.get("reconfiguration_required"):
                emit(sv.AddressChanged(bearer.id))
        elif service == "NAS" and name == "Serving System":
            serving = message.get("serving_system") or {}
            if getattr(serving.get("ps_attach_state"), "name", "") == "attached":
                emit(sv.Registered())
        elif service == "UIM" and name == "Card Status":
            if readings.card_state(message) == "present":
                emit(sv.SimInserted())
