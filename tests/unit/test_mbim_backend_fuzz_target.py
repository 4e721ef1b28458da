"""tests/fuzz/target_mbim_backend.py keeps the shared fuzz contract, and survives its seeds and a
few thousand seeded mutations of them (the fuzz engine runs it for longer)."""

import importlib.util
import random
import time
from pathlib import Path

from test_mbim_fuzz_target import mutate

TARGET = Path(__file__).resolve().parents[1] / "fuzz" / "target_mbim_backend.py"


def load_target():
    spec = importlib.util.spec_from_file_location("target_mbim_backend", TARGET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_target_contract_and_a_short_run():
    target = load_target()
    assert target.NAME == "mbim_backend"
    seeds = target.seeds()
    assert seeds and all(isinstance(s, bytes) for s in seeds)
    for seed in seeds:
        target.run(seed)
    rng = random.Random(12)
    deadline = time.monotonic() + 20  # a bound for a busy machine, not a timing assertion
    for _ in range(3000):
        target.run(mutate(rng, rng.choice(seeds), seeds))
        if time.monotonic() > deadline:
            break
