"""``qcm doctor``: name what is wrong with the module and how to fix it, from QMI, AT and the host."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

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
    findings = diagnose(facts)
    if args.json:
        json.dump({"module": modem.to_json(), "summary": summary(facts), "findings": [f.to_json() for f in findings],
                   "not_examined": [p for p in (facts.qmi_problem, facts.at_problem) if p]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in report(facts, findings)))
    return FOUND_PROBLEMS if any(f.severity in ("error", "warning") for f in findings) else 0


def summary(facts: Any) -> Dict[str, Any]:
    registration = facts.registration
    manager = facts.manager
    return {
        "qcm": "pid %s, %s%s" % (manager.get("pid"), manager.get("state"), ", last error: %s" % manager["last_error"]
                                 if manager.get("last_error") else "") if manager else None,
        "firmware": facts.revision or facts.at_text("AT+QGMR"),
        "model": facts.model or facts.at_text("AT+CGMM"),
        "sim": facts.sim or facts.at_value("AT+CPIN?", "+CPIN:"),
        "radio": facts.operating_mode or ("CFUN %s" % facts.at_value("AT+CFUN?", "+CFUN:")
                                          if facts.at_value("AT+CFUN?", "+CFUN:") else None),
        "network": registration.describe() if registration else facts.at_value("AT+COPS?", "+COPS:"),
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
