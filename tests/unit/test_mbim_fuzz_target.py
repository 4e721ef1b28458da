"""tests/fuzz/target_mbim.py keeps the shared fuzz contract, and survives its seeds and a few
thousand seeded mutations of them (the fuzz engine runs it for longer)."""

import importlib.util
import random
import time
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "fuzz" / "target_mbim.py"


def load_target():
    spec = importlib.util.spec_from_file_location("target_mbim", TARGET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mutate(rng, data, seeds):
    data = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        op = rng.randint(0, 5)
        if op == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:
            data.insert(rng.randint(0, len(data)), rng.randrange(256))
        elif op == 2 and len(data) >= 4:
            at = rng.randrange(len(data) - 3)
            data[at:at + 4] = rng.choice([0, 1, 0xFFFFFFFF, 0x80000003, 4096]).to_bytes(4, "little")
        elif op == 3:
            del data[rng.randint(0, len(data)):]
        elif op == 4:
            data += rng.choice(seeds)
    return bytes(data)


def test_target_contract_and_a_short_run():
    target = load_target()
    assert target.NAME == "mbim"
    seeds = target.seeds()
    assert seeds and all(isinstance(s, bytes) for s in seeds)
    rng = random.Random(12)
    deadline = time.monotonic() + 20
    try:
        for data in seeds + [b"", b"\x03", bytes(64)]:
            target.run(data)
        for _ in range(2000):
            started = time.monotonic()
            target.run(mutate(rng, rng.choice(seeds), seeds))
            assert time.monotonic() - started < 2.0
            if time.monotonic() > deadline:
                break
    finally:
        target.close()
