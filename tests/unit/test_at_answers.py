"""Reading the AT answers of the dial sequence: the lines of quectel-CM's recorded RG801H session
(reference, section 10.3), EC25 and BG95 answers, and URCs that look like answers."""

import ipaddress

import pytest

from qcm.backends.at import answers
from qcm.errors import UsageError


def test_qnetdevstatus_as_recorded_little_endian():
    lines = ["+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3, 85600, 85600"]
    assert answers.qnetdevstatus_address(lines) == ipaddress.ip_address("10.25.16.79")
    assert answers.qnetdevstatus_address(['+QNETDEVSTATUS:1,1,"IPV4"']) is None  # the URC, swallowed by a poll
    assert answers.qnetdevstatus_address(["+QNETDEVSTATUS: 10.1.2.3,255.255.255.0,10.1.2.1,10.1.2.1,8.8.8.8,0.0.0.0"]) \
        == ipaddress.ip_address("10.1.2.3")


def test_call_news():
    assert answers.call_news('+QNETDEVSTATUS:1,1,"IPV4"') == answers.CallNews(1, True)
    assert answers.call_news('+QNETDEVSTATUS: 2,0,"IPV6"') == answers.CallNews(2, False)
    assert answers.call_news('+QIURC: "pdpdeact",1') == answers.CallNews(1, False)
    assert answers.call_news("+CGEV: NW PDN DEACT 3") == answers.CallNews(3, False)
    assert answers.call_news('+QIURC: "recv",0') is None
    assert answers.call_news("+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3") is None


def test_registration_answers_and_urcs():
    assert answers.registration_stat(["+CEREG: 2,1"], "CEREG") == "1"
    assert answers.registration_stat(['+CEREG: 1', '+CEREG: 2,5,"1A2B","01A2B3C4",7'], "CEREG") == "5"
    assert answers.registration_stat(['+CEREG: 1,"1A2B","01A2B3C4",7'], "CEREG") is None  # a URC, not the answer
    assert answers.registration_stat(['+C5GREG: 2,1,"46550B","0000000170C23000",11,1,"01"'], "C5GREG") == "1"
    assert answers.urc_stat("+CEREG: 1") == ("CEREG", "1")
    assert answers.urc_stat('+CGREG: 5,"1A2B","01A2B3C4",2') == ("CGREG", "5")
    assert answers.urc_stat("+CEREG: 2,1") is None  # the answer shape


def test_registration_from_the_best_rat():
    on_3g = answers.registration(["0", "1", None], "1", '0,0,"Rogers",2', "20,99")
    assert on_3g.registered and on_3g.ps_attached and on_3g.operator == "Rogers" and on_3g.rat == "umts"
    assert on_3g.signal_dbm == -73
    numeric = answers.registration(["5"], "1", '0,2,"46000",12', None)
    assert numeric.roaming and numeric.mcc == 460 and numeric.mnc == 0 and numeric.rat == "5gnr"
    detached = answers.registration(["1"], "0", None, "99,99")
    assert detached.registered and not detached.ps_attached and detached.signal_dbm is None
    denied = answers.registration(["3"], None, "0", None)
    assert denied.state == "registration-denied" and not denied.ps_attached


def test_contexts():
    assert answers.qiact_address(['+QIACT: 1,1,1,"100.64.0.2"'], 1) == ipaddress.ip_address("100.64.0.2")
    assert answers.qiact_address(['+QIACT: 2,1,1,"100.64.0.6"'], 1) is None
    assert answers.cgact_active(["+CGACT: 1,0", "+CGACT: 2,1"], 2) and not answers.cgact_active(["+CGACT: 1,0"], 1)
    assert answers.cgpaddr_address(['+CGPADDR: 1,"10.64.11.124"'], 1) == ipaddress.ip_address("10.64.11.124")  # seed 002
    assert answers.cgpaddr_address(['+CGPADDR: 1,"0.0.0.0"'], 1) is None
    assert answers.qicsgp(['+QICSGP: 1,"cment","","",0']) == (1, "cment", "", "", 0)
    assert answers.qicsgp(['+QICSGP: 1,1,"cment","","",0,,0,']) is None  # RG801H's longer form: not ours to guess


def test_ceer():
    assert answers.ceer_text(['+CEER: "Missing or unknown APN"']) == "Missing or unknown APN"
    assert answers.ceer_text(['+CEER: "No cause information available"']) == ""
    assert answers.ceer_text(["+CEER: 0,0"]) == "0,0"


def test_strings_inside_at_commands():
    assert answers.quoted("APN", "internet.example") == '"internet.example"'
    assert answers.quoted("password", "a,b;c") == '"a,b;c"'  # separators are fine inside quotes
    for bad in ('pa"ss', "line\rbreak", "caf\u00e9"):
        with pytest.raises(UsageError):
            answers.quoted("password", bad)


def test_fields():
    assert answers.fields('1,"a,b",,x') == ["1", "a,b", "", "x"]
