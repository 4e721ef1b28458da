#!/usr/bin/env python3
"""Fuzzing at length: every tests/fuzz/target_*.py (or the ones named) for N inputs each.

Each target's inputs are shared out among ``--jobs`` worker processes, each with its own PRNG
seed; the report gives, per target, the inputs run, the distinct crashes and hangs (with how
often each came, and where its smallest input was saved) and the inputs per second of one
worker. Exit status 1 on any crash or hang.

    .venv/bin/python bench/fuzz.py --inputs 1000000 [--target NAME] [--jobs 2] [--crash-dir DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

from engine import FUZZ_DIR, Finding, Report, discover, fuzz, load  # noqa: E402


def _work(job: Tuple[str, int, int, str]) -> Report:
    path, inputs, seed, crash_dir = job
    return fuzz(load(Path(path)), inputs=inputs, seed=seed, crash_dir=Path(crash_dir))


def _merge(name: str, reports: List[Report]) -> Report:
    merged = Report(name, inputs=sum(r.inputs for r in reports), seconds=sum(r.seconds for r in reports))
    for report in reports:
        for key, finding in report.findings.items():
            known: Optional[Finding] = merged.findings.get(key)
            if known is None:
                merged.findings[key] = finding
            else:
                known.count += finding.count
    return merged


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=1000000, help="inputs per target (default 1,000,000)")
    parser.add_argument("--target", action="append", help="a target's NAME (repeatable; default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="first PRNG seed (worker i uses seed + i)")
    parser.add_argument("--crash-dir", type=Path, help="where crashing inputs go (default: a new temporary directory)")
    args = parser.parse_args(argv)
    targets = {t.name: t.path for t in discover(FUZZ_DIR)}
    names = args.target or sorted(targets)
    unknown = [n for n in names if n not in targets]
    if unknown:
        parser.error("unknown target %s; known: %s" % (", ".join(unknown), ", ".join(sorted(targets))))
    # created only when something is found
    crash_dir = args.crash_dir or Path(tempfile.gettempdir()) / ("qcm-fuzz-%s" % time.strftime("%Y%m%d-%H%M%S"))
    jobs = max(1, args.jobs)
    work = []
    for name in names:
        share, extra = divmod(args.inputs, jobs)
        work += [(name, (str(targets[name]), share + (1 if i < extra else 0), args.seed + i, str(crash_dir)))
                 for i in range(jobs)]
    started = time.monotonic()
    print("%-16s %10s %8s %6s %10s" % ("target", "inputs", "crashes", "hangs", "inputs/s"), flush=True)
    failed = False
    details = []
    pending: Dict[str, List[Report]] = {}
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        # in order, so that each target's line is printed as soon as its last share is done
        for (name, _), report in zip(work, pool.imap(_work, [job for _, job in work], chunksize=1)):
            pending.setdefault(name, []).append(report)
            if len(pending[name]) < jobs:
                continue
            merged = _merge(name, pending.pop(name))
            failed = failed or bool(merged.findings)
            print("%-16s %10d %8d %6d %10.0f" % (name, merged.inputs, merged.crashes, merged.hangs, merged.rate),
                  flush=True)
            if merged.findings:
                details.append(merged.describe())
    print("(%d worker%s, %.0f s in all; inputs/s is one worker's rate)" % (jobs, "s" if jobs > 1 else "",
                                                                          time.monotonic() - started))
    for text in details:
        print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
