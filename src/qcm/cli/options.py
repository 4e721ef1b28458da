"""Checks for what users type, shared by ``qcm`` and ``quectel-CM``: numbers in range, names the
kernel and the modem accept, AT commands that are one command.

A value that passes here cannot crash qcm further in (an encoder refusing a 256 for a u8, a
route metric over 32 bits, a 70,000-byte APN, a 300-character interface name) and cannot make
it spin (a poll interval of 0 or NaN). Each check gives one line that names the limit. The
argparse ``type=`` factories raise ``ArgumentTypeError`` (exit 2 with argparse's usage line);
the ``check_*`` functions raise ``UsageError`` (exit 2, one line).
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import Callable, Optional

from ..ascii import is_digits, parse_decimal, parse_int
from ..errors import UsageError
from ..printable import printable

__all__ = ["integer", "seconds", "interface_name", "usb_path", "imei", "iccid", "socket_directory", "serial_port", "file_path",
           "check_socket_path", "check_socket_directory", "check_pin", "check_apn", "check_credential",
           "check_at_command", "PROFILE_RANGE", "METRIC_RANGE", "MAX_SECONDS", "APN_MAX_OCTETS",
           "CREDENTIAL_MAX_OCTETS", "IFNAMSIZ"]

PROFILE_RANGE = (1, 255)         # the catalogue's profile index is a u8; profile 0 does not exist
METRIC_RANGE = (0, 0xFFFFFFFF)   # a route's priority is a u32 in rtnetlink
MAX_SECONDS = 7 * 24 * 3600.0    # no wait qcm offers makes sense beyond a week
APN_MAX_OCTETS = 100             # 3GPP TS 23.003 9.1: an APN is at most 100 octets
CREDENTIAL_MAX_OCTETS = 127      # Quectel's limit for APN user names and passwords (AT+QICSGP)
IFNAMSIZ = 16                    # the kernel's buffer, with its NUL: names have at most 15 bytes
AT_COMMAND_MAX = 2048            # longer than any AT command line a module takes
SOCKET_PATH_MAX = 107            # sun_path of a unix socket: 108 bytes with the NUL


def _shown(text: str, limit: int = 40) -> str:
    """A user's value, safe to echo in an error line and not too long to read."""
    return printable(text[:limit]) + ("..." if len(text) > limit else "")


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def integer(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer in [low, high], written in ASCII digits."""
    def parse(text: str) -> int:
        value = parse_int(text, low, high)
        if value is None:
            raise argparse.ArgumentTypeError("%s is not a whole number from %d to %d" % (_shown(text), low, high))
        return value
    parse.__name__ = "integer"
    return parse


def seconds(minimum: float, maximum: float = MAX_SECONDS) -> Callable[[str], float]:
    """argparse type: a finite number of seconds in [minimum, maximum] (no NaN, no infinity, no 1e9)."""
    def parse(text: str) -> float:
        value = parse_decimal(text)
        if value is None or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError("%s is not a number of seconds from %g to %g" % (
                _shown(text), minimum, maximum))
        return value
    parse.__name__ = "seconds"
    return parse


def interface_name(text: str) -> str:
    """argparse type: a name the kernel accepts for a network interface (its dev_valid_name rules)."""
    if not text or text in (".", ".."):
        raise argparse.ArgumentTypeError("%r is not a network interface name" % text)
    if len(text.encode("utf-8", "surrogateescape")) >= IFNAMSIZ:
        raise argparse.ArgumentTypeError("%s is not a network interface name (at most %d bytes)" % (
            _shown(text), IFNAMSIZ - 1))
    if "/" in text or ":" in text or any(c.isspace() for c in text) or _has_control(text):
        raise argparse.ArgumentTypeError("%s is not a network interface name (no '/', ':', spaces or control "
                                         "characters)" % _shown(text))
    return text


def usb_path(text: str) -> str:
    """argparse type: a USB device path as sysfs names it: bus-port[.port...] (1-1.2)."""
    head, sep, ports = text.partition("-")
    if not (sep and is_digits(head) and ports and all(is_digits(p) for p in ports.split("."))) or len(text) > 64:
        raise argparse.ArgumentTypeError("%s is not a USB path (like 1-1.2: bus, dash, ports)" % _shown(text))
    return text


def socket_directory(text: str) -> Path:
    """argparse type: a directory for control sockets; a socket's path must fit in 107 bytes.
    (Give it the default as a string, $QCM_RUN_DIR: argparse checks string defaults too.)"""
    longest = os.path.join(text, "x" * (IFNAMSIZ - 1) + ".sock")
    if not text or len(os.fsencode(longest)) > SOCKET_PATH_MAX:
        raise argparse.ArgumentTypeError("%s: a control socket's path there would be longer than %d bytes; use a "
                                         "shorter directory" % (_shown(text), SOCKET_PATH_MAX))
    return Path(text)


def check_socket_directory(path: Path, what: str) -> Path:
    """``socket_directory`` for a directory that did not come through argparse ($QCM_RUN_DIR)."""
    try:
        return socket_directory(str(path))
    except argparse.ArgumentTypeError as exc:
        raise UsageError("%s: %s" % (what, exc)) from None


def file_path(text: str) -> Path:
    """argparse type: a path that can name a file (resolv.conf, a metrics file): not a directory, no
    name over 255 bytes, no path over 4095 (the kernel's NAME_MAX and PATH_MAX)."""
    raw = os.fsencode(text)
    if not text or text.endswith("/") or os.path.isdir(text):
        raise argparse.ArgumentTypeError("%s is a directory, not a file" % (_shown(text) or "''"))
    if len(raw) > 4095 or any(len(part) > 255 for part in raw.split(b"/")):
        raise argparse.ArgumentTypeError("%s: a file name is at most 255 bytes, a path at most 4095" % _shown(text))
    return Path(text)


def check_socket_path(path: Path) -> Path:
    if len(os.fsencode(str(path))) > SOCKET_PATH_MAX:
        raise UsageError("%s: a socket path is at most %d bytes" % (_shown(str(path), 60), SOCKET_PATH_MAX))
    return path


def serial_port(text: str) -> str:
    """argparse type: an AT port, a character device (/dev/ttyUSB2); a file would only look like one."""
    try:
        mode = os.stat(text).st_mode
    except OSError as exc:
        raise argparse.ArgumentTypeError("%s: %s" % (_shown(text), exc.strerror)) from None
    if not stat.S_ISCHR(mode):
        raise argparse.ArgumentTypeError("%s is not a serial port (a character device such as /dev/ttyUSB2)"
                                         % _shown(text))
    return text


def imei(text: str) -> str:
    """argparse type: an IMEI (15 digits; 14 without its check digit, 16 as IMEISV)."""
    if not (is_digits(text) and 14 <= len(text) <= 16):
        raise argparse.ArgumentTypeError("%s is not an IMEI (15 digits)" % _shown(text))
    return text


def iccid(text: str) -> str:
    """argparse type: a SIM's ICCID as AT+QCCID shows it (18 to 22 digits, maybe an F pad), without the F."""
    if not (is_digits(text.rstrip("Ff")) and 18 <= len(text.rstrip("Ff")) <= 22 and len(text) - len(text.rstrip("Ff")) <= 1):
        raise argparse.ArgumentTypeError("%s is not an ICCID (18 to 22 digits)" % _shown(text))
    return text.rstrip("Ff")


def check_pin(pin: Optional[str], source: str = "the PIN") -> Optional[str]:
    """A SIM PIN is 4 to 8 ASCII digits; anything else would only cost one of the SIM's tries."""
    if pin is not None and not (is_digits(pin) and 4 <= len(pin) <= 8):
        what = "%d characters" % len(pin) if is_digits(pin) or not pin else "characters other than 0-9"
        raise UsageError("%s: a SIM PIN has 4 to 8 digits 0-9 (got %s)" % (source, what))
    return pin


def check_apn(apn: Optional[str]) -> Optional[str]:
    if apn is None:
        return None
    if _has_control(apn):
        raise UsageError("the APN %s contains control characters" % _shown(apn))
    if len(apn.encode("utf-8", "surrogateescape")) > APN_MAX_OCTETS:
        raise UsageError("the APN %s is longer than %d bytes, the most 3GPP allows" % (_shown(apn), APN_MAX_OCTETS))
    return apn


def check_credential(value: str, what: str) -> str:
    """An APN user name or password: what the module accepts (its value is never echoed)."""
    if len(value.encode("utf-8", "surrogateescape")) > CREDENTIAL_MAX_OCTETS:
        raise UsageError("the APN %s is longer than %d bytes, the most the module accepts" % (
            what, CREDENTIAL_MAX_OCTETS))
    if "\0" in value:
        raise UsageError("the APN %s contains a NUL character" % what)
    return value


def check_at_command(command: str) -> str:
    """One AT command: no line ends or other control characters, which would smuggle a second one in."""
    if _has_control(command):
        raise UsageError("%s: an AT command may not contain control characters (line ends would send a second "
                         "command)" % _shown(command), "give several commands as separate arguments")
    if not command.strip():
        raise UsageError("an empty AT command")
    try:
        command.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise UsageError("%s: not text an AT port can carry" % _shown(command)) from None
    if len(command) > AT_COMMAND_MAX:
        raise UsageError("an AT command of %d characters (at most %d)" % (len(command), AT_COMMAND_MAX))
    return command
