"""Errors a user can act on, each with its own exit status and a recovery class.

Anything the user or the modem got wrong is a ``QcmError``: the command line prints its one
line (and hint) and exits with its status. Anything else is a bug in qcm.

The recovery class says what a supervised connection should do about the error: stop (a
person must act), wait for a SIM or for the network, climb the recovery ladder (a reset may
help), or simply try again later. Each class of error has a default; an error can carry its
own (a modem's error codes map to classes in the QMI catalogue).
"""

from __future__ import annotations

import enum
from typing import Optional

__all__ = [
    "Recovery", "QcmError", "UsageError", "NoModemError", "SimError", "SimAbsentError", "RadioError",
    "RegistrationError", "CallRejectedError", "NetConfigError", "ModemError", "PermissionProblem", "PortBusyError",
    "NotImplementedOption", "EXIT_BUG", "EXIT_INTERRUPTED",
]

EXIT_BUG = 70           # EX_SOFTWARE: an unexpected error in qcm itself
EXIT_INTERRUPTED = 130  # stopped by the user before the job was done


class Recovery(enum.Enum):
    FATAL = "fatal"                        # retrying cannot help: stop with the error's exit status
    WAIT_FOR_SIM = "wait-for-sim"          # nothing to do until a SIM is inserted
    WAIT_FOR_NETWORK = "wait-for-network"  # retry when the network is back (or after the backoff)
    RESET = "reset-may-help"               # retry, climbing the ladder: reopen, radio off/on, re-bind
    RETRY = "retry"                        # retry after the backoff, as it is


class QcmError(Exception):
    """An error with a one-line explanation, an optional hint and a distinct exit status."""

    exit_status = 1
    recovery = Recovery.RETRY

    def __init__(self, message: str, hint: str = "", recovery: Optional[Recovery] = None) -> None:
        super().__init__(message)
        self.hint = hint
        if recovery is not None:
            self.recovery = recovery


class UsageError(QcmError):
    """The command line or a configuration file is wrong."""

    exit_status = 2
    recovery = Recovery.FATAL


class NoModemError(QcmError):
    """No (matching) modem, control port or network interface was found."""

    exit_status = 3
    recovery = Recovery.RESET


class SimError(QcmError):
    """SIM absent, PIN/PUK required, PIN rejected."""

    exit_status = 4
    recovery = Recovery.FATAL


class SimAbsentError(SimError):
    """No SIM card: worth waiting for (it may be re-inserted), unlike a PIN problem."""

    recovery = Recovery.WAIT_FOR_SIM


class RadioError(QcmError):
    """The radio is off (low power, offline, hardware-restricted)."""

    exit_status = 5
    recovery = Recovery.RESET


class RegistrationError(QcmError):
    """The modem did not register or attach in time, or registration was denied."""

    exit_status = 6
    recovery = Recovery.RESET  # a module stuck searching often comes back after a radio cycle


class CallRejectedError(QcmError):
    """The data call was refused (with its call-end reason)."""

    exit_status = 7
    recovery = Recovery.RETRY


class NetConfigError(QcmError):
    """Configuring the host interface, routes or DNS failed."""

    exit_status = 8
    recovery = Recovery.RETRY


class ModemError(QcmError):
    """The modem did not answer, answered garbage or an error, or vanished."""

    exit_status = 9
    recovery = Recovery.RESET


class PermissionProblem(QcmError):
    """The job needs privileges the process does not have."""

    exit_status = 10
    recovery = Recovery.FATAL


class PortBusyError(QcmError):
    """Another process holds the control or AT port."""

    exit_status = 11
    recovery = Recovery.FATAL


class NotImplementedOption(QcmError):
    """An option that qcm accepts for compatibility but does not implement yet."""

    exit_status = 12
    recovery = Recovery.FATAL
