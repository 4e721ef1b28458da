"""Configuration files (/etc/qcm/NAME.toml): every key checked as the command line checks it, unknown keys
refused with the known ones, secrets only from a file no other user can read, [[pdn]] tables, and the
one table of keys the README documents."""

import os
import re
from pathlib import Path

import pytest

from qcm import config
from qcm.cli import connect
from qcm.errors import PermissionProblem, QcmError, UsageError

ROOT = Path(__file__).resolve().parents[2]


def write(directory: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = directory / ("%s.toml" % name)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_a_full_file_becomes_qcm_connect_options(tmp_path):
    write(tmp_path, "lte", '''
        interface = "wwan1"
        iccid = "89302720401234567890"
        apn = "internet.example"
        auth = "chap"
        user = "carl"
        password = "two words"
        pin = "0123"
        ip = "ipv4v6"
        profile = 3
        route_metric = 900
        default_route = false
        dns = "none"
        probes = ["ping:198.51.100.1"]
        probe_interval = 5.5
        poll_interval = 30
        inhibit_modemmanager = true
    ''')
    loaded = config.load("lte", tmp_path)
    assert loaded.name == "lte" and loaded.iccid == "89302720401234567890"
    assert loaded.match == {"interface": "wwan1", "iccid": "89302720401234567890"}
    assert loaded.secrets == {"user": "carl", "password": "two words", "pin": "0123"}
    options = loaded.options
    assert options["apn"] == ["internet.example"] and options["auth"] == "chap" and options["profile"] == 3
    assert options["ipv4"] and options["ipv6"] and options["metric"] == 900 and options["no_default_route"]
    assert options["probe"] == ["ping:198.51.100.1"] and options["probe_interval"] == 5.5
    assert options["inhibit_modemmanager"] is True


def test_unknown_keys_are_refused_with_the_known_ones(tmp_path):
    write(tmp_path, "typo", 'apn = "internet"\nroute_metrik = 5\n')
    with pytest.raises(UsageError) as refused:
        config.load("typo", tmp_path)
    text = str(refused.value)
    assert "unknown key 'route_metrik'" in text and "route_metric" in text and "apn" in text
    write(tmp_path, "typo2", '[[pdn]]\nprofile = 2\naapn = "ims"\n')
    with pytest.raises(UsageError) as refused:
        config.load("typo2", tmp_path)
    assert "[[pdn]] 1: unknown key 'aapn'" in str(refused.value)


@pytest.mark.parametrize("text,words", [
    ('profile = 0', "profile"), ('profile = "x"', "profile"), ('profile = true', "must be a number"),
    ('apn = 5', "must be a string"), ('apn = "%s"' % ("a" * 101), "100 bytes"), ('ip = "ipv5"', "ipv4, ipv6"),
    ('pin = "12a4"', "4 to 8 digits"), ('pin = 1234', "must be a string"), ('interface = "wwan0/x"', "'/'"),
    ('imei = "123"', "IMEI"), ('iccid = "12"', "ICCID"), ('usb_path = "usb1"', "USB path"),
    ('probes = ["ping:nowhere"]', "ping:ADDRESS"), ('probes = "ping:192.0.2.1"', "list"),
    ('poll_interval = 0', "seconds"), ('poll_interval = nan', "seconds"), ('keep_profile = "yes"', "true or false"),
    ('dns = "bind"', "auto, resolved"), ('apn = "a\\u0007b"', "control characters"), ('apn = ', "not valid TOML"),
    ('[[pdn]]\napn = "ims"', "profile is required"), ('profile = 2\n[[pdn]]\nprofile = 2', "profile of its own"),
    ('[[pdn]]\nprofile = 2\nroutes = ["10.0.0.0/33"]', "not a network"),
])
def test_wrong_values_end_with_one_line_naming_the_key(tmp_path, text, words):
    write(tmp_path, "bad", text + "\n")
    with pytest.raises(UsageError) as refused:
        config.load("bad", tmp_path)
    assert words in str(refused.value) and refused.value.exit_status == 2


def test_secrets_only_from_a_file_others_cannot_read(tmp_path):
    write(tmp_path, "open", 'apn = "internet"\npassword = "hunter2"\n', mode=0o644)
    with pytest.raises(PermissionProblem) as refused:
        config.load("open", tmp_path)
    assert refused.value.exit_status == 10 and "chmod 600" in refused.value.hint
    assert "hunter2" not in str(refused.value)
    write(tmp_path, "public", 'apn = "internet"\n', mode=0o644)  # no secret in it: readable is fine
    assert config.load("public", tmp_path).options["apn"] == ["internet"]
    write(tmp_path, "writable", 'apn = "internet"\n', mode=0o666)  # but nobody else may change it
    with pytest.raises(PermissionProblem):
        config.load("writable", tmp_path)
    (tmp_path / "link.toml").symlink_to(tmp_path / "public.toml")
    with pytest.raises(PermissionProblem) as refused:
        config.load("link", tmp_path)
    assert "symbolic link" in str(refused.value)


def test_names_and_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("QCM_CONFIG_DIR", str(tmp_path))
    assert config.config_path("wwan0") == tmp_path / "wwan0.toml"
    assert config.config_path("/etc/other/x.toml") == Path("/etc/other/x.toml")
    with pytest.raises(UsageError):
        config.config_path("..")
    with pytest.raises(UsageError) as missing:
        config.load("absent")
    assert "no configuration" in str(missing.value) and missing.value.exit_status == 2
    write(tmp_path, "b", 'apn = "b"\n')
    write(tmp_path, "a", 'apn = "a"\n')
    (tmp_path / "notes.txt").write_text("not a configuration")
    assert [c.name for c in config.load_all()] == ["a", "b"]


def test_extra_pdns_are_checked_and_mapped_onto_the_dial_plan(tmp_path):
    write(tmp_path, "two", '''
        apn = "internet"
        [[pdn]]
        profile = 2
        apn = "ims"
        ip = "ipv6"
        default = false
        routes = ["192.0.2.0/24"]
    ''')
    loaded = config.load("two", tmp_path)
    assert loaded.pdns == [config.PdnConfig(2, "ims", families=(6,), routes=("192.0.2.0/24",))]
    from qcm.backends import base
    plan = base.DialPlan(apn="internet")
    mapped = config.with_pdns(plan, loaded.pdns)  # the tables become further PDNs
    assert [p.index for p in mapped.more_pdns] == [2] and mapped.more_pdns[0].families == (6,)
    assert config.with_pdns(plan, []) is plan


def test_the_command_line_wins_over_the_file(tmp_path, monkeypatch):
    """qcm connect --config NAME: the file's values become the options' defaults, given options win."""
    monkeypatch.setenv("QCM_CONFIG_DIR", str(tmp_path))
    write(tmp_path, "c", 'apn = "from-file"\nprofile = 4\nip = "ipv6"\nroute_metric = 900\npin = "1234"\n')
    from qcm.cli.main import build_parser
    parser = build_parser()
    seen = {}

    def fake_run(args):
        seen["options"] = connect.connect_options(args, environ={})
        return 0
    monkeypatch.setattr(connect, "run", fake_run)
    from qcm.cli import main
    assert main.main(["connect", "--config", "c"]) == 0
    options = seen["options"]
    assert options.plan.apn == "from-file" and options.plan.profile == 4 and options.plan.families == (6,)
    assert options.host.metric == 900 and options.plan.pin == "1234"
    assert main.main(["connect", "--config", "c", "-s", "given", "-4", "--metric", "5", "-n", "1"]) == 0
    options = seen["options"]
    assert options.plan.apn == "given" and options.plan.families == (4,) and options.host.metric == 5
    assert options.plan.profile == 1  # given explicitly, even though it is the parser's default
    del parser


def test_a_configuration_error_is_one_line_and_its_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QCM_CONFIG_DIR", str(tmp_path))
    write(tmp_path, "bad", 'apn = "x"\ncolour = "blue"\n')
    from qcm.cli import main
    assert main.main(["connect", "--config", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown key 'colour'" in err and "Traceback" not in err



def test_the_readme_documents_every_key_in_one_table():
    readme = (ROOT / "README.md").read_text()
    assert "<!-- config-keys -->" in readme
    table = readme.split("<!-- config-keys -->", 1)[1].split("<!-- /config-keys -->", 1)[0]
    keys = re.findall(r"^\| `([a-z_]+)`", table, re.M)
    assert keys == [k.name for k in config.KEYS]
    pdn = readme.split("<!-- pdn-keys -->", 1)[1].split("<!-- /pdn-keys -->", 1)[0]
    assert re.findall(r"^\| `([a-z_]+)`", pdn, re.M) == [k.name for k in config.PDN_KEYS]


def test_every_key_error_is_a_qcm_error(tmp_path):
    """No value of the right TOML type or the wrong one may crash the reader: it is a user's file."""
    values = ['"x"', "1", "-1", "1.5", "true", "[]", '["x"]', "{}", '"' + "9" * 30 + '"', "inf"]
    for key in [k.name for k in config.KEYS]:
        for value in values:
            write(tmp_path, "k", "%s = %s\n" % (key, value))
            try:
                config.load("k", tmp_path)
            except QcmError:
                pass
