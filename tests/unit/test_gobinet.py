"""GobiNet (Quectel's older driver): discovery, the QMUX-to-handle mux, and the QMI backend over the
GobiNet transport, everything above the one ioctl. No machine here has the driver, so the driver
is played: ``open_service`` is replaced by socket pairs (one message per read, as the driver's
handles) whose far ends a fake driver serves, allocating real client ids on the simulator's
modem as the driver does, and adding and removing the QMUX header. The byte sequences checked
are the ones quectel-CM's ``GobiNetCM.c`` writes and reads (reference, section 3.0), and the
revision is the one of the GobiNet session in seed 000."""

import asyncio
import ipaddress
import os
import socket
import struct
import time

import pytest

from qcm.backends.base import BackendContext, BearerId, DialPlan
from qcm.backends.qmi import backend as qmi_backend
from qcm.connect import events as ev
from qcm.discovery import scan
from qcm.io import gobinet as gobinet_io
from qcm.io import gobinet_ioctl
from qcm.io.qmi_port import QmiPort
from qcm.model import IpSettings
from qcm.qmi.catalogue import catalogue
from qcm.qmi.gobinet import Bind, Deliver, GobiNetMux, Unbind, Write
from qcm.qmi.message import build, build_frame
from qcm.qmi.qmux import FrameParser
from qcm.sim.config import SimConfig
from qcm.sim.modem import SimModem

SEED_000_REVISION = "EC20CEHCLGR06A03M1G"  # quectel-CM on GobiNet V1.6.2.9, seed 000


# ---------------------------------------------------------------------- discovery

def make_device(root, children):
    device = root / "devices" / "usb1" / "1-4"
    interface = device / "1-4:1.4"
    interface.mkdir(parents=True)
    (device / "idVendor").write_text("2c7c\n")
    (device / "idProduct").write_text("0125\n")
    (interface / "bInterfaceNumber").write_text("04\n")
    (root / "bus/usb/drivers/GobiNet").mkdir(parents=True)
    os.symlink(os.path.relpath(root / "bus/usb/drivers/GobiNet", interface), interface / "driver")
    (root / "module/GobiNet").mkdir(parents=True)
    (root / "module/GobiNet/version").write_text("V1.6.2.9\n")
    for child in children:
        (interface / child).mkdir(parents=True)
    (root / "bus/usb/devices").mkdir(parents=True)
    os.symlink(os.path.relpath(device, root / "bus/usb/devices"), root / "bus/usb/devices/1-4")


def test_gobinet_is_found_with_its_qcqmi_port_and_usb_interface(tmp_path):
    make_device(tmp_path, ["GobiQMI/qcqmi0", "net/usb0"])
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert modem.mode == "qmi" and modem.driver == "GobiNet" and modem.driver_version == "V1.6.2.9"
    assert modem.control == str(tmp_path / "dev" / "qcqmi0") and modem.netdev == "usb0" and modem.raw_ip is None
    assert gobinet_io.is_gobinet(modem.control)
    assert isinstance(gobinet_io.control_transport(modem.control), gobinet_io.GobiNetTransport)
    assert gobinet_io.control_transport("/dev/cdc-wdm0") == "/dev/cdc-wdm0"


def test_gobinet_on_old_kernels_names_its_nodes_in_the_interface(tmp_path):
    make_device(tmp_path, ["GobiQMI:qcqmi0", "net:usb0"])  # 2.6 kernels (quectel-CM's fallback)
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert modem.control == str(tmp_path / "dev" / "qcqmi0") and modem.netdev == "usb0"


# ---------------------------------------------------------------------- the mux

