"""Fuzz target: ``qcm doctor`` from the module's answers to the report (src/qcm/doctor, src/qcm/at).

The input is what a module answers: a selector byte (which module the host sees, which mode
and variant the user asked for), a length-prefixed run of QMI response frames, and the AT
port's byte stream for each command the doctor sends, NUL-separated. The real evidence code
reads them (``take_qmi_answers``, and ``read_at`` through the AT parser), then the rules, the
summary and the text and JSON reports run. A QMI answer may end the QMI side with a QcmError,
as a bad answer does in ``gather``; nothing else may escape, and the report must be printable.

The seeds are the simulator's own answers for every shipped scenario (each seed thread and
finding), so mutation starts from realistic conversations.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Dict, List, Optional, Tuple

from qcm.at.parser import AtParser, Response, Timeout
from qcm.cli.doctor import report, summary
from qcm.discovery import Modem
from qcm.doctor.evidence import AT_COMMANDS, QMI_PROBES, QMI_REQUESTS, read_at, take_qmi_answers
from qcm.doctor.facts import Facts
from qcm.doctor.rules import diagnose
from qcm.errors import QcmError
from qcm.io.at_port import AtTimeout
from qcm.printable import printable
from qcm.qmi.catalogue import RESPONSE, catalogue
from qcm.qmi.message import decode
from qcm.qmi.qmux import Frame, FrameParser

NAME = "doctor"

_EC25 = Modem(usb_path="1-1.2", vendor_id=0x2C7C, product_id=0x0125, manufacturer="Quectel", product="EC25",
              model="EC25/EC20", mode="qmi", driver="qmi_wwan", driver_version="6.1.0", interface=4,
              control="/dev/cdc-wdm0", netdev="wwan0", raw_ip=True, at_port="/dev/ttyUSB2")
MODEMS = [
    _EC25,
    replace(_EC25, raw_ip=False),
    replace(_EC25, at_port=None, unbound=(0, 1, 2, 3)),
    replace(_EC25, product_id=0x0700, product="BG95", model="BG95/BG77/BG600L"),
    replace(_EC25, mode="ethernet", driver="cdc_ether", control=None, netdev="usb0", raw_ip=None),
    replace(_EC25, mode="mbim", driver="cdc_mbim", raw_ip=None),
    replace(_EC25, mode="none", driver="", control=None, netdev=None, raw_ip=None),
]
VARIANTS = ["", "EC25-A", "EC25-E", "EG25-G", "EC25AF", "junk"]
MODES = [None, "qmi", "ecm", "mbim", "rndis"]

# (service id, message id) of a response -> the key the doctor files it under
_KEYS: Dict[Tuple[int, int], str] = {}
for _key, _service, _name, _ in QMI_REQUESTS:
    _definition = catalogue().method(_service, _name)
    _KEYS[(_definition.service.id, _definition.id)] = _key
for _service, _name, _ in QMI_PROBES:
    _definition = catalogue().method(_service, _name)
    _KEYS[(_definition.service.id, _definition.id)] = "probe " + _name


def _transcripts() -> List[bytes]:
    """The simulator's answers, QMI and AT, for every shipped scenario."""
    from qcm.qmi.catalogue import REQUEST
    from qcm.qmi.message import build_frame
    from qcm.sim import handlers  # noqa: F401 - registers the request handlers
    from qcm.sim.at import SimAt
    from qcm.sim.config import SCENARIO_DIR, load_scenario
    from qcm.sim.modem import SimModem

    out = []
    c = catalogue()
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        try:
            modem = SimModem(load_scenario(path), now=0.0)
        except Exception:  # noqa: BLE001 - a scenario the simulator of this checkout cannot load: no seed
            continue
        cids = {}
        for service in ("DMS", "NAS", "UIM", "WDA", "WDS"):
            answer = modem.handle(build_frame(c.method("CTL", "Allocate CID"), REQUEST, 0, 1,
                                              {"service": service.lower()}), 0.5)
            allocation = decode(answer[-1]).get("allocation_info") if answer else None
            cids[service] = allocation["cid"] if allocation else 1
        qmi = b""
        requests = [(s, n, v) for _, s, n, v in QMI_REQUESTS] + list(QMI_PROBES)
        for index, (service, name, values) in enumerate(requests):
            for frame in modem.handle(build_frame(c.method(service, name), REQUEST, cids[service], index + 2,
                                                  values or {}), 1.0):
                qmi += frame.encode()
        at = SimAt(lambda: modem, lambda: None)
        commands = list(AT_COMMANDS) + ['AT+QCFGEXT="usbnet"', 'AT+QPINC="SC"']
        answers = [("\r\n".join(at.handle(command)) + "\r\n").encode() for command in commands]
        out.append(bytes([len(out) % 256]) + len(qmi).to_bytes(2, "little") + qmi + b"\x00".join(answers))
    return out


