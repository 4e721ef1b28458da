"""Hearing devices come and go, so that whoever waits for a module looks again at once instead of
on a timer.

Two sources wake a waiter (what it then finds is decided by discovery, never by the event):

* kernel uevents: a NETLINK_KOBJECT_UEVENT socket bound to group 1 (the kernel's group). This is
  how a real machine learns of a USB or PCIe module, its interfaces, its cdc-wdm or WWAN port and
  its network link (real sysfs makes no inotify events). The kernel sends device uevents to the
  network namespaces of the initial user namespace, and a network link's own uevents only to the
  link's namespace. Root can also send to group 1: the simulator announces its fake devices this
  way inside the test lab's private namespace (see UeventAnnouncer).
* inotify on the directories where the nodes appear: /dev (devtmpfs creates cdc-wdm0, wwan0qmi0,
  ttyUSB2 as the driver registers them) and, under a fake sysfs (QCM_SYSFS, the simulator's tree),
  the class and bus directories its links appear in. A directory that does not exist yet (or that
  went, as the simulator's /dev does on a reset) is watched through its nearest existing parent.

Either source may fail (no netlink in a sandbox, inotify limits): the waiter then still has its
poll, at a longer interval, as the safety net.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from ..uevent import concerns_modems, is_port_name, parse
from .inotify import (IN_ATTRIB, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO,
                      IN_ONLYDIR, IN_Q_OVERFLOW, Inotify)

__all__ = ["HotplugWatch", "UeventAnnouncer", "NETLINK_KOBJECT_UEVENT", "KERNEL_GROUP"]

log = logging.getLogger(__name__)

NETLINK_KOBJECT_UEVENT = 15
KERNEL_GROUP = 1               # group 2 is udev's re-broadcast (libudev format)
NAMED_NETNS = "/run/netns"     # where ip netns add keeps its namespaces
_RECEIVE_BUFFER = 1 << 20      # a module re-enumerating sends a few dozen uevents at once

_DIRECTORY_EVENTS = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF
_SYSFS_DIRECTORIES = ("bus/usb/devices", "bus/pci/devices", "class/net", "class/wwan", "class/usbmisc", "class/tty")


class HotplugWatch:
    """Wakes ``wait`` at the first device event that may concern a module: use as a context manager,
    and arm it *before* looking, so that nothing that happens while looking is missed."""

    def __init__(self, sysfs: Path = Path("/sys"), dev: Path = Path("/dev")) -> None:
        self.dev = Path(dev)
        # Real sysfs makes no inotify events: only a fake tree (the simulator's) is watched.
        self.sysfs_directories = [] if Path(sysfs) == Path("/sys") else [Path(sysfs) / d for d in _SYSFS_DIRECTORIES]
        self.woken = 0                       # events that woke a waiter (for tests and logs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._event: Optional[asyncio.Event] = None
        self._uevents: Optional[socket.socket] = None
        self._inotify: Optional[Inotify] = None
        self._watched: Dict[int, Path] = {}  # watch descriptor -> the directory it watches

    # ------------------------------------------------------------------ set-up

    def __enter__(self) -> "HotplugWatch":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Start listening (inside the running event loop)."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        try:
            self._uevents = _uevent_socket()
            self._loop.add_reader(self._uevents.fileno(), self._read_uevents)
        except OSError as exc:
            log.debug("no kernel uevents (%s): waiting on inotify and the poll", exc)
            self._uevents = None
        try:
            self._inotify = Inotify()
            self._arm()
            self._loop.add_reader(self._inotify.fd, self._read_inotify)
        except OSError as exc:
            log.debug("no inotify (%s): waiting on uevents and the poll", exc)
            self._close_inotify()

    def close(self) -> None:
        if self._uevents is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._uevents.fileno())
            self._uevents.close()
            self._uevents = None
        self._close_inotify()

    def _close_inotify(self) -> None:
        if self._inotify is not None:
            if self._loop is not None and self._inotify.fd >= 0:
                self._loop.remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
        self._watched.clear()

    # ------------------------------------------------------------------ waiting

    async def wait(self, timeout: float) -> bool:
        """True as soon as a relevant event came since the last wake (maybe before this call), False
        after ``timeout`` seconds without one."""
        assert self._event is not None, "open() first"
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._event.clear()

    def _wake(self, why: str) -> None:
        assert self._event is not None
        if not self._event.is_set():
            self.woken += 1
            log.debug("device event: %s", why)
        self._event.set()

    # ------------------------------------------------------------------ kernel uevents

    def _read_uevents(self) -> None:
        assert self._uevents is not None
        for _ in range(256):  # a burst: read what is there, leave the rest for the next turn of the loop
            try:
                data = self._uevents.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # the socket overflowed: events were lost, so look again
                    self._wake("uevents lost")
                    continue
                log.debug("uevent socket: %s", exc)
                return
            event = parse(data)
            if event is not None and concerns_modems(event):
                self._wake("%s %s" % (event.action, event.devpath))

    # ------------------------------------------------------------------ inotify

    def _targets(self) -> List[Path]:
        return [self.dev] + self.sysfs_directories

    def _arm(self) -> None:
        """Watch each target directory, or its nearest existing parent while it does not exist."""
        assert self._inotify is not None
        for target in self._targets():
            directory = target
            while not directory.is_dir() and directory != directory.parent:
                directory = directory.parent
            try:
                wd = self._inotify.add(str(directory), _DIRECTORY_EVENTS | IN_ONLYDIR)
            except OSError as exc:
                log.debug("cannot watch %s: %s", directory, exc)
                continue
            self._watched[wd] = directory

    def _read_inotify(self) -> None:
        assert self._inotify is not None
        events = self._inotify.read_named()
        rearm = False
        why: Optional[str] = None
        for wd, mask, name in events:
            if mask & IN_Q_OVERFLOW:
                why, rearm = "inotify queue overflowed", True
                continue
            directory = self._watched.get(wd)
            if directory is None:
                continue
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                rearm = True  # the directory went (the simulator's /dev on a reset): watch its parent
                continue
            if self._matters(directory, name):
                why = why or "%s/%s" % (directory, name)
                rearm = rearm or directory not in self._targets()  # a parent: the target may exist now
        if rearm:
            self._rearm()
        if why is not None:
            self._wake(why)

    def _matters(self, directory: Path, name: str) -> bool:
        """An entry appeared, went or changed in a watched directory: a port in /dev, anything in a
        sysfs directory, or the next step on the way to a target that did not exist."""
        if directory == self.dev:
            return is_port_name(name)
        if directory in self.sysfs_directories:
            return True
        step = directory / name
        return any(target == step or step in target.parents for target in self._targets())

    def _rearm(self) -> None:
        assert self._inotify is not None
        stale: Set[int] = set(self._watched)
        self._watched.clear()
        self._arm()
        for wd in stale - set(self._watched):
            try:  # a watch no longer needed (the target exists again); gone ones were removed already
                _remove_watch(self._inotify, wd)
            except OSError:
                pass


def _remove_watch(inotify: Inotify, wd: int) -> None:
    from .inotify import _c
    _c().inotify_rm_watch(inotify.fd, wd)


def _uevent_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                         NETLINK_KOBJECT_UEVENT)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        except OSError:
            pass
        sock.bind((0, KERNEL_GROUP))
    except OSError:
        sock.close()
        raise
    return sock


class UeventAnnouncer:
    """Test lab only: sends uevents to the kernel's group as the kernel would, for the simulator's fake
    devices. Only inside a private network namespace: a real udev (in the host's namespace) must never
    hear about devices that do not exist. Sending needs CAP_NET_ADMIN; without it, nothing is sent and
    waiters still see the fake /dev change through inotify."""

    def __init__(self) -> None:
        self._sock: Optional[socket.socket] = None
        self.enabled = _in_private_netns()
        if not self.enabled:
            log.debug("uevents not announced: not in a private network namespace")

    def announce(self, events: List[Tuple[str, bytes]]) -> int:
        """Send each (devpath, datagram); the number sent."""
        if not self.enabled:
            return 0
        sent = 0
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                                           NETLINK_KOBJECT_UEVENT)
            for _devpath, datagram in events:
                self._sock.sendto(datagram, (0, KERNEL_GROUP))
                sent += 1
        except OSError as exc:
            log.warning("cannot announce device events (%s): waiters rely on inotify", exc)
            self.enabled = False
        return sent

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _in_private_netns() -> bool:
    """Whether this process's network namespace is certainly not the machine's own: one made by
    ``ip netns add`` (the test lab's and the benchmarks'), or, where PID 1's can be read, a different one
    from PID 1's in the initial PID namespace. When unsure: no."""
    try:
        ours = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False
    try:
        if any(os.stat(os.path.join(NAMED_NETNS, name)).st_ino == ours for name in os.listdir(NAMED_NETNS)):
            return True
    except OSError:
        pass
    try:
        with open("/proc/self/status") as status:  # NSpid with one value: we are in the initial PID namespace
            nspid = next((line.split()[1:] for line in status if line.startswith("NSpid:")), [])
        return len(nspid) == 1 and os.stat("/proc/1/ns/net").st_ino != ours
    except OSError:  # PID 1's namespaces are hidden (a sandbox without ptrace rights)
        return False
