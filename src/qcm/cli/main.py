"""The ``qcm`` command line: one parser, one module per subcommand.

Every subcommand module has ``configure(parser)`` and ``run(args) -> int``; modules import
what they need inside ``run`` so that quick commands start quickly. Errors a user can act on
(``QcmError``) print one line and exit with their own status; a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, List, Optional, Sequence

from .. import __version__
from ..errors import EXIT_BUG, EXIT_INTERRUPTED, NoModemError, QcmError
from ..log import journal_stream, priority_prefix, setup_output
from ..printable import printable
from .help import HelpFormatter, epilog

PROGRESS_COMMANDS = ("connect", "disconnect", "sim", "daemon")

# (name, module, one-line help)
COMMANDS = [
    ("list", "list", "list the cellular modules present (ports, driver, mode)"),
    ("connect", "connect", "dial and configure the interface, then hold the connection"),
    ("disconnect", "disconnect", "end a connection made by qcm connect"),
    ("status", "status", "show the state of a running connection"),
    ("at", "at", "send AT commands to the module's AT port"),
    ("doctor", "doctor", "find out what is wrong with the module, and how to fix it"),
    ("usbnet", "usbnet", "show or switch the module's USB network mode (QMI, ECM, MBIM, RNDIS)"),
    ("decode", "decode", "decode QMI frames given as hex (from a log, qmicli -v, quectel-CM -v)"),
    ("sim", "sim", "run the simulated modem (pty control port, fake sysfs)"),
    ("daemon", "daemon", "connect every configured module (/etc/qcm/*.toml) in one process"),
]


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The whole command line (help, man pages, completion), or with ``only`` the one command that runs:
    each command's module and options are set up when that command is run, not for every command."""
    parser = argparse.ArgumentParser(prog="qcm", description="Connection manager for Qualcomm-based cellular modules.",
                                     epilog=epilog("qcm"), formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version="qcm " + __version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        if only is not None and name != only:
            continue
        module = importlib.import_module("qcm.cli." + module_name)
        command = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog("qcm " + name),
                                 formatter_class=HelpFormatter)
        module.configure(command)
        # Global options are also taken after the command (qcm status --debug); SUPPRESS leaves the value
        # given before it, or the default, alone when it is not given here.
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks and debug logging (also before the command)")
        command.set_defaults(module=module, subparser=command)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    words = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser(command_named(words))
    args = parser.parse_args(words)
    if not getattr(args, "module", None):
        parser.print_help()
        return 2
    # Commands that report progress log on stdout, between their progress lines; commands whose
    # stdout is data (JSON, decoded frames, AT answers) log on stderr.
    setup_output(sys.stdout if args.command in PROGRESS_COMMANDS else sys.stderr, args.debug)
    return run_guarded(lambda: _run(parser, words, args), args.debug)


def command_named(words: Sequence[str]) -> Optional[str]:
    """The command the words run, when it is certain (only options without values come before it); else None,
    and the whole parser is built, which knows what to say about a missing or misspelt command."""
    for word in words:
        if word in ("--debug",):
            continue
        return word if word in _NAMES else None
    return None


_NAMES = frozenset(name for name, _, _ in COMMANDS)


def _run(parser: argparse.ArgumentParser, words: List[str], args: argparse.Namespace) -> Optional[int]:
    """A command whose defaults come from a file (qcm connect --config NAME) gets them first; the command line
    is then parsed again on top of them, so that what it says wins."""
    defaults = getattr(args.module, "defaults", None)
    extra = defaults(args) if defaults is not None else None
    if extra:
        args.subparser.set_defaults(**extra)
        args = parser.parse_args(words)
    try:
        return args.module.run(args)
    except NoModemError as exc:
        if str(exc).startswith("no cellular module found") and "QCM_SYSFS" not in exc.hint:
            from .list import environment_roots, where_to_look
            where = where_to_look(getattr(args, "sysfs", None) or environment_roots()["sysfs"])
            exc.hint = "%s; %s" % (exc.hint, where) if exc.hint else where
        raise


def run_guarded(job: Callable[[], Optional[int]], debug: bool = False, prog: str = "qcm") -> int:
    """Run ``job``; turn known errors into one line (and a hint) on stderr and an exit status."""
    try:
        return int(job() or 0)
    except QcmError as exc:
        say(prog, str(exc), logging.ERROR)
        if exc.hint:
            say(prog, "hint: %s" % exc.hint, logging.ERROR)
        if debug:
            raise
        return exc.exit_status
    except KeyboardInterrupt:
        say(prog, "interrupted", logging.WARNING)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, details with --debug
        if debug:
            raise
        say(prog, "internal error: %s: %s (run with --debug for details, and please report it)"
            % (type(exc).__name__, exc), logging.CRITICAL)
        return EXIT_BUG


def say(prog: str, text: str, level: int) -> None:
    """The command's last word: ``qcm: text`` on stderr (with its priority under systemd)."""
    prefix = priority_prefix(level) if journal_stream(sys.stderr) else ""
    try:
        sys.stderr.write("%s%s: %s\n" % (prefix, prog, printable(text)))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nowhere left to say it