def seeds() -> List[bytes]:
    handmade = [b"\x00\x00\x00" + b"\x00".join(b"\r\nOK\r\n" for _ in AT_COMMANDS),
                b"\x03\x00\x00" + b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n\x00" + b"\r\nERROR\r\n",
                b"\x00\x00\x00" + b"\x00".join([b"\r\n+CPIN: READY\r\n\r\nOK\r\n"] * 7 +
                                               [b"\r\n+CEREG: 0,6\r\n\r\nOK\r\n", b"\r\n+CSQ: \xc2\xb2,99\r\n\r\nOK\r\n"])]
    return _transcripts() + handmade


def _split(data: bytes) -> Tuple[int, bytes, List[bytes]]:
    selector = data[0] if data else 0
    size = int.from_bytes(data[1:3], "little")
    qmi = data[3:3 + size]
    rest = data[3 + size:]
    return selector, qmi, rest.split(b"\x00") if rest else []


def _qmi(facts: Facts, stream: bytes) -> None:
    parser = FrameParser(max_frame_size=0x10000)
    parser.feed(stream)
    results: Dict[str, object] = {}
    for frame in parser.events():
        if isinstance(frame, Frame) and frame.kind == RESPONSE:
            key = _KEYS.get((frame.service, frame.message_id))
            if key is not None:
                results[key] = decode(frame)
    if not results:
        facts.qmi_problem = "no QMI answers"
        return
    try:
        take_qmi_answers(facts, results)
    except QcmError as exc:  # what gather makes of a request the modem answered badly
        facts.qmi_problem = str(exc)


def _at(facts: Facts, segments: List[bytes]) -> None:
    parser = AtParser()
    answers = iter(segments)

    async def ask(command: str) -> Response:
        parser.command(command, 0.0, 5.0)
        events = parser.receive_data(next(answers, b"")) + parser.expire(10.0)
        for event in events:
            if isinstance(event, Response):
                return event
            if isinstance(event, Timeout):
                break
        raise AtTimeout("%s: no answer within 5 s" % command)

    coroutine = read_at(facts, ask)
    try:
        coroutine.send(None)
    except StopIteration:
        pass
    except AtTimeout as exc:  # not even the first answer: what gather calls a silent port
        facts.at_problem = str(exc)
        facts.silent["AT port /dev/ttyUSB2"] = str(exc)
    else:
        raise AssertionError("read_at waited for something other than its answers")


def run(data: bytes) -> None:
    selector, qmi, at = _split(data)
    modem: Optional[Modem] = MODEMS[selector % len(MODEMS)]
    facts = Facts(modem=modem, variant_hint=VARIANTS[(selector >> 3) % len(VARIANTS)],
                  wanted_mode=MODES[(selector >> 5) % len(MODES)], host_raw_ip=modem.raw_ip if modem else None)
    _qmi(facts, qmi)
    _at(facts, at)
    findings = diagnose(facts)
    json.dumps({"module": modem.to_json() if modem else None, "summary": summary(facts),
                "findings": [f.to_json() for f in findings], "not_examined": facts.not_examined()})
    "".join(printable(line) + "\n" for line in report(facts, findings)).encode("utf-8")
