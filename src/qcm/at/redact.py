"""Personal data in AT traffic (PIN, IMSI, ICCID, IMEI), hidden in logs unless asked for."""

from __future__ import annotations

import re

__all__ = ["redact_command", "redact_line"]

_SECRET_COMMANDS = re.compile(r"^(AT\+(?:CPIN|CLCK|CPWD|QICSGP|CGAUTH)=)(.*)$", re.IGNORECASE)
_IDENTITY_COMMANDS = ("AT+CIMI", "AT+GSN", "AT+CGSN", "AT+QCCID", "AT+CCID", "AT+ICCID", "AT+CNUM")


def redact_command(command: str) -> str:
    match = _SECRET_COMMANDS.match(command.strip())
    return match.group(1) + "###" if match else command


def redact_line(command: str, line: str) -> str:
    """A response line, with identities replaced by ###."""
    upper = command.strip().upper()
    if upper.startswith(_IDENTITY_COMMANDS) or upper in ("ATI",) and line.startswith("IMEI"):
        prefix, sep, _ = line.partition(":")
        return prefix + sep + " ###" if sep and prefix.startswith("+") else "###"
    if re.match(r"^\+(QCCID|CCID|ICCID|CNUM|CGSN):", line):
        return line.split(":", 1)[0] + ": ###"
    return line
