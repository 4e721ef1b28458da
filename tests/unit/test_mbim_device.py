"""The simulator's MBIM device model driven by the MBIM host core through a connection sequence,
on the same modem state the QMI side uses: PIN, FCC lock, notifications, failures."""

from dataclasses import replace

from qcm.mbim import framing
from qcm.mbim.catalogue import catalogue
from qcm.mbim.client import ClientCore, FunctionErrorReceived, IndicationReceived, ResponseReceived
from qcm.mbim.framing import Frame, FrameParser
from qcm.sim.config import Apn, SimConfig
from qcm.sim.mbim_device import MbimDevice, session_clients
from qcm.sim.modem import SimModem

C = catalogue()


class Link:
    """Host core and device model joined back to back, with a clock."""

    def __init__(self, device, max_control_transfer=4096):
        self.device = device
        self.host = ClientCore(max_control_transfer=max_control_transfer)
        self.now = 0.0
        self.indications = []

    def exchange(self):
        events = []
        for piece in self.host.frames_to_send():
            for reply in self.device.receive(piece, self.now):
                events += self.host.receive_data(reply, self.now)
        self.indications += [e.message for e in events if isinstance(e, IndicationReceived)]
        return events

    def call(self, service, command, kind="query", values=None):
        pending = self.host.request(C.command(service, command), kind, values, self.now, 5)
        events = self.exchange()
        answers = [e for e in events if isinstance(e, ResponseReceived) and e.pending is pending]
        assert answers, events
        return answers[0].message

    def open(self):
        pending = self.host.open(self.now, 5)
        (event,) = [e for e in self.exchange() if isinstance(e, ResponseReceived)]
        assert event.pending is pending and event.message.ok
        return event.message

    def tick(self, seconds):
        self.now += seconds
        events = []
        for reply in self.device.advance(self.now):
            events += self.host.receive_data(reply, self.now)
        self.indications += [e.message for e in events if isinstance(e, IndicationReceived)]
        return events


def link(fcc_locked=False, **config):
    modem = SimModem(replace(SimConfig(), **config))
    return Link(MbimDevice(modem, fcc_locked=fcc_locked)), modem


CONNECT = {"session_id": 0, "activation_command": "activate", "access_string": "internet", "ip_type": "ipv4v6",
           "context_type": "internet", "auth_protocol": "none"}


def test_connection_sequence_like_quectel_cm():
    lk, modem = link(mode="low-power")
    lk.open()
    caps = lk.call("basic-connect", "Device Caps")
    assert caps.ok and caps["device_id"] == modem.config.imei and caps["firmware_info"] == modem.config.revision
    services = lk.call("basic-connect", "Device Services")
    offered = {s["device_service_id"].name: s["cids"] for s in services["device_services"]}
    assert {1, 2, 3, 4, 9, 10, 12, 15, 16, 19} <= set(offered["basic-connect"]) and offered["quectel"] == [1]
    radio = lk.call("basic-connect", "Radio State", "set", {"radio_state": "on"})
    assert radio["sw_radio_state"].name == "on" and modem.mode == "online"
    ready = lk.call("basic-connect", "Subscriber Ready Status")
    assert ready["ready_state"].name == "initialized" and ready["subscriber_id"] == modem.config.imsi
    register = lk.call("basic-connect", "Register State")
    assert register["register_state"].name == "home" and register["provider_name"] == "Rogers"
    packet = lk.call("basic-connect", "Packet Service", "set", {"packet_service_action": "attach"})
    assert packet["packet_service_state"].name == "attached"
    assert lk.call("basic-connect", "Connect", "query", {"session_id": 0})["activation_state"].name == "deactivated"
    connect = lk.call("basic-connect", "Connect", "set", CONNECT)
    assert connect.ok and connect["activation_state"].name == "activated" and connect["ip_type"].name == "ipv4v6"
    v4, v6 = (modem.calls[k] for k in session_clients(0))  # the same Call records a QMI dial creates
    config = lk.call("basic-connect", "IP Configuration", "query", {"session_id": 0})
    assert config["ipv4_address"][0]["ipv4_address"] == v4.ipv4.ip
    assert config["ipv4_address"][0]["on_link_prefix_length"] == 30 and config["ipv4_gateway"] == v4.gateway4
    assert config["ipv6_address"][0]["ipv6_address"] == v6.ipv6.ip and config["ipv6_gateway"] == v6.gateway6
    assert [str(a) for a in config["ipv4_dns_server"]] == list(modem.config.dns4) and config["ipv4_mtu"] == 1500
    stop = lk.call("basic-connect", "Connect", "set", dict(CONNECT, activation_command="deactivate"))
    assert stop.ok and stop["activation_state"].name == "deactivated" and not modem.calls
    assert lk.call("basic-connect", "IP Configuration", "query", {"session_id": 0}).status.name == "context-not-activated"
    closing = lk.host.close(lk.now, 5)
    assert [e for e in lk.exchange() if isinstance(e, ResponseReceived) and e.pending is closing]


