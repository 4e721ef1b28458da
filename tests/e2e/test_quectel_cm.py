"""The quectel-CM drop-in, run the way users' scripts run it (seed 003's reconnect loop)."""

import time

import pytest

pytestmark = pytest.mark.root

# The reconnect script from ../shared/seeds/003 with two changes a lab needs: the ping target
# (8.8.8.8 is not ours to ping) and `sudo ./quectel-CM` (we already are root, on PATH).
# The quectel-CM line itself is unchanged.
RECONNECT = """#!/bin/sh
while true; do
ping -I wwan0 -c 1 -W 1 198.51.100.1
if [ $? -eq 0 ]; then
echo "Connection up, reconnect not required..."
else
echo "Connection down, reconnecting..."
quectel-CM -4 -6 -s ltemobile.apn
fi
sleep 1
done
"""


def test_seed_reconnect_script_works_unchanged(lab, tmp_path):
    lab = lab("--apn", "ltemobile.apn")
    before = lab.snapshot()
    script = tmp_path / "qmi_reconnect.sh"
    script.write_text(RECONNECT)
    script.chmod(0o755)
    loop = lab.background(["/bin/sh", str(script)])
    deadline = time.monotonic() + 30
    while not (lab.ping("198.51.100.1") and lab.ping("2001:db8:100::1")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.ping("198.51.100.1") and lab.ping("2001:db8:100::1")
    result = lab.ns.run(["quectel-CM", "-k", "1"], check=False, env=lab.env)
    assert result.returncode == 0, result.stdout + result.stderr
    loop.kill()  # the shell loop we started; the quectel-CM it ran has already torn down
    output = lab.output(loop)
    assert "] Auto find qmichannel = " in output
    assert "requestSetupDataCall WdsConnectionIPv4Handle: 0x" in output
    assert "requestSetupDataCall WdsConnectionIPv6Handle: 0x" in output
    assert "requestRegistrationState2 MCC: 302, MNC: 720, PS: Attached, DataCap: LTE" in output
    deadline = time.monotonic() + 10
    while lab.snapshot() != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lab.snapshot() == before
    assert lab.sim_status()["clients"] == {}


def test_log_file_and_pin_with_leading_zero(lab, tmp_path):
    lab = lab("--sim-state", "pin", "--pin", "0123")
    log = tmp_path / "cm.log"
    process = lab.background(["quectel-CM", "-s", "internet", "-p", "0123", "-f", str(log)])
    lab.wait_connected(process)
    process.terminate()
    assert process.wait(20) == 0
    text = log.read_text()
    assert "requestGetSIMStatus SIMStatus: SIM_READY" in text
    assert text.splitlines()[0].startswith("[") and "_" in text.splitlines()[0][:16]


@pytest.mark.parametrize("args,status,text", [
    (["-s", "internet", "-b"], 12, "bridge mode"),
    (["-s", "internet", "-p", "quectel-qmi-proxy"], 12, "proxies"),
    (["-p", "12"], 2, "4 to 8 digits"),
    (["-x"], 2, "unknown option"),
])
def test_options_not_implemented_or_wrong_say_so(lab, args, status, text):
    lab = lab()
    result = lab.ns.run(["quectel-CM", *args], check=False, env=lab.env)
    assert result.returncode == status
    assert text in result.stderr and "Traceback" not in result.stderr


def test_wrong_apn_is_named_and_retried_like_the_c_tool(lab):
    """A rejected call is retried with backoff (quectel-CM does too), its reason named each time."""
    lab = lab()
    process = lab.background(["quectel-CM", "-s", "wrong.apn"])
    deadline = time.monotonic() + 20
    while lab.sim_status()["last_call_end"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    process.terminate()
    assert process.wait(20) == 0
    output = lab.output(process)
    assert "gsm-wcdma-unknown-apn" in output and "next attempt in" in output
    assert lab.sim_status()["clients"] == {}


def test_rebind_before_open(lab):
    """-r: the driver is unbound and bound again (the simulator re-enumerates), then the dial."""
    lab = lab()
    process = lab.background(["quectel-CM", "-r", "-s", "internet"])
    lab.wait_connected(process)
    assert "re-binding 1-1.2:1.4 to qmi_wwan" in lab.output(process)
    assert lab.ping("198.51.100.1")
