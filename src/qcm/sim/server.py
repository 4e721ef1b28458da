"""Runs the simulated modem: its control port on a pty, its fake sysfs, sim.json, its faults.

This is the simulator's I/O layer. ``SimModem`` decides what to answer over QMI, and
``MbimDevice`` over MBIM when ``usbnet = "mbim"`` (on the same modem state); this module reads
request bytes, waits the configured per-message latency, writes the answers one message per
read, fires the modem's timed events, carries out faults asked for on its control socket
(``qcm sim ctl``), and cleans up everything it created on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..io.control import ControlServer
from ..io.hotplug import UeventAnnouncer
from ..qmi.message import decode
from ..qmi.qmux import Frame, FrameParser, FramingError
from ..qmi.render import summary
from . import handlers  # noqa: F401 - registers the request handlers
from . import dns
from .config import ETHERNET_MODES, SimConfig
from .datapath import DataPath
from .at import SimAt
from .mbim_device import MbimDevice, session_clients
from .modem import SimModem, internal_error
from .private_files import open_trace, write_private
from .ptyport import PtyPort
from .router import Lan
from .sysfs import Layout, device_events, lay_out, netdev_name
from .sysfs_watch import AttributeWatch

__all__ = ["Simulator", "ModuleGroup", "run", "FAULTS", "module_overrides", "check_group"]

log = logging.getLogger("qcm.sim")


class Simulator:
    def __init__(self, config: SimConfig, directory: Path, trace: Optional[Path] = None,
                 data_path: bool = True, group: Optional["ModuleGroup"] = None, index: int = 0) -> None:
        self.group = group                   # qcm sim --modules N: the others in this process, sharing sysfs
        self.index = index
        self.config = config
        self.want_data_path = data_path
        self.data_path: Optional[DataPath] = None
        self.trace = open_trace(trace) if trace is not None else None
        self.directory = directory
        self.modem = SimModem(config, now=time.monotonic())
        self.mbim: Optional[MbimDevice] = self._mbim_device()
        self.parser = FrameParser()
        self.qmi_port = PtyPort("qmi", self._on_qmi_data, self._on_qmi_connect, messages=True)
        self.at = SimAt(lambda: self.modem, self._at_reset, time.monotonic)
        self.at_port = PtyPort("at", self._on_at_data, self._on_at_connect)
        self._at_buffer = b""
        self._at_unanswered = {u.upper() for u in config.unanswered if u.upper().startswith("AT")}
        self.layout: Optional[Layout] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.control: Optional[ControlServer] = None
        self.present = True                  # False while "reset" or unbound
        self._timer: Optional[asyncio.TimerHandle] = None
        self._stopped: Optional[asyncio.Event] = None
        self._created_directory = False
        self.attributes: Optional[AttributeWatch] = None
        self.holder: Optional[subprocess.Popen] = None
        self.mux_links: Dict[int, str] = {}   # QMAP mux id -> its link (qmimuxN, wwan0_N)
        self.uevents: Optional[UeventAnnouncer] = None  # hotplug: kernel-style uevents for the fake devices

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()  # created inside the loop (Python 3.9 binds events at creation)
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            self._created_directory = True
        self.layout = self._lay_out()
        self.attributes = AttributeWatch(self.loop)
        self._watch_attributes(drivers=self.group is None)  # a group watches the shared driver files once
        self.qmi_port.start(self.loop)
        self.at_port.start(self.loop)
        if self.want_data_path and self.config.usbnet in ("qmi", "mbim") + ETHERNET_MODES:
            if os.geteuid() != 0:
                log.warning("no data path: creating %s and the carrier network needs root", netdev_name(self.config))
            else:
                self.data_path = DataPath(self.modem, netdev_name(self.config), None)
                if self.group is not None:  # one carrier network per module
                    self.data_path.carrier = "qcm-carrier-%d-%d" % (os.getpid(), self.index)
                self._fit_data_path()
                self.data_path.start(self.loop)
        self._quectel_links()
        self._schedule_timer()
        if self.config.port_holder:
            self.holder = self._start_holder(self.config.port_holder)
        if self.group is not None:
            return  # the group has the control socket and writes sim.json for all
        control = ControlServer(self.directory / "ctl.sock", self._on_control)
        await control.start()
        self.control = control
        self._write_description()
        log.info("simulated %s %s on %s (%s), sysfs %s", self.config.manufacturer, self.config.model,
                 self.qmi_port.path, self.layout.control_link, self.layout.sysfs)

    def _start_holder(self, name: str) -> subprocess.Popen:
        """Another program holding the control and AT ports, as ModemManager does in the field."""
        assert self.layout is not None
        ports = [str(p) for p in (self.layout.control_link, *self.layout.tty_links.values()) if p.exists()]
        holder = subprocess.Popen([sys.executable, str(Path(__file__).with_name("holder.py")), name, *ports],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None
        if not holder.stdout.readline().startswith("holding"):  # it holds them before we say we are ready
            raise RuntimeError("the port holder %r did not start" % name)
        return holder

    def _lay_out(self) -> Layout:
        layout = lay_out(self.directory, self.config, self.qmi_port.path,
                         {self.config.at_interface: self.at_port.path})
        if self.group is not None:
            self.group.settle(self, layout)
        return layout

    def describe(self) -> Dict[str, Any]:
        assert self.layout is not None
        c = self.config
        return {
            "pid": os.getpid(), "control_port": self.qmi_port.path, "control_link": str(self.layout.control_link),
            "sysfs_root": str(self.layout.sysfs), "dev_root": str(self.layout.dev), "netdev": netdev_name(c),
            "model": c.model, "manufacturer": c.manufacturer, "revision": c.revision, "imei": c.imei,
            "usb": c.usb, "usb_path": c.pci_address if c.bus == "pci" else c.usb_path,
            "driver": self.layout.driver_dir.name, "usbnet": c.usbnet, "bus": c.bus,
            "at_port": str(next(iter(self.layout.tty_links.values()), "")),
            "data_path": self.data_path is not None,
            "carrier_netns": self.data_path.carrier if self.data_path else None,
            "internet": [dns.INTERNET_V4, dns.INTERNET_V6], "dns": list(c.dns4) + list(c.dns6), "dns_name": dns.NAME,
        }

    def _write_description(self) -> None:
        # Written last and atomically: its appearance tells a waiting test the simulator is ready.
        if self.group is not None:
            self.group.write_description()
            return
        write_private(self.directory / "sim.json", json.dumps(self.describe(), indent=2) + "\n")

    async def wait_closed(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    def cleanup(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.holder is not None:  # ours to end: we started it
            self.holder.terminate()
            self.holder.wait()
            assert self.holder.stdout is not None
            self.holder.stdout.close()
        self.qmi_port.close()
        self.at_port.close()
        if self.attributes is not None:
            self.attributes.close()
        if self.uevents is not None:  # hotplug
            self.uevents.close()
        if self.data_path is not None:
            self.data_path.close()
        if self.trace is not None:
            self.trace.close()
        (self.directory / "sim.json").unlink(missing_ok=True)
        if self.layout is not None:
            for path in self.layout.created:
                shutil.rmtree(path, ignore_errors=True)
        if self._created_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    # ----------------------------------------------------------------- QMI

    def _on_qmi_connect(self, connected: bool) -> None:
        if connected:
            self.parser = FrameParser()
            if self.mbim is not None:
                self.mbim.host_changed()

    def _on_qmi_data(self, data: bytes) -> None:
        if self.mbim is not None:
            self._on_mbim_data(self.mbim, data)
            return
        self.parser.feed(data)
        for event in self.parser.events():
            if isinstance(event, FramingError):
                log.warning("control port: %s", event)
                continue
            if self.qmi_port.muted:
                continue  # a modem that stopped answering reads and ignores
            self._answer(event)

    # ----------------------------------------------------------------- MBIM

    def _mbim_device(self) -> Optional[MbimDevice]:
        """The MBIM function when the module is in MBIM mode: a new one at every (re)start, so an
        FCC-locked unit comes back locked, on the modem state QMI and AT share."""
        if self.config.usbnet != "mbim":
            return None
        return MbimDevice(self.modem, fcc_locked=self.config.fcc_locked, max_version=self.config.mbim_max_version,
                          max_control_transfer=self.config.mbim_max_transfer)

    def _on_mbim_data(self, device: MbimDevice, data: bytes) -> None:
        if self.qmi_port.muted:
            return  # a modem that stopped answering reads and ignores
        self._trace_bytes("host->modem", [data])
        try:
            replies = device.receive(data, time.monotonic())
        except Exception:  # a simulator bug: say so and go on, as a modem that drops a request
            log.exception("MBIM request %s: the simulator failed on it", data[:48].hex(" "))
            replies = []
        self._send_mbim(replies, self.config.latency_ms / 1000.0)
        self._schedule_timer()
        self._after_event()

    def _send_mbim(self, pieces: List[bytes], delay: float) -> None:
        """Messages and fragments to the host, one per read of the port (as cdc-wdm hands them)."""
        if not pieces:
            return
        self._trace_bytes("modem->host", pieces)
        assert self.loop is not None
        port = self.qmi_port  # answers to a port that went away in the meantime are lost

        def deliver() -> None:
            for piece in pieces:
                port.write(piece)
        if delay > 0:
            self.loop.call_later(delay, deliver)
        else:
            deliver()

    def _mbim_advance(self) -> None:
        """What changed behind the MBIM function's back (a fault, an AT command, the clock) goes
        out as notifications; the QMI indications the modem queued have no listener here."""
        if self.mbim is not None and self.present:
            self._send_mbim(self.mbim.advance(time.monotonic()), 0)

    def _trace_bytes(self, direction: str, pieces: List[bytes]) -> None:
        if self.trace is not None:
            stamp = time.strftime("%H:%M:%S")
            for piece in pieces:
                self.trace.write("[%s] %s %s\n" % (stamp, direction, piece.hex(" ")))

    # ----------------------------------------------------------------- AT

    def _on_at_connect(self, connected: bool) -> None:
        if connected:
            self._at_buffer = b""

    def _on_at_data(self, data: bytes) -> None:
        self._at_buffer += data
        while True:
            cut = min((i for i in (self._at_buffer.find(b"\r"), self._at_buffer.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                self._at_buffer = self._at_buffer[-4096:]
                return
            line, self._at_buffer = self._at_buffer[:cut].decode("utf-8", "replace"), self._at_buffer[cut + 1:]
            if not line.strip() or self.at_port.muted or line.strip().upper() in self._at_unanswered:
                continue
            lines = self.at.handle(line.strip())
            if self.trace is not None:
                self.trace.write("[%s] AT %r -> %r\n" % (time.strftime("%H:%M:%S"), line.strip(), lines))
            echo = lines[0] + "\r" if self.at.echo and lines and lines[0] == line.strip() else ""
            body = lines[1:] if echo else lines
            reply = (echo + "".join("\r\n%s\r\n" % item for item in body)).encode()
            port = self.at_port
            assert self.loop is not None
            self.loop.call_later(self.config.latency_ms / 1000.0, port.write, reply)
            self.send_now(self.modem.take_pending())
            self._schedule_timer()
            self.later(0.05 + self.config.latency_ms / 1000.0, self._after_event)  # URCs come after the answer

    def _at_reset(self) -> None:
        """AT+CFUN=1,1: answer OK, then restart the module (with a new usbnet mode if one was set)."""
        from dataclasses import replace
        if self.at.pending_usbnet and self.at.pending_usbnet != self.config.usbnet:
            self.config = replace(self.config, usbnet=self.at.pending_usbnet)
            self.modem.config = replace(self.modem.config, usbnet=self.at.pending_usbnet)
        self.at.pending_usbnet = None
        if self.at.pending_nat is not None and self.at.pending_nat != self.config.nat:
            self.config = replace(self.config, nat=self.at.pending_nat)
            self.modem.config = replace(self.modem.config, nat=self.at.pending_nat)
        self.at.pending_nat = None
        self.later(0.1 + self.config.latency_ms / 1000.0, self.vanish)
        self.later(2.0, self.come_back)

    def _trace(self, direction: str, frames: List[Frame]) -> None:
        # Full bytes, personal data included: --trace is the explicit request for them.
        if self.trace is not None:
            stamp = time.strftime("%H:%M:%S")
            for frame in frames:
                self.trace.write("[%s] %s %s\n" % (stamp, direction, frame.encode().hex(" ")))

    def _answer(self, frame: Frame) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", summary(decode(frame)))
        self._trace("host->modem", [frame])
        try:
            replies = self.modem.handle(frame, time.monotonic())
        except Exception:  # a simulator bug: say so, answer as a modem with an internal error would, go on
            log.exception("request %s: the simulator failed on it", frame)
            replies = [internal_error(frame)] if frame.kind == "request" else []
        self._send_later(replies, self.config.latency_ms / 1000.0)
        self._schedule_timer()
        self._after_event()

    def _send_later(self, frames: List[Frame], delay: float) -> None:
        if not frames:
            return
        self._trace("modem->host", frames)
        messages = [f.encode() for f in frames]  # one per read() of the port, as cdc-wdm delivers them
        assert self.loop is not None
        port = self.qmi_port  # answers to a port that went away in the meantime are lost

        def deliver() -> None:
            for message in messages:
                port.write(message)
        if delay > 0:
            self.loop.call_later(delay, deliver)
        else:
            deliver()

    def _schedule_timer(self) -> None:
        assert self.loop is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.mbim.next_deadline() if self.mbim is not None else self.modem.next_deadline()
        if deadline is not None:
            self._timer = self.loop.call_later(max(0.0, deadline - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.mbim is not None:
            self._mbim_advance()
        else:
            self._send_later(self.modem.advance(time.monotonic()), 0)
        self._schedule_timer()
        self._after_event()

    def _after_event(self) -> None:
        """What follows any change of state: MBIM notifications, the data path's framing and
        announcements, the AT port's unsolicited results (a call the AT port started came up or
        ended, registration)."""
        self._mbim_advance()
        if self.data_path is not None:
            self.data_path.changed()
        urcs = self.at.unsolicited()
        if urcs and self.present:
            self.at_port.write("".join("\r\n%s\r\n" % line for line in urcs).encode())

    def _fit_data_path(self) -> None:
        """The data path as the current USB mode shows it: wwan0 with raw_ip for QMI, usb0 with the
        module's LAN (NAT) or the call's address (no NAT) for ECM, RNDIS and NCM."""
        assert self.data_path is not None and self.layout is not None
        ethernet = self.config.usbnet in ETHERNET_MODES
        self.data_path.netdev = netdev_name(self.config)
        self.data_path.raw_ip_path = None if ethernet else self.layout.raw_ip
        self.data_path.host_raw_ip = self.config.host_raw_ip
        if self.config.usbnet == "mbim":
            # cdc_mbim and mhi_wwan_mbim carry bare IP packets (NTBs with IPS signatures on the
            # wire): both ends always "agree on raw IP", there is no qmi/raw_ip to switch.
            self.data_path.host_raw_ip = True
            self.modem.link_layer = "raw-ip"
        self.data_path.router.lan = Lan(ipaddress.IPv4Network(self.config.lan_subnet)) \
            if ethernet and self.config.nat else None

    # ----------------------------------------------------------------- the module leaving and returning

    def vanish(self) -> None:
        """USB disconnect: control port, network interface and sysfs entries disappear."""
        if not self.present:
            return
        self.present = False
        self.qmi_port.close()
        self.at_port.close()
        if self.data_path is not None:
            self.data_path.detach()
        self.mux_links = {}  # virtual links go with their parent
        if self.layout is not None:
            removed = device_events(self.layout, self.config, "remove")  # hotplug: read before the tree goes
            if self.group is not None:
                self.group.remove_device(self)  # only this module's entries: the tree is shared
            else:
                self.layout.remove_device()
            self._announce(removed)
        log.info("module gone")

    def come_back(self) -> None:
        """Re-enumeration: a new control port and interface, and a modem that starts over."""
        if self.present:
            return
        assert self.loop is not None
        self.modem.reset(time.monotonic())
        self.mbim = self._mbim_device()
        self.qmi_port = PtyPort("qmi", self._on_qmi_data, self._on_qmi_connect, messages=True)
        self.at_port = PtyPort("at", self._on_at_data, self._on_at_connect)
        self.at.echo = True
        self.layout = self._lay_out()
        self._watch_attributes()
        self.qmi_port.start(self.loop)
        self.at_port.start(self.loop)
        if self.data_path is not None and self.config.usbnet in ("qmi", "mbim") + ETHERNET_MODES:
            self._fit_data_path()  # a new interface starts where the kernel's does (maybe in a new USB mode)
            self.data_path.attach()
        self._quectel_links()
        self.present = True
        self._announce(device_events(self.layout, self.config, "add"))  # hotplug
        self._schedule_timer()
        self._write_description()
        log.info("module back on %s", self.qmi_port.path)

    def _announce(self, events: List[Tuple[str, bytes]]) -> None:
        """hotplug: tell waiters (qcm's finder) of the devices' coming and going as the kernel does, with
        uevents to group 1; only inside a private network namespace (see UeventAnnouncer)."""
        if self.uevents is None:
            self.uevents = UeventAnnouncer()
        self.uevents.announce(events)

    @property
    def net_interface_name(self) -> str:
        """What the driver's bind and unbind files take: the USB interface, or the PCI address."""
        return self.layout.unbind_name if self.layout is not None else "%s:1.%d" % (
            self.config.usb_path, self.config.net_interface)

    def _watch_attributes(self, drivers: bool = False) -> None:
        """sysfs semantics for the writable files: raw_ip and pass_through of the interface (anew
        after each re-enumeration), the driver's bind and unbind (once: drivers stay)."""
        assert self.attributes is not None and self.layout is not None
        raw_ip = self.layout.raw_ip
        if raw_ip.name == "raw_ip" and raw_ip.exists():
            self.attributes.watch_bool(raw_ip, self._on_raw_ip)
            self.attributes.watch_bool(raw_ip.with_name("pass_through"), lambda value: None)
            if raw_ip.with_name("add_mux").exists():
                self.attributes.watch_listing(raw_ip.with_name("add_mux"), self._on_add_mux)
                self.attributes.watch_action(raw_ip.with_name("del_mux"), self._on_del_mux)
        if drivers:
            self.attributes.watch_action(self.layout.driver_dir / "unbind", self._on_unbind)
            self.attributes.watch_action(self.layout.driver_dir / "bind", self._on_bind)

    def _on_raw_ip(self, value: bool) -> None:
        log.info("host framing (qmi/raw_ip): %s", "raw-IP" if value else "802.3")
        if self.data_path is not None:
            self.data_path.host_raw_ip = value
        self._after_event()

    # ----------------------------------------------------------------- QMAP mux links

    def _on_add_mux(self, text: str) -> None:
        """qmi_wwan's add_mux: a mux id (kstrtou8, base 0) makes a qmimuxN link, as in the kernel."""
        mux_id = _mux_id(text)
        if mux_id is None or mux_id in self.mux_links:
            log.warning("add_mux %r refused (the kernel answers EINVAL)", text)
            return
        used = set(self.mux_links.values())
        name = next("qmimux%d" % n for n in range(256) if "qmimux%d" % n not in used)
        self._add_mux_link(mux_id, name)

    def _on_del_mux(self, text: str) -> None:
        mux_id = _mux_id(text)
        name = self.mux_links.pop(mux_id, None) if mux_id is not None else None
        if name is None:
            log.warning("del_mux %r refused (the kernel answers EINVAL)", text)
            return
        if self.data_path is not None:
            self.data_path.remove_mux_link(mux_id)  # type: ignore[arg-type]
        assert self.layout is not None
        self.layout.remove_mux_link(name)
        self._show_mux_links()
        log.info("mux link %s removed", name)

    def _add_mux_link(self, mux_id: int, name: str) -> None:
        assert self.layout is not None
        if self.data_path is not None:
            self.data_path.add_mux_link(mux_id, name)  # the interface first: sysfs showing it means it exists
        self.mux_links[mux_id] = name
        # add_mux lists it before its sysfs entries appear: a writer that sees the link may write the next
        # mux id at once, and rewriting the list after that would swallow it.
        self._show_mux_links()
        self.layout.add_mux_link(name, mux_id, netdev_name(self.config))

    def _show_mux_links(self) -> None:
        assert self.attributes is not None and self.layout is not None
        self.attributes.show(self.layout.raw_ip.with_name("add_mux"),
                             "".join("0x%02x\n" % m for m in sorted(self.mux_links)).encode())

    def _quectel_links(self) -> None:
        """Quectel's qmi_wwan_q makes its QMAP links itself, from its qmap_mode parameter: wwan0_1 ..
        wwan0_N with mux ids 0x81.., or with qmap_mode=1 QMAP mux 0x81 on wwan0 itself."""
        self.mux_links = {}
        if self.config.driver != "qmi_wwan_q" or not self.config.qmap_mode:
            return
        if self.config.qmap_mode == 1:
            if self.data_path is not None:
                self.data_path.parent_mux = 0x81
            return
        for n in range(1, self.config.qmap_mode + 1):
            self._add_mux_link(0x80 + n, "%s_%d" % (netdev_name(self.config), n))

    def _on_unbind(self, name: str) -> None:
        """Writing the interface's name to the driver's unbind file unbinds it, as in the kernel."""
        if name != self.net_interface_name:
            log.warning("unbind %r: no such device bound here (the kernel answers ENODEV)", name)
            return
        log.info("driver unbind written")
        self.vanish()

    def _on_bind(self, name: str) -> None:
        if name != self.net_interface_name:
            log.warning("bind %r: no such device (the kernel answers ENODEV)", name)
            return
        log.info("driver bind written")
        self.come_back()

    # ----------------------------------------------------------------- control (qcm sim ctl)

    async def _on_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        command = str(request.get("command"))
        fault = FAULTS.get(command)
        if command == "status":
            return {"ok": True, "status": self.status()}
        if fault is None:
            return {"ok": False, "error": "unknown command %r (known: status, %s)" % (command, ", ".join(FAULTS))}
        try:
            detail = fault(self, request)
        except (KeyError, ValueError) as exc:
            return {"ok": False, "error": "%s: %s" % (command, exc)}
        self._schedule_timer()
        self._after_event()
        return {"ok": True, "done": detail or command}

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        assert self.loop is not None
        self.loop.call_later(seconds, action)

    def send_now(self, frames: List[Frame]) -> None:
        """QMI indications a fault caused; in MBIM mode the MBIM function announces the change itself."""
        if self.mbim is not None:
            self._mbim_advance()
        else:
            self._send_later(frames, 0)

    def status(self) -> Dict[str, Any]:
        m = self.modem
        return {
            "present": self.present, "muted": self.qmi_port.muted, "client_connected": self.qmi_port.connected,
            "mode": m.mode, "sim": m.sim_state, "pin_retries": m.pin_retries, "puk_retries": m.puk_retries,
            "registration": m.registration, "link_layer": m.link_layer, "clients": m.held_clients(),
            "host_raw_ip": self.attributes.value(self.layout.raw_ip) if self.attributes and self.layout else None,
            "calls": [{"family": c.family, "cid": c.client[1], "handle": c.handle, "apn": c.apn,
                       "address": str(c.ipv4 or c.ipv6), "mux_id": c.mux_id} for c in m.calls.values()],
            "aggregation": m.aggregation, "qmap": dict(m.qmap),
            "mux_links": {"0x%02x" % k: v for k, v in sorted(self.mux_links.items())},
            "last_call_end": list(m.last_call_end) if m.last_call_end else None,
            "requests": m.requests_served + (self.mbim.requests_served if self.mbim else 0),
            "profiles": {str(k): v["apn"] for k, v in m.profiles.items()},
            "mbim": {"opened": self.mbim.opened, "version": self.mbim.version, "fcc_locked": self.mbim.fcc_locked}
            if self.mbim is not None else None,
            "data_path": dict(self.data_path.counters) if self.data_path else None,
        }


# ---------------------------------------------------------------------- faults

def _seconds(request: Dict[str, Any], default: Optional[float] = None) -> Optional[float]:
    value = request.get("seconds", default)
    return None if value is None else float(value)


def _drop(sim: Simulator, request: Dict[str, Any]) -> str:
    reason = str(request.get("reason", "gsm-wcdma-regular-deactivation"))
    family = request.get("family")
    apn = request.get("apn")  # one PDN of several: only the calls on this APN
    verbose = ("3gpp", "regular-deactivation")
    frames: List[Frame] = []
    ended = [client for client, call in sim.modem.calls.items() if (family is None or call.family == int(family))
             and (apn is None or call.apn.lower() == str(apn).lower())]
    if sim.mbim is not None:  # an MBIM session ends whole: both of its families
        sessions = {client[1] for client in ended if client[0].startswith("MBIM")}
        ended += [c for s in sessions for c in session_clients(s) if c in sim.modem.calls and c not in ended]
    for client in ended:
        frames += sim.modem.end_call(client, reason, verbose)
    sim.send_now(frames)
    return "dropped %d call(s): %s" % (len(ended), reason)


def _deregister(sim: Simulator, request: Dict[str, Any]) -> str:
    sim.send_now(sim.modem.force_registration("searching", time.monotonic()))
    seconds = _seconds(request)
    if seconds is not None:
        sim.later(seconds, lambda: sim.send_now(sim.modem.force_registration(None, time.monotonic())))
    return "deregistered%s" % ("" if seconds is None else " for %.1f s" % seconds)


def _register(sim: Simulator, request: Dict[str, Any]) -> str:
    sim.send_now(sim.modem.force_registration(None, time.monotonic()))
    return "registration released"


def _reset(sim: Simulator, request: Dict[str, Any]) -> str:
    seconds = _seconds(request, 2.0)
    sim.vanish()
    sim.later(seconds or 0.0, sim.come_back)
    return "reset: back in %.1f s" % (seconds or 0.0)


def _mute(sim: Simulator, request: Dict[str, Any]) -> str:
    sim.qmi_port.muted = True
    seconds = _seconds(request)
    if seconds is not None:
        sim.later(seconds, lambda: setattr(sim.qmi_port, "muted", False))
    return "not answering%s" % ("" if seconds is None else " for %.1f s" % seconds)


def _unmute(sim: Simulator, request: Dict[str, Any]) -> str:
    sim.qmi_port.muted = False
    return "answering again"


def _garbage(sim: Simulator, request: Dict[str, Any]) -> str:
    size = int(request.get("bytes", 64))
    data = bytes(random.randrange(256) for _ in range(size))
    sim.qmi_port.write(data)
    return "%d garbage bytes sent" % size


def _sim_remove(sim: Simulator, request: Dict[str, Any]) -> str:
    sim.send_now(sim.modem.set_sim_state("absent", time.monotonic()))
    return "SIM removed"


def _sim_insert(sim: Simulator, request: Dict[str, Any]) -> str:
    state = "pin" if sim.config.sim == "pin" else "ready"
    sim.send_now(sim.modem.set_sim_state(state, time.monotonic()))
    return "SIM inserted (%s)" % state


def _signal(sim: Simulator, request: Dict[str, Any]) -> str:
    values = {key: (float(request[key]) if key == "snr" else int(request[key]))
              for key in ("rssi", "rsrq", "rsrp", "snr") if key in request}
    if not values:
        raise ValueError("give rssi=, rsrq=, rsrp= and/or snr=")
    sim.send_now(sim.modem.set_signal(time.monotonic(), **values))
    return "signal %s" % values


def _readdress(sim: Simulator, request: Dict[str, Any]) -> str:
    family = int(request.get("family", 4))
    sim.send_now(sim.modem.readdress(family))
    return "IPv%d call re-addressed" % family


def _blackhole(sim: Simulator, request: Dict[str, Any]) -> str:
    """Calls stay "connected" but carry no traffic, until they are set up again (a phantom bearer)."""
    if sim.data_path is None:
        raise ValueError("no data path")
    sim.data_path.blackholed = {c.handle for c in sim.modem.calls.values()}
    return "%d call(s) carry nothing now" % len(sim.data_path.blackholed)


def _mux_id(text: str) -> Optional[int]:
    try:
        value = int(text.strip(), 0)
    except ValueError:
        return None
    return value if 1 <= value <= 254 else None


FAULTS: Dict[str, Callable[[Simulator, Dict[str, Any]], str]] = {
    "drop": _drop, "deregister": _deregister, "register": _register, "reset": _reset, "mute": _mute,
    "unmute": _unmute, "garbage": _garbage, "sim-remove": _sim_remove, "sim-insert": _sim_insert,
    "signal": _signal, "readdress": _readdress, "blackhole": _blackhole,
}


async def _serve(config: SimConfig, directory: Path, trace: Optional[Path], data_path: bool,
                 ready: Optional[Callable[[], None]] = None) -> None:
    simulator = Simulator(config, directory, trace, data_path)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, simulator.stop)
    try:
        await simulator.start()
        if ready is not None:
            ready()
        await simulator.wait_closed()
    finally:
        if simulator.control is not None:
            await simulator.control.close()
        simulator.cleanup()
        log.info("simulator stopped, %d requests served", simulator.modem.requests_served)


