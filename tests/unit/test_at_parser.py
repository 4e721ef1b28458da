"""The AT protocol core: any split, echo, final results, unsolicited lines, timeouts."""

import pytest

from qcm.at.parser import AtBusy, AtParser, Response, Timeout, Unsolicited
from qcm.at.redact import redact_command, redact_line


def run(command, reply, chunk=None):
    parser = AtParser()
    parser.command(command, 0.0, 5.0)
    events = []
    step = chunk or len(reply)
    for i in range(0, len(reply), step):
        events += parser.receive_data(reply[i:i + step])
    return events


@pytest.mark.parametrize("chunk", [None, 1, 3, 7])
def test_response_in_any_split(chunk):
    events = run("AT+CEREG?", b"AT+CEREG?\r\r\n+CEREG: 0,1\r\n\r\nOK\r\n", chunk)
    assert events == [Response("AT+CEREG?", ("+CEREG: 0,1",), "OK")]


def test_unsolicited_lines_are_told_apart():
    events = run("AT+CSQ", b"\r\nRDY\r\n+CEREG: 1\r\n+CSQ: 20,99\r\nOK\r\n+QIND: \"FOTA\"\r\n")
    assert events == [Unsolicited("RDY"), Unsolicited("+CEREG: 1"), Response("AT+CSQ", ("+CSQ: 20,99",), "OK"),
                      Unsolicited('+QIND: "FOTA"')]


def test_plain_text_answers_and_compound_commands():
    (response,) = run("ATI;+CSQ", b"Quectel\r\nEC25\r\nRevision: X\r\n+CSQ: 9,99\r\nOK\r\n")
    assert response.lines == ("Quectel", "EC25", "Revision: X", "+CSQ: 9,99")


@pytest.mark.parametrize("final,code", [("ERROR", None), ("+CME ERROR: 10", 10), ("+CMS ERROR: 350", 350),
                                        ("NO CARRIER", None), ("COMMAND NOT SUPPORT", None)])
def test_errors(final, code):
    (response,) = run("AT+CPIN?", b"\r\n" + final.encode() + b"\r\n")
    assert not response.ok and response.final == final and response.error_code == code


def test_connect_is_final_and_ok():
    (response,) = run("ATD*99#", b"\r\nCONNECT 150000000\r\n")
    assert response.ok


def test_one_command_at_a_time_and_timeouts():
    parser = AtParser()
    parser.command("AT", 0.0, 2.0)
    with pytest.raises(AtBusy):
        parser.command("AT", 0.1, 2.0)
    assert parser.expire(1.0) == []
    assert parser.expire(2.5) == [Timeout("AT", ())]
    parser.command("AT", 3.0, 2.0)  # free again


def test_lines_without_a_command_are_unsolicited_and_long_garbage_is_bounded():
    parser = AtParser()
    assert parser.receive_data(b"+CPIN: READY\r\n") == [Unsolicited("+CPIN: READY")]
    parser.receive_data(b"x" * 100000)
    assert len(parser._buffer) <= 4096


def test_personal_data_redacted():
    assert redact_command("AT+CPIN=0123") == "AT+CPIN=###"
    assert redact_line("AT+CIMI", "302720123456789") == "###"
    assert redact_line("AT+QCCID", "+QCCID: 8930") == "+QCCID: ###"
    assert redact_line("AT+CSQ", "+CSQ: 9,99") == "+CSQ: 9,99"