def test_mux_turns_ctl_into_binds_and_frames_into_sdus():
    cat = catalogue()
    mux = GobiNetMux()
    (bind,) = mux.outgoing(build(cat.method("CTL", "Allocate CID"), "request", 0, 7, {"service": "dms"}))
    assert bind == Bind(1, 0x02, 7)
    answer = FrameParser()
    answer.feed(mux.bound(bind, True))
    frame = answer.next_event()
    assert frame.service == 0 and frame.transaction == 7 and frame.tlv(0x01) == bytes([0x02, 1])
    request = build(cat.method("DMS", "Get Revision"), "request", 1, 1)
    # What quectel-CM writes on the DMS handle for requestBaseBandVersion: the SDU alone.
    assert mux.outgoing(request) == [Write(1, bytes.fromhex("00 0100 2300 0000"))]
    sdu = bytes.fromhex("02 0100 2300 1a00 02 0400 0000 0000") + b"\x01" + struct.pack("<H", 19) + b"EC20CEHCLGR06A03M1G"
    frame = mux.incoming(1, sdu)
    assert frame[:6] == bytes([0x01, len(frame) - 1, 0x00, 0x80, 0x02, 0x01]) and frame[6:] == sdu
    assert mux.outgoing(build(cat.method("CTL", "Sync"), "request", 0, 8))[0].data[:6] == \
        bytes.fromhex("01 1200 80 00 00")  # the driver keeps CTL: answered NotSupported here
    release = build(cat.method("CTL", "Release CID"), "request", 0, 9, {"release_info": {"service": "dms", "cid": 1}})
    unbind, deliver = mux.outgoing(release)
    assert unbind == Unbind(1) and isinstance(deliver, Deliver) and mux.incoming(1, sdu) is None
    assert mux.outgoing(build(cat.method("DMS", "Get Revision"), "request", 1, 2)) == []  # no longer bound


def test_mux_binding_that_fails_answers_an_error():
    mux = GobiNetMux()
    (bind,) = mux.outgoing(build(catalogue().method("CTL", "Allocate CID"), "request", 0, 1, {"service": "wds"}))
    parser = FrameParser()
    parser.feed(mux.bound(bind, False))
    frame = parser.next_event()
    assert frame.tlv(0x02)[:2] == b"\x01\x00" and mux.services == {}


# ---------------------------------------------------------------------- the driver, played

class FakeDriver:
    """GobiNet's kernel side: per-handle client ids on the modem, QMUX headers added and removed."""

    def __init__(self, modem, loop):
        self.modem = modem
        self.loop = loop
        self.handles = {}     # driver-side socket -> (service, real client id)
        self.written = []     # (service, SDU) as the program wrote them
        self.binds = []

    def open_service(self, path, service):
        assert path.endswith("qcqmi0")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        theirs.setblocking(False)
        allocate = build_frame(catalogue().method("CTL", "Allocate CID"), "request", 0, 1,
                               {"service": service})
        (response,) = [f for f in self.modem.handle(allocate, time.monotonic()) if f.service == 0]
        cid = response.tlv(0x01)[1]
        self.handles[theirs] = (service, cid)
        self.binds.append(service)
        self.loop.add_reader(theirs.fileno(), self._request, theirs)
        fd = os.dup(ours.fileno())
        ours.close()
        return fd

    def _request(self, sock):
        service, cid = self.handles[sock]
        try:
            sdu = sock.recv(65536)
        except BlockingIOError:
            return
        if not sdu:  # the program closed its handle: the driver releases the client id
            self.loop.remove_reader(sock.fileno())
            del self.handles[sock]
            self.modem.release_client(catalogue().service_name(service), cid)
            sock.close()
            return
        self.written.append((service, sdu))
        length = 5 + len(sdu)
        parser = FrameParser()
        parser.feed(bytes([1, length & 0xFF, length >> 8, 0, service, cid]) + sdu)
        for reply in self.modem.handle(parser.next_event(), time.monotonic()):
            for other, (s, c) in list(self.handles.items()):
                if s == reply.service and c == reply.client_id:
                    other.send(reply.encode()[6:])

    def close(self):
        for sock in list(self.handles):
            self.loop.remove_reader(sock.fileno())
            sock.close()


class StandInIp:
    def __init__(self, *args):
        self.lease = IpSettings(4, ipaddress.ip_interface("100.64.0.2/30"), ipaddress.ip_address("100.64.0.1"))

    def expect(self, family):
        pass

    async def acquire(self, family, timeout):
        return self.lease

    def current(self, family):
        return self.lease

    accept_ra_before = None

    def stop(self, family, release=True, restore=True):
        pass

    def close(self, release=True, restore=True):
        pass


