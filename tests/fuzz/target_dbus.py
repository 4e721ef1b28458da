"""Fuzz target: the D-Bus wire protocol (src/qcm/dbus/wire.py), which reads what the system bus and
ModemManager send qcm under --inhibit-modemmanager.

The input is a byte stream fed to a ``MessageParser`` in pieces whose sizes come from the input; it may
only return messages or raise ``WireError`` (after which the connection is dropped). A message it
returns must encode and parse back to itself, and ModemManager's answer is looked through for the
module's uid (``device_uid``) as qcm does, which must not raise either.
"""

from __future__ import annotations

from typing import List

from qcm.connect.modemmanager import device_uid
from qcm.dbus.wire import ERROR, METHOD_CALL, METHOD_RETURN, SIGNAL, Message, MessageParser, Variant, WireError, \
    encode
from qcm.modules import Modem

NAME = "dbus"

MODEM = Modem(usb_path="1-1.2", vendor_id=0x2C7C, product_id=0x0125, manufacturer="Quectel", product="EC25",
              model="EC25", mode="qmi", driver="qmi_wwan", driver_version="", interface=4, control="/dev/cdc-wdm0",
              netdev="wwan0", raw_ip=True, at_port="/dev/ttyUSB2")


def seeds() -> List[bytes]:
    objects = {"/org/freedesktop/ModemManager1/Modem/0": {"org.freedesktop.ModemManager1.Modem": {
        "Device": Variant("s", "/sys/devices/platform/usb1/1-1.2"), "PrimaryPort": Variant("s", "cdc-wdm0"),
        "Ports": Variant("a(su)", [("cdc-wdm0", 2), ("ttyUSB2", 3)])}}}
    messages = [
        Message(METHOD_CALL, 1, path="/org/freedesktop/ModemManager1", interface="org.freedesktop.ModemManager1",
                member="InhibitDevice", destination="org.freedesktop.ModemManager1", signature="sb",
                body=("/sys/devices/platform/usb1/1-1.2", True)),
        Message(METHOD_RETURN, 2, reply_serial=1, destination=":1.5", sender=":1.1", signature="s", body=(":1.5",)),
        Message(METHOD_RETURN, 3, reply_serial=2, sender=":1.2", signature="a{oa{sa{sv}}}", body=(objects,)),
        Message(ERROR, 4, reply_serial=3, error_name="org.freedesktop.DBus.Error.ServiceUnknown", signature="s",
                body=("The name is not activatable",)),
        Message(SIGNAL, 5, path="/org/freedesktop/DBus", interface="org.freedesktop.DBus", member="NameOwnerChanged",
                sender="org.freedesktop.DBus", signature="sss", body=(":1.5", ":1.5", "")),
        Message(METHOD_RETURN, 6, reply_serial=4, signature="ayaxdbvh(nq)", body=(
            [1, 2], [-1], 0.5, False, Variant("as", ["x"]), 0, (-3, 4))),
        Message(METHOD_RETURN, 7, reply_serial=5, signature="d", body=(float("nan"),)),  # once a false alarm
    ]
    encoded = [encode(m) for m in messages]
    return encoded + [b"".join(encoded), encoded[2][:50]]


def run(data: bytes) -> None:
    parser = MessageParser()
    step = 1 + (data[-1] % 97 if data else 0)
    try:
        for start in range(0, len(data), step):
            for message in parser.feed(data[start:start + step]):
                encoded = encode(message)
                again = MessageParser().feed(encoded)
                # Compared as bytes: a double may be NaN, which is not equal to itself.
                assert len(again) == 1 and encode(again[0]) == encoded and again[0].member == message.member, \
                    "a message that does not parse back to itself: %r" % message
                if message.signature == "a{oa{sa{sv}}}":
                    device_uid(message.body[0], MODEM)
    except WireError:
        pass
