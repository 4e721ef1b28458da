"""A stand-in for ModemManager on a private bus: it holds a module's ports (as ModemManager does, under
that process name), exports the module's modem object (Device, PrimaryPort, Ports), and honours
org.freedesktop.ModemManager1.InhibitDevice as ModemManager does: the ports are let go while the caller
holds the inhibition, and taken back when it releases it or leaves the bus.

    python fake_modemmanager.py BUS_ADDRESS UID LOG PORT...

Each event goes to LOG as one line (ready, inhibited by NAME, released, caller gone)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qcm.dbus.wire import Message, SIGNAL, Variant  # noqa: E402
from qcm.io.dbus import Bus, CallError  # noqa: E402

MM = "org.freedesktop.ModemManager1"
PATH = "/org/freedesktop/ModemManager1"


class FakeModemManager:
    def __init__(self, uid: str, log: Path, ports: List[str]) -> None:
        self.uid = uid
        self.log = log
        self.ports = ports
        self.held: List[int] = []
        self.inhibitor: Optional[str] = None
        self.bus: Optional[Bus] = None

    def say(self, text: str) -> None:
        with self.log.open("a") as handle:
            handle.write(text + "\n")

    def hold(self) -> None:
        if not self.held:
            self.held = [os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK) for p in self.ports if os.path.exists(p)]

    def let_go(self) -> None:
        for fd in self.held:
            os.close(fd)
        self.held = []

    async def handle(self, message: Message):
        if message.type == SIGNAL:
            if message.member == "NameOwnerChanged" and self.inhibitor and message.body[0] == self.inhibitor \
                    and not message.body[2]:
                self.say("caller gone %s" % self.inhibitor)
                self.inhibitor = None
                self.hold()
            return None
        if message.member == "GetManagedObjects":
            modem = {"Device": Variant("s", self.uid), "PrimaryPort": Variant("s", os.path.basename(self.ports[0])),
                     "Ports": Variant("a(su)", [(os.path.basename(p), 2 if i == 0 else 3)
                                                for i, p in enumerate(self.ports)])}
            return "a{oa{sa{sv}}}", ({PATH + "/Modem/0": {MM + ".Modem": modem}},)
        if message.member == "InhibitDevice" and message.signature == "sb":
            uid, inhibit = message.body
            if uid != self.uid:
                raise CallError(MM + ".Error.Core.NotFound", "no device with uid %s" % uid)
            if inhibit:
                self.inhibitor = message.sender
                self.let_go()
                self.say("inhibited %s by %s" % (uid, message.sender))
            else:
                self.inhibitor = None
                self.hold()
                self.say("released %s by %s" % (uid, message.sender))
            return "", ()
        raise CallError("org.freedesktop.DBus.Error.UnknownMethod", "no %s here" % message.member)

    async def run(self, address: str) -> None:
        self.hold()
        self.bus = await Bus(address, self.handle).open()
        (reply,) = await self.bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "RequestName", "su", (MM, 4))
        await self.bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                            ("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'",))
        self.say("ready %d" % reply)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await self.bus.close()


def main() -> int:
    address, uid, log, *ports = sys.argv[1:]
    ctypes.CDLL(None).prctl(15, b"ModemManager")  # PR_SET_NAME: what /proc/PID/comm and qcm show
    asyncio.run(FakeModemManager(uid, Path(log), ports).run(address))
    return 0


if __name__ == "__main__":
    sys.exit(main())
