"""Man pages (roff, man(7) macros) for qcm, each of its subcommands and quectel-CM, written from the
command-line model (``cli_model.py``): the options are the parser's, never a copy that can drift."""

from __future__ import annotations

import os
import time
from typing import Dict, List, Optional

from cli_model import Command, Option, commands, exit_statuses, import_qcm, version

_examples: Dict[str, List[str]] = {}

ENVIRONMENT = [
    ("QCM_SYSFS", "sysfs root to look for modules in (default /sys); the simulator's tree in tests"),
    ("QCM_DEV", "device root (default /dev)"),
    ("QCM_RUN_DIR", "where control sockets, locks and --once state live (default /run/qcm)"),
    ("QCM_STATE_DIR", "where qcm keeps what must survive a reboot: the record of rejected PINs "
                      "(default /var/lib/qcm)"),
    ("QCM_CONFIG_DIR", "where the connections' NAME.toml files are (default /etc/qcm)"),
    ("DBUS_SYSTEM_BUS_ADDRESS", "the system bus --inhibit-modemmanager talks to ModemManager on (default "
                                "unix:path=/run/dbus/system_bus_socket)"),
    ("JOURNAL_STREAM", "set by systemd: lines carry a syslog priority and no timestamp"),
    ("NOTIFY_SOCKET, WATCHDOG_USEC", "set by systemd: qcm sends READY, STATUS, WATCHDOG and STOPPING"),
]

FILES = [
    ("/run/qcm/IFACE.sock", "control socket of the qcm managing IFACE (root only), for qcm status and "
                            "qcm disconnect"),
    ("/var/lib/qcm/pin", "salted hashes of PINs a SIM rejected, per SIM: never sent again"),
    ("/etc/qcm/IFACE.conf", "options of the qcm@IFACE service (QCM_OPTIONS=...); mode 0600"),
    ("/etc/qcm/NAME.toml", "a connection's configuration (qcm connect --config NAME, qcm daemon); mode 0600 when "
                           "it holds a PIN or password"),
    ("/run/qcm/daemon.sock", "control socket of qcm daemon (root only): qcm status and qcm disconnect -i IFACE"),
    ("/usr/lib/systemd/system/qcm-daemon.service", "qcm daemon as a service, for every configured module"),
    ("/usr/lib/systemd/system/qcm@.service", "the service, one instance per interface"),
    ("/usr/lib/udev/rules.d/90-qcm.rules", "keeps ModemManager away from known modules and starts qcm@IFACE "
                                           "when /etc/qcm/IFACE.conf exists"),
]



def examples() -> Dict[str, List[str]]:
    """A few examples per page: the ones ``--help`` shows (qcm.cli.help), so that both agree."""
    import_qcm()
    from qcm.cli.help import EXAMPLES
    return EXAMPLES


def configuration_keys() -> List[str]:
    """The CONFIGURATION FILE section of qcm-connect(1) and qcm-daemon(1): every key of qcm.config.KEYS."""
    import_qcm()
    from qcm.config import KEYS, PDN_KEYS
    out = [".SH CONFIGURATION FILE",
           roff("qcm connect --config NAME reads /etc/qcm/NAME.toml ($QCM_CONFIG_DIR/NAME.toml, or a path), and qcm "
                "daemon every *.toml there: one connection per file, in TOML. Options given on the command line win "
                "over the file. A key nobody knows is refused with the list of known ones. A file holding pin, user "
                "or password must be mode 0600 (no access for group and others), and no file may be a link or "
                "writable by others. Without a key of the module group, qcm connect takes the only module, and qcm "
                "daemon gives the file the first module no other file names.")]
    group = None
    for key in KEYS:
        if key.group != group:
            group = key.group
            out += [".SS %s" % roff(group.capitalize())]
        out += [".TP", "%s (%s)" % (bold(key.name), roff(key.kind)),
                roff(_sentence(key.help)) + (" Default: %s." % roff(key.default) if key.default else "")]
    out += [".SS [[pdn]] tables", roff("Further data connections (PDNs) of the module, each on its own interface:")]
    for key in PDN_KEYS:
        out += [".TP", "%s (%s)" % (bold(key.name), roff(key.kind)),
                roff(_sentence(key.help)) + (" Default: %s." % roff(key.default) if key.default else "")]
    out += [".PP", ".nf", ".RS 4", roff('# /etc/qcm/lte.toml, mode 0600\nusb_path = "1-1.2"\napn = "internet"\n'
                                        'ip = "ipv4v6"\npin = "0123"\nroute_metric = 600\n'
                                        'probes = ["ping:198.51.100.1"]'), ".RE", ".fi"]
    return out


