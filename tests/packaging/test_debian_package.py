"""scripts/build-deb builds a .deb with dpkg-deb alone; dpkg installs it into a clean directory tree
(dpkg --root, maintainer scripts run chrootless), where qcm and quectel-CM run with Debian's
python3 from the package's private directory; purging it leaves nothing behind."""

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="dpkg --root needs root"),
              pytest.mark.skipif(shutil.which("dpkg-deb") is None or not Path("/usr/bin/python3").exists(),
                                 reason="needs dpkg and Debian's python3")]


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    result = subprocess.run([str(ROOT / "scripts" / "build-deb"), str(out)], capture_output=True, text=True,
                            timeout=300, cwd=str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(result.stdout.strip())


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dpkg", "--root=%s" % root, "--force-script-chrootless", "--force-depends",
                           "--log=/dev/null", *args], capture_output=True, text=True, timeout=120)


def installed(tmp_path: Path, deb: Path) -> Path:
    root = tmp_path / "root"
    for directory in ("var/lib/dpkg/updates", "var/lib/dpkg/info"):
        (root / directory).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    result = dpkg(root, "-i", str(deb))
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_package_metadata_and_contents(deb):
    assert deb.name == "qcm_0.1.0_all.deb"
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    for field in ("Package: qcm", "Architecture: all", "Depends: python3 (>= 3.9)"):
        assert field + "\n" in info
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/qcm", "./usr/bin/quectel-CM", "./usr/lib/qcm/qcm/cli/main.py",
                 "./usr/lib/qcm/qcm/qmi/catalogue/wds.json", "./usr/lib/systemd/system/qcm@.service",
                 "./usr/lib/udev/rules.d/90-qcm.rules", "./usr/share/man/man1/qcm.1.gz",
                 "./usr/share/man/man1/qcm-connect.1.gz", "./usr/share/man/man1/quectel-CM.1.gz",
                 "./usr/share/bash-completion/completions/qcm",
                 "./usr/share/bash-completion/completions/quectel-CM",
                 "./usr/share/zsh/vendor-completions/_qcm", "./usr/share/doc/qcm/copyright",
                 "./usr/share/qcm/schemas/status.schema.json", "./etc/qcm/"):
        assert " %s\n" % path in listing or listing.endswith(" " + path), path
    assert "__pycache__" not in listing and ".pyc" not in listing
    lines = listing.splitlines()
    assert all(" root/root " in line for line in lines)
    etc_qcm = next(line for line in lines if line.endswith(" ./etc/qcm/"))
    assert etc_qcm.startswith("drwx------ ")  # it holds PINs and passwords


def test_installs_into_a_clean_tree_and_runs(tmp_path, deb):
    root = installed(tmp_path, deb)
    # Debian's python3 has no qcm of its own: what runs below is the package's.
    assert subprocess.run(["/usr/bin/python3", "-I", "-c", "import qcm"], capture_output=True).returncode != 0
    # PYTHONPATH points at the checkout: the wrappers' isolated mode (-I) must ignore it.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "QCM_SYSFS": str(tmp_path / "nothing")}
    version = subprocess.run([str(root / "usr/bin/qcm"), "--version"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == "qcm 0.1.0", version.stderr
    usage = subprocess.run([str(root / "usr/bin/quectel-CM"), "-h"], capture_output=True, text=True, env=env,
                           timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: quectel-CM"), usage.stderr
    listed = subprocess.run([str(root / "usr/bin/qcm"), "list"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert listed.returncode == 3 and "no cellular module found" in listed.stdout  # its own exit status
    # postinst byte-compiled the package with the Python that runs it.
    assert list((root / "usr/lib/qcm/qcm/cli/__pycache__").glob("main.*.pyc"))
    for name in ("qcm@.service", "90-qcm.rules"):
        shipped = next(root.glob("usr/lib/*/*/%s" % name) if name.endswith(".service") else
                       root.glob("usr/lib/udev/rules.d/%s" % name))
        assert shipped.read_bytes() == next(ROOT.glob("contrib/*/%s" % name)).read_bytes()
    page = gzip.decompress((root / "usr/share/man/man1/qcm-connect.1.gz").read_bytes()).decode()
    assert "\\-\\-apn" in page


def test_purge_leaves_nothing_behind(tmp_path, deb):
    root = installed(tmp_path, deb)
    (root / "var/lib/qcm").mkdir()
    (root / "var/lib/qcm/pin").write_text("record\n")  # what qcm itself keeps
    subprocess.run([str(root / "usr/bin/qcm"), "--version"], check=True, capture_output=True, timeout=60)
    result = dpkg(root, "--purge", "qcm")
    assert result.returncode == 0, result.stdout + result.stderr
    left = [str(p.relative_to(root)) for p in root.rglob("*")]
    left = [path for path in left if not path.startswith("var/lib/dpkg")]
    assert sorted(left) in ([], ["var", "var/lib"]), left


def test_build_writes_nothing_into_the_source_tree(tmp_path):
    def files():
        return sorted(str(p) for p in ROOT.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts
                      and "__pycache__" not in p.parts)
    before = files()
    subprocess.run([str(ROOT / "scripts" / "build-deb"), str(tmp_path)], check=True, capture_output=True,
                   timeout=300)
    assert files() == before
