"""The Python build: hatchling writes nothing into the source tree (pip install . works from a
read-only checkout), the sdist is the whole source release (unit, udev rule, OpenWrt handler,
schemas, tests, scenarios, and the generated man pages and completion), the wheel carries the
package with its data files and the licence, and the metadata claims nothing that is not there."""

import email
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"}


def tree(root: Path) -> Dict[str, Tuple[float, int]]:
    """Every file and directory of the checkout (but the venv and caches), with mtime and size."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            stat = path.lstat()
            out[str(path.relative_to(root))] = (stat.st_mtime, stat.st_size)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    before = tree(ROOT)
    result = subprocess.run([sys.executable, "-m", "hatchling", "build", "-d", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(ROOT) == before, "the build wrote into the source tree"
    return {"sdist": next(out.glob("qcm-*.tar.gz")), "wheel": next(out.glob("qcm-*.whl"))}


def test_sdist_is_the_source_release(built):
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in ("LICENSE", "README.md", "pyproject.toml", "contrib/systemd/qcm@.service",
                     "contrib/udev/90-qcm.rules", "contrib/openwrt/qcm.sh", "scripts/build-deb",
                     "scripts/build-cli-docs", "man/man1/qcm.1", "man/man1/qcm-connect.1",
                     "man/man1/quectel-CM.1",
                     "completion/bash/qcm", "completion/bash/quectel-CM", "completion/zsh/_qcm",
                     "schemas/status.schema.json", "tests/conftest.py", "tests/unit/test_lint.py",
                     "src/qcm/sim/scenarios/sim-pin.toml", "src/qcm/qmi/catalogue/wds.json",
                     "tools/hatch_build.py"):
        assert expected in names, expected
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(".venv")]


def test_wheel_carries_the_package_data_files_and_licence(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = email.message_from_bytes(wheel.read("qcm-0.1.0.dist-info/METADATA"))
    for expected in ("qcm/py.typed", "qcm/qmi/catalogue/wds.json", "qcm/mbim/catalogue/common.json",
                     "qcm/sim/scenarios/sim-pin.toml", "qcm-0.1.0.dist-info/licenses/LICENSE",
                     "qcm-0.1.0.data/data/share/man/man1/qcm.1",
                     "qcm-0.1.0.data/data/share/bash-completion/completions/qcm",
                     "qcm-0.1.0.data/data/share/zsh/site-functions/_qcm"):
        assert expected in names, expected
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.9"


def test_summary_claims_only_protocols_qcm_has_a_backend_for(built):
    """The summary names only the protocols a backend is registered for."""
    from qcm.backends import BACKENDS
    with zipfile.ZipFile(built["wheel"]) as wheel:
        summary = email.message_from_bytes(wheel.read("qcm-0.1.0.dist-info/METADATA"))["Summary"]
    claims = {"qmi": "QMI", "mbim": "MBIM", "ethernet": "Ethernet"}
    assert "qmi" in BACKENDS and "QMI" in summary
    for backend, word in claims.items():
        if word in summary:
            assert backend in BACKENDS, "the summary claims %s: %s" % (word, summary)
    if " AT" in summary or "AT " in summary:
        assert "ethernet" in BACKENDS, summary


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_pip_install_from_a_read_only_checkout(tmp_path):
    checkout, target = tmp_path / "checkout", tmp_path / "target"
    # What a fresh checkout holds: no virtual environment, no caches.
    shutil.copytree(ROOT, checkout, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
    before = tree(checkout)
    # pip and hatchling from this virtual environment: no network needed.
    script = ('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && ! touch "$1/probe" 2>/dev/null && '
              '"$2" -m pip install --no-index --no-deps --no-build-isolation --target "$3" "$1"')
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                             str(checkout), sys.executable, str(target)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(checkout) == before
    run = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "from qcm.cli.main import main; main(['--version'])", str(target)],
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "qcm 0.1.0", run.stderr
    assert (target / "share" / "man" / "man1" / "qcm.1").exists()
