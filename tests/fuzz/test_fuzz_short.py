"""Every fuzz target (tests/fuzz/target_*.py, whoever wrote it) for a few thousand inputs.

The long runs are bench/fuzz.py's (a million inputs per target); this one keeps the suite from
merging a parser that crashes on the first mutations. The hang bound here is more generous
than the engine's 2 s because the machine is shared: a slow input on a busy machine is not a
hang, and a real one (an endless loop) shows at any bound.
"""

from __future__ import annotations

import pytest

from engine import FUZZ_DIR, discover, fuzz, load

INPUTS = 3000
SECONDS = 5.0


def test_every_target_follows_the_contract():
    targets = discover()
    assert {"qmux", "qmi_message", "at", "doctor", "decode", "control_socket", "scenario", "sim_handlers", "mbim",
            "mbim_backend", "dhcp", "dbus", "qmi_proxy"} <= {t.name for t in targets}
    assert len({t.name for t in targets}) == len(targets), "two targets share a NAME"
    for target in targets:
        assert target.seeds(), "%s has no seeds" % target.name


@pytest.mark.parametrize("path", sorted(FUZZ_DIR.glob("target_*.py")), ids=lambda p: p.stem[len("target_"):])
def test_target_survives_a_short_run(path, tmp_path):
    target = load(path)
    report = fuzz(target, inputs=INPUTS, seconds=SECONDS, seed=1, crash_dir=tmp_path, hang_seconds=10.0)
    assert report.inputs >= min(INPUTS, len(target.seeds())), "not even the seeds ran"
    assert not report.findings, report.describe() + "\n\n" + "\n".join(
        f.details for f in report.findings.values())