def run(config: SimConfig, directory: Path, trace: Optional[Path] = None, data_path: bool = True,
        more: Sequence[SimConfig] = (), ready: Optional[Callable[[], None]] = None) -> None:
    """One simulated module (``config``), or with ``more`` several in this process (qcm sim --modules N);
    ``ready`` is called once they are."""
    if more:
        asyncio.run(ModuleGroup([config, *more], directory, trace, data_path).serve(ready))
    else:
        asyncio.run(_serve(config, directory, trace, data_path, ready))


# ---------------------------------------------------------------------- several modules in one process

TTYS_PER_MODULE = 8        # module i's serial ports are ttyUSB(8i)..: as a second module on a real host


def module_overrides(base: SimConfig, index: int) -> Dict[str, Any]:
    """Scenario keys that make module ``index`` (0: the scenario's own) a module of its own: its USB path,
    control port, interface, IMEI, SIM identities, and address pools (its calls get addresses of their own)."""
    if index == 0:
        return {}
    bus = base.usb_path.split("-")[0]
    v4, v6 = ipaddress.ip_network(base.ipv4_pool), ipaddress.ip_network(base.ipv6_pool)
    return {
        "usb_path": "%s-1.%d" % (bus, 2 + index), "control": "cdc-wdm%d" % index, "netdev": "wwan%d" % index,
        "imei": _luhn(_plus(base.imei[:14], index)), "iccid": _luhn(_plus(base.iccid[:19], index)),
        "imsi": _plus(base.imsi, index), "msisdn": base.msisdn[:-6] + _plus(base.msisdn[-6:], index),
        "ipv4_pool": str(ipaddress.ip_network((int(v4.network_address) + index * v4.num_addresses, v4.prefixlen))),
        "ipv6_pool": str(ipaddress.ip_network((int(v6.network_address) + index * v6.num_addresses, v6.prefixlen))),
    }


