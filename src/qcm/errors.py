"""Errors a user can act on, each with its own exit status.

Anything the user or the modem got wrong is a ``QcmError``: the command line prints its one
line (and hint) and exits with its status. Anything else is a bug in qcm.
"""

from __future__ import annotations

__all__ = [
    "QcmError", "UsageError", "NoModemError", "SimError", "SimAbsentError", "RadioError", "RegistrationError",
    "CallRejectedError", "NetConfigError", "ModemError", "PermissionProblem", "PortBusyError",
    "NotImplementedOption", "EXIT_BUG", "EXIT_INTERRUPTED",
]

EXIT_BUG = 70           # EX_SOFTWARE: an unexpected error in qcm itself
EXIT_INTERRUPTED = 130  # stopped by the user before the job was done


class QcmError(Exception):
    """An error with a one-line explanation, an optional hint and a distinct exit status."""

    exit_status = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(QcmError):
    """The command line or a configuration file is wrong."""

    exit_status = 2


class NoModemError(QcmError):
    """No (matching) modem, control port or network interface was found."""

    exit_status = 3


class SimError(QcmError):
    """SIM absent, PIN/PUK required, PIN rejected."""

    exit_status = 4


class SimAbsentError(SimError):
    """No SIM card: worth waiting for (it may be re-inserted), unlike a PIN problem."""


class RadioError(QcmError):
    """The radio is off (low power, offline, hardware-restricted)."""

    exit_status = 5


class RegistrationError(QcmError):
    """The modem did not register or attach in time, or registration was denied."""

    exit_status = 6


class CallRejectedError(QcmError):
    """The data call was refused (with its call-end reason)."""

    exit_status = 7


class NetConfigError(QcmError):
    """Configuring the host interface, routes or DNS failed."""

    exit_status = 8


class ModemError(QcmError):
    """The modem did not answer, answered garbage or an error, or vanished."""

    exit_status = 9


class PermissionProblem(QcmError):
    """The job needs privileges the process does not have."""

    exit_status = 10


class PortBusyError(QcmError):
    """Another process holds the control or AT port."""

    exit_status = 11


class NotImplementedOption(QcmError):
    """An option that qcm accepts for compatibility but does not implement yet."""

    exit_status = 12
