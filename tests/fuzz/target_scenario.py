"""Fuzz target: the simulator's scenario loader, in process, and a modem built from what it accepts.

A scenario is either refused with one UsageError line, or loaded into a modem that answers
its first requests (identity, SIM, registration, signal, data format, a call) and AT commands
without raising: a value the loader accepts must never crash the simulator later.
"""

from __future__ import annotations

from typing import List

from qcm.errors import UsageError
from qcm.qmi.catalogue import REQUEST, catalogue
from qcm.qmi.message import build_frame, decode
from qcm.sim import handlers  # noqa: F401 - registers the request handlers
from qcm.sim.at import SimAt
from qcm.sim.config import SCENARIO_DIR, SimConfig, load_scenario_bytes
from qcm.sim.modem import SimModem
from qcm.sim.sysfs import interfaces

NAME = "scenario"

_EXTRA_SEEDS = [
    b'model = "EG25"\nlink_layers = ["raw-ip", "802-3"]\ndata_format = "802-3"\nmax_clients = 1\n',
    b'latency_ms = 30\nregister_after_s = 2.5\nsnr = -3.5\nrssi = -100\nmcc = 999\nmnc = 99\n',
    b'[request_errors]\n"WDS Get Packet Service Status" = "OutOfCall"\n"NAS Get Signal Info" = "NotSupported"\n',
    b'usbnet = "ecm"\nlan_subnet = "192.0.2.0/24"\nunanswered = ["AT+COPS?", "NAS Get System Info"]\n',
    b'[[apn]]\nname = "a"\nauth = "pap-or-chap"\nusername = "u"\npassword = "p"\nip_types = ["ipv6"]\n'
    b'[[profile]]\nindex = 3\napn = "a"\npdp_type = "ipv6"\nauth = "chap"\n',
    b'cfun = 4\nsim = "pin"\npin = "00000000"\npin_retries = 1\nlast_call_end = "no-service"\n',
]

_REQUESTS = [("DMS", "Get Revision", {}), ("DMS", "Get IDs", {}), ("DMS", "Get Operating Mode", {}),
             ("UIM", "Get Card Status", {}), ("NAS", "Get Serving System", {}), ("NAS", "Get System Info", {}),
             ("NAS", "Get Signal Info", {}), ("NAS", "Get Signal Strength", {}), ("NAS", "Get Home Network", {}),
             ("WDA", "Get Data Format", {}), ("WDS", "Get Profile List", {"profile_type": "3gpp"}),
             ("WDS", "Start Network", {}), ("WDS", "Get Current Settings", {"requested_settings": 0xFFFF}),
             ("DMS", "UIM Get PIN Status", {}), ("DMS", "Set Operating Mode", {"mode": "online"})]
_AT = ["ATI", "AT+CSQ", "AT+QCSQ", "AT+COPS?", "AT+CEREG?", "AT+QNWINFO", 'AT+QENG="servingcell"', "AT+CGPADDR",
       "AT+CGDCONT?", "AT+CEER", 'AT+QCFG="usbnet"', 'AT+QCFGEXT="usbnet"', "AT+CPIN?", "AT+QGMR", "AT+CFUN?",
       "AT+QNETDEVCTL=1,1,1", "AT+QNETDEVSTATUS=1", "AT+QIACT=1", "AT+QIACT?", "AT+CGACT?", "AT+QICSGP=1",
       'AT+QCFG="nat"', "AT+CEREG=2"]


def seeds() -> List[bytes]:
    return [path.read_bytes() for path in sorted(SCENARIO_DIR.glob("*.toml"))] + _EXTRA_SEEDS


def exercise(config: SimConfig) -> None:
    """What the simulator does with a scenario in its first second (no I/O)."""
    interfaces(config)
    modem = SimModem(config, now=0.0)
    c = catalogue()
    cids = {}
    for service in ("DMS", "UIM", "NAS", "WDA", "WDS"):
        answer = modem.handle(build_frame(c.method("CTL", "Allocate CID"), REQUEST, 0, 1, {"service": service.lower()}), 0.5)
        allocation = decode(answer[-1]).get("allocation_info")
        cids[service] = allocation["cid"] if allocation else 0
    for index, (service, name, values) in enumerate(_REQUESTS):
        for frame in modem.handle(build_frame(c.method(service, name), REQUEST, cids[service], index + 1, values), 1.0):
            frame.encode()
    for frame in modem.advance(config.register_after_s + 1.0):
        frame.encode()
    at = SimAt(lambda: modem, lambda: None)
    for command in _AT:
        at.handle(command)
    at.unsolicited()


def run(data: bytes) -> None:
    try:
        config = load_scenario_bytes(data)
    except UsageError:
        return
    exercise(config)
