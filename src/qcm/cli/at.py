"""``qcm at "AT+..."``: send one command to the module's AT port and print the answer."""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    from .connect import add_modem_options
    parser.add_argument("command", nargs="+", help='the command, e.g. AT+CPIN? (several run in turn)')
    parser.add_argument("--port", help="the AT port (default: found from the module's USB layout)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer")
    add_modem_options(parser)


def find_at_port(args: argparse.Namespace) -> str:
    from ..discovery import scan, select
    from ..errors import NoModemError

    modem = select(scan(args.sysfs, args.dev), args.interface, args.control, args.usb_path)
    if not modem.at_port:
        raise NoModemError(
            "%s has no AT port: no serial driver claimed its USB interface %d" % (modem.usb_path, modem.at_interface),
            "the option driver may not know this module: modprobe option; echo '%04x %04x' > "
            "/sys/bus/usb-serial/drivers/option1/new_id (or give --port /dev/ttyUSBn)"
            % (modem.vendor_id, modem.product_id))
    return modem.at_port


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..io.at_port import AtPort

    path = args.port or find_at_port(args)

    async def talk() -> int:
        port = await AtPort(path).open()  # the answers are printed; the debug log stays redacted
        status = 0
        try:
            for command in args.command:
                response = await port.command(command, args.timeout, check=False)
                for line in response.lines:
                    print(line)
                print(response.final)
                status = status or (0 if response.ok else 9)
        finally:
            port.close()
        return status

    status = asyncio.run(talk())
    sys.stdout.flush()
    return status
