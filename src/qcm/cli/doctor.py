"""``qcm doctor``: name what is wrong with the module and how to fix it, from QMI, AT and the host."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

FOUND_PROBLEMS = 1  # exit status when findings of severity error or warning were made


def configure(parser: argparse.ArgumentParser) -> None:
    from .connect import add_modem_options
    from .options import seconds
    parser.add_argument("--variant", default="", help="the module's variant as on its label (e.g. EC25-A)")
    parser.add_argument("--mode", choices=["qmi", "ecm", "mbim", "rndis"],
                        help="the USB network mode you want (default qmi, what qcm connect uses; ecm for "
                        "BG95/BG77/BG600L, which have no QMI data path)")
    parser.add_argument("--timeout", type=seconds(0.1), default=3.0,
                        help="seconds to wait for each modem answer (at least 0.1, default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON (schemas/doctor.schema.json)")
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
        json.dump({"schema_version": 1, "module": modem.to_json(),  # schemas/doctor.schema.json
                   "summary": summary(facts), "findings": [f.to_json() for f in findings],
                   "not_examined": facts.not_examined()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from ..printable import printable  # operator names and firmware strings are the modem's text
        sys.stdout.write("".join(printable(line) + "\n" for line in report(facts, findings)))
    return FOUND_PROBLEMS if any(f.severity in ("error", "warning") for f in findings) else 0


def summary(facts: Any) -> Dict[str, Any]:
    """The module's state in a few lines: from QMI where it answered, else from the AT port."""
    from ..at import usbnet
    network, manager, radio = facts.network(), facts.manager, facts.radio_mode()
    cfun = facts.at_value("AT+CFUN?", "+CFUN:")
    setting = next(((style, value) for style, value in ((s, facts.at_value(usbnet.QUERY[s], usbnet.PREFIX[s]))
                                                        for s in usbnet.QUERY) if value is not None), None)
    return {
        "qcm": "pid %s, %s%s" % (manager.get("pid"), manager.get("state"), ", last error: %s" % manager["last_error"]
                                 if manager.get("last_error") else "") if manager else None,
        "firmware": facts.revision or facts.at_text("AT+QGMR"),
        "model": facts.model or facts.at_text("AT+CGMM"),
        "sim": facts.sim_state(),
        "radio": radio if facts.operating_mode is not None or radio is None else "%s (AT+CFUN %s)" % (radio, cfun),
        "network": network.describe() if network else None,
        "modem_data_format": facts.link_layer,
        "host_raw_ip": facts.host_raw_ip,
        "usbnet": "%s (%s answers %s)" % (usbnet.mode_of(setting[1]) or "?", usbnet.QUERY[setting[0]], setting[1])
        if setting else None,
    }


def report(facts: Any, findings: List[Any]) -> List[str]:
    lines = ["module: %s" % facts.modem.describe()]
    for key, value in summary(facts).items():
        if value is not None:
            lines.append("  %s: %s" % (key.replace("_", " "), value if not isinstance(value, bool) else
                                       ("Y" if value else "N")))
    for problem in facts.not_examined():
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
