"""``qcm usbnet [qmi|ecm|mbim|rndis]``: show or switch the module's USB network mode over AT."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, Optional, Tuple

from ..at.usbnet import EXPECT, MODES, PREFIX, QUERY, mode_of, set_command


def configure(parser: argparse.ArgumentParser) -> None:
    from .connect import add_modem_options
    from .options import seconds, serial_port
    parser.add_argument("mode", nargs="?", choices=MODES, help="switch to this mode (default: show the current one)")
    parser.add_argument("--no-reset", action="store_true",
                        help="only store the setting; it takes effect at the module's next restart")
    parser.add_argument("--port", type=serial_port, help="the AT port (default: found from the module's USB layout)")
    parser.add_argument("--wait", type=seconds(0), default=30.0,
                        help="seconds to wait for the module to come back (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON (schemas/usbnet.schema.json)")
    add_modem_options(parser)


async def _read(port) -> Tuple[str, str]:  # type: ignore[no-untyped-def]
    """(mode, which command the module uses: qcfg or qcfgext)."""
    for style in ("qcfg", "qcfgext"):  # BG95-class modules answer only the second
        response = await port.command(QUERY[style], check=False)
        value = response.value(PREFIX[style])
        if response.ok and value is not None:
            return mode_of(value) or "unknown (%s)" % value, style
    from ..errors import ModemError
    raise ModemError('the module answers neither AT+QCFG="usbnet" nor AT+QCFGEXT="usbnet"')


_quiet = False  # --json: the lines are left out, the JSON document says it all


def _say(line: str) -> None:
    """One line on stdout, with the module's text in it (an unknown mode, a model name) escaped."""
    if _quiet:
        return
    from ..printable import printable
    sys.stdout.write(printable(line.rstrip("\n")) + "\n")


def _report(document: Dict[str, Any]) -> None:
    if _quiet:
        import json
        json.dump(dict({"schema_version": 1}, **document), sys.stdout, indent=2)  # schemas/usbnet.schema.json
        sys.stdout.write("\n")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..discovery import scan, select
    from ..errors import ModemError
    from ..io.at_port import AtError
    from ..printable import printable
    from ..io.at_port import AtPort
    from .at import at_port_of

    modem = select(scan(args.sysfs, args.dev), args.interface, args.control, args.usb_path)
    path = args.port or at_port_of(modem)

    async def talk() -> Tuple[str, Optional[str]]:
        port = await AtPort(path).open()
        try:
            current, style = await _read(port)
            if args.mode is None or args.mode == current:
                return current, None
            command = set_command(style, args.mode)
            try:
                await port.command(command)
            except AtError as exc:
                raise ModemError("the module refused %s (%s): its firmware does not offer %s mode" % (
                    command, printable(exc.response.final) if exc.response else "no answer", args.mode),
                    "BG95, BG77 and BG600L offer only ecm (and modem, for PPP)" if style == "qcfgext" else "") \
                    from None
            if not args.no_reset:
                await port.command("AT+CFUN=1,1")
            return current, args.mode
        finally:
            port.close()

    global _quiet
    _quiet = args.json
    current, new = asyncio.run(talk())
    document: Dict[str, Any] = {"usb_path": modem.usb_path, "mode": current, "driver": modem.driver,
                                "kernel_mode": modem.mode, "switched_to": new, "back": None}
    if new is None:
        _say("usbnet: %s%s; the kernel bound %s (%s mode)\n" % (
            current, " (already)" if args.mode else "", modem.driver or "no driver", modem.mode))
        _say("in %s mode expect %s\n" % (current, EXPECT.get(current, "?")))
        _report(document)
        return 0
    _say("usbnet: %s -> %s\n" % (current, new))
    if args.no_reset:
        _say("the new mode takes effect at the next restart (AT+CFUN=1,1 or a power cycle); then expect %s\n"
             % EXPECT[new])
        _report(document)
        return 0
    _say("the module is restarting; expect %s\n" % EXPECT[new])
    deadline = time.monotonic() + args.wait

    def present() -> list:
        return [m for m in scan(args.sysfs, args.dev) if m.usb_path == modem.usb_path and m.driver]

    while present() and time.monotonic() < deadline:  # first it leaves the bus ...
        time.sleep(0.1)
    while time.monotonic() < deadline:               # ... then it comes back in its new mode
        found = present()
        if found:
            _say("back: %s\n" % found[0].describe())
            _report(dict(document, back=found[0].to_json()))
            return 0
        time.sleep(0.25)
    _say("the module has not come back within %.0f s; check dmesg\n" % args.wait)
    _report(document)
    return 3
