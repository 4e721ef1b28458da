"""The qmi-proxy protocol core (qcm.qmi.proxy): libqmi's rules, and the two places qcm is stricter."""

from dataclasses import replace

from qcm.qmi.catalogue import catalogue
from qcm.qmi.message import build_frame, decode
from qcm.qmi.proxy import CloseClient, ProxyCore, ToClient, ToDevice
from qcm.qmi.qmux import FrameParser

DEVICE = "/dev/cdc-wdm0"


def frame(service, message, kind, cid=0, tid=1, values=None, error=0):
    definition = catalogue().method(service, message) if kind != "indication" else \
        catalogue().indication(service, message)
    return build_frame(definition, kind, cid, tid, values, error=error)


def parse(data):
    parser = FrameParser()
    parser.feed(data)
    return parser.events()[0]


def opened(core, client, tid=7):
    actions = core.from_client(client, frame("CTL", "Internal Proxy Open", "request", tid=tid,
                                             values={"device_path": DEVICE}).encode())
    answer = decode(parse(actions[0].data))
    assert isinstance(actions[0], ToClient) and answer.ok and answer.frame.transaction == tid
    return actions


def new_core():
    core = ProxyCore(lambda path: path == DEVICE)
    core.add_client("qcm", opened=True)
    core.add_client("qmicli")
    return core


def test_a_client_must_open_our_device_first():
    core = new_core()
    request = frame("DMS", "Get IDs", "request", cid=1).encode()
    assert core.from_client("qmicli", request) == [CloseClient("qmicli", "its first message was not Internal Proxy Open")]
    core.add_client("other")
    actions = core.from_client("other", frame("CTL", "Internal Proxy Open", "request",
                                              values={"device_path": "/dev/cdc-wdm9"}).encode())
    assert not decode(parse(actions[0].data)).ok and not core.clients["other"].opened


def test_ctl_transaction_ids_are_the_proxys_and_allocations_are_tracked():
    core = new_core()
    opened(core, "qmicli")
    ours = core.from_client("qcm", frame("CTL", "Allocate CID", "request", tid=1, values={"service": "wds"}).encode())
    theirs = core.from_client("qmicli", frame("CTL", "Allocate CID", "request", tid=1, values={"service": "nas"}).encode())
    sent = [parse(a.data) for a in ours + theirs]
    assert [f.transaction for f in sent] == [1, 2]            # both clients used tid 1; the device sees 1 and 2
    answer_theirs = frame("CTL", "Allocate CID", "response", tid=2, values={"allocation_info": {"service": "nas", "cid": 4}})
    back = core.from_device(answer_theirs.encode())
    assert [a.client for a in back] == ["qmicli"] and parse(back[0].data).transaction == 1
    answer_ours = frame("CTL", "Allocate CID", "response", tid=1, values={"allocation_info": {"service": "wds", "cid": 3}})
    assert [a.client for a in core.from_device(answer_ours.encode())] == ["qcm"]
    assert core.owners == {(1, 3): "qcm", (3, 4): "qmicli"}
    # answers and indications follow their client id; broadcasts go to everyone
    indication = frame("WDS", "Packet Service Status", "indication", cid=3, tid=0,
                       values={"connection_status": {"status": "connected", "reconfiguration_required": False}})
    assert [a.client for a in core.from_device(indication.encode())] == ["qcm"]
    broadcast = replace(indication, client_id=0xFF)
    assert sorted(a.client for a in core.from_device(broadcast.encode())) == ["qcm", "qmicli"]


def test_service_requests_pass_unchanged_and_a_leaving_client_disowns_its_ids():
    core = new_core()
    opened(core, "qmicli")
    request = frame("NAS", "Get Serving System", "request", cid=4, tid=0x1234).encode()
    assert core.from_client("qmicli", request) == [ToDevice(request)]
    assert core.owners[(3, 4)] == "qmicli"      # tracked implicitly
    core.client_gone("qmicli")
    assert (3, 4) not in core.owners           # disowned, still allocated on the modem
    core.add_client("later")
    opened(core, "later")
    assert core.from_client("later", request) == [ToDevice(request)] and core.owners[(3, 4)] == "later"


def test_sync_is_answered_here_and_anothers_client_id_is_not_taken():
    core = new_core()
    opened(core, "qmicli")
    sync = core.from_client("qmicli", frame("CTL", "Sync", "request", tid=9).encode())
    assert len(sync) == 1 and isinstance(sync[0], ToClient) and decode(parse(sync[0].data)).ok
    core.from_client("qcm", frame("WDS", "Get Packet Service Status", "request", cid=3, tid=5).encode())
    stolen = core.from_client("qmicli", frame("WDS", "Get Packet Service Status", "request", cid=3, tid=5).encode())
    answer = decode(parse(stolen[0].data))
    assert isinstance(stolen[0], ToClient) and answer.result.error.name == "InvalidClientId"
    assert core.owners[(1, 3)] == "qcm"


def test_the_device_going_closes_every_client():
    core = new_core()
    opened(core, "qmicli")
    assert sorted(a.client for a in core.device_gone("vanished")) == ["qcm", "qmicli"]


def test_garbage_and_an_endless_frame():
    core = new_core()
    opened(core, "qmicli")
    assert "no QMUX frame" in core.from_client("qmicli", b"\x00garbage")[0].text
    # a frame can announce at most 64 KiB: a client can make the proxy hold no more than one of them
    half = b"\x01\xff\xff\x00\x01\x01\x00\x01\x00\x01\x00\xf3\xff" + b"\x00" * 30000
    assert core.from_client("qmicli", half) == [] and core.clients["qmicli"].parser.buffered == len(half)
