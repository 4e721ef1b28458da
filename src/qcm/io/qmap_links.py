"""QMAP mux links on the host: one network interface per mux id, made the way the driver offers it.

Three kernels' ways, chosen from the module's driver and sysfs (``links_for``):

* **upstream qmi_wwan** (Linux 4.19+): writing a mux id to ``/sys/class/net/wwan0/qmi/add_mux``
  creates ``qmimuxN`` (named in creation order, not by mux id); ``del_mux`` removes it. Newer
  kernels show each link's id in ``qmimuxN/qmap/mux_id``; the links are the parent's
  ``upper_*`` entries. Its demuxer reads QMAP v1 only (no v5 headers), so QMAP v1 is asked for.
* **Quectel's qmi_wwan_q**: the driver makes its links itself from its ``qmap_mode`` parameter,
  ``wwan0_1`` .. ``wwan0_N`` with mux ids 0x81..; with ``qmap_mode=1`` QMAP mux 0x81 rides on
  ``wwan0`` itself. Nothing to create: a mux id without a link is an error naming the parameter.
* **rmnet** over rtnetlink (``ip link add link wwan0 name qmapmux0.1 type rmnet mux_id 129``), on
  a parent in raw-IP pass-through mode (qmi_wwan's ``qmi/pass_through``) or on mhi_net's link;
  QMAPv5 with checksum offload where the module offers it, else QMAP v1.

Only sysfs files and rtnetlink; the decisions (which mux, which version) are the QMI backend's.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

from ..errors import ModemError, NetConfigError, PermissionProblem
from ..netlink import rtnl
from .netlink import Netlink, NetlinkError

__all__ = ["MuxLinks", "QmiWwanLinks", "QuectelLinks", "RmnetLinks", "links_for"]

APPEAR_TIMEOUT = 3.0       # a new qmimux link shows in sysfs at once in the kernel; give slower setups time
POLL = 0.002           # a new link shows at once in the kernel: look often


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, text: str, what: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except PermissionError:
        raise PermissionProblem("cannot write %s: permission denied" % path, "run qcm as root") from None
    except OSError as exc:
        raise NetConfigError("%s: writing %r to %s failed: %s" % (what, text.strip(), path, exc.strerror)) from None


class MuxLinks:
    """The links of one parent interface, by QMAP mux id."""

    kind = ""
    versions: Tuple[str, ...] = ("qmap",)  # WDA aggregation protocols to offer, best first
    needs_pass_through = False            # the parent must hand QMAP frames up whole (rmnet on qmi_wwan)
    removable = True                      # links are ours to remove (not qmi_wwan_q's own)

    def __init__(self, sysfs: Path, parent: str) -> None:
        self.sysfs = sysfs
        self.parent = parent

    @property
    def parent_dir(self) -> Path:
        return self.sysfs / "class" / "net" / self.parent

    def links(self) -> Dict[int, str]:
        raise NotImplementedError

    async def ensure(self, mux_id: int, version: str = "qmap") -> str:
        """The interface of ``mux_id``, made if it does not exist yet."""
        raise NotImplementedError

    def remove(self, mux_id: int) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


class QmiWwanLinks(MuxLinks):
    kind = "qmi_wwan"

    def links(self) -> Dict[int, str]:
        found: Dict[int, str] = {}
        try:
            entries = sorted(os.listdir(self.parent_dir))
        except OSError:
            return found
        for entry in entries:
            if not entry.startswith("upper_"):
                continue
            name = entry[len("upper_"):]
            text = _read(self.sysfs / "class" / "net" / name / "qmap" / "mux_id")
            try:
                found[int(text, 0)] = name
            except ValueError:
                continue  # a kernel without qmap/mux_id: see ensure()
        return found

    def _uppers(self) -> set:
        try:
            return {e[len("upper_"):] for e in os.listdir(self.parent_dir) if e.startswith("upper_")}
        except OSError:
            return set()

    async def ensure(self, mux_id: int, version: str = "qmap") -> str:
        existing = self.links().get(mux_id)
        if existing:
            return existing
        before = self._uppers()
        _write(self.parent_dir / "qmi" / "add_mux", "0x%02x\n" % mux_id, "a QMAP link for mux id 0x%02x" % mux_id)
        deadline = asyncio.get_running_loop().time() + APPEAR_TIMEOUT
        while True:
            name = self.links().get(mux_id)
            if name is None:  # kernels before qmap/mux_id: the link that appeared is the new one (libqmi's way)
                new = sorted(self._uppers() - before)
                name = new[0] if len(new) == 1 and not _read(
                    self.sysfs / "class" / "net" / new[0] / "qmap" / "mux_id") else None
            if name is not None and (self.sysfs / "class" / "net" / name).exists():
                return name
            if asyncio.get_running_loop().time() > deadline:
                raise NetConfigError("no network interface appeared for QMAP mux id 0x%02x after writing %s"
                                     % (mux_id, self.parent_dir / "qmi" / "add_mux"))
            await asyncio.sleep(POLL)

    def remove(self, mux_id: int) -> None:
        if mux_id not in self.links():
            return
        _write(self.parent_dir / "qmi" / "del_mux", "0x%02x\n" % mux_id, "removing QMAP mux id 0x%02x" % mux_id)
        deadline = time.monotonic() + APPEAR_TIMEOUT  # the kernel removes it at once; slower setups get time
        while mux_id in self.links() and time.monotonic() < deadline:
            time.sleep(POLL)


class QuectelLinks(MuxLinks):
    """qmi_wwan_q: the driver's own links. It frames QMAP itself, in the version its rmnet_info
    ioctl reports to quectel-CM (5 on SDX55 and later); that ioctl is not read here, so QMAP v1,
    which every Quectel module takes, is asked for (quectel-CM's own fallback)."""

    kind = "qmi_wwan_q"
    removable = False

    @property
    def qmap_mode(self) -> int:
        for path in (self.parent_dir / "qmap_mode", self.sysfs / "module" / "qmi_wwan_q" / "parameters" / "qmap_mode"):
            text = _read(path)
            if text.isdigit():
                return int(text)
        return 0

    def links(self) -> Dict[int, str]:
        mode = self.qmap_mode
        if mode == 1:
            return {0x81: self.parent}
        return {0x80 + n: "%s_%d" % (self.parent, n) for n in range(1, mode + 1)
                if (self.sysfs / "class" / "net" / ("%s_%d" % (self.parent, n))).exists()}

    async def ensure(self, mux_id: int, version: str = "qmap") -> str:
        name = self.links().get(mux_id)
        if name is None:
            mode = self.qmap_mode
            raise ModemError("qmi_wwan_q (qmap_mode=%d) has no link for QMAP mux id 0x%02x" % (mode, mux_id),
                             "load it with enough links: modprobe -r qmi_wwan_q; modprobe qmi_wwan_q qmap_mode=%d"
                             % max(2, mux_id - 0x80))
        return name

    def remove(self, mux_id: int) -> None:
        return  # the driver's links stay with the driver


class RmnetLinks(MuxLinks):
    kind = "rmnet"
    versions = ("qmapv5", "qmap")
    needs_pass_through = True

    def name_for(self, mux_id: int) -> str:
        digits = re.sub(r"\D", "", self.parent) or "0"
        return ("qmapmux%s.%d" % (digits, mux_id - 0x80 if mux_id > 0x80 else mux_id))[:15]

    def links(self) -> Dict[int, str]:
        try:
            with Netlink() as nl:
                names = {link.name for link in nl.links()}
        except OSError:
            return {}
        return {mux: self.name_for(mux) for mux in range(1, 255) if self.name_for(mux) in names}

    async def ensure(self, mux_id: int, version: str = "qmap") -> str:
        name = self.name_for(mux_id)
        flags = rtnl.RMNET_INGRESS_DEAGGREGATION
        if version == "qmapv5":
            flags |= rtnl.RMNET_INGRESS_MAP_CKSUMV5 | rtnl.RMNET_EGRESS_MAP_CKSUMV5
        try:
            with Netlink() as nl:
                if nl.link(name) is not None:
                    return name
                parent = nl.link(self.parent)
                if parent is None:
                    raise NetConfigError("network interface %s does not exist" % self.parent)
                nl.add_rmnet(parent.index, name, mux_id, flags)
        except NetlinkError as exc:
            hint = "this kernel has no rmnet (CONFIG_RMNET)" if exc.errno == errno.EOPNOTSUPP else ""
            raise NetConfigError("cannot create the rmnet link %s for mux id 0x%02x: %s" % (
                name, mux_id, exc.text or exc.strerror), hint) from None
        except PermissionError:
            raise PermissionProblem("creating network interfaces needs root (CAP_NET_ADMIN)", "run qcm with sudo") \
                from None
        return name

    def remove(self, mux_id: int) -> None:
        try:
            with Netlink() as nl:
                link = nl.link(self.name_for(mux_id))
                if link is not None:
                    nl.delete_link(link.index)
        except NetlinkError as exc:
            raise NetConfigError("cannot remove %s: %s" % (self.name_for(mux_id), exc.text or exc.strerror)) from None


def links_for(sysfs: Path, parent: str, driver: str) -> MuxLinks:
    """How this module's QMAP links are made: its driver's way, else rmnet."""
    if driver == "qmi_wwan_q":
        return QuectelLinks(sysfs, parent)
    if (sysfs / "class" / "net" / parent / "qmi" / "add_mux").exists():
        return QmiWwanLinks(sysfs, parent)
    return RmnetLinks(sysfs, parent)


def pass_through_path(sysfs: Path, parent: str) -> Optional[Path]:
    path = sysfs / "class" / "net" / parent / "qmi" / "pass_through"
    return path if path.exists() else None
