"""The simulator's control port hands one message to each read(), as a cdc-wdm device does.

Readers written against cdc-wdm (Quectel's C tool among them) read once per message and drop
a buffer holding more; on a pty, a response and an indication written together arrive in one
read. These tests read exactly as such a reader does: one read() per message, a little late.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
from typing import List

from qcm.qmi.catalogue import catalogue
from qcm.qmi.message import build_frame, decode
from qcm.qmi.qmux import FrameParser
from qcm.sim.ptyport import MessageGate, PtyPort


def test_gate_waits_for_the_message_to_arrive_and_leave():
    gate = MessageGate(unseen_grace=0.005)
    assert gate.may_write(0, 0.0)
    gate.written(1.0)
    assert not gate.may_write(0, 1.001)      # not in the reader's queue yet (or already read?)
    assert not gate.may_write(40, 1.002)     # there, unread
    assert not gate.may_write(40, 5.0)       # a slow reader is waited for, however long
    assert gate.may_write(0, 5.001)          # read


def test_gate_trusts_a_reader_that_took_the_message_at_once():
    gate = MessageGate(unseen_grace=0.005)
    gate.written(1.0)
    assert not gate.may_write(0, 1.004)
    assert gate.may_write(0, 1.006)


def one_read_per_message(path: str, reads: List[bytes], count: int, delay: float) -> None:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        for _ in range(count):
            time.sleep(delay)  # a reader that comes late finds everything that was written meanwhile
            ready, _, _ = select.select([fd], [], [], 10)
            if not ready:
                return
            reads.append(os.read(fd, 4096))
    finally:
        os.close(fd)


def test_messages_written_together_are_read_one_by_one():
    messages = [bytes([0x01, 5, 0, 0x80, 0, 0]) + bytes([i]) * (10 + i) for i in range(4)]
    reads: List[bytes] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        port = PtyPort("qmi", lambda data: None, messages=True)
        port.start(loop)
        reader = threading.Thread(target=one_read_per_message, args=(port.path, reads, len(messages), 0.05))
        reader.start()
        deadline = time.monotonic() + 5
        while not port.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert port.connected
        for message in messages:
            port.write(message)
        while reader.is_alive():
            await asyncio.sleep(0.01)
        port.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert reads == messages


def test_response_and_indication_arrive_in_separate_reads(start_sim):
    """Start Network answers and announces the call at the same moment (what the C tool missed)."""
    sim = start_sim()
    c = catalogue()
    fd = os.open(sim.control, os.O_RDWR | os.O_NOCTTY)
    try:
        def read_one() -> bytes:
            ready, _, _ = select.select([fd], [], [], 10)
            assert ready, "no answer"
            return os.read(fd, 4096)

        os.write(fd, build_frame(c.method("CTL", "Allocate CID"), "request", 0, 1, {"service": "wds"}).encode())
        data = read_one()
        parser = FrameParser()
        parser.feed(data)
        allocation = [e for e in parser.events()]
        assert len(allocation) == 1
        cid = decode(allocation[0])["allocation_info"]["cid"]
        os.write(fd, build_frame(c.method("WDS", "Start Network"), "request", cid, 2, {"apn": "internet"}).encode())
        time.sleep(0.2)  # both are due now: the response and the packet-service indication
        reads = [read_one(), read_one()]
    finally:
        os.close(fd)
    kinds = []
    for data in reads:
        parser = FrameParser()
        parser.feed(data)
        frames = list(parser.events())
        assert len(frames) == 1 and frames[0].encode() == data, "one read, one whole message: %s" % data.hex()
        kinds.append(decode(frames[0]).kind)
    assert kinds == ["response", "indication"]
