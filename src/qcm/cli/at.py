"""``qcm at "AT+..."``: send one command to the module's AT port and print the answer."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Dict, List

if TYPE_CHECKING:
    from ..discovery import Modem


def configure(parser: argparse.ArgumentParser) -> None:
    from .connect import add_modem_options
    from .options import seconds, serial_port
    parser.add_argument("command", nargs="+", help='the command, e.g. AT+CPIN? (several run in turn)')
    parser.add_argument("--port", type=serial_port, help="the AT port (default: found from the module's USB layout)")
    parser.add_argument("--timeout", type=seconds(0.1), default=10.0,
                        help="seconds to wait for the answer (at least 0.1, default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON (schemas/at.schema.json)")
    add_modem_options(parser)


def find_at_port(args: argparse.Namespace) -> str:
    from ..discovery import scan, select
    return at_port_of(select(scan(args.sysfs, args.dev), args.interface, args.control, args.usb_path))


def at_port_of(modem: "Modem") -> str:
    """The module's AT port, or an error that says why it has none and how to get one."""
    from ..discovery import bind_option_command
    from ..errors import NoModemError

    if not modem.at_port:
        unclaimed = modem.at_interface in modem.unbound
        raise NoModemError(
            "%s has no AT port%s" % (modem.usb_path, ": no serial driver claimed its USB interface %d"
                                     % modem.at_interface if unclaimed else ""),
            ("the option driver may not know this module: %s (or give --port /dev/ttyUSBn)"
             % bind_option_command(modem)) if unclaimed else "give --port /dev/ttyUSBn")
    return modem.at_port


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..printable import printable
    from .options import check_at_command

    for command in args.command:  # before the port is opened: a line end would smuggle in a second command
        check_at_command(command)
    path = args.port or find_at_port(args)

    from ..io.at_port import AtPort

    answers: List[Dict[str, Any]] = []

    async def talk() -> int:
        port = await AtPort(path).open()  # the answers are printed; the debug log stays redacted
        status = 0
        try:
            for command in args.command:
                response = await port.command(command, args.timeout, check=False)
                answers.append({"command": command, "lines": list(response.lines), "final": response.final,
                                "ok": response.ok})
                if not args.json:
                    for line in response.lines:
                        print(printable(line))  # the module's text: no terminal escapes
                    print(printable(response.final))
                status = status or (0 if response.ok else 9)
        finally:
            port.close()
        return status

    status = asyncio.run(talk())
    if args.json:
        import json
        json.dump({"schema_version": 1, "port": path, "answers": answers}, sys.stdout, indent=2)  # schemas/at.schema.json
        sys.stdout.write("\n")
    sys.stdout.flush()
    return status
