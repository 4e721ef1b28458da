"""The simulated modem, driven sans I/O: frames and time in, frames out."""

import pytest

from qcm.qmi.catalogue import catalogue
from qcm.qmi.message import build_frame, decode
from qcm.sim import handlers  # noqa: F401 - registers the handlers
from qcm.sim.config import SimConfig
from qcm.sim.modem import SimModem


class Driver:
    def __init__(self, **config):
        self.modem = SimModem(SimConfig(**config).validate(), now=0.0)
        self.txn = 0
        self.cids = {}

    def request(self, service, name, values=None, now=0.0, cid=None):
        self.txn += 1
        definition = catalogue().method(service, name)
        if service != "CTL" and cid is None:
            cid = self.cids.get(service) or self.allocate(service, now)
        frame = build_frame(definition, "request", cid or 0, self.txn & 0xFF, values)
        out = [decode(f) for f in self.modem.handle(frame, now)]
        response = next(m for m in out if m.kind == "response")
        return response, [m for m in out if m.kind == "indication"]

    def allocate(self, service, now=0.0):
        response, _ = self.request("CTL", "Allocate CID", {"service": service.lower()}, now)
        self.cids[service] = response["allocation_info"]["cid"]
        return self.cids[service]


def test_registration_arrives_after_the_delay_with_an_indication():
    d = Driver(register_after_s=3.0)
    ss, _ = d.request("NAS", "Get Serving System", now=1.0)
    assert ss["serving_system"]["registration_state"].name == "not-registered-searching"
    assert d.modem.next_deadline() == 3.0
    indications = [decode(f) for f in d.modem.advance(3.5)]
    assert [i.name for i in indications] == ["Serving System"]
    assert indications[0]["serving_system"]["registration_state"].name == "registered"


def test_wrong_pins_block_the_sim_and_are_never_silently_retried():
    d = Driver(sim="pin", pin="0000", pin_retries=2)
    info = {"session": {"session_type": "card-slot-1", "application_identifier": []},
            "info": {"pin_id": "pin1", "pin_value": "1111"}}
    first, _ = d.request("UIM", "Verify PIN", info)
    assert first.result.error.name == "IncorrectPin" and first["retries_remaining"]["verify_retries_left"] == 1
    second, _ = d.request("UIM", "Verify PIN", info)
    assert second.result.error.name == "PinBlocked"
    assert d.modem.sim_state == "puk"


def test_call_and_its_indications():
    d = Driver()
    started, indications = d.request("WDS", "Start Network", {"apn": "internet"})
    assert started.ok and indications[0]["connection_status"]["status"].name == "connected"
    again, _ = d.request("WDS", "Start Network", {"apn": "internet"})
    assert again.result.error.name == "NoEffect"
    settings, _ = d.request("WDS", "Get Current Settings", {"requested_settings": 0xFFFF})
    assert str(settings["ipv4_address"]).startswith("100.64.")
    stopped, indications = d.request("WDS", "Stop Network", {"packet_data_handle": started["packet_data_handle"]})
    assert stopped.ok and indications[0]["call_end_reason"].name == "client-end"


def test_radio_off_drops_the_call_and_registration():
    d = Driver()
    d.request("WDS", "Start Network", {"apn": "internet"})
    d.allocate("DMS")
    d.allocate("NAS")  # serving-system indications go to NAS clients, which get them by default
    _, indications = d.request("DMS", "Set Operating Mode", {"mode": "low-power"})
    names = [i.name for i in indications]
    assert "Packet Service Status" in names and "Serving System" in names
    assert not d.modem.calls


def test_client_ids_run_out_like_on_a_real_modem():
    d = Driver(max_clients=2)
    d.allocate("NAS")
    d.allocate("NAS")
    response, _ = d.request("CTL", "Allocate CID", {"service": "nas"})
    assert response.result.error.name == "ClientIdsExhausted"


def test_unsupported_requests_answer_not_supported():
    d = Driver(unsupported=("WDS Get Profile List",))
    response, _ = d.request("WDS", "Get Profile List", {"profile_type": "3gpp"})
    assert response.result.error.name == "NotSupported"


def test_requests_on_unknown_clients_are_refused():
    d = Driver()
    response, _ = d.request("DMS", "Get Revision", cid=9)
    assert response.result.error.name == "InvalidClientId"


def test_at_port_tells_the_same_story_as_qmi():
    from qcm.sim.at import SimAt
    d = Driver()
    at = SimAt(lambda: d.modem, lambda: None)
    at.echo = False
    assert at.handle("AT+CGPADDR") == ['+CGPADDR: 1,"0.0.0.0"', "OK"]
    d.request("WDS", "Start Network", {"apn": "internet"})
    assert at.handle('AT+CGDCONT=3,"IP","other"') == ["OK"]
    lines = at.handle("AT+CGPADDR")
    assert lines[0].startswith('+CGPADDR: 1,"100.64.') and lines[1:] == ['+CGPADDR: 3,"0.0.0.0"', "OK"]
    assert at.handle("AT+CFUN=4") == ["OK"] and at.handle("AT+CFUN?") == ["+CFUN: 4", "OK"]
    mode, _ = d.request("DMS", "Get Operating Mode")
    assert mode["mode"].name == "low-power"
    assert at.handle("AT+CEREG?") == ["+CEREG: 0,0", "OK"] and at.handle("AT+CGPADDR")[0] == '+CGPADDR: 1,"0.0.0.0"'


