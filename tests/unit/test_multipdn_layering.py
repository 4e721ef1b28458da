"""The pure parts of several PDNs and of the proxy do no I/O (test_layering.py's rule, for the modules
this work added outside the packages it already holds): the QMAP data-format decisions. (qcm.qmi.qmap
and qcm.qmi.proxy are inside qcm.qmi, which test_layering.py holds; qcm.netlink.rtnl too.)"""

import pytest

from test_layering import graph, io_reached


@pytest.mark.parametrize("start", ["qcm.backends.qmi.qmap_format", "qcm.qmi.qmap", "qcm.qmi.proxy"])
def test_pure(start):
    bad = io_reached(start, graph())
    assert not bad, "%s reaches I/O: %s" % (start, "; ".join(sorted(bad.values())))
