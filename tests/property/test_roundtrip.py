"""decode(parse(encode(values))) == values, for every message and direction of the catalogue."""

import pytest
from hypothesis import HealthCheck, given, settings

from qcm.qmi.catalogue import INDICATION, REQUEST, RESPONSE, catalogue
from qcm.qmi.message import build, decode
from qcm.qmi.qmux import FrameParser
from strategies import for_message

CASES = [(m, kind) for m in catalogue().messages()
         for kind in ((INDICATION,) if m.is_indication else (REQUEST, RESPONSE))]


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return value


@pytest.mark.parametrize("definition,kind", CASES, ids=["%s-%s-%s" % (m.service.name, m.key, k) for m, k in CASES])
def test_round_trip(definition, kind, data_strategy_settings=None):
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(for_message(definition, kind))
    def check(values):
        service = definition.service.id
        raw = build(definition, kind, 0 if service == 0 else 7, 0x42 if service == 0 else 0x1234, values)
        parser = FrameParser(max_frame_size=0x10000)
        parser.feed(raw)
        message = decode(parser.next_event())
        assert message.definition is definition
        assert message.problems == ()
        assert message.unknown_tlvs() == ()
        got = {k: v for k, v in message.values.items() if k != "result"}
        assert normalise(got) == normalise(values)
        assert message.frame.encode() == raw
    check()
