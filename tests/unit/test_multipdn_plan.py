"""The plan of several PDNs (backends.base), the --pdn option, and the locks of a shared module."""

import pytest

from qcm.backends.base import BearerId, DialPlan, Pdn
from qcm.cli.connect import parse_pdns
from qcm.errors import PortBusyError, UsageError
from qcm.io.lock import ModuleLock
from qcm.io.pdn_lock import PdnLock


def test_the_single_pdn_plan_is_what_it_was():
    plan = DialPlan(apn="internet", families=(4, 6))
    assert plan.bearers == (BearerId(1, 4), BearerId(1, 6)) and not plan.multiplexed
    assert plan.pdp_type == "ipv4-or-ipv6" and plan.auth_flags == [] and plan.default_pdn == 1


def test_several_pdns():
    plan = DialPlan(apn="internet", more_pdns=(Pdn(2, "corp", password="x", families=(4, 6)), Pdn(3, "ims", families=(6,),
                                                                                                 default=True)))
    assert plan.multiplexed and [p.index for p in plan.pdns] == [1, 2, 3]
    assert plan.bearers == (BearerId(1, 4), BearerId(2, 4), BearerId(2, 6), BearerId(3, 6))
    assert [p.mux for p in plan.pdns] == [0x81, 0x82, 0x83] and plan.pdn(2).auth_flags == ["pap", "chap"]
    assert plan.default_pdn == 3 and not plan.first_pdn.default
    shared = DialPlan(apn="corp", profile=2, mux_id=0x82, shared=True)
    assert shared.multiplexed and shared.default_pdn == 1 and shared.first_pdn.mux == 0x82


def test_pdn_option():
    pdns = parse_pdns(["2:corp.example,ip=ipv4v6,auth=chap,user=alice,route=10.0.0.0/8+2001:db8:200::/48",
                       "3:ims,ip=ipv6,mux=0x90,default"], 1, {"QCM_PDN2_PASSWORD": "s3cret", "QCM_PDN3_USER": "bob"})
    assert pdns[0] == Pdn(2, "corp.example", "alice", "s3cret", "chap", (4, 6), None, False,
                          ("10.0.0.0/8", "2001:db8:200::/48"))
    assert (pdns[1].mux, pdns[1].default, pdns[1].username, pdns[1].families) == (0x90, True, "bob", (6,))
    for bad in (["1:again"], ["2:x,password=p"], ["2:x", "2:y"], ["2:x,mux=0x81"], ["2:x,mux=255"], ["2:x,route=10.0.0"],
                ["2:x,default", "3:y,default"], ["2"], ["2:x,ip=ipx"]):
        with pytest.raises(UsageError):
            parse_pdns(bad, 1, {})


def test_one_process_per_pdn_shares_the_module_and_locks_its_pdn(tmp_path):
    first, second = PdnLock(tmp_path, "wwan0", 0x81, 1), PdnLock(tmp_path, "wwan0", 0x82, 2)
    first.acquire()
    second.acquire()
    with pytest.raises(PortBusyError, match="already dials PDN 1"):
        PdnLock(tmp_path, "wwan0", 0x81, 1).acquire()
    whole = ModuleLock(tmp_path, "wwan0")
    with pytest.raises(PortBusyError):
        whole.acquire()                      # a whole-module manager cannot start beside them
    first.release()
    second.release()
    whole.acquire()
    with pytest.raises(PortBusyError, match="manages all of wwan0"):
        PdnLock(tmp_path, "wwan0", 0x81, 1).acquire()  # nor they beside it
    whole.release()
