"""``qcm disconnect``: end a connection made by ``qcm connect``."""

from __future__ import annotations

import argparse

from .connect import configure_disconnect as configure, run_disconnect

__all__ = ["configure", "run"]


def run(args: argparse.Namespace) -> int:
    from ..io.control import interface_name

    if args.interface is not None:
        interface_name(args.interface)  # refuses '../x', control characters, over-long names
    return run_disconnect(args)
