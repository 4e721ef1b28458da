"""tests/fuzz/target_dhcp.py keeps the shared fuzz contract, and survives its seeds and a few
thousand seeded mutations of them (the fuzz engine runs it for longer)."""

import importlib.util
import random
import time
from pathlib import Path

from test_mbim_fuzz_target import mutate

TARGET = Path(__file__).resolve().parents[1] / "fuzz" / "target_dhcp.py"


def load_target():
    spec = importlib.util.spec_from_file_location("target_dhcp", TARGET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_target_contract_and_a_short_run():
    target = load_target()
    assert target.NAME == "dhcp"
    seeds = target.seeds()
    assert seeds and all(isinstance(s, bytes) for s in seeds)
    rng = random.Random(21)
    deadline = time.monotonic() + 20
    try:
        for data in seeds + [b"", b"D", b"R", b"A", b"G", b"I" + bytes(64)]:
            target.run(data)
        for _ in range(3000):
            seed = rng.choice(seeds)
            data = seed[:1] + mutate(rng, seed[1:], [s[1:] for s in seeds])  # keep the kind, mutate the rest
            started = time.monotonic()
            target.run(data)
            assert time.monotonic() - started < 2.0
            if time.monotonic() > deadline:
                break
    finally:
        target.close()