def check_group(configs: Sequence[SimConfig]) -> Optional[str]:
    """Why these cannot be simulated together, or None."""
    first = configs[0]
    if first.bus == "pci":
        return "--modules simulates USB modules (a PCIe module's WWAN port names are fixed)"
    if first.usbnet not in ("qmi", "mbim"):
        return "--modules simulates modules in QMI or MBIM mode (Ethernet-style modes all show usb0)"
    for key in ("usb_path", "control", "netdev", "imei"):
        values = [getattr(c, key) for c in configs]
        if len(set(values)) != len(values):
            return "the modules would share their %s" % key
    return None


def _plus(digits: str, index: int) -> str:
    """A serial number ``index`` further on, in as many digits (the type allocation or issuer part kept)."""
    width = min(6, len(digits))
    head, tail = digits[:-width], digits[-width:]
    return head + "%0*d" % (width, (int(tail) + index) % 10 ** width)


def _luhn(digits: str) -> str:
    """``digits`` and their Luhn check digit (IMEIs and ICCIDs end with one)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return digits + str(-total % 10)


class ModuleGroup:
    """``qcm sim --modules N``: N simulated modules in one process and one fake sysfs, each with its own USB
    path, control port, AT port, interface, identities and data path (its own carrier network); one control
    socket (``DIR/ctl.sock``, ``module=N`` picks one; faults go to module 0 without it) and one sim.json
    (module 0's description, and ``modules`` with every one)."""

    def __init__(self, configs: Sequence[SimConfig], directory: Path, trace: Optional[Path], data_path: bool) -> None:
        self.directory = directory
        self.modules = [Simulator(config, directory, trace, data_path, group=self, index=index)
                        for index, config in enumerate(configs)]
        self.control: Optional[ControlServer] = None
        self.attributes: Optional[AttributeWatch] = None
        self.ready = False

    async def serve(self, ready: Optional[Callable[[], None]] = None) -> None:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        try:
            for simulator in reversed(self.modules):  # module 0 last: it keeps the first tty names
                await simulator.start()
            self.attributes = AttributeWatch(loop)
            for driver_dir in sorted({s.layout.driver_dir for s in self.modules if s.layout is not None}):
                self.attributes.watch_action(driver_dir / "unbind", lambda name: self._driver(name, False))
                self.attributes.watch_action(driver_dir / "bind", lambda name: self._driver(name, True))
            control = ControlServer(self.directory / "ctl.sock", self._on_control)
            await control.start()
            self.control = control
            self.ready = True
            self.write_description()
            if ready is not None:
                ready()
            await stopped.wait()
        finally:
            if self.control is not None:
                await self.control.close()
            if self.attributes is not None:
                self.attributes.close()
            for simulator in self.modules:
                simulator.cleanup()
            log.info("simulator stopped, %d requests served", sum(s.modem.requests_served for s in self.modules))

    def _driver(self, name: str, bind: bool) -> None:
        """The shared driver's bind and unbind files, as the kernel takes them: the device named, any module."""
        for simulator in self.modules:
            if simulator.net_interface_name == name:
                (simulator._on_bind if bind else simulator._on_unbind)(name)
                return
        log.warning("%s %r: no such device (the kernel answers ENODEV)", "bind" if bind else "unbind", name)

    def write_description(self) -> None:
        if not self.ready:
            return
        described = [s.describe() for s in self.modules]
        write_private(self.directory / "sim.json", json.dumps(dict(described[0], modules=described), indent=2) + "\n")

    async def _on_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        which = request.get("module", 0)
        if str(which) == "all":
            if request.get("command") == "status":
                return {"ok": True, "modules": [s.status() for s in self.modules]}
            replies = [await s._on_control(request) for s in self.modules]
            return {"ok": all(r.get("ok") for r in replies), "modules": replies}
        try:
            simulator = self.modules[int(which)]
        except (ValueError, IndexError):
            return {"ok": False, "error": "module=%s: there are modules 0 to %d (or all)" % (
                str(which)[:20], len(self.modules) - 1)}
        return await simulator._on_control(request)

    # ------------------------------------------------------------------ the shared sysfs

    def settle(self, simulator: Simulator, layout: Layout) -> None:
        """After a module's sysfs entries were laid out: its serial ports renamed to its own ttyUSB numbers
        (every lay-out starts at ttyUSB0), module 0's first names restored, and what vanishes with it noted."""
        if simulator.index > 0:
            renamed: Dict[str, Path] = {}
            for interface in sorted(layout.usb_device.glob("%s:1.*" % simulator.config.usb_path)):
                for node in [n for n in interface.iterdir() if n.name.startswith("ttyUSB")]:
                    new = "ttyUSB%d" % (int(node.name[6:]) + TTYS_PER_MODULE * simulator.index)
                    os.rename(node, interface / new)
                    os.rename(interface / new / "tty" / node.name, interface / new / "tty" / new)
                    _relink(layout.sysfs / "class" / "tty" / new, interface / new / "tty" / new)
                    old_dev = layout.dev / node.name
                    if node.name in layout.tty_links and os.path.islink(old_dev):
                        target = os.readlink(old_dev)
                        old_dev.unlink()
                        (layout.dev / new).unlink(missing_ok=True)
                        (layout.dev / new).symlink_to(target)
                        renamed[new] = layout.dev / new
            layout.tty_links = renamed
            first = self.modules[0]
            if first is not simulator and first.present and first.layout is not None:
                self._restore_ttys(first)
        layout.device_parts = []  # removed by remove_device below, one module at a time

    def _restore_ttys(self, simulator: Simulator) -> None:
        layout = simulator.layout
        assert layout is not None
        for interface in sorted(layout.usb_device.glob("%s:1.*" % simulator.config.usb_path)):
            for node in interface.iterdir():
                if node.name.startswith("ttyUSB"):
                    _relink(layout.sysfs / "class" / "tty" / node.name, node / "tty" / node.name)
        for name, link in layout.tty_links.items():
            link.unlink(missing_ok=True)
            link.symlink_to(simulator.at_port.path)

    def remove_device(self, simulator: Simulator) -> None:
        """The module left the bus: its device, its class and bus entries and its /dev nodes go; the others'
        stay, and so do the drivers."""
        layout = simulator.layout
        assert layout is not None
        sysfs, config = layout.sysfs, simulator.config
        ttys = [n.name for i in layout.usb_device.glob("%s:1.*" % config.usb_path) if i.is_dir()
                for n in i.iterdir() if n.name.startswith("ttyUSB")]
        links = [sysfs / "bus" / "usb" / "devices" / config.usb_path, sysfs / "class" / "net" / netdev_name(config),
                 sysfs / "class" / "usbmisc" / config.control, layout.control_link]
        links += [sysfs / "bus" / "usb" / "devices" / p.name for p in layout.usb_device.glob("%s:1.*" % config.usb_path)]
        links += [sysfs / "class" / "tty" / name for name in ttys] + list(layout.tty_links.values())
        for link in links:
            if os.path.islink(link):
                link.unlink()
        shutil.rmtree(layout.usb_device, ignore_errors=True)


def _relink(link: Path, target: Path) -> None:
    """A relative symbolic link, as the kernel's sysfs links are (and as sysfs.lay_out makes them)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if os.path.islink(link) or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))
