"""contrib/udev/90-qcm.rules: its syntax, ModemManager kept away from every module of KNOWN_MODULES
(the USB device and its tty, usbmisc, net and wwan ports), and qcm@IFACE wanted on hotplug only
when /etc/qcm/IFACE.conf exists. Checked with a small evaluator of udev's rule language here, and,
where udevadm is installed, by udev itself (udevadm test on a fake sysfs, as root, in private
mount and network namespaces)."""

import fnmatch
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from qcm.discovery import PCI_VENDORS, KNOWN_MODULES

RULE = Path(__file__).resolve().parents[2] / "contrib" / "udev" / "90-qcm.rules"

MATCH_KEYS = {"ACTION", "DEVPATH", "KERNEL", "NAME", "SYMLINK", "SUBSYSTEM", "DRIVER", "ATTR", "SYSCTL",
              "KERNELS", "SUBSYSTEMS", "DRIVERS", "ATTRS", "TAGS", "ENV", "CONST", "TAG", "TEST", "PROGRAM",
              "RESULT"}
ASSIGN_KEYS = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG", "RUN",
               "LABEL", "GOTO", "IMPORT", "OPTIONS"}
TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')

Rule = List[Tuple[str, str, str, str]]  # (key, attribute, operator, value)


def parse(text: str) -> List[Tuple[int, Rule]]:
    """Rules by line number; raises AssertionError on anything udev would reject or ignore."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert "#" not in line.split('"')[-1], "line %d: udev has no comments after a rule" % number
        tokens: Rule = []
        position = 0
        while position < len(line):
            match = TOKEN.match(line, position)
            assert match, "line %d: cannot parse %r" % (number, line[position:])
            key, attribute, operator, value = match.group(1), match.group(2) or "", match.group(3), \
                match.group(4)
            if operator in ("==", "!="):
                assert key in MATCH_KEYS, "line %d: %s cannot be matched" % (number, key)
            else:
                assert key in ASSIGN_KEYS, "line %d: %s cannot be assigned" % (number, key)
            assert (attribute != "") == (key in ("ATTR", "ATTRS", "ENV", "TEST", "IMPORT", "SYSCTL")
                                         and not (key == "TEST" and not attribute)), \
                "line %d: %s{...} misused" % (number, key)
            tokens.append((key, attribute, operator, value))
            position = match.end()
            if match.group(5) == "":
                break
        rules.append((number, tokens))
    labels = [value for _, rule in rules for key, _, _, value in rule if key == "LABEL"]
    gotos = [value for _, rule in rules for key, _, _, value in rule if key == "GOTO"]
    assert len(labels) == len(set(labels)) and set(gotos) <= set(labels), (labels, gotos)
    return rules


@dataclass
class Device:
    subsystem: str
    name: str = ""
    devtype: str = ""
    attrs: Dict[str, str] = field(default_factory=dict)
    parent: Optional["Device"] = None

    def chain(self) -> List["Device"]:
        device: Optional[Device] = self
        out = []
        while device is not None:
            out.append(device)
            device = device.parent
        return out


def _matches(pattern: str, value: Optional[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in pattern.split("|"))


def evaluate(rules: List[Tuple[int, Rule]], device: Device, action: str, files: Set[str]) -> Dict[str, str]:
    """The properties the rules give this device (a subset of udev: what a rule file of ours uses)."""
    env: Dict[str, str] = {"DEVTYPE": device.devtype} if device.devtype else {}
    skip_to = None
    for _, rule in rules:
        if skip_to is not None:
            if any(key == "LABEL" and value == skip_to for key, _, _, value in rule):
                skip_to = None
            continue
        if not _rule_matches(rule, device, action, env, files):
            continue
        for key, attribute, operator, value in rule:
            value = value.replace("$name", device.name).replace("%k", device.name)
            if key == "ENV" and operator in ("=", ":="):
                env[attribute] = value
            elif key == "ENV" and operator == "+=":
                env[attribute] = (env.get(attribute, "") + " " + value).strip()
            elif key == "GOTO":
                skip_to = value
    return env


def _rule_matches(rule: Rule, device: Device, action: str, env: Dict[str, str], files: Set[str]) -> bool:
    parents = [t for t in rule if t[0] in ("ATTRS", "SUBSYSTEMS")]
    for key, attribute, operator, value in rule:
        if operator not in ("==", "!="):
            continue
        value = value.replace("$name", device.name).replace("%k", device.name)
        if key in ("ATTRS", "SUBSYSTEMS"):
            continue
        actual = {"ACTION": action, "SUBSYSTEM": device.subsystem, "KERNEL": device.name,
                  "ENV": env.get(attribute, ""), "ATTR": device.attrs.get(attribute)}.get(key)
        if key == "TEST":
            hit = value in files
        else:
            hit = _matches(value, actual)
        if hit != (operator == "=="):
            return False
    if parents:  # udev: every ATTRS/SUBSYSTEMS key must match on one and the same device of the chain
        return any(all(_matches(v, d.attrs.get(a) if k == "ATTRS" else d.subsystem) == (op == "==")
                       for k, a, op, v in parents) for d in device.chain())
    return True


def module(vendor: int, product: int) -> Dict[str, Device]:
    """A module as the kernel shows it: the USB device, an interface, and its ports."""
    usb = Device("usb", "1-1", "usb_device", {"idVendor": "%04x" % vendor, "idProduct": "%04x" % product})
    net_interface = Device("usb", "1-1:1.4", "usb_interface", parent=usb)
    serial = Device("usb-serial", "ttyUSB2", parent=Device("usb", "1-1:1.2", "usb_interface", parent=usb))
    return {"usb": usb, "net": Device("net", "wwan0", "wwan", parent=net_interface),
            "usbmisc": Device("usbmisc", "cdc-wdm0", parent=net_interface),
            "tty": Device("tty", "ttyUSB2", parent=serial),
            "wwan": Device("wwan", "wwan0qmi0", parent=net_interface)}


def rules() -> List[Tuple[int, Rule]]:
    return parse(RULE.read_text())


def test_rule_file_parses():
    assert len(rules()) > len(KNOWN_MODULES)


def test_every_known_module_is_kept_from_modemmanager():
    parsed = rules()
    for (vendor, product), (name, _) in KNOWN_MODULES.items():
        if vendor in PCI_VENDORS:
            continue  # a PCIe module's ports hang below a PCI function: its line is checked below
        for role, device in module(vendor, product).items():
            env = evaluate(parsed, device, "add", set())
            assert env.get("ID_MM_DEVICE_IGNORE") == "1", "%s (%04x:%04x) %s" % (name, vendor, product, role)
            assert "SYSTEMD_WANTS" not in env  # no /etc/qcm/wwan0.conf


def test_every_known_module_id_is_written_in_the_rule():
    text = RULE.read_text()
    for vendor, product in KNOWN_MODULES:
        if vendor in PCI_VENDORS:
            assert 'ATTRS{vendor}=="0x%04x", ATTRS{device}=="0x%04x"' % (vendor, product) in text
        else:
            assert 'ATTRS{idVendor}=="%04x", ATTRS{idProduct}=="%04x"' % (vendor, product) in text


def test_hotplug_starts_the_configured_interface_only():
    parsed = rules()
    devices = module(0x2C7C, 0x0125)
    env = evaluate(parsed, devices["net"], "add", {"/etc/qcm/wwan0.conf"})
    assert env["SYSTEMD_WANTS"] == "qcm@wwan0.service"
    assert "SYSTEMD_WANTS" not in evaluate(parsed, devices["net"], "add", {"/etc/qcm/wwan1.conf"})
    for role in ("usb", "tty", "usbmisc"):
        assert "SYSTEMD_WANTS" not in evaluate(parsed, devices[role], "add", {"/etc/qcm/wwan0.conf"})
    assert evaluate(parsed, devices["net"], "remove", {"/etc/qcm/wwan0.conf"}) == {"DEVTYPE": "wwan"}


def test_other_devices_are_left_alone():
    parsed = rules()
    # a USB Ethernet adapter, a Sierra module, an unknown Quectel product
    for vendor, product in ((0x0BDA, 0x8153), (0x1199, 0x9071), (0x2C7C, 0xFFFF)):
        for device in module(vendor, product).values():
            env = evaluate(parsed, device, "add", {"/etc/qcm/wwan0.conf"})
            assert "ID_MM_DEVICE_IGNORE" not in env and "SYSTEMD_WANTS" not in env


def test_the_evaluator_catches_a_module_left_out(tmp_path):
    text = RULE.read_text().replace('ATTRS{idProduct}=="0125"', 'ATTRS{idProduct}=="0999"')
    env = evaluate(parse(text), module(0x2C7C, 0x0125)["tty"], "add", set())
    assert "ID_MM_DEVICE_IGNORE" not in env


def test_the_parser_rejects_what_udev_would():
    for bad in ('SUBSYSTEM="net"  ', 'ENV{X}=="1", GOTO="nowhere"', 'ATTRS{idVendor}=="2c7c"  # comment',
                'SUBSYSTEM=="net" ENV{X}="1"', 'RUN=="x"'):
        with pytest.raises(AssertionError):
            parse(bad + "\n")


# ---------------------------------------------------------------- udev itself

def udevadm() -> str:
    return os.environ.get("QCM_TEST_UDEVADM") or shutil.which("udevadm") or ""


FAKE_SYSFS = r'''
import os, sys
from pathlib import Path
root, vendor, product = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
def link(path, target):
    os.symlink(os.path.relpath(target, path.parent), path)
def device(path, subsystem, uevent, **attrs):
    path.mkdir(parents=True)
    (path / "uevent").write_text("".join("%s=%s\n" % kv for kv in uevent.items()))
    link(path / "subsystem", root / subsystem)
    for key, value in attrs.items():
        (path / key).write_text(value + "\n")
for d in ("bus/usb", "bus/usb-serial", "class/net", "class/tty", "class/usbmisc"):
    (root / d).mkdir(parents=True)
usb = root / "devices/pci0000:00/0000:00:14.0/usb1/1-1"
device(usb, "bus/usb", {"DEVTYPE": "usb_device", "MAJOR": "189", "MINOR": "1", "DEVNAME": "bus/usb/001/002"},
       idVendor=vendor, idProduct=product)
device(usb / "1-1:1.4", "bus/usb", {"DEVTYPE": "usb_interface"}, bInterfaceNumber="04")
device(usb / "1-1:1.4/net/wwan0", "class/net", {"INTERFACE": "wwan0", "IFINDEX": "42", "DEVTYPE": "wwan"},
       ifindex="42")
device(usb / "1-1:1.4/usbmisc/cdc-wdm0", "class/usbmisc",
       {"MAJOR": "180", "MINOR": "176", "DEVNAME": "cdc-wdm0"})
device(usb / "1-1:1.2", "bus/usb", {"DEVTYPE": "usb_interface"}, bInterfaceNumber="02")
device(usb / "1-1:1.2/ttyUSB2", "bus/usb-serial", {})
device(usb / "1-1:1.2/ttyUSB2/tty/ttyUSB2", "class/tty", {"MAJOR": "188", "MINOR": "2", "DEVNAME": "ttyUSB2"})
'''

# In private mount and network namespaces: the fake tree at /sys, a fresh /run (udevadm test writes
# its database there), /etc as an overlay holding only our rule (and /etc/qcm/wwan0.conf if asked),
# the distribution's rule directories empty, so that only our rule runs.
IN_NAMESPACE = r'''
set -e
mount --bind "$1/sys" /sys
mount -t tmpfs tmpfs /run
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
for d in /etc/udev/rules.d /usr/lib/udev/rules.d /lib/udev/rules.d; do
    if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
mkdir -p /etc/udev/rules.d /etc/qcm
cp "$2" /etc/udev/rules.d/90-qcm.rules
if [ "$4" = configured ]; then : > /etc/qcm/wwan0.conf; fi
SYSTEMD_DEVICE_VERIFY_SYSFS=0 "$5" test --action=add "$3"
'''


def udev_properties(tmp_path: Path, vendor: str, product: str, device: str,
                    configured: bool) -> Dict[str, str]:
    work = tmp_path / ("%s-%s-%s-%s" % (vendor, product, device.replace("/", "_"), configured))
    (work / "upper").mkdir(parents=True)
    (work / "work").mkdir()
    subprocess.run(["python3", "-c", FAKE_SYSFS, str(work / "sys"), vendor, product], check=True, timeout=30)
    syspath = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1" + device
    result = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private",
                             "sh", "-c", IN_NAMESPACE, "sh", str(work), str(RULE), syspath,
                             "configured" if configured else "", udevadm()],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "90-qcm.rules" in result.stdout + result.stderr  # the rule was read
    assert not re.search(r"90-qcm.rules:\d+", result.stdout + result.stderr), result.stderr  # no complaint
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if re.match(r"^[A-Z_]+=", line))


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and mounts need root")
@pytest.mark.skipif(not udevadm(), reason="udevadm is not installed (Debian package udev)")
def test_udev_itself_applies_the_rule(tmp_path):
    ports = ["", "/1-1:1.4/net/wwan0", "/1-1:1.4/usbmisc/cdc-wdm0", "/1-1:1.2/ttyUSB2/tty/ttyUSB2"]
    for path in ports:
        properties = udev_properties(tmp_path, "2c7c", "0125", path, configured=False)
        assert properties.get("ID_MM_DEVICE_IGNORE") == "1", (path, properties)
        assert "SYSTEMD_WANTS" not in properties
    hotplug = udev_properties(tmp_path, "2c7c", "0125", "/1-1:1.4/net/wwan0", configured=True)
    assert hotplug.get("SYSTEMD_WANTS") == "qcm@wwan0.service", hotplug
    stranger = udev_properties(tmp_path, "0bda", "8153", "/1-1:1.4/net/wwan0", configured=True)
    assert "ID_MM_DEVICE_IGNORE" not in stranger and "SYSTEMD_WANTS" not in stranger, stranger
