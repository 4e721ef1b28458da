"""DNS installation: resolv.conf edited atomically and restored exactly; resolvconf used when present."""

import os
import stat

from qcm.connect.dns import apply_dns, undo_dns


def test_file_edit_and_exact_undo(tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search lan\nnameserver 192.0.2.53\n")
    os.chmod(resolv, 0o644)
    change = apply_dns("wwan0", ["198.51.100.53", "2001:db8:100::53"], "file", resolv)
    lines = resolv.read_text().splitlines()
    assert lines[:2] == ["nameserver 198.51.100.53 # qcm wwan0", "nameserver 2001:db8:100::53 # qcm wwan0"]
    assert lines[2:] == ["search lan", "nameserver 192.0.2.53"]
    assert stat.S_IMODE(resolv.stat().st_mode) == 0o644
    with resolv.open("a") as handle:  # someone else changes the file meanwhile
        handle.write("options edns0\n")
    undo_dns(change, "wwan0")
    assert resolv.read_text() == "search lan\nnameserver 192.0.2.53\noptions edns0\n"


def test_a_second_apply_replaces_our_lines(tmp_path):
    resolv = tmp_path / "resolv.conf"
    apply_dns("wwan0", ["198.51.100.53"], "file", resolv)
    change = apply_dns("wwan0", ["198.51.100.54"], "file", resolv)
    assert resolv.read_text() == "nameserver 198.51.100.54 # qcm wwan0\n"
    undo_dns(change, "wwan0")


def test_file_we_created_is_removed(tmp_path):
    resolv = tmp_path / "resolv.conf"
    change = apply_dns("wwan0", ["198.51.100.53"], "file", resolv)
    undo_dns(change, "wwan0")
    assert not resolv.exists()


def test_symlinked_resolv_conf_keeps_its_link(tmp_path):
    target = tmp_path / "real.conf"
    target.write_text("nameserver 192.0.2.53\n")
    link = tmp_path / "resolv.conf"
    link.symlink_to(target)
    change = apply_dns("wwan0", ["198.51.100.53"], "file", link)
    assert link.is_symlink() and "198.51.100.53" in target.read_text()
    undo_dns(change, "wwan0")
    assert target.read_text() == "nameserver 192.0.2.53\n"


def test_resolvconf_is_used_when_installed(tmp_path):
    log = tmp_path / "calls"
    program = tmp_path / "resolvconf"
    program.write_text("#!/bin/sh\necho \"$@\" >> %s\ncat >> %s\n" % (log, log))
    program.chmod(0o755)
    change = apply_dns("wwan0", ["198.51.100.53"], "auto", tmp_path / "unused", resolvconf=str(program))
    assert change.method == "resolvconf" and not (tmp_path / "unused").exists()
    undo_dns(change, "wwan0", resolvconf=str(program))
    assert log.read_text() == "-a wwan0.qcm\nnameserver 198.51.100.53\n-d wwan0.qcm\n"


def test_nothing_to_do(tmp_path):
    assert apply_dns("wwan0", [], "file", tmp_path / "r") is None
    assert apply_dns("wwan0", ["198.51.100.53"], "none", tmp_path / "r") is None


def test_a_resolv_conf_link_another_user_planted_is_not_written_through(tmp_path):
    import pytest

    from qcm.errors import PermissionProblem
    if os.geteuid() != 0:
        pytest.skip("planting another user's link needs root")
    victim = tmp_path / "shadow"
    victim.write_text("root:x:0:0\n")
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    planted = shared / "resolv.conf"
    planted.symlink_to(victim)
    os.chown(planted, 65534, 65534, follow_symlinks=False)
    with pytest.raises(PermissionProblem, match="refusing"):
        apply_dns("wwan0", ["198.51.100.53"], "file", planted)
    assert victim.read_text() == "root:x:0:0\n"


def fake_program(tmp_path, name):
    log = tmp_path / (name + ".log")
    program = tmp_path / name
    program.write_text("#!/bin/sh\necho \"$@\" >> %s\n" % log)
    program.chmod(0o755)
    return str(program), log


def test_systemd_resolved_gets_the_servers_on_the_link_and_its_stub_is_left_alone(tmp_path):
    stub = tmp_path / "resolv.conf"
    text = ("# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n"
            "nameserver 127.0.0.53\n")
    stub.write_text(text)
    resolvectl, log = fake_program(tmp_path, "resolvectl")
    resolvconf, _ = fake_program(tmp_path, "resolvconf")  # resolved's shim, which must not be used
    change = apply_dns("wwan0", ["198.51.100.53", "2001:db8:100::53"], "auto", stub, resolvconf=resolvconf,
                       resolvectl=resolvectl)
    assert change.method == "resolved" and stub.read_text() == text
    undo_dns(change, "wwan0", resolvectl=resolvectl)
    assert log.read_text() == ("dns wwan0 198.51.100.53 2001:db8:100::53\ndefault-route wwan0 yes\n"
                               "revert wwan0\n")


def test_a_dns_failure_costs_a_warning_not_the_link(tmp_path):
    from qcm.connect.host import Host, HostOptions
    host = Host("wwan0", None, HostOptions(dns="file", resolv_conf=tmp_path / "missing" / "resolv.conf"))
    host._sync_dns(["198.51.100.53"])  # the directory does not exist: nothing can be written
    assert host.dns_problem and host.applied.dns is None
    (tmp_path / "missing").mkdir()
    host._sync_dns(["198.51.100.53"])  # the next change tries again, and succeeds
    assert not host.dns_problem and host.applied.dns is not None