def test_commands_before_open_get_not_opened():
    lk, _ = link()
    pending = lk.host.request(C.command("basic-connect", "Device Caps"), "query", None, 0.0, 5)
    (event,) = lk.exchange()
    assert isinstance(event, FunctionErrorReceived) and event.pending is pending
    assert event.message.frame.status == framing.NOT_OPENED


def test_unknown_commands_and_bad_buffers():
    lk, _ = link()
    lk.open()
    unknown = Frame(framing.COMMAND, 9, bytes(range(16)), 1)
    parser = FrameParser()
    for reply in lk.device.receive(unknown.encode(), 0.0):
        parser.feed(reply)
    (answer,) = parser.events()
    assert answer.type == framing.COMMAND_DONE and answer.status == 9  # no-device-support
    connect = C.command("basic-connect", "Connect")
    broken = Frame(framing.COMMAND, 10, connect.service.uuid_bytes, connect.cid, command_type=framing.SET, buffer=b"\x01")
    parser = FrameParser()
    for reply in lk.device.receive(broken.encode(), 0.0):
        parser.feed(reply)
    assert parser.events()[0].status == 21  # invalid-parameters


def test_pin_entry_uses_the_sims_rules_and_is_never_retried_by_the_device():
    lk, modem = link(sim="pin", pin="1234", pin_retries=3)
    lk.open()
    assert lk.call("basic-connect", "Subscriber Ready Status")["ready_state"].name == "device-locked"
    query = lk.call("basic-connect", "Pin")
    assert (query["pin_type"].name, query["pin_state"].name, query["remaining_attempts"]) == ("pin1", "locked", 3)
    assert lk.call("basic-connect", "Connect", "set", CONNECT).status.name == "pin-required"
    wrong = lk.call("basic-connect", "Pin", "set", {"pin_type": "pin1", "pin_operation": "enter", "pin": "0000"})
    assert wrong.status.name == "failure" and wrong["remaining_attempts"] == 2 and modem.pin_retries == 2
    right = lk.call("basic-connect", "Pin", "set", {"pin_type": "pin1", "pin_operation": "enter", "pin": "1234"})
    assert right.ok and right["pin_state"].name == "unlocked" and modem.sim_state == "ready"
    assert [m["ready_state"].name for m in lk.indications if m.definition.key == "subscriber_ready_status"] == ["initialized"]


def test_last_wrong_pin_blocks_the_sim():
    lk, modem = link(sim="pin", pin_retries=1)
    lk.open()
    blocked = lk.call("basic-connect", "Pin", "set", {"pin_type": "pin1", "pin_operation": "enter", "pin": "9999"})
    assert blocked.status.name == "failure" and blocked["pin_type"].name == "puk1"
    assert modem.sim_state == "puk" and lk.call("basic-connect", "Pin")["pin_type"].name == "puk1"


def test_fcc_locked_unit_needs_the_quectel_unlock():
    lk, modem = link(fcc_locked=True)
    lk.open()
    assert lk.call("quectel", "Radio State")["radio_state"].name == "fcc-locked"
    radio = lk.call("basic-connect", "Radio State", "set", {"radio_state": "on"})
    assert radio.ok and radio["sw_radio_state"].name == "off"  # MM: "software radio switch is OFF"
    assert lk.call("basic-connect", "Register State")["register_state"].name == "deregistered"
    assert lk.call("basic-connect", "Connect", "set", CONNECT).status.name == "radio-power-off"
    unlocked = lk.call("quectel", "Radio State", "set", {"radio_state": "on"})
    assert unlocked["radio_state"].name == "on" and modem.online
    assert lk.call("basic-connect", "Radio State")["sw_radio_state"].name == "on"
    assert lk.call("basic-connect", "Register State")["register_state"].name == "home"
    assert lk.call("basic-connect", "Connect", "set", CONNECT).ok


def test_network_drop_is_announced_register_state_and_connect_deactivated():
    lk, modem = link()
    lk.open()
    assert lk.call("basic-connect", "Connect", "set", CONNECT).ok
    modem.force_registration("searching", lk.now)  # a fault, behind the device's back
    lk.tick(1.0)
    kinds = [(m.definition.key, m.kind) for m in lk.indications]
    assert ("register_state", "notification") in kinds and ("connect", "notification") in kinds
    deactivated = [m for m in lk.indications if m.definition.key == "connect"][0]
    assert deactivated["activation_state"].name == "deactivated" and deactivated["session_id"] == 0
    assert [m for m in lk.indications if m.definition.key == "packet_service"][0]["packet_service_state"].name == "detached"


def test_registration_after_a_delay_arrives_as_a_notification():
    lk, modem = link(register_after_s=5.0)
    lk.open()
    assert lk.call("basic-connect", "Register State")["register_state"].name == "searching"
    assert lk.device.next_deadline() == 5.0
    lk.tick(5.0)
    assert [m["register_state"].name for m in lk.indications if m.definition.key == "register_state"] == ["home"]


def test_subscribe_list_filters_notifications():
    lk, modem = link()
    lk.open()
    basic = C.service("basic-connect").uuid
    lk.call("basic-connect", "Device Service Subscribe List", "set",
            {"events": [{"device_service_id": basic, "cids": [12]}]})
    assert lk.call("basic-connect", "Connect", "set", CONNECT).ok
    modem.force_registration("searching", lk.now)
    lk.tick(1.0)
    assert [m.definition.key for m in lk.indications] == ["connect"]


