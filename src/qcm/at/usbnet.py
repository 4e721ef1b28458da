"""Quectel's USB network modes, as the two AT commands that show and set them name them.

EC2x, EG2x, RM5xx and most others use AT+QCFG="usbnet",N (0 QMI/rmnet, 1 ECM, 2 MBIM,
3 RNDIS); BG95, BG77 and BG600L use AT+QCFGEXT="usbnet","name". Both ``qcm usbnet`` and
``qcm doctor`` read the answers here, so the commands they print and send are the same.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["MODES", "QUERY", "PREFIX", "set_command", "mode_of", "DRIVER", "EXPECT"]

MODES = ("qmi", "ecm", "mbim", "rndis", "ncm")
QUERY = {"qcfg": 'AT+QCFG="usbnet"', "qcfgext": 'AT+QCFGEXT="usbnet"'}
PREFIX = {"qcfg": '+QCFG: "usbnet",', "qcfgext": '+QCFGEXT: "usbnet",'}
_NUMBERS = {"qmi": 0, "ecm": 1, "mbim": 2, "rndis": 3, "ncm": 5}
_EXT_NAMES = {"qmi": "rmnet", "ecm": "ecm", "mbim": "mbim", "rndis": "rndis", "ncm": "ncm"}

# The host driver each mode brings, short (for findings) and with what the user then sees.
DRIVER = {"qmi": "qmi_wwan (or qmi_wwan_q / GobiNet)", "ecm": "cdc_ether", "mbim": "cdc_mbim",
          "rndis": "rndis_host", "ncm": "cdc_ncm", "ppp": "no network driver (PPP over a serial port)"}
EXPECT = {"qmi": "qmi_wwan (a /dev/cdc-wdmN control port and a wwanN interface; use qcm connect)",
          "ecm": "cdc_ether (an Ethernet interface, usb0 or ethN, that gets its address by DHCP from the module; "
                 "qcm connect dials it over the AT port)",
          "mbim": "cdc_mbim (a /dev/cdc-wdmN MBIM port and a wwanN interface; use qcm connect)",
          "rndis": "rndis_host (an Ethernet interface that gets its address by DHCP from the module; qcm connect "
                   "dials it over the AT port)",
          "ncm": "cdc_ncm (an Ethernet interface that gets its address by DHCP from the module; qcm connect dials "
                 "it over the AT port)",
          "ppp": "no network interface: only the serial modem port, for pppd"}


def set_command(style: str, mode: str) -> str:
    """The AT command that stores ``mode`` (it takes effect at the module's next restart)."""
    if style == "qcfgext":
        return '%s,"%s"' % (QUERY[style], _EXT_NAMES[mode])
    return "%s,%d" % (QUERY[style], _NUMBERS[mode])


def mode_of(value: str) -> Optional[str]:
    """qmi/ecm/mbim/rndis/ncm (or ppp) from either command's answer: ``0`` .. ``5``, ``"rmnet"``, ``"ecm"`` ..."""
    value = value.strip().strip('"').lower()
    for mode in MODES:
        if value in (str(_NUMBERS[mode]), _EXT_NAMES[mode]):
            return mode
    return "ppp" if value == "modem" else None
