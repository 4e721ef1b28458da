"""The command line as plain data, read from qcm's own argparse parser and quectel-CM's usage text.

Man pages and shell completion are rendered from this model (``manpage.py``, ``completion.py``),
so that they always say what the parser accepts: a new option appears in both by itself.
Only the standard library is used; argparse's action list is read as it is (``_actions``), since
argparse has no public API to walk a parser.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]

# How a value is completed: from a list of choices, as a file, a directory, a network interface,
# a character device, or not at all (free text).
FILE, DIRECTORY, INTERFACE, DEVICE, TEXT = "file", "directory", "interface", "device", "text"


@dataclass
class Option:
    flags: List[str]              # ["-i", "--interface"]; empty for a positional argument
    metavar: str                  # what the value is called; "" for a flag that takes no value
    help: str
    group: str = ""               # the argument group it is listed under
    choices: List[str] = field(default_factory=list)
    completes: str = TEXT
    repeatable: bool = False
    nargs: str = ""               # "+", "*", "?" or "" (one value)

    @property
    def takes_value(self) -> bool:
        return bool(self.metavar)


@dataclass
class Command:
    name: str                     # "qcm", "qcm connect", "quectel-CM"
    summary: str
    description: str = ""
    options: List[Option] = field(default_factory=list)
    positionals: List[Option] = field(default_factory=list)
    subcommands: List["Command"] = field(default_factory=list)
    usage: str = ""
    examples: List[str] = field(default_factory=list)
    synopsis: str = ""            # given by hand where there is no argparse parser to read it from

    @property
    def page(self) -> str:
        """The man page's name: ``qcm-connect`` for ``qcm connect`` (as git does)."""
        return self.name.replace(" ", "-")

    def all_flags(self) -> List[str]:
        return [flag for option in self.options for flag in option.flags]


def import_qcm() -> None:
    """Make ``import qcm`` load this checkout's sources (generation runs from the source tree)."""
    src = str(ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)


def qcm_command() -> Command:
    import_qcm()
    from qcm.cli.main import build_parser
    return from_parser(build_parser(), "qcm")


def from_parser(parser: argparse.ArgumentParser, name: str, summary: str = "") -> Command:
    summary = (summary or parser.description or "").rstrip(".")
    if summary[1:2].islower():  # "Connection manager..." -> "connection manager...", but "QMI ..." stays
        summary = summary[:1].lower() + summary[1:]
    command = Command(name=name, summary=summary, description=parser.description or "", usage=_usage(parser))
    for group in parser._action_groups:
        title = _group_title(group.title or "")
        for action in group._group_actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
                for sub_name, sub_parser in action.choices.items():
                    command.subcommands.append(from_parser(sub_parser, "%s %s" % (name, sub_name),
                                                           helps.get(sub_name, "")))
            elif action.help == argparse.SUPPRESS:
                continue
            elif action.option_strings:
                command.options.append(_option(action, title, parser.prog))
            else:
                command.positionals.append(_option(action, title, parser.prog))
    return command


def _option(action: argparse.Action, group: str, prog: str) -> Option:
    takes_value = action.nargs != 0
    metavar = ""
    if takes_value:
        metavar = action.metavar if isinstance(action.metavar, str) else (
            action.dest.upper() if action.option_strings else action.dest)
        if isinstance(action.metavar, tuple):
            metavar = " ".join(action.metavar)
    choices = [str(c) for c in action.choices] if action.choices else []
    return Option(flags=list(action.option_strings), metavar=metavar, help=_help(action, prog), group=group,
                  choices=choices, completes=_completes(action, metavar) if takes_value else TEXT,
                  repeatable=isinstance(action, (argparse._AppendAction, argparse._CountAction)),
                  nargs=action.nargs if isinstance(action.nargs, str) else "")


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:  # argparse's own expansion: %(default)s, %(prog)s
        values = dict(vars(action), prog=prog)
        values = {k: (v.__name__ if hasattr(v, "__name__") else v) for k, v in values.items()}
        try:
            text = text % values
        except (KeyError, TypeError, ValueError):
            pass
    return " ".join(text.split())


def _completes(action: argparse.Action, metavar: str) -> str:
    flags = set(action.option_strings)
    if flags & {"-i", "--interface"}:
        return INTERFACE
    if flags & {"--control", "--port"}:
        return DEVICE
    if flags & {"--dir", "--run-dir", "--sysfs", "--dev", "--config-dir"}:
        return DIRECTORY
    if action.type is Path or flags & {"-f", "--file", "--scenario", "--config", "--metrics-file", "--secrets",
                                       "--resolv-conf", "--trace"}:
        return FILE
    return TEXT


def _group_title(title: str) -> str:
    # "optional arguments" before Python 3.10, "options" after
    return "options" if title in ("optional arguments", "options") else title


def _usage(parser: argparse.ArgumentParser) -> str:
    text = parser.format_usage().strip()
    return re.sub(r"^usage:\s*", "", text)


# ---------------------------------------------------------------- quectel-CM

_USAGE_LINE = re.compile(r"^(-[^\s,]+(?:, -[^\s,]+)*)((?: [^ ].*?)?)\s{2,}(\S.*)$")


def quectel_cm_command() -> Command:
    """quectel-CM's options, read from the usage text ``quectel-CM -h`` prints (its parser is the C
    tool's hand-written one, not argparse)."""
    import_qcm()
    from qcm.cli.quectel_cm import USAGE
    options: List[Option] = []
    examples: List[str] = []
    in_examples = False
    for line in USAGE.splitlines()[1:]:
        if line.strip() == "[Examples]":
            in_examples = True
            continue
        if in_examples:
            if line.strip():
                examples.append(line.strip())
            continue
        match = _USAGE_LINE.match(line)
        if not match:
            continue
        flags = [f.strip() for f in match.group(1).split(",")]
        metavar = match.group(2).strip()
        completes = FILE if "logfile" in metavar else INTERFACE if metavar == "interface" else TEXT
        options.append(Option(flags=flags, metavar=metavar, help=match.group(3).strip(), group="options",
                              completes=completes))
    options.append(Option(flags=["-h"], metavar="", help="show this help and exit", group="options"))
    from qcm.cli import quectel_cm
    # The module's docstring says what the drop-in keeps and what it fixes, for users.
    description = " ".join((quectel_cm.__doc__ or "").split("\n\n", 1)[-1].replace("``", "").split())
    return Command(name="quectel-CM", summary="a drop-in for Quectel's QConnectManager, on qcm",
                   description=description, options=options, examples=examples,
                   synopsis="quectel-CM [-s [apn [user password auth]]] [-p pincode] [-f logfilename] "
                   "[-i interface] [-4] [-6] [-n pdn] [-k pdn] [-v] [-d] [-r]")


def commands() -> List[Command]:
    """Every command with a page of its own: qcm, each of its subcommands, quectel-CM."""
    qcm = qcm_command()
    return [qcm, *qcm.subcommands, quectel_cm_command()]


def version() -> str:
    import_qcm()
    from qcm import __version__
    return __version__


def exit_statuses() -> List[tuple]:
    """(status, meaning) from qcm's error classes: the list ``--help`` shows (qcm.cli.help)."""
    import_qcm()
    from qcm.cli.help import exit_statuses as statuses
    return [(status, meaning[:1].upper() + meaning[1:]) for status, meaning in statuses()]


def find(command: Command, name: str) -> Optional[Command]:
    if command.name == name:
        return command
    for sub in command.subcommands:
        hit = find(sub, name)
        if hit is not None:
            return hit
    return None
