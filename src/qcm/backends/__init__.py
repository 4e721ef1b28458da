"""Control backends, one per protocol, chosen from what discovery found (the driver's mode).

Backends are imported when chosen, so a command pays only for the protocol it speaks. Adding
a protocol is adding a module with a ``Backend`` subclass and a line here.
"""

from __future__ import annotations

import importlib
from typing import Dict, Tuple, Type

from ..discovery import Modem
from ..errors import UsageError
from .base import Backend

__all__ = ["BACKENDS", "backend_for", "load_backend"]

# mode (from discovery) -> (module, class)
BACKENDS: Dict[str, Tuple[str, str]] = {
    "qmi": ("qcm.backends.qmi.backend", "QmiBackend"),
    "mbim": ("qcm.backends.mbim.backend", "MbimBackend"),
    "ethernet": ("qcm.backends.at.backend", "AtBackend"),
}

_SWITCH_HINT = "switch the module to QMI (qcm usbnet qmi, i.e. AT+QCFG=\"usbnet\",0), see qcm doctor"


def load_backend(name: str) -> Type[Backend]:
    module, cls = BACKENDS[name]
    backend: Type[Backend] = getattr(importlib.import_module(module), cls)
    return backend


def backend_for(modem: Modem) -> Type[Backend]:
    """The backend that speaks to this module, or a UsageError that says what to do instead."""
    if modem.mode not in BACKENDS:
        raise UsageError("%s works in %s mode; qcm connect speaks %s so far" % (
            modem.usb_path, modem.mode, ", ".join(sorted(BACKENDS)).upper()), _SWITCH_HINT)
    return load_backend(modem.mode)
