"""quectel-CM's log in MBIM mode: the backend's steps rendered as the lines of seed 000's MBIM log."""


from test_mbim_backend import Rig, run

from qcm.backends.base import DialPlan
from qcm.cli.quectel_cm import QuectelLog
from qcm.connect import events as ev

# Seed 000, quectel-CM 1.6.0.16 on an EC20 in MBIM mode (timestamps dropped; our modem's own values).
SEED_LINES = """Modem works in MBIM mode
apn internet, user (null), passwd (null), auth 0
IP Proto MBIMContextIPTypeIPv4
mbim_open_device()
mbim_device_caps_query()
DeviceId:     ###
FirmwareInfo: EC25AFAR05A07M4G
HardwareInfo: EC25
mbim_device_services_query()
mbim_set_radio_state( 1 )
HwRadioState: 1, SwRadioState: 1
mbim_subscriber_status_query()
SubscriberReadyState NotInitialized -> Initialized
mbim_register_state_query()
RegisterState Unknown -> Home
mbim_packet_service_query()
PacketServiceState Unknown -> Attached
mbim_query_connect(sessionID=0)
ActivationState Unknown -> Deactivated
mbim_set_connect(onoff=1, sessionID=0)
ActivationState Deactivated -> Activated
mbim_ip_config(sessionID=0)
< SessionId = 0
< IPv4ConfigurationAvailable = 0xf
< IPv6ConfigurationAvailable = 0x0
< IPv4AddressCount = 0x1
< IPv4AddressOffset = 0x3c
< IPv6AddressCount = 0x0
< IPv6AddressOffset = 0x0
< IPv4 = 100.64.0.2/30
< gw = 100.64.0.1
< dns1 = 198.51.100.53
< dns2 = 198.51.100.54
< ipv4 mtu = 1500""".splitlines()


def logged(plan):
    async def scenario():
        rig = Rig(plan)
        await rig.connected()
        return rig.events
    events = run(scenario())
    log = QuectelLog()
    log.plan = plan
    lines = log.lines(ev.ModemFound("", "1-4", "2c7c:0125", "/dev/cdc-wdm0", "wwan0", "cdc_mbim", "", "mbim"))
    for event in events:
        lines += log.lines(event)
    return lines


def test_the_seeds_mbim_lines():
    lines = logged(DialPlan(apn="internet"))
    missing = [line for line in SEED_LINES if line not in lines]
    assert not missing, "\n".join(lines)
    assert not [line for line in lines if line.startswith("request")]  # no QMI-worded lines in MBIM mode
    # qcm asks some questions together, so requests may come before the previous answer; each
    # answer still follows its request, and the dial keeps quectel-CM's order of steps.
    for request, answer in (("mbim_device_caps_query()", "FirmwareInfo: EC25AFAR05A07M4G"),
                            ("mbim_set_radio_state( 1 )", "HwRadioState: 1, SwRadioState: 1"),
                            ("mbim_register_state_query()", "RegisterState Unknown -> Home"),
                            ("mbim_query_connect(sessionID=0)", "ActivationState Unknown -> Deactivated"),
                            ("ActivationState Unknown -> Deactivated", "mbim_set_connect(onoff=1, sessionID=0)"),
                            ("mbim_set_connect(onoff=1, sessionID=0)", "ActivationState Deactivated -> Activated"),
                            ("ActivationState Deactivated -> Activated", "mbim_ip_config(sessionID=0)"),
                            ("mbim_ip_config(sessionID=0)", "< ipv4 mtu = 1500")):
        assert lines.index(request) < lines.index(answer)


def test_dual_stack_and_personal_data():
    lines = logged(DialPlan(apn="internet", username="me", password="secret", families=(4, 6)))
    assert "apn internet, user ###, passwd ###, auth 3" in lines and "IP Proto MBIMContextIPTypeIPv4v6" in lines
    assert "< IPv6AddressOffset = 0x44" in lines and "< ipv6 mtu = 1500" in lines
    assert not any("secret" in line or "866758045439136" in line for line in lines)