def test_rejections_name_the_status_and_the_nw_error():
    lk, modem = link(apns=(Apn("internet", auth="chap", username="u", password="p", ip_types=("ipv4",)),))
    lk.open()
    wrong_apn = lk.call("basic-connect", "Connect", "set", dict(CONNECT, access_string="nope"))
    assert wrong_apn.status.name == "invalid-access-string" and wrong_apn["nw_error"].name == "missing-or-unknown-apn"
    bad_auth = lk.call("basic-connect", "Connect", "set", dict(CONNECT, auth_protocol="chap", user_name="u",
                                                                password="x"))
    assert bad_auth.status.name == "invalid-user-name-pwd" and int(bad_auth["nw_error"]) == 29
    v6_only = lk.call("basic-connect", "Connect", "set", dict(CONNECT, ip_type="ipv6", auth_protocol="chap",
                                                               user_name="u", password="p"))
    assert v6_only.status.name == "context-not-activated" and v6_only["nw_error"].name == "pdp-type-ipv4-only-allowed"
    dual = lk.call("basic-connect", "Connect", "set", dict(CONNECT, auth_protocol="chap", user_name="u", password="p"))
    assert dual.ok and dual["ip_type"].name == "ipv4"  # the APN gave IPv4 only


def test_detached_network_refuses_attach_and_connect():
    lk, modem = link(ps_attached=False)
    lk.open()
    assert lk.call("basic-connect", "Packet Service", "set", {"packet_service_action": "attach"}).status.name == "failure"
    assert lk.call("basic-connect", "Connect", "set", CONNECT).status.name == "packet-service-detached"


def test_mbimex_v3_negotiated_then_v3_layouts_both_ways():
    lk, modem = link()
    lk.open()
    agreed = lk.call("ms-basic-connect-extensions", "Version", "query",
                     {"mbim_version": 0x0100, "mbim_extended_version": 0x0300})
    assert agreed.ok and lk.host.version == 3 and lk.device.version == 3
    connect = lk.call("basic-connect", "Connect", "set", dict(CONNECT, media_preference="3gpp"))
    assert connect.ok and connect.version == 3 and connect["access_string"] == "internet"
    caps = lk.call("ms-basic-connect-extensions", "Device Caps")
    assert caps.version == 3 and caps["lte_band_class"] and caps["device_id"] == modem.config.imei
    packet = lk.call("basic-connect", "Packet Service")
    assert packet["tai"]["plmn_mcc"] == 302


def test_firmware_without_mbimex_refuses_version():
    modem = SimModem(SimConfig())
    lk = Link(MbimDevice(modem, max_version=1))
    lk.open()
    refused = lk.call("ms-basic-connect-extensions", "Version", "query",
                      {"mbim_version": 0x0100, "mbim_extended_version": 0x0300})
    assert refused.status.name == "no-device-support" and lk.host.version == 1


def test_small_transfer_size_fragments_answers_both_ways():
    modem = SimModem(SimConfig())
    lk = Link(MbimDevice(modem), max_control_transfer=64)
    lk.open()
    assert lk.device.max_transfer == 64
    replies = lk.device.receive(b"".join(lk.host.frames_to_send()), 0.0)  # nothing pending
    assert replies == []
    services = lk.call("basic-connect", "Device Services")
    assert services.ok and len(services["device_services"]) >= 3
    query = C.command("basic-connect", "Device Services")
    pieces = lk.device.receive(Frame(framing.COMMAND, 77, query.service.uuid_bytes, query.cid).encode(), 0.0)
    assert len(pieces) > 3 and all(len(p) <= 64 for p in pieces)


def test_a_new_address_is_announced_as_ip_configuration():
    lk, modem = link()
    lk.open()
    assert lk.call("basic-connect", "Connect", "set", CONNECT).ok
    before = lk.call("basic-connect", "IP Configuration", "query", {"session_id": 0})["ipv4_address"][0]["ipv4_address"]
    modem.readdress(4)  # the network moves the call (a fault), behind the device's back
    lk.tick(0.1)
    (config,) = [m for m in lk.indications if m.definition.key == "ip_configuration"]
    assert config.kind == "notification" and config["ipv4_address"][0]["ipv4_address"] != before
    assert config["ipv4_address"][0]["ipv4_address"] == modem.calls[session_clients(0)[0]].ipv4.ip


def test_a_new_host_does_not_inherit_half_a_message():
    lk, _ = link()
    lk.open()
    pending = lk.host.request(C.command("basic-connect", "Device Caps"), "query", None, 0.0, 5)
    (piece,) = lk.host.frames_to_send()
    assert lk.device.receive(piece[:20], 0.0) == []  # the old host wrote half and went away
    lk.device.host_changed()
    replies = lk.device.receive(piece, 0.0)  # the next host's whole message is read as such
    events = [e for r in replies for e in lk.host.receive_data(r, 0.0)]
    assert [e.pending for e in events if isinstance(e, ResponseReceived)] == [pending]