def test_recorded_revision_request_and_answer_over_the_transport(tmp_path, monkeypatch):
    """The exchange quectel-CM's requestBaseBandVersion makes on a GobiNet handle, byte for byte."""
    node = tmp_path / "qcqmi0"
    node.write_text("")

    async def scenario():
        loop = asyncio.get_running_loop()
        modem = SimModem(SimConfig(revision=SEED_000_REVISION), now=time.monotonic())
        driver = FakeDriver(modem, loop)
        monkeypatch.setattr(gobinet_ioctl, "open_service", driver.open_service)
        port = await QmiPort(gobinet_io.GobiNetTransport(str(node))).open()
        allocated = await port.request("CTL", "Allocate CID", {"service": "dms"})
        assert allocated["allocation_info"]["cid"] == 1 and driver.binds == [0x02]
        revision = await port.request("DMS", "Get Revision", client_id=1)
        assert revision["revision"] == SEED_000_REVISION
        assert driver.written == [(0x02, bytes.fromhex("00 0100 2300 0000"))]
        await port.request("CTL", "Release CID", {"release_info": {"service": "dms", "cid": 1}})
        await asyncio.sleep(0.05)
        assert modem.held_clients() == {}  # closing the handle released the driver's client
        port.close()
        driver.close()
    asyncio.run(scenario())


def test_qmi_backend_dials_over_gobinet_and_leaves_the_data_format_to_the_driver(tmp_path, monkeypatch):
    make_device(tmp_path / "sys", ["GobiQMI/qcqmi0", "net/usb0"])
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "qcqmi0").write_text("")
    (modem_info,) = scan(tmp_path / "sys", tmp_path / "dev")
    monkeypatch.setattr("qcm.io.ip_config.DynamicIp", StandInIp)  # where the backend takes it from, when needed

    async def scenario():
        loop = asyncio.get_running_loop()
        modem = SimModem(SimConfig(), now=time.monotonic())
        driver = FakeDriver(modem, loop)
        monkeypatch.setattr(gobinet_ioctl, "open_service", driver.open_service)
        events = []
        context = BackendContext(DialPlan(apn="internet"), events.append, lambda event: None, request_timeout=5.0)
        backend = qmi_backend.QmiBackend(modem_info, context)
        await backend.open()
        assert isinstance(backend.port.transport, gobinet_io.GobiNetTransport)
        await backend.prepare()
        await backend.wait_registered()
        bearer = await backend.start(BearerId(1, 4), "usb0")
        assert str(bearer.settings.address) == "100.64.0.2/30"  # from the link (DHCP), as quectel-CM does here
        assert any(isinstance(e, ev.Notice) and "set by the GobiNet driver" in e.text for e in events)
        wda = [sdu for service, sdu in driver.written if service == 0x1A]
        assert all(struct.unpack_from("<H", sdu, 3)[0] != 0x0020 for sdu in wda)  # no Set Data Format
        assert modem.calls and await backend.is_up(bearer)
        assert await backend.stop(bearer)
        await backend.close()
        await asyncio.sleep(0.05)
        assert modem.calls == {} and modem.held_clients() == {}
        driver.close()
    asyncio.run(scenario())


def test_a_handle_failing_is_the_port_vanishing(tmp_path, monkeypatch):
    node = tmp_path / "qcqmi0"
    node.write_text("")

    async def scenario():
        lost = []
        pairs = []

        def open_service(path, service):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pairs.append(theirs)
            ours.setblocking(False)
            fd = os.dup(ours.fileno())
            ours.close()
            return fd
        monkeypatch.setattr(gobinet_ioctl, "open_service", open_service)
        port = await QmiPort(gobinet_io.GobiNetTransport(str(node))).open()
        port.on_lost(lost.append)
        await port.request("CTL", "Allocate CID", {"service": "nas"})
        pending = asyncio.ensure_future(port.request("NAS", "Get Serving System", client_id=1, timeout=5))
        await asyncio.sleep(0.05)
        pairs[0].close()  # the module was unplugged: the driver's end goes away
        with pytest.raises(Exception, match="vanished|closed"):
            await pending
        assert lost and not port.is_open
    asyncio.run(scenario())


def test_binding_refused_by_the_driver(tmp_path, monkeypatch):
    node = tmp_path / "qcqmi0"
    node.write_text("")

    def refuse(path, service):
        raise OSError(22, "Invalid argument")

    async def scenario():
        monkeypatch.setattr(gobinet_ioctl, "open_service", refuse)
        port = await QmiPort(gobinet_io.GobiNetTransport(str(node))).open()
        answer = await port.request("CTL", "Allocate CID", {"service": "wds"}, check=False)
        assert not answer.ok and port.is_open
        port.close()
    asyncio.run(scenario())
