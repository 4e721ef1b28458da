"""The control-socket fuzz target keeps the shared contract and passes its own seeds and the
inputs that crashed the old server (the fuzz engine runs it at length)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import target_control_socket as target  # noqa: E402 - after its directory is on the path


def test_the_target_answers_its_seeds_and_hostile_inputs() -> None:
    hostile = [b"[]", b"1", b'"x"', b"[" * 1000, b"{" * 5000, b"x" * 65536, b"\xff", b"", b"\n",
               b'{"command": "boom"}', b'{"command": "echo", "x": NaN}', b'{"command": "signal", "rsrp": "x"}']
    rng = random.Random(10)
    mutated = []
    for seed in target.seeds():
        for _ in range(50):
            data = bytearray(seed)
            for _ in range(3):
                data[rng.randrange(len(data))] = rng.randrange(256)
            mutated.append(bytes(data))
    try:
        assert target.NAME == "control_socket"
        for data in target.seeds() + hostile + mutated:
            target.run(data)
    finally:
        target.close()
