"""The only system calls specific to Quectel's GobiNet driver: open ``/dev/qcqmiN`` and bind the
handle to a QMI service (``IOCTL_QMI_GET_SERVICE_FILE``, as quectel-CM's ``GobiNetCM.c`` does).

Kept apart so that everything above it can be tested without the driver: no machine here
can present a character device with these ioctls, so tests replace ``open_service``.
"""

from __future__ import annotations

import fcntl
import os

__all__ = ["open_service", "IOCTL_QMI_GET_SERVICE_FILE", "IOCTL_QMI_GET_DEVICE_VIDPID", "IOCTL_QMI_GET_DEVICE_MEID"]

IOCTL_QMI_GET_SERVICE_FILE = 0x8BE0 + 1   # argument: the QMI service number, by value
IOCTL_QMI_GET_DEVICE_VIDPID = 0x8BE0 + 2  # defined by the driver, unused (as in quectel-CM)
IOCTL_QMI_GET_DEVICE_MEID = 0x8BE0 + 3


def open_service(path: str, service: int) -> int:
    """A non-blocking handle on the GobiNet device bound to ``service``: the driver allocates a
    client id for it, and releases it when the handle is closed."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, IOCTL_QMI_GET_SERVICE_FILE, service)
    except OSError:
        os.close(fd)
        raise
    return fd
