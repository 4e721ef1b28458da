"""decode(parse(encode(values))) == values for every layout of the MBIM catalogue, whole and
cut into fragments of any allowed size."""

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libmbim import cases, for_layout
from qcm.mbim.catalogue import catalogue
from qcm.mbim.framing import MIN_CONTROL_TRANSFER, FrameParser
from qcm.mbim.message import build, decode

CASES = cases(list(catalogue().commands()))


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, str):
        return str(value)
    return value


def test_there_is_a_case_for_every_command_kind():
    covered = {(c.service.nick, c.key, k) for c, k, _ in CASES}
    for command in catalogue().commands():
        for kind in command.kinds:
            assert (command.service.nick, command.key, kind) in covered


@pytest.mark.parametrize("definition,kind,version", CASES,
                         ids=["%s-%s-%s-v%d" % (c.service.nick, c.key, k, v) for c, k, v in CASES])
def test_round_trip(definition, kind, version):
    layout = definition.layout(kind, version)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(for_layout(layout), st.integers(MIN_CONTROL_TRANSFER, 600))
    def check(values, transfer):
        frame = build(definition, kind, 0x12345678, values, version=version)
        parser = FrameParser()
        parser.feed(b"".join(frame.fragments(transfer)))
        events = parser.events()
        assert events == [frame]
        message = decode(events[0], version)
        assert message.definition is definition and message.kind == kind
        assert message.problems == ()
        assert normalise(message.values) == normalise(values)
        again = build(definition, kind, 0x12345678, message.values, version=version)
        assert again.encode() == frame.encode()
    check()
