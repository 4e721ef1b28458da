"""What ``--help`` says besides the options: each option's default, the exit statuses and a few
examples per command. The man pages (tools/manpage.py) take their examples and exit statuses from
here too, so that ``qcm connect --help`` and ``man qcm-connect`` agree."""

from __future__ import annotations

import argparse
from typing import Dict, List, Tuple

__all__ = ["HelpFormatter", "EXAMPLES", "exit_statuses", "epilog"]

# A few examples per command; the README has the whole story.
EXAMPLES: Dict[str, List[str]] = {
    "qcm": ["sudo qcm connect -4 -6 -s internet", "qcm status", "sudo qcm doctor", "sudo qcm daemon"],
    "qcm connect": ["sudo qcm connect -s internet", "sudo qcm connect -4 -6 -s apn user pass chap -p 0123",
                    "sudo qcm connect --once -s internet", "sudo qcm connect --config wwan0",
                    "sudo qcm connect -i wwan0 --probe ping:198.51.100.1",
                    "sudo qcm connect --all -4 -6 -s internet",
                    "sudo qcm connect -s internet --inhibit-modemmanager"],
    "qcm daemon": ["sudo qcm daemon", "sudo QCM_CONFIG_DIR=/srv/qcm qcm daemon --metrics-file /run/qcm/metrics.prom",
                   "qcm status", "sudo qcm disconnect -i wwan1"],
    "qcm disconnect": ["sudo qcm disconnect", "sudo qcm disconnect -i wwan1"],
    "qcm status": ["qcm status", "qcm status -i wwan1 --json"],
    "qcm list": ["qcm list", "qcm list --json", "QCM_SYSFS=/tmp/modem/sys QCM_DEV=/tmp/modem/dev qcm list"],
    "qcm at": ["sudo qcm at 'AT+QCFG=\"usbnet\"' AT+CPIN?", "sudo qcm at --json AT+CSQ"],
    "qcm doctor": ["sudo qcm doctor", "sudo qcm doctor --variant EC25-A --json"],
    "qcm usbnet": ["sudo qcm usbnet", "sudo qcm usbnet ecm", "sudo qcm usbnet --json"],
    "qcm decode": ["qcm decode 01 0c 00 00 02 01 00 01 00 22 00 00 00", "qcm decode -f trace.hex --json"],
    "qcm sim": ["qcm sim --dir /tmp/modem --latency-ms 30", "qcm sim --dir /tmp/modems --modules 4",
                "qcm sim ctl /tmp/modem drop reason=no-service", "qcm sim ctl /tmp/modem status --json"],
}


def exit_statuses() -> List[Tuple[int, str]]:
    """(status, meaning): one line per distinct exit status, from qcm's error classes."""
    from .. import errors
    found = {0: "success"}
    for name in dir(errors):
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, errors.QcmError) and cls is not errors.QcmError \
                and "exit_status" in vars(cls):  # the class that gives the status its meaning, not a special case
            status = getattr(cls, "exit_status", None)
            doc = (cls.__doc__ or "").strip().split("\n")[0].rstrip(".")
            if isinstance(status, int) and status not in found and doc:
                found[status] = doc if doc[1:2].isupper() else doc[0].lower() + doc[1:]  # "SIM ..." stays
    found.setdefault(errors.EXIT_BUG, "internal error (a bug: please report it)")
    found.setdefault(errors.EXIT_INTERRUPTED, "interrupted")
    found.setdefault(1, "problems found (qcm doctor), frames that did not decode (qcm decode)")
    return sorted(found.items())


def epilog(name: str) -> str:
    lines = []
    examples = EXAMPLES.get(name)
    if examples:
        lines += ["examples:"] + ["  " + e for e in examples] + [""]
    lines.append("exit status:")
    lines += ["  %3d  %s" % (status, meaning) for status, meaning in exit_statuses()]
    return "\n".join(lines)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default where its help does not say it already; the epilog as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, [], "", argparse.SUPPRESS) or not action.option_strings
                or action.nargs == 0):
            return text
        shown = default.__name__ if hasattr(default, "__name__") else default
        return "%s (default: %s)" % (text, str(shown).replace("%", "%%"))
