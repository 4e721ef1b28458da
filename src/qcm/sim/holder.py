"""A stand-in for another program (ModemManager, a second quectel-CM) holding the module's ports.

The simulator runs this file as ``python holder.py NAME PORT...`` for the scenario key
``port_holder``. It takes NAME as its process name (what /proc/PID/comm, ps and qcm doctor
show), opens each port without reading from it, and sleeps until the simulator ends it, or
goes away itself (then the kernel sends it SIGTERM).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import List

PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15


def main(argv: List[str]) -> int:
    name, ports = argv[0], argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:
        return 0  # the simulator went before we could ask to follow it
    libc.prctl(PR_SET_NAME, name.encode()[:15])
    held = [os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK) for port in ports]
    sys.stdout.write("holding %s\n" % " ".join(ports))
    sys.stdout.flush()
    while held:
        signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