def roff(text: str) -> str:
    """Text safe in a roff body: backslashes escaped, hyphens as minus signs (options must stay
    typeable when copied), no line taken for a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n"))


def bold(text: str) -> str:
    return "\\fB%s\\fR" % roff(text)


def italic(text: str) -> str:
    return "\\fI%s\\fR" % roff(text)


def option_heading(option: Option) -> str:
    names = ", ".join(bold(flag) for flag in option.flags) if option.flags else italic(option.metavar)
    if option.flags and option.takes_value:
        names += " " + italic(option.metavar) + (" ..." if option.nargs in ("+", "*") else "")
    return names


def synopsis(command: Command) -> List[str]:
    if command.synopsis:
        name, _, rest = command.synopsis.partition(" ")
        return [".ad l", ".nh", bold(name) + " " + roff(rest), ".hy", ".ad"]
    parts = [bold(command.name)]
    if command.subcommands:
        parts.append("[%s]" % " | ".join(bold(o.flags[0]) for o in command.options))
        parts.append(italic("COMMAND") + " [" + italic("OPTIONS") + "]")
    else:
        for option in command.options:
            if option.flags in (["-h", "--help"], ["-h"]):
                continue
            flag = bold(option.flags[0])
            if option.takes_value:
                flag += " " + italic(option.metavar)
            parts.append("[%s]" % flag)
        for positional in command.positionals:
            parts.append("[%s ...]" % italic(positional.metavar) if positional.nargs in ("*", "+", "?")
                         else italic(positional.metavar))
    return [".ad l", ".nh", " ".join(parts), ".hy", ".ad"]


def page(command: Command, all_commands: List[Command], release: str, date: str) -> str:
    title = command.page
    out = ['.\\" Generated by scripts/build-cli-docs from the command-line parser; do not edit.',
           '.TH "%s" 1 "%s" "qcm %s" "User Commands"' % (roff(title.upper()), date, release),
           ".SH NAME", "%s \\- %s" % (roff(title), roff(command.summary)),
           ".SH SYNOPSIS", *synopsis(command),
           ".SH DESCRIPTION", roff(_sentence(command.description or command.summary))]
    if command.subcommands:
        out += [".SH COMMANDS"]
        for sub in command.subcommands:
            out += [".TP", bold(sub.name), roff(_sentence(sub.summary)) + " See " + bold(sub.page) + "(1)."]
    for group in _groups(command):
        heading = {"options": ".SH OPTIONS", "positional arguments": ".SH ARGUMENTS"}
        out += [heading.get(group, ".SS %s" % roff(group.capitalize()))]
        for option in command.options + command.positionals:
            if option.group != group:
                continue
            text = roff(_sentence(option.help)) if option.help else ""
            if option.choices:
                text += " One of: " + ", ".join(bold(c) for c in option.choices) + "."
            if option.repeatable:
                text += " May be given more than once."
            out += [".TP", option_heading(option), text.strip() or "\\&"]
    if command.name in ("qcm connect", "qcm daemon"):
        out += configuration_keys()
    examples = command.examples or _examples.get(command.name, [])
    if examples:
        out += [".SH EXAMPLES"]
        for example in examples:
            out += [".PP", ".nf", ".RS 4", roff(example), ".RE", ".fi"]
    out += [".SH EXIT STATUS"]
    for status, meaning in exit_statuses():
        out += [".TP", bold(str(status)), roff(_sentence(meaning))]
    if command.name in ("qcm", "qcm connect", "qcm daemon", "quectel-CM"):
        out += [".SH ENVIRONMENT"]
        for name, meaning in ENVIRONMENT:
            out += [".TP", bold(name), roff(meaning)]
        out += [".SH FILES"]
        for name, meaning in FILES:
            out += [".TP", italic(name), roff(meaning)]
    see_also = [c.page for c in all_commands if c.page != command.page]
    out += [".SH SEE ALSO", ", ".join("%s(1)" % bold(name) for name in see_also + ["qmicli"])]
    return "\n".join(out) + "\n"


def _groups(command: Command) -> List[str]:
    seen: List[str] = []
    for option in command.options + command.positionals:
        if option.group not in seen:
            seen.append(option.group)
    # the command's own options first, positional arguments before them
    return sorted(seen, key=lambda g: (g != "positional arguments", g != "options"))


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def pages(date: Optional[str] = None) -> Dict[str, str]:
    """File name -> roff text, for every page."""
    if date is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")  # reproducible builds
        date = time.strftime("%Y-%m-%d", time.gmtime(int(epoch) if epoch and epoch.isdigit() else None))
    release = version()
    everything = commands()
    _examples.update(examples())
    return {"%s.1" % command.page: page(command, everything, release, date) for command in everything}
