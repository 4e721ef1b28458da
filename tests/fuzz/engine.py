#!/usr/bin/env python3
"""A small mutation fuzzer for qcm's parsers: every ``tests/fuzz/target_*.py`` gets hostile input.

A target is a module defining ``NAME: str``, ``seeds() -> List[bytes]`` (valid inputs to start
from), ``run(data: bytes) -> None`` (must return normally for every input) and optionally
``close() -> None``. The engine feeds each seed as it is, then mutations of the seeds: bit
flips, random bytes, bytes inserted, deleted or duplicated, two seeds spliced, "interesting"
integers (0, -1, 0x7f, 0xffff, ...) written at random offsets, truncation; a few stacked per
input. The PRNG is seeded, so a run can be repeated exactly.

An exception escaping ``run()`` is a crash; an input that takes longer than ``hang_seconds``
(2 s) is a hang. Pure Python loops are interrupted at that bound (SIGALRM, when the engine runs
in the main thread); C code that never returns cannot be. Each distinct crash (exception type
and where it was raised) is saved once under the crash directory, with its traceback next to
it, for ``--replay``.

    tests/fuzz/engine.py --target qmux --inputs 100000 --crash-dir /tmp/crashes
    tests/fuzz/engine.py --target qmux --replay /tmp/crashes/qmux-1a2b3c4d5e6f.bin
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import signal
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterator, List, Optional, Tuple

FUZZ_DIR = Path(__file__).resolve().parent
HANG_SECONDS = 2.0
MAX_INPUT = 64 * 1024  # mutations never grow an input beyond this
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               -1, -128, -32768)


class Hang(BaseException):
    """Raised by the alarm inside a target that runs too long (a BaseException: targets catch Exception)."""


@dataclass
class Target:
    name: str
    seeds: Callable[[], List[bytes]]
    run: Callable[[bytes], None]
    close: Optional[Callable[[], None]]
    path: Path


@dataclass
class Finding:
    kind: str            # crash or hang
    key: str             # what makes two findings the same: exception and where it was raised
    summary: str         # one line
    details: str         # the traceback
    data: bytes
    count: int = 1
    saved: Optional[Path] = None


@dataclass
class Report:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    findings: Dict[str, Finding] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(f.count for f in self.findings.values() if f.kind == kind)

    @property
    def crashes(self) -> int:
        return self.count("crash")

    @property
    def hangs(self) -> int:
        return self.count("hang")

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        lines = ["%s: %d inputs in %.1f s (%.0f/s), %d crashes, %d hangs" % (
            self.target, self.inputs, self.seconds, self.rate, self.crashes, self.hangs)]
        for finding in self.findings.values():
            lines.append("  %s x%d: %s%s" % (finding.kind, finding.count, finding.summary,
                                             " (input: %s)" % finding.saved if finding.saved else ""))
        return "\n".join(lines)


def load(path: Path) -> Target:
    spec = importlib.util.spec_from_file_location("qcm_fuzz_" + path.stem, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Target(module.NAME, module.seeds, module.run, getattr(module, "close", None), path)


def discover(directory: Path = FUZZ_DIR) -> List[Target]:
    return [load(path) for path in sorted(directory.glob("target_*.py"))]


class Mutator:
    """Inputs derived from the seeds by a seeded PRNG."""

    def __init__(self, seeds: List[bytes], rng: random.Random) -> None:
        self.seeds = [bytes(s) for s in seeds] or [b""]
        self.rng = rng

    def next(self) -> bytes:
        data = bytearray(self.rng.choice(self.seeds))
        for _ in range(1 + min(int(self.rng.expovariate(0.7)), 7)):
            getattr(self, "_" + self.rng.choice(self.OPERATIONS))(data)
        del data[MAX_INPUT:]
        return bytes(data)

    OPERATIONS = ("flip", "set_byte", "insert", "delete", "duplicate", "splice", "interesting", "truncate")

    def _offset(self, data: bytearray, end: bool = False) -> int:
        return self.rng.randrange(len(data) + (1 if end else 0)) if data or end else 0

    def _flip(self, data: bytearray) -> None:
        if data:
            data[self._offset(data)] ^= 1 << self.rng.randrange(8)

    def _set_byte(self, data: bytearray) -> None:
        if data:
            data[self._offset(data)] = self.rng.randrange(256)

    def _insert(self, data: bytearray) -> None:
        at = self._offset(data, end=True)
        size = self.rng.choice((1, 1, 2, 4, 16, 256))
        filler = bytes([self.rng.randrange(256)]) * size if self.rng.random() < 0.5 else \
            bytes(self.rng.randrange(256) for _ in range(size))
        data[at:at] = filler

    def _delete(self, data: bytearray) -> None:
        if data:
            at = self._offset(data)
            del data[at:at + self.rng.choice((1, 1, 2, 4, 16, len(data)))]

    def _duplicate(self, data: bytearray) -> None:
        if data:
            at = self._offset(data)
            chunk = data[at:at + self.rng.choice((1, 4, 16, 64, len(data)))]
            where = self._offset(data, end=True)
            data[where:where] = chunk * self.rng.choice((1, 1, 2, 8))

    def _splice(self, data: bytearray) -> None:
        other = self.rng.choice(self.seeds)
        cut = self._offset(data, end=True)
        start = self.rng.randrange(len(other) + 1)
        data[cut:] = other[start:]

    def _interesting(self, data: bytearray) -> None:
        value = self.rng.choice(INTERESTING)
        size, order = self.rng.choice(((1, "<"), (2, "<"), (4, "<"), (2, ">"), (4, ">")))
        packed = struct.pack(order + {1: "B", 2: "H", 4: "I"}[size], value & ((1 << (8 * size)) - 1))
        at = self._offset(data, end=True)
        data[at:at + size] = packed

    def _truncate(self, data: bytearray) -> None:
        if data:
            del data[self._offset(data):]


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame, the stable part of a crash's identity."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return "%s:%d" % (Path(frame.filename).name, frame.lineno or 0)


class _Alarm:
    """Interrupts a target after ``seconds`` (SIGALRM; only possible in the main thread)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self.previous = None

    def __enter__(self) -> "_Alarm":
        if self.usable:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
        return self

    @staticmethod
    def _fire(signum: int, frame: object) -> None:
        raise Hang()

    def arm(self) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def __exit__(self, *exc: object) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous or signal.SIG_DFL)