def test_ec25_firmware_answers_802_3_with_raw_ip():
    d = Driver()
    response, _ = d.request("WDA", "Set Data Format", {"link_layer_protocol": "802-3"})
    assert response.ok and response["link_layer_protocol"].name == "raw-ip"
    assert d.modem.link_layer == "raw-ip"
    response, _ = d.request("CTL", "Set Data Format", {"protocol": "802-3"})
    assert response["protocol"].name == "raw-ip"


def test_firmware_that_does_802_3_switches_to_it():
    d = Driver(model="BG96")
    response, _ = d.request("WDA", "Set Data Format", {"link_layer_protocol": "802-3"})
    assert response["link_layer_protocol"].name == "802-3" and d.modem.link_layer == "802-3"
    d = Driver(link_layers=("raw-ip", "802-3"))
    response, _ = d.request("WDA", "Set Data Format", {"link_layer_protocol": "802-3"})
    assert response["link_layer_protocol"].name == "802-3"


def test_a_modem_starting_in_802_3_can_go_back_and_forth():
    d = Driver(data_format="802-3")
    assert d.modem.link_layer == "802-3"
    response, _ = d.request("WDA", "Set Data Format", {"link_layer_protocol": "raw-ip"})
    assert response["link_layer_protocol"].name == "raw-ip"
    response, _ = d.request("WDA", "Set Data Format", {"link_layer_protocol": "802-3"})
    assert response["link_layer_protocol"].name == "802-3"


@pytest.mark.parametrize("service,name", [
    ("CTL", "Allocate CID"), ("CTL", "Release CID"), ("DMS", "Set Operating Mode"), ("DMS", "UIM Verify PIN"),
    ("UIM", "Verify PIN"), ("WDS", "Set IP Family"), ("WDS", "Stop Network"), ("WDS", "Get Profile Settings"),
    ("WDS", "Modify Profile"), ("WDS", "Delete Profile"), ("WDS", "Set Autoconnect Settings"),
])
def test_a_request_without_its_mandatory_tlv_gets_missing_argument(service, name):
    d = Driver()
    response, _ = d.request(service, name, {})
    assert response.result.error.name == "MissingArgument"


def test_a_tlv_the_modem_cannot_parse_gets_malformed_message():
    from qcm.qmi.qmux import Frame
    d = Driver()
    cid = d.allocate("DMS")
    frame = build_frame(catalogue().method("DMS", "Set Operating Mode"), "request", cid, 7, {"mode": "low-power"})
    cut = Frame(frame.service, frame.client_id, frame.kind, frame.transaction, frame.message_id, ((0x01, b""),))
    response = decode(d.modem.handle(cut, 0.0)[0])
    assert response.result.error.name == "MalformedMessage" and d.modem.mode == "online"


def test_at_port_dials_an_ethernet_style_call_and_reports_its_end():
    from qcm.sim.at import SimAt
    d = Driver(usbnet="ecm")
    at = SimAt(lambda: d.modem, lambda: None)
    at.echo = False
    assert at.handle("AT+QNETDEVCTL=?") == ["+QNETDEVCTL: (1-16),(0,1),(0,1)", "OK"]
    assert at.handle("AT+QNETDEVSTATUS=1") == ["ERROR"]
    assert at.handle("AT+QNETDEVCTL=1,1,1") == ["OK"]
    assert at.unsolicited() == ['+QNETDEVSTATUS: 1,1,"IPV4"']
    status = at.handle("AT+QNETDEVSTATUS=1")[0]
    call = d.modem.calls[("AT", 1)]
    assert status.startswith("+QNETDEVSTATUS: %s," % call.ipv4.ip.packed[::-1].hex().upper())
    assert at.handle("AT+CGACT?")[0] == "+CGACT: 1,1"
    d.modem.drop_calls("no-service")          # the network ends it
    assert at.unsolicited() == ['+QNETDEVSTATUS: 1,0,"IPV4"']
    assert at.handle("AT+QNETDEVCTL=1,1,1") == ["OK"] and at.handle("AT+QNETDEVCTL=1,0,0") == ["OK"]
    at.unsolicited()
    assert ("AT", 1) not in d.modem.calls and at.unsolicited() == []  # hung up by the host: no URC


def test_at_registration_reporting():
    from qcm.sim.at import SimAt
    d = Driver()
    at = SimAt(lambda: d.modem, lambda: None)
    at.echo = False
    assert at.handle("AT+CEREG=2") == ["OK"] and at.handle("AT+CEREG?") == ["+CEREG: 2,1", "OK"]
    d.modem.force_registration("searching", 1.0)
    assert at.unsolicited() == ["+CEREG: 2"]
