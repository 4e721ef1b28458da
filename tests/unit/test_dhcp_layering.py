"""The DHCP client, router discovery, the AT answer readers and GobiNet's mux are protocol cores:
no I/O (``qcm.qmi`` is checked by test_layering; ``qmi/gobinet.py`` lives there)."""

import pytest

from test_layering import IO_MODULES, SRC, imported

PURE = sorted((SRC / "dhcp").rglob("*.py")) + [SRC / "backends" / "at" / "answers.py"]


@pytest.mark.parametrize("path", PURE, ids=[str(p.relative_to(SRC)) for p in PURE])
def test_no_io(path):
    bad = IO_MODULES.intersection(imported(path))
    assert not bad, "%s imports %s" % (path.relative_to(SRC), ", ".join(sorted(bad)))
