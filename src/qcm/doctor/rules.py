"""From facts to findings, the way the forum experts reasoned (pure: no I/O).

Each rule looks at the facts gathered through QMI, the AT port and the host, and returns a
finding with a stable id, a severity, the evidence lines it rests on, a plain explanation and
the fix, or nothing. Findings are ordered by what to fix first: a port another program holds
hides everything else; a wrong USB mode or a missing SIM explains a missing network; a wrong
firmware explains a radio that will not turn on and a module that never registers.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..at import usbnet
from ..at.readings import STAT_NAMES, qpinc_tries, stat_of
from ..modules import KNOWN_MODULES, bind_option_command
from .facts import REGISTRATION_COMMANDS, Facts
from .firmware import parse_revision, parse_variant, region_of_mcc, variant_covers, variants_for, VARIANTS

__all__ = ["Finding", "diagnose", "RULES", "ORDER"]

ERROR, WARNING, INFO = "error", "warning", "info"

ORDER = ("port-busy", "port-not-answering", "at-port-missing", "usbnet-mode-mismatch", "sim-missing",
         "sim-puk-required", "sim-pin-required", "firmware-variant-mismatch", "radio-off", "raw-ip-mismatch", "not-registered", "apn-rejected",
         "qmi-request-unsupported")

NO_QMI_DATA = ("BG95", "BG77", "BG600L")  # LPWA modules: QMI answers, but their data path is ECM only
CONNECTABLE = ("qmi", "mbim", "ecm", "rndis", "ncm")  # the USB modes qcm connect speaks (QMI, MBIM, AT)
# Discovery calls every Ethernet-style driver "ethernet"; the usbnet setting tells them apart.
USBNET_OF_ETHERNET_DRIVER = {"cdc_ether": "ecm", "rndis_host": "rndis", "cdc_ncm": "ncm"}
# AT+CEER's answer after a call the host itself ended (qcm disconnect, quectel-CM stopping): the QMI
# call-end reason client-end, which Quectel firmware prints as the name or as "Client end".
CLIENT_END = re.compile(r"client[- _]?end", re.IGNORECASE)
# 3GPP TS 24.008 reject causes users meet (NAS registration, EMM/GMM).
REJECT_CAUSES = {2: "IMSI unknown in HLR (the SIM is not known to the network: not activated?)",
                 3: "illegal MS (the SIM is barred)", 6: "illegal ME (this IMEI is barred)",
                 7: "EPS/GPRS services not allowed (no data subscription)",
                 8: "EPS and non-EPS services not allowed", 11: "PLMN not allowed (this network refuses the SIM)",
                 12: "tracking area not allowed", 13: "roaming not allowed in this area",
                 14: "EPS/GPRS services not allowed in this PLMN", 15: "no suitable cells in this area",
                 17: "network failure", 22: "congestion"}


@dataclass
class Finding:
    id: str
    severity: str
    title: str
    evidence: List[str] = field(default_factory=list)
    explanation: str = ""
    fix: str = ""

    def to_json(self) -> Dict[str, object]:
        return asdict(self)


Rule = Callable[[Facts], List[Finding]]


def _family_of(facts: Facts) -> str:
    """The module family, from the revision or model it reports, else its USB id: BG77, EC25, ..."""
    modem = facts.modem
    reported = " ".join(filter(None, (facts.revision, facts.model, facts.at_text("AT+QGMR"),
                                      facts.at_text("AT+CGMM")))).upper()
    for family in NO_QMI_DATA:
        if family in reported:
            return family
    match = re.match(r"[A-Z]{2}[0-9]{2,3}", reported)
    if match:
        return match.group(0)
    by_usb = KNOWN_MODULES.get((modem.vendor_id, modem.product_id), ("", 0))[0] if modem else ""
    return re.split(r"[/ ]", by_usb)[0]  # "BG95/BG77/BG600L" -> "BG95"


def _kernel_mode(facts: Facts) -> Optional[str]:
    modem = facts.modem
    if modem is None or not modem.driver:
        return None
    if modem.mode == "ethernet":
        return USBNET_OF_ETHERNET_DRIVER.get(modem.driver)
    return modem.mode if modem.mode in ("qmi", "mbim") else None


def _without_qmi_data(facts: Facts) -> bool:
    return _family_of(facts) in NO_QMI_DATA


# ---------------------------------------------------------------------- rules

def culprits(facts: Facts) -> Dict[str, List[Tuple[int, str]]]:
    """The holders that keep others out: libmbim's mbim-proxy on a module in MBIM mode (libqmi's
    qmi-proxy in QMI mode) is not one, since it shares the port with every client that goes through
    it (qcm connect and the doctor do)."""
    modem = facts.modem
    sharer = {"mbim": "mbim-proxy", "qmi": "qmi-proxy"}.get(modem.mode if modem is not None else "")
    found = {port: [h for h in holders if h[1] != sharer]
             for port, holders in facts.holders.items()}
    return {port: holders for port, holders in found.items() if holders}


def port_busy(facts: Facts) -> List[Finding]:
    ports_of: Dict[Tuple[Tuple[int, str], ...], List[str]] = {}  # the same holders often hold both ports
    for port, held in sorted(culprits(facts).items()):
        ports_of.setdefault(tuple(sorted(held)), []).append(port)
    findings = []
    for holders, ports in ports_of.items():
        names = ", ".join("%s (pid %d)" % (name, pid) for pid, name in holders)
        if any(name == "ModemManager" for _, name in holders):
            fix = ("stop ModemManager (systemctl disable --now ModemManager), or tell it to leave the module alone "
                   "with the udev property ID_MM_DEVICE_IGNORE=1")
        else:
            fix = ("stop %s; if it comes back, a service or script starts it (a reconnect service running "
                   "quectel-CM is common: systemctl list-units | grep -i -e qmi -e quectel)" % names)
        findings.append(Finding(
            "port-busy", ERROR, "%s %s held by %s" % (" and ".join(ports), "are" if len(ports) > 1 else "is", names),
            ["%s is open in %s" % (port, names) for port in ports],
            "A QMI control port or an AT port has one reader: whoever reads first takes the modem's answer, so two "
            "programs on one port both see timeouts and garbage. qcm never stops another program for you.",
            fix + "; then run qcm again"))
    return findings


def port_not_answering(facts: Facts) -> List[Finding]:
    if not facts.silent:
        return []
    return [Finding(
        "port-not-answering", ERROR, "the module does not answer on its %s" % " nor its ".join(
            port.split(" /")[0] for port in facts.silent),
        ["%s: %s" % (port, problem) for port, problem in facts.silent.items()],
        "The port is there and no other program holds it, but the module stays silent: it is still starting "
        "(allow 15-30 s after power-on), its firmware is stuck, or the port is not what it seems (a cdc-wdm port "
        "of a module in MBIM mode does not answer QMI).",
        "wait half a minute and run qcm doctor again; then reset the module (AT+CFUN=1,1 if its AT port answers, "
        "otherwise cut its power); check dmesg for USB resets and, on a Raspberry Pi, for under-voltage "
        "(vcgencmd get_throttled): a module that browns out stops answering")]


def at_port_missing(facts: Facts) -> List[Finding]:
    modem = facts.modem
    if modem is None or modem.at_port or modem.at_interface not in modem.unbound:
        return []
    family = _family_of(facts)
    needed = family in NO_QMI_DATA and modem.mode == "qmi"  # its only way out of QMI mode is an AT command
    unbound = ", ".join(str(n) for n in modem.unbound)
    return [Finding(
        "at-port-missing", ERROR if needed else WARNING, "the module's serial ports have no driver: no AT port",
        ["USB interface%s %s of %s %s have no driver bound; interface %d is the AT port" % (
            "s" if len(modem.unbound) > 1 else "", unbound, modem.usb_id, family or modem.model, modem.at_interface)],
        "The module's DM, NMEA, AT and modem ports are USB serial functions that the kernel's option driver serves. "
        "It did not claim them (a kernel older than the module, or one built without USB_SERIAL_OPTION), so there "
        "is no /dev/ttyUSB port for AT commands: nothing can check or change the USB mode, the bands or the radio "
        "that way%s." % (", and this module can only leave QMI mode by an AT command" if needed else ""),
        "%s (lasts until reboot; for good, a kernel whose option driver lists the module, or the patch from "
        "Quectel's Linux USB driver guide); then the AT port appears as a /dev/ttyUSBn (qcm list shows which)"
        % bind_option_command(modem))]


def _usbnet_setting(facts: Facts) -> Tuple[Optional[str], Optional[str], str]:
    """(the module's mode, the raw answer, the command style) from AT+QCFG or AT+QCFGEXT "usbnet"."""
    for style in ("qcfg", "qcfgext"):
        value = facts.at_value(usbnet.QUERY[style], usbnet.PREFIX[style])
        if value is not None:
            return usbnet.mode_of(value), value, style
    return None, None, "qcfgext" if _without_qmi_data(facts) else "qcfg"


def usbnet_mode_mismatch(facts: Facts) -> List[Finding]:
    modem = facts.modem
    if modem is None:
        return []
    family = _family_of(facts)
    module_mode, answer, style = _usbnet_setting(facts)
    kernel_mode = _kernel_mode(facts)
    evidence = ["USB %s %s, network function bound to %s (%s mode)" % (modem.usb_id, family or modem.model,
                                                                       modem.driver or "no driver", modem.mode)]
    if answer is not None:
        evidence.append("%s answers %s (%s)" % (usbnet.QUERY[style], answer, module_mode or "?"))
    if family in NO_QMI_DATA and (modem.mode == "qmi" or module_mode == "qmi"):
        failures = ["%s %s: %s" % (s, m, n) for s, m, _, n in facts.qmi_failures]
        return [Finding(
            "usbnet-mode-mismatch", ERROR, "%s modules have no QMI data path; this one is set up for QMI" % family,
            evidence + (["QMI requests refused: %s" % "; ".join(failures)] if failures else []),
            "%s (like BG77 and BG600L) answer some QMI requests, so quectel-CM and qmicli seem to start, but their "
            "firmware carries data only over ECM (a USB Ethernet function) or PPP: profile requests fail with "
            "0x5e NotSupported and no call ever carries traffic." % family,
            "%sswitch the module to ECM: qcm usbnet ecm (it sends %s and resets the module); then the kernel's "
            "cdc_ether driver brings up an Ethernet interface (usb0 or ethN) that gets a 192.168.225.x address by "
            "DHCP from the module" % ("first give the module its AT port (see at-port-missing), then "
                                     if not modem.at_port else "", usbnet.set_command("qcfgext", "ecm")))]
    if module_mode and kernel_mode and module_mode != kernel_mode and module_mode != "ppp":
        return [Finding(
            "usbnet-mode-mismatch", ERROR,
            "the module is set to %s but the kernel bound %s" % (module_mode.upper(), modem.driver or "nothing"),
            evidence,
            "The usbnet setting takes effect when the module restarts; until then, or when the kernel lacks the "
            "driver for the new mode, the interface and the setting disagree.",
            "restart the module (AT+CFUN=1,1, or power it off and on) and check that the %s driver is available"
            % usbnet.DRIVER.get(module_mode, "right"))]
    # What the user wants: what they asked for, else what the module is in when qcm connect speaks it (QMI,
    # MBIM, and ECM, RNDIS and NCM over AT), else QMI; ECM on modules without a QMI data path (their only
    # USB network function).
    current = module_mode or kernel_mode
    if facts.wanted_mode:
        wanted = facts.wanted_mode
    elif family in NO_QMI_DATA:
        wanted = "ecm"
    else:
        wanted = current if current in CONNECTABLE else "qmi"
    if current and current != wanted and modem.bus == "pci":
        return [Finding(
            "usbnet-mode-mismatch", WARNING, "the module is on PCIe in %s mode, which cannot be switched to %s"
            % (current.upper(), wanted.upper()), evidence,
            "An M.2 module on PCIe (mhi-pci-generic) has no USB network modes: its functions are what its firmware "
            "offers on the bus, MBIM only for Quectel's RM520N-GL and EM1xx. qcm usbnet and AT+QCFG=\"usbnet\" do "
            "not apply to it; qcm connect speaks %s." % current.upper(),
            "nothing to switch: connect with qcm connect as the module is (and run qcm doctor without --mode)")]
    if current and current != wanted:
        spoken = "qcm connect speaks QMI, MBIM and AT (ECM, RNDIS, NCM)"
        if wanted == "qmi":
            why = ("In %s mode the module has no QMI port and the host binds %s instead. %s%s." % (
                current.upper(), usbnet.DRIVER.get(current, "another driver"), spoken,
                ", so it connects in %s mode as well: switch only for tools that need QMI (quectel-CM's QMI mode, "
                "qmicli, uqmi)" % current.upper() if current in CONNECTABLE else
                ", and none of them works in %s mode" % current.upper()))
        else:
            why = ("%s needs %s on the host; in %s mode the module brings %s instead%s." % (
                wanted.upper(), usbnet.DRIVER[wanted], current.upper(), usbnet.DRIVER.get(current, "another driver"),
                " (%s: it connects in %s mode as it is)" % (spoken, current.upper()) if current in CONNECTABLE
                else ""))
        return [Finding(
            "usbnet-mode-mismatch", ERROR, "the module is in %s mode, not %s" % (current.upper(), wanted.upper()),
            evidence, why,
            "qcm usbnet %s (it sends %s and resets the module); after it comes back expect %s" % (
                wanted, usbnet.set_command(style, wanted), usbnet.EXPECT[wanted]))]
    if not modem.driver and not module_mode:
        return [Finding(
            "usbnet-mode-mismatch", ERROR, "no driver is bound to the module's network function", evidence,
            "The kernel found the module but no network driver claimed its data interface, so there is no "
            "network interface to configure.",
            "load the driver (modprobe qmi_wwan); for modules the kernel does not know yet, add the USB id with "
            "echo '%04x %04x' > /sys/bus/usb/drivers/qmi_wwan/new_id" % (modem.vendor_id, modem.product_id))]
    return []


def _tries(facts: Facts) -> Tuple[Optional[int], Optional[int]]:
    """PIN and PUK tries left, from QMI or Quectel's AT+QPINC="SC"."""
    if facts.pin_retries is not None:
        return facts.pin_retries, facts.puk_retries
    tries = qpinc_tries(facts.at_value('AT+QPINC="SC"', "+QPINC:") or "")
    return tries if tries is not None else (None, None)


def sim_state(facts: Facts) -> List[Finding]:
    state = facts.sim_state()
    pin_tries, puk_tries = _tries(facts)
    cpin = facts.at.get("AT+CPIN?")
    evidence = []
    if facts.sim is not None:
        evidence.append("QMI card status: %s" % facts.sim)
    if cpin is not None and (cpin.ok or cpin.error_code is not None):
        evidence.append("AT+CPIN? answers %s" % (cpin.value("+CPIN:") if cpin.ok else cpin.final))
    if pin_tries is not None:
        evidence.append("PIN tries left %d, PUK tries left %s" % (pin_tries, puk_tries))
    if state == "absent":
        return [Finding("sim-missing", ERROR, "no SIM card", evidence,
                        "The module does not see a SIM: none inserted, inserted the wrong way, a dirty contact, or "
                        "a holder without the SIM-detect line connected.",
                        "power the module off, insert the SIM (contacts down, cut corner as marked), power it on")]
    if state == "pin":
        return [Finding("sim-pin-required", ERROR,
                        "the SIM is locked with a PIN (%s tries left)" % (pin_tries if pin_tries is not None else "?"),
                        evidence,
                        "The SIM wants its PIN before the module may use the network. qcm never enters a PIN on its "
                        "own, and never retries one: each wrong try uses one up, and the last one locks the SIM.",
                        "run qcm connect -p PIN (or quectel-CM -p PIN) with the right PIN, or disable the PIN in a "
                        "phone")]
    if state == "network-locked":
        return [Finding("sim-pin-required", ERROR, "the module is locked to another operator's SIMs (PH-SIM PIN)",
                        evidence,
                        "The module (not the SIM) carries a network lock: it accepts only SIMs of the operator it "
                        "was sold for, until it gets its unlock code.",
                        "ask the seller or that operator for the unlock code, or use one of its SIMs")]
    if state == "puk":
        return [Finding("sim-puk-required", ERROR,
                        "the SIM is blocked and needs its PUK (%s tries left)" % (
                            puk_tries if puk_tries is not None else "?"),
                        evidence,
                        "Too many wrong PINs blocked the SIM. It needs the PUK from the operator; after 10 wrong PUKs "
                        "the SIM is dead for good.",
                        "unblock it in a phone with the PUK from your operator (qcm does not enter PUKs)")]
    if state == "blocked":
        return [Finding("sim-puk-required", ERROR, "the SIM is permanently blocked (no PUK tries left)", evidence,
                        "All PUK tries were used up: the SIM cannot be unblocked any more.",
                        "ask the operator for a new SIM")]
    return []


def firmware_variant_mismatch(facts: Facts) -> List[Finding]:
    revision = facts.revision or facts.at_text("AT+QGMR") or ""
    firmware = parse_revision(revision)
    if firmware is None or firmware.variant is None or firmware.variant == "G":
        return []
    evidence = [firmware.describe()]
    label = parse_variant(facts.variant_hint) or parse_variant(facts.model)
    mcc = facts.imsi[:3] if facts.imsi else (facts.at_text("AT+CIMI") or "")[:3]
    network = facts.network()
    if network is not None:
        evidence.append("network: %s (MCC %s)" % (network.describe(), network.mcc or 0))
    if label is not None and label[1] != firmware.variant and label[0] == firmware.family:
        evidence.insert(0, "the module is an %s-%s (for %s)" % (label[0], label[1], VARIANTS.get(label[1], ("?",))[0]))
        reason = "an %s-%s runs %s firmware" % (label[0], label[1], firmware.variant)
        fix = ("flash the firmware of the %s-%s (a revision starting %s%s) with Quectel's QFlash tool; ask the seller "
               "or Quectel support for the file" % (label[0], label[1], label[0], label[1]))
    elif mcc and (network is None or not network.registered) and not variant_covers(firmware.variant, mcc):
        evidence.insert(0, "the SIM's home network is in %s (MCC %s)" % (region_of_mcc(mcc), mcc))
        reason = "%s firmware in %s" % (firmware.region, region_of_mcc(mcc))
        fits = " or ".join("%s-%s" % (firmware.family, v) for v in variants_for(mcc)) or "a global -G variant"
        fix = ("look at the module's label: if it says %s, flash that variant's firmware (a revision starting %s) "
               "with Quectel's QFlash tool, from the seller or Quectel support; if it says %s-%s, the module itself "
               "is built for another region and no firmware makes it work here: use one made for %s"
               % (fits, " or ".join(firmware.family + v for v in variants_for(mcc)) or firmware.family + "G",
                  firmware.family, firmware.variant, region_of_mcc(mcc)))
    else:
        return []
    return [Finding(
        "firmware-variant-mismatch", ERROR, "firmware for the wrong region: %s" % reason, evidence,
        "Each %s variant is built for one region's frequency bands, and its firmware only enables those. With the "
        "firmware of another variant the module cannot find its network: it stays searching with MCC 0, no signal "
        "(AT+CSQ 99,99), and often refuses to turn its radio on (DeviceNotReady)." % firmware.family, fix)]


def radio_off(facts: Facts) -> List[Finding]:
    mode = facts.radio_mode()
    if mode in (None, "online") and not facts.hardware_restricted:
        return []
    evidence = []
    if facts.operating_mode is not None:
        if facts.modem is not None and facts.modem.mode == "mbim":
            evidence.append("MBIM radio state: %s, hardware radio switch: %s" % (
                facts.operating_mode, "off" if facts.hardware_restricted else "on"))
        else:
            evidence.append("QMI operating mode: %s, hardware restricted: %s" % (
                facts.operating_mode, "yes" if facts.hardware_restricted else "no"))
    cfun = facts.at_value("AT+CFUN?", "+CFUN:")
    if cfun is not None:
        evidence.append("AT+CFUN? answers %s" % cfun)
    if mode in ("reset", "shutting-down"):
        return [Finding("radio-off", INFO, "the module is restarting", evidence,
                        "A module that is resetting or shutting down answers for a moment before it leaves the bus.",
                        "run qcm doctor again in half a minute, when it is back")]
    if facts.hardware_restricted:
        return [Finding("radio-off", ERROR, "the radio is held off by a hardware line", evidence,
                        "The W_DISABLE# (airplane mode) pin of the module is active: a switch, a jumper or the "
                        "carrier board holds the radio off, and no command can turn it on.",
                        "release W_DISABLE# (check the board's airplane switch or jumper, or the pin's pull-up)")]
    if mode == "fcc-locked":
        return [_fcc_locked(facts, evidence)]
    offline = mode == "offline"
    return [Finding(
        "radio-off", ERROR, "the radio is off (%s)" % mode, evidence,
        "The module's radio is %s: it does not search for a network at all." % (
            "in offline mode, which only a reset leaves" if offline else "in a low-power mode (CFUN 0 or 4, "
            "airplane mode)"),
        ("reset the module (AT+CFUN=1,1); if it comes back offline, or refuses to go online with DeviceNotReady, "
         "suspect the firmware (see firmware-variant-mismatch)" if offline else
         "turn it on: AT+CFUN=1 (qcm connect does this itself), or qmicli --dms-set-operating-mode=online"))]


def _fcc_locked(facts: Facts, evidence: List[str]) -> Finding:
    modem = facts.modem
    control = modem.control if modem is not None and modem.control else "/dev/wwan0mbim0"
    if facts.fcc_unlock:
        fix = ("qcm connect sends the unlock itself to this unit (%s), as ModemManager's fcc-unlock script does: run "
               "qcm connect; by hand: mbimcli -p -d %s --quectel-set-radio-state=on" % (facts.fcc_unlock, control))
    else:
        fix = ("if this unit may transmit where you are, unlock it: mbimcli -p -d %s --quectel-set-radio-state=on "
               "(what ModemManager's fcc-unlock script for Quectel units runs); qcm connect sends it by itself only "
               "to the laptop units it knows" % control)
    return Finding(
        "radio-off", ERROR, "the radio is off (fcc-locked): the laptop vendor's FCC lock", evidence,
        "Laptop modules (Lenovo, Dell, HP) leave the factory with their radio locked until the host sends the "
        "laptop vendor's unlock: Windows does it with the vendor's software, Linux with ModemManager's fcc-unlock "
        "scripts. Until then the radio stays off whatever is asked (AT+CFUN=1, MBIM radio on): it is not a "
        "low-power mode.", fix)


def raw_ip_mismatch(facts: Facts) -> List[Finding]:
    if facts.host_raw_ip is None or facts.link_layer not in ("raw-ip", "802-3"):
        return []
    modem_raw = facts.link_layer == "raw-ip"
    if modem_raw == facts.host_raw_ip:
        return []
    netdev = facts.modem.netdev if facts.modem else "wwan0"
    evidence = ["modem data format (WDA): %s" % facts.link_layer,
                "host /sys/class/net/%s/qmi/raw_ip: %s" % (netdev, "Y" if facts.host_raw_ip else "N")]
    in_use = facts.link_up or _bearers_up(facts)
    if not in_use and modem_raw:
        # A module just plugged in: the kernel starts qmi_wwan in 802.3 (N), and nothing uses the interface
        # yet; qcm connect switches raw_ip itself (with the link down) before any data flows.
        return [Finding(
            "raw-ip-mismatch", INFO, "qmi/raw_ip is N, the kernel's default; qcm connect sets it to Y itself",
            evidence + ["%s is down and no data call is known to be up" % netdev],
            "The modem sends bare IP packets, and qmi_wwan expects Ethernet frames until raw_ip is Y. qcm connect "
            "(and quectel-CM) switch it before the call; other tools (qmicli or qmi-network followed by udhcpc) "
            "do not, and then DHCP gets no lease.",
            "nothing for qcm connect; before other tools: ip link set %s down; echo Y > /sys/class/net/%s/qmi/raw_ip"
            % (netdev, netdev))]
    if facts.link_up:
        evidence.append("%s is up" % netdev)
    return [Finding(
        "raw-ip-mismatch", ERROR, "host and modem frame packets differently", evidence,
        "The modem sends %s but the qmi_wwan driver expects %s, so nothing the interface carries makes sense to "
        "the other side: DHCP never gets a lease (\"udhcpc: no lease, failing\") and pings go nowhere, although "
        "the call is connected." % ("bare IP packets" if modem_raw else "Ethernet frames",
                                    "Ethernet frames" if modem_raw else "bare IP packets"),
        "qcm connect makes both agree itself; by hand: ip link set %s down; echo %s > /sys/class/net/%s/qmi/raw_ip; "
        "then configure the address the modem gives (qmicli --wds-get-current-settings) instead of DHCP"
        % (netdev, "Y" if modem_raw else "N", netdev))]


def _bearers_up(facts: Facts) -> bool:
    bearers = (facts.manager or {}).get("bearers")
    return isinstance(bearers, list) and any(isinstance(b, dict) and b.get("state") == "up" for b in bearers)


def not_registered(facts: Facts) -> List[Finding]:
    network = facts.network()
    if network is None or (network.registered and network.ps_attached):
        return []
    if facts.sim_state() not in (None, "ready") or facts.radio_mode() not in (None, "online") \
            or facts.hardware_restricted:
        return []  # a consequence of the SIM or radio findings, not a cause of its own
    if facts.registration is not None:
        evidence = ["network: %s" % network.describe()]
    else:
        evidence = ["%s answers %s%s" % (c, v, " (%s)" % STAT_NAMES[stat_of(v)] if stat_of(v) in STAT_NAMES else "")
                    for c, v in ((c, facts.at_value(c, p)) for c, p in REGISTRATION_COMMANDS) if v is not None]
    for command, prefix in (("AT+COPS?", "+COPS:"), ("AT+CSQ", "+CSQ:"), ("AT+QNWINFO", "+QNWINFO:"),
                            ("AT+CGATT?", "+CGATT:")):
        value = facts.at_value(command, prefix)
        if value is not None:
            evidence.append("%s answers %s" % (command, value))
    if network.registered:  # registered, but the packet service is detached
        if _without_qmi_data(facts) and facts.modem is not None and facts.modem.mode == "qmi":
            return []  # what a BG95 in QMI mode reports; usbnet-mode-mismatch is the cause
        return [Finding(
            "not-registered", ERROR, "registered on %s, but not attached for data" % (network.operator or
                                                                                       "the network"), evidence,
            "The network accepted the module but not (yet) for packet data: the SIM's plan may have no data, the "
            "network may refuse the attach, or the module is still attaching.",
            "ask for the attach with AT+CGATT=1 and read the reason with AT+CEER; ask the operator that the SIM has "
            "data enabled")]
    if network.state == "registration-denied":
        cause = network.reject_cause
        text = REJECT_CAUSES.get(cause or 0, "cause %s" % cause) if cause else "no cause given"
        return [Finding("not-registered", ERROR, "the network refuses the module: %s" % text, evidence,
                        "The module found a network and asked to register; the network said no.",
                        "check with the operator that the SIM is activated, has data, may roam here, and that this "
                        "IMEI is not barred")]
    if network.state in ("emergency-only", "limited-service"):
        return [Finding(
            "not-registered", ERROR, "not registered: the network lets the module make emergency calls only"
            if network.state == "emergency-only" else "not registered: restricted local operator services only",
            evidence,
            "The module found a network, but the network did not accept the SIM for normal service: it may "
            "only make emergency calls. The SIM is not activated, not allowed on this network (roaming), or "
            "no network of its operator is in reach.",
            "check with the operator that the SIM is activated and may use this network; try another place or "
            "antenna position")]
    return [Finding(
        "not-registered", ERROR, "not registered: %s" % ("searching for a network" if "search" in network.state else
                                                         "no service"), evidence,
        "The radio is on and the SIM ready, but the module finds no network it may use.",
        "check, in this order: the antenna (connected to the main port, not the diversity/GNSS one); that the "
        "firmware variant matches the region (firmware-variant-mismatch); the band settings (AT+QCFG=\"band\", "
        "AT+QCFG=\"nwscanmode\"); that the SIM is activated and works in a phone here; coverage at this spot")]


def apn_rejected(facts: Facts) -> List[Finding]:
    ceer = facts.at_value("AT+CEER", "+CEER:")
    last = (facts.manager or {}).get("last_error", "")
    evidence = []
    if ceer and "No cause" not in ceer and not CLIENT_END.search(ceer):  # a call the host ended is no rejection
        evidence.append("AT+CEER answers %s" % ceer)
    if "call rejected" in last and not CLIENT_END.search(last):
        evidence.append("the running qcm: %s" % last)
    if not evidence:
        return []
    text = (ceer or "") + " " + last
    if re.search(r"unknown APN|unknown-apn", text, re.IGNORECASE):
        why, fix = "the network does not know the APN that was asked for", \
            "use the APN your operator gives (qcm connect -s APN); profiles stored in the module show with " \
            "AT+CGDCONT?"
    elif re.search(r"authentication", text, re.IGNORECASE):
        why, fix = "the network rejected the APN user name or password", \
            "check user name, password and PAP/CHAP with the operator (-s APN USER PASS [1|2|3])"
    elif re.search(r"not subscribed|unsubscribed|barring", text, re.IGNORECASE):
        why, fix = "the SIM's plan does not allow this data service", "ask the operator to enable data on the SIM"
    else:
        why, fix = "the network ended or refused the last data call", "see the reason above; try again later"
    return [Finding("apn-rejected", WARNING, "the last data call was rejected: %s" % why, evidence,
                    "The module keeps the reason of the last failed or ended call (AT+CEER).", fix)]


def qmi_request_unsupported(facts: Facts) -> List[Finding]:
    refused = [(s, m, c, n) for s, m, c, n in facts.qmi_failures
               if n in ("NotSupported", "InvalidQmiCommand", "DeviceUnsupported")]
    if not refused:
        return []
    lines = ["%s %s: QMUXError 0x%02x %s" % (s, m, c, n) for s, m, c, n in refused]
    profiles = any("Profile" in m for _, m, _, _ in refused)
    return [Finding(
        "qmi-request-unsupported", WARNING, "the modem refuses %d QMI request%s" % (len(refused),
                                                                                     "s" if len(refused) > 1 else ""),
        lines,
        "0x5e NotSupported means the firmware has the QMI service but not this request; 0x47 InvalidQmiCommand "
        "that it does not know the message at all." + (" Without profile requests the APN can still go with the "
        "call (qcm does that), but on BG95-class modules it means there is no QMI data path at all." if profiles
        else ""),
        "nothing to do for qcm connect unless a data call fails; for modules without a QMI data path see "
        "usbnet-mode-mismatch")]


RULES: List[Rule] = [port_busy, port_not_answering, at_port_missing, usbnet_mode_mismatch, sim_state, firmware_variant_mismatch, radio_off,
                     raw_ip_mismatch, not_registered, apn_rejected, qmi_request_unsupported]


def diagnose(facts: Facts) -> List[Finding]:
    findings = [finding for rule in RULES for finding in rule(facts)]
    return sorted(findings, key=lambda f: ORDER.index(f.id))