def inputs_of(target: Target, seed: int) -> Iterator[bytes]:
    """The seeds as they are, then mutations without end."""
    seeds = list(target.seeds())
    yield from seeds
    mutator = Mutator(seeds, random.Random(seed))
    while True:
        yield mutator.next()


def fuzz(target: Target, inputs: Optional[int] = None, seconds: Optional[float] = None, seed: int = 0,
         crash_dir: Optional[Path] = None, hang_seconds: float = HANG_SECONDS) -> Report:
    """Run ``target`` on up to ``inputs`` inputs or for up to ``seconds`` (at least one bound)."""
    assert inputs is not None or seconds is not None
    report = Report(target.name)
    start = time.perf_counter()
    deadline = start + seconds if seconds is not None else None
    try:
        with _Alarm(hang_seconds * 1.5) as alarm:  # the alarm only stops runaways; the clock decides
            for data in inputs_of(target, seed):
                if inputs is not None and report.inputs >= inputs:
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    break
                report.inputs += 1
                began = time.perf_counter()
                problem: Optional[Tuple[str, str, str, str]] = None
                alarm.arm()
                try:
                    target.run(data)
                except Hang:
                    problem = ("hang", "hang", "no answer after %.1f s" % (time.perf_counter() - began),
                               traceback.format_exc())
                except Exception as exc:  # noqa: BLE001 - every escaping exception is the finding
                    where = _where(exc)
                    problem = ("crash", "%s@%s" % (type(exc).__name__, where),
                               "%s at %s: %s" % (type(exc).__name__, where, str(exc)[:200]), traceback.format_exc())
                finally:
                    alarm.disarm()
                took = time.perf_counter() - began
                if problem is None and took > hang_seconds:
                    problem = ("hang", "hang", "took %.1f s" % took, "")
                if problem is not None:
                    _record(report, target, problem, data, crash_dir)
    finally:
        if target.close is not None:
            target.close()
    report.seconds = time.perf_counter() - start
    return report


def _record(report: Report, target: Target, problem: Tuple[str, str, str, str], data: bytes,
            crash_dir: Optional[Path]) -> None:
    kind, key, summary, details = problem
    known = report.findings.get(key)
    if known is not None:
        known.count += 1
        if len(data) < len(known.data):  # keep the smallest input: the easiest to read
            known.data = data
            known.saved = _save(crash_dir, target.name, kind, data, details) if known.saved else None
        return
    finding = Finding(kind, key, summary, details, data)
    finding.saved = _save(crash_dir, target.name, kind, data, details)
    report.findings[key] = finding


def _save(crash_dir: Optional[Path], name: str, kind: str, data: bytes, details: str) -> Optional[Path]:
    if crash_dir is None:
        return None
    crash_dir.mkdir(parents=True, exist_ok=True)
    path = crash_dir / ("%s-%s-%s.bin" % (name, kind, hashlib.sha1(data).hexdigest()[:12]))
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(details)
    return path


def replay(target: Target, path: Path) -> int:
    data = path.read_bytes()
    try:
        target.run(data)
    finally:
        if target.close is not None:
            target.close()
    print("%s: %s ran without an error" % (target.name, path))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", action="append", help="a target's NAME (repeatable; default: all)")
    parser.add_argument("--inputs", type=int, help="inputs per target")
    parser.add_argument("--seconds", type=float, help="time per target")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    parser.add_argument("--crash-dir", type=Path, help="save crashing and hanging inputs here")
    parser.add_argument("--replay", type=Path, help="run one saved input through --target, with its traceback")
    args = parser.parse_args(argv)
    targets = [t for t in discover() if not args.target or t.name in args.target]
    if args.target and len(targets) != len(set(args.target)):
        parser.error("unknown target; known: %s" % ", ".join(t.name for t in discover()))
    if args.replay:
        if len(targets) != 1:
            parser.error("--replay needs one --target")
        return replay(targets[0], args.replay)
    if args.inputs is None and args.seconds is None:
        args.inputs = 10000
    status = 0
    for target in targets:
        report = fuzz(target, args.inputs, args.seconds, args.seed, args.crash_dir)
        print(report.describe(), flush=True)
        status = status or (1 if report.findings else 0)
    return status


if __name__ == "__main__":
    sys.path.insert(0, str(FUZZ_DIR.parents[1] / "src"))
    sys.exit(main())
