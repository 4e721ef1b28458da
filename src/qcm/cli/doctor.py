"""``qcm doctor``: name what is wrong with the module and how to fix it, from QMI, AT and the host."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

FOUND_PROBLEMS = 1  # exit status when findings of severity error or warning were made


def configure(parser: argparse.ArgumentParser) -> None:
    from .connect import add_modem_options
    parser.add_argument("--variant", default="", help="the module's variant as on its label (e.g. EC25-A)")
    parser.add_argument("--mode", choices=["qmi", "ecm", "mbim", "rndis"], default="qmi",
                        help="the USB network mode you want (default qmi, what qcm connect uses)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each modem answer")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_modem_options(parser)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..discovery import scan, select
    from ..doctor.evidence import gather
    from ..doctor.rules import diagnose

    modem = select(scan(args.sysfs, args.dev), args.interface, args.control, args.usb_path)
    facts = asyncio.run(gather(modem, args.run_dir, args.timeout, args.variant, args.mode))
    if facts.denied:  # a report from half the evidence would read as a clean bill of health
        from ..errors import PermissionProblem
        raise PermissionProblem("qcm doctor may not open %s" % " and ".join(facts.denied),
                                "run it as root: sudo qcm doctor")
    findings = diagnose(facts)
    if args.json:
        json.dump({"module": modem.to_json(), "summary": summary(facts), "findings": [f.to_json() for f in findings],
                   "not_examined": [p for p in (facts.qmi_problem, facts.at_problem) if p]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in report(facts, findings)))
    return FOUND_PROBLEMS if any(f.severity in ("error", "warning") for f in findings) else 0


CPIN_STATES = {"READY": "ready", "SIM PIN": "pin", "SIM PUK": "puk", "SIM PIN2": "ready (PIN2 asked)",
               "SIM PUK2": "ready (PUK2 asked)"}
CFUN_MODES = {"0": "minimum functionality", "1": "online", "4": "low-power (airplane)", "5": "factory-test",
              "7": "offline"}
REG_STATES = {"0": "not registered and not searching", "1": "registered", "2": "searching for a network",
              "3": "registration denied by the network", "4": "unknown", "5": "registered (roaming)"}
ACTS = {"0": "GSM", "2": "UMTS", "7": "LTE", "8": "LTE-M", "9": "NB-IoT", "13": "5G NR"}


def _at_network(facts: Any) -> Optional[str]:
    """The network as AT+CEREG?/CREG?, AT+COPS? and AT+CSQ tell it, when QMI could not."""
    parts = []
    for command, prefix in (("AT+CEREG?", "+CEREG:"), ("AT+CREG?", "+CREG:")):
        value = facts.at_value(command, prefix)
        if value:
            fields = value.split(",")
            stat = fields[1] if len(fields) > 1 else fields[0]
            parts.append(REG_STATES.get(stat.strip(), "stat %s" % stat))
            break
    cops = (facts.at_value("AT+COPS?", "+COPS:") or "").split(",")
    if len(cops) >= 3:
        operator = "on %s" % cops[2].strip('"')
        parts = [" ".join(parts + [operator])]
        if len(cops) > 3 and cops[3].strip() in ACTS:
            parts.append(ACTS[cops[3].strip()])
    csq = facts.at_value("AT+CSQ", "+CSQ:")
    if csq:
        rssi = csq.split(",")[0].strip()
        parts.append("signal %s" % ("unknown (CSQ 99)" if rssi == "99" else "%d dBm" % (-113 + 2 * int(rssi))
                                     if rssi.isdigit() else csq))
    return ", ".join(parts) or None


def summary(facts: Any) -> Dict[str, Any]:
    registration = facts.registration
    manager = facts.manager
    cpin = facts.at_value("AT+CPIN?", "+CPIN:")
    cfun = facts.at_value("AT+CFUN?", "+CFUN:")
    return {
        "qcm": "pid %s, %s%s" % (manager.get("pid"), manager.get("state"), ", last error: %s" % manager["last_error"]
                                 if manager.get("last_error") else "") if manager else None,
        "firmware": facts.revision or facts.at_text("AT+QGMR"),
        "model": facts.model or facts.at_text("AT+CGMM"),
        "sim": facts.sim or (CPIN_STATES.get(cpin, cpin) if cpin else None),
        "radio": facts.operating_mode or ("%s (AT+CFUN %s)" % (CFUN_MODES.get(cfun, "?"), cfun) if cfun else None),
        "network": registration.describe() if registration else _at_network(facts),
        "modem_data_format": facts.link_layer,
        "host_raw_ip": facts.host_raw_ip,
        "usbnet": facts.at_value('AT+QCFG="usbnet"', '+QCFG: "usbnet",')
        or facts.at_value('AT+QCFGEXT="usbnet"', '+QCFGEXT: "usbnet",'),
    }


def report(facts: Any, findings: List[Any]) -> List[str]:
    lines = ["module: %s" % facts.modem.describe()]
    for key, value in summary(facts).items():
        if value is not None:
            lines.append("  %s: %s" % (key.replace("_", " "), value if not isinstance(value, bool) else
                                       ("Y" if value else "N")))
    for problem in (facts.qmi_problem, facts.at_problem):
        if problem:
            lines.append("  not examined: %s" % problem)
    lines.append("")
    if not findings:
        lines.append("nothing wrong found")
        return lines
    for number, finding in enumerate(findings, 1):
        lines.append("%d. [%s] %s: %s" % (number, finding.severity, finding.id, finding.title))
        for item in finding.evidence:
            lines.append("     seen: %s" % item)
        lines.append("     why:  %s" % finding.explanation)
        lines.append("     fix:  %s" % finding.fix)
        lines.append("")
    return lines
