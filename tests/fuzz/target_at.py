"""Fuzz target: the AT protocol (src/qcm/at/parser.py), log redaction and the readings of answers.

The input is a command, a NUL, and what the module sends back, fed in pieces whose sizes come
from the input. The parser may refuse a command with ValueError (a control character in it)
and nothing else; whatever the module sends, it returns events, ends with nothing pending once
the deadline passed, and every answer it makes can be read: the error code, every value the
doctor and ``qcm usbnet`` look for, the redacted log line, the escaped screen line.
"""

from __future__ import annotations

from typing import List

from qcm.at import readings, usbnet
from qcm.at.parser import AtParser, Response, Timeout, Unsolicited
from qcm.at.redact import redact_command, redact_line
from qcm.printable import printable

NAME = "at"

PREFIXES = ("+CPIN:", "+CFUN:", "+COPS:", "+CEREG:", "+CGREG:", "+CREG:", "+CSQ:", "+QNWINFO:", "+CGATT:",
            "+CEER:", "+QPINC:", usbnet.PREFIX["qcfg"], usbnet.PREFIX["qcfgext"])

SEEDS = [
    (b"AT+CPIN?", b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"),
    (b"AT+CPIN?", b"\r\n+CME ERROR: 10\r\n"),
    (b"AT+CSQ", b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"),
    (b"AT+CSQ", b"\r\n+CEREG: 1\r\n+CSQ: 17,99\r\n\r\nOK\r\n"),
    (b"AT+CEREG?", b"\r\n+CEREG: 2,6,\"1A2B\",\"01A2B3C\",7\r\n\r\nOK\r\n"),
    (b"AT+CREG?", b"\r\n+CREG: 0,5\r\n\r\nOK\r\n"),
    (b"AT+COPS?", b"\r\n+COPS: 0,0,\"Rogers\",7\r\n\r\nOK\r\n"),
    (b"AT+CFUN?", b"\r\n+CFUN: 4\r\n\r\nOK\r\n"),
    (b'AT+QPINC="SC"', b'\r\n+QPINC: "SC",3,10\r\n\r\nOK\r\n'),
    (b'AT+QCFG="usbnet"', b'\r\n+QCFG: "usbnet",0\r\n\r\nOK\r\n'),
    (b'AT+QCFGEXT="usbnet"', b'\r\n+QCFGEXT: "usbnet","ecm"\r\n\r\nOK\r\n'),
    (b"AT+CEER", b"\r\n+CEER: \"No cause information available\"\r\n\r\nOK\r\n"),
    (b"AT+QGMR", b"\r\nEC25EFAR06A11M4G_01.001.01.001\r\n\r\nOK\r\n"),
    (b"AT+CIMI", b"\r\n302720000000000\r\n\r\nOK\r\n"),
    (b"AT+QCCID", b"\r\n+QCCID: 89302720000000000000\r\n\r\nOK\r\n"),
    (b'AT+CPIN="1234"', b"\r\nERROR\r\n"),
    (b"ATI", b"\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A11M4G\r\n\r\nOK\r\nRDY\r\n"),
    (b"AT+CGDCONT?", b'\r\n+CGDCONT: 1,"IPV4V6","internet","0.0.0.0",0,0,0,0\r\n\r\nOK\r\n'),
]


def seeds() -> List[bytes]:
    return [command + b"\x00" + answer for command, answer in SEEDS]


def _read(response: Response) -> None:
    response.ok
    response.error_code
    values = [v for v in (response.value(p) for p in PREFIXES) if v is not None]
    for value in values:
        readings.stat_of(value)
        readings.state_of_stat(readings.stat_of(value))
        readings.csq_dbm(value)
        readings.qpinc_tries(value)
        usbnet.mode_of(value)
        readings.MODE_OF_CFUN.get(value.split(",")[0].strip())
        readings.SIM_OF_CPIN.get(value.upper())
    for line in response.lines + (response.final,):
        printable(redact_line(response.command, line)).encode("utf-8")


def run(data: bytes) -> None:
    command, _, answer = data.partition(b"\x00")
    parser = AtParser()
    text = command.decode("utf-8", "surrogateescape")
    printable(redact_command(text)).encode("utf-8")
    try:
        parser.command(text, now=0.0, timeout=5.0)
    except ValueError:
        if all(0x20 <= ord(c) != 0x7F for c in text.strip()):
            raise  # refused although it is one clean line
        parser.command("AT", now=0.0, timeout=5.0)
    step = 1 + (answer[-1] % 32 if answer else 0)
    events = []
    for start in range(0, len(answer), step):
        events += parser.receive_data(answer[start:start + step])
    events += parser.expire(10.0)
    assert parser.deadline() is None, "a command still pending after its deadline"
    for event in events:
        if isinstance(event, Response):
            _read(event)
        elif isinstance(event, Unsolicited):
            printable(event.line).encode("utf-8")
        else:
            assert isinstance(event, Timeout), event
