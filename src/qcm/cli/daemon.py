"""``qcm daemon``: the connections of every configuration file (/etc/qcm/NAME.toml) in one process;
``qcm connect --all`` runs it for every module found, with the options it was given.

Each module gets its own connection (its own interface, supervision and teardown) in one event
loop, started when its module is there, whenever that is; ``RUN_DIR/daemon.sock`` answers ``qcm
status`` (all, or ``-i IFACE``) and ``qcm disconnect -i IFACE``. See ``qcm.connect.watcher`` for
which module each connection gets.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Dict, List

from ..errors import UsageError
from .connect import RUN_DIR
from .list import add_root_options
from .options import file_path, socket_directory

__all__ = ["configure", "run", "run_all"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", type=Path, metavar="DIR",
                        help="where the connections' NAME.toml files are (default /etc/qcm, or $QCM_CONFIG_DIR)")
    parser.add_argument("--metrics-file", type=file_path, metavar="FILE",
                        help="write every connection's Prometheus metrics to FILE (labelled module=NAME)")
    add_root_options(parser)
    parser.add_argument("--run-dir", type=socket_directory, default=str(RUN_DIR),
                        help="where the control socket (daemon.sock), locks and state live (default /run/qcm, or "
                        "$QCM_RUN_DIR)")
    parser.add_argument("--show-personal", action="store_true", help="show IMEI, PIN and passwords in logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every QMI message (decoded)")


def run(args: argparse.Namespace) -> int:
    from ..config import config_dir, load_all
    from ..connect.watcher import Wanted

    directory = args.config_dir or config_dir()
    configs = load_all(directory)
    if not configs:
        raise UsageError("no connection configured: no NAME.toml in %s" % directory,
                         "write one per connection (man qcm-connect, or the README's Configuration section), or "
                         "run qcm connect --all -s APN for every module")
    wanted = [Wanted(config.name, _options(config, args), config.match) for config in configs]
    _warn_shared(wanted)
    return serve(wanted, args)


def _options(config: Any, args: argparse.Namespace) -> Any:
    """A configuration as ConnectOptions, as qcm connect --config would read it (secrets from the file only:
    the daemon's environment is everybody's)."""
    from . import connect
    parser = argparse.ArgumentParser(prog="qcm connect")
    connect.configure(parser)
    parser.set_defaults(**connect.config_defaults(config))
    values = parser.parse_args([])
    if values.metrics_file is not None:
        log.warning("%s: metrics_file is for qcm connect; qcm daemon writes every connection's metrics to its "
                    "--metrics-file", config.path)
        values.metrics_file = None
    values.sysfs, values.dev, values.run_dir = args.sysfs, args.dev, args.run_dir
    values.show_personal = args.show_personal
    return connect.connect_options(values, environ={})


def _warn_shared(wanted: List[Any]) -> None:
    seen: Dict[Any, str] = {}
    for item in wanted:
        key = tuple(sorted(item.match.items()))
        if key and key in seen:
            log.warning("%s and %s name the same module (%s): only one of them gets it", seen[key], item.name,
                        ", ".join("%s %s" % kv for kv in key))
        seen.setdefault(key, item.name)


def run_all(args: argparse.Namespace) -> int:
    """``qcm connect --all``: every module, now and later, with the same options."""
    from ..connect.watcher import Wanted
    from .connect import connect_options

    chosen = [flag for flag, value in (("-i", args.interface), ("--control", args.control),
                                       ("--usb-path", args.usb_path), ("--imei", args.imei), ("--iccid", args.iccid),
                                       ("--once", args.once)) if value]
    if chosen:
        raise UsageError("--all connects every module; it does not go with %s" % ", ".join(chosen),
                         "write a configuration per module (/etc/qcm/NAME.toml) and run qcm daemon to tell them apart")
    template = connect_options(args)
    args.config_dir = None
    return serve([Wanted(None, template)], args)


def serve(wanted: List[Any], args: argparse.Namespace) -> int:
    import asyncio

    from ..connect.manager import Manager
    from ..connect.watcher import ModuleWatcher
    from ..io.notify import Notifier
    from .report import NamedReporter, TextReporter

    if args.verbose:
        logging.getLogger("qcm.io.qmi_port.trace").setLevel(logging.DEBUG)
        logging.getLogger().setLevel(logging.DEBUG)
    show = args.show_personal
    manager = Manager(None, TextReporter(show), Notifier.from_environment(), run_dir=args.run_dir,
                      metrics_file=args.metrics_file)
    watcher = ModuleWatcher(wanted, lambda name: NamedReporter(name, show), args.sysfs, args.dev)
    return asyncio.run(manager.run(watcher))
