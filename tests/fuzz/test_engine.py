"""The fuzz engine itself: it finds a planted crash and a planted hang, saves them, and repeats exactly."""

from __future__ import annotations

import random
import textwrap

from engine import Mutator, fuzz, load

BUGGY = '''
NAME = "buggy"
def seeds():
    return [b"hello world", b"\\x01\\x02\\x03\\x04"]

def run(data):
    if b"\\xff" in data:
        raise ValueError("planted")
    if data.startswith(b"hang"):
        while True:
            pass
'''


def make(tmp_path, body=BUGGY, name="target_buggy.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return load(path)


def test_a_crash_is_found_saved_once_and_replayable(tmp_path):
    target = make(tmp_path)
    report = fuzz(target, inputs=3000, seed=5, crash_dir=tmp_path / "crashes")
    [crash] = [f for f in report.findings.values() if f.kind == "crash"]
    assert crash.count > 1 and "ValueError" in crash.summary and "planted" in crash.summary
    assert crash.saved is not None and b"\xff" in crash.saved.read_bytes()
    assert "Traceback" in crash.saved.with_suffix(".txt").read_text()
    assert report.inputs == 3000 and report.crashes == crash.count


def test_a_hang_is_cut_short_and_reported(tmp_path):
    target = make(tmp_path, BUGGY.replace('return [b"hello world"', 'return [b"hang", b"hello world"'))
    report = fuzz(target, inputs=3, seed=1, crash_dir=tmp_path / "crashes", hang_seconds=0.2)
    assert report.hangs >= 1 and report.seconds < 10


def test_runs_repeat_exactly_with_the_same_seed():
    seeds = [b"abcdef", b"\x00\x01\x02"]
    a, b, c = (Mutator(seeds, random.Random(n)) for n in (7, 7, 8))
    first = [a.next() for _ in range(500)]
    assert first == [b.next() for _ in range(500)] and first != [c.next() for _ in range(500)]


def test_mutations_stay_bounded_and_vary():
    mutator = Mutator([b"x" * 100], random.Random(3))
    outputs = {mutator.next() for _ in range(2000)}
    assert len(outputs) > 1000 and max(len(o) for o in outputs) <= 64 * 1024
    assert b"" in outputs or min(len(o) for o in outputs) < 10  # truncation happens


def test_a_time_budget_holds(tmp_path):
    target = make(tmp_path, BUGGY.replace('b"\\xff" in data', 'False'))
    report = fuzz(target, seconds=0.3, seed=2)
    assert report.inputs > 10 and not report.findings and report.seconds < 5
