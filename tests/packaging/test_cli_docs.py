"""Man pages and shell completion are generated from the parser (scripts/build-cli-docs): every
subcommand and every option of qcm, and every option of quectel-CM, appears in them; the roff is
clean for groff, the bash script completes as a user would type, the zsh script parses."""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli-docs")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-cli-docs"), str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


def parser_commands() -> Dict[str, List[str]]:
    """Straight from argparse, not from the generator's model: page name -> option strings."""
    from qcm.cli.main import build_parser
    parser = build_parser()
    commands = {"qcm": [s for a in parser._actions for s in a.option_strings]}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                commands["qcm-" + name] = [s for a in sub._actions for s in a.option_strings]
    return commands


def quectel_cm_options() -> List[str]:
    from qcm.cli.quectel_cm import USAGE
    return sorted(set(re.findall(r"(?m)(?:^|, )(-[a-z0-9])\b", USAGE.split("[Examples]")[0])))


def roff_text(text: str) -> str:
    return text.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def test_every_subcommand_and_option_has_its_man_page(docs):
    pages = docs / "man" / "man1"
    for page, options in parser_commands().items():
        text = roff_text((pages / (page + ".1")).read_text())
        assert text.startswith('.\\" Generated'), page
        for option in options:
            found = re.search(r"(^|[\s,\[])%s\b" % re.escape(option), text, re.M)
            assert found, "%s: %s missing" % (page, option)
    main = roff_text((pages / "qcm.1").read_text())
    for page in parser_commands():
        if page != "qcm":
            assert "%s(1)" % page in main and page.replace("-", " ", 1) in main
    from qcm.errors import EXIT_BUG, SimError, UsageError
    for status in (SimError.exit_status, UsageError.exit_status, EXIT_BUG):
        assert re.search(r"^\.TP\n%d\n" % status, main, re.M)


def test_quectel_cm_has_its_man_page(docs):
    text = roff_text((docs / "man" / "man1" / "quectel-CM.1").read_text())
    options = quectel_cm_options()
    assert {"-s", "-p", "-f", "-i", "-4", "-6", "-n", "-k", "-v", "-r"} <= set(options)
    for option in options + ["-h"]:
        assert re.search(r"(^|[\s,\[])%s\b" % re.escape(option), text, re.M), option


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_pages_are_clean_roff(docs):
    for page in sorted((docs / "man" / "man1").glob("*.1")):
        result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0 and not result.stderr, "%s: %s" % (page.name, result.stderr)


def test_completion_scripts_name_every_subcommand_and_option(docs):
    bash = (docs / "completion" / "bash" / "qcm").read_text()
    zsh = (docs / "completion" / "zsh" / "_qcm").read_text()
    for page, options in parser_commands().items():
        words = options + ([page.split("-", 1)[1]] if page != "qcm" else [])
        for word in words:
            escaped = re.escape(word)
            assert re.search(r"[\s\"'{,(|]%s[\s\"'}=,)|\[]" % escaped, bash), "bash: %s %s" % (page, word)
            assert re.search(r"[\s\"'{,(|*]%s[\s\"'}=,)|\[:]" % escaped, zsh), "zsh: %s %s" % (page, word)
    quectel = (docs / "completion" / "bash" / "quectel-CM").read_text()
    for option in quectel_cm_options():
        assert " %s" % option in quectel or '"%s' % option in quectel, option
    assert "complete -F _quectel_cm quectel-CM" in quectel and "#compdef qcm quectel-CM" in zsh


def complete(script: Path, words: List[str]) -> List[str]:
    """What bash offers after ``words`` (the last one being completed), with this script loaded."""
    line = " ".join(words)
    program = ('source "$1"; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; %s; '
               'printf "%%s\\n" "${COMPREPLY[@]}"') % (
        " ".join("'%s'" % w for w in words), len(words) - 1, "'%s'" % line,
        "_qcm" if words[0] == "qcm" else "_quectel_cm")
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program, "bash", str(script)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.splitlines() if w]


def test_bash_completes_as_a_user_types(docs):
    bash = docs / "completion" / "bash" / "qcm"
    assert complete(bash, ["qcm", "con"]) == ["connect"]
    assert complete(bash, ["qcm", "--debug", "st"]) == ["status"]
    assert complete(bash, ["qcm", "connect", "--dn"]) == ["--dns"]
    assert complete(bash, ["qcm", "connect", "--dns", "res"]) == ["resolved", "resolvconf"]
    assert complete(bash, ["qcm", "doctor", "--mode", "m"]) == ["mbim"]
    assert "lo" in complete(bash, ["qcm", "status", "-i", "l"])  # interfaces from /sys/class/net
    assert complete(bash, ["qcm", "connect", "--apn", ""]) == []  # free text: nothing offered
    quectel = docs / "completion" / "bash" / "quectel-CM"
    assert complete(quectel, ["quectel-CM", "-"]) and "-s" in complete(quectel, ["quectel-CM", "-"])


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses(docs):
    result = subprocess.run(["zsh", "-n", str(docs / "completion" / "zsh" / "_qcm")], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_generation_writes_nothing_into_the_source_tree(tmp_path):
    before = sorted(p for p in (ROOT / "tools").rglob("*"))
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-cli-docs"), str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    assert sorted(p for p in (ROOT / "tools").rglob("*")) == before  # no __pycache__
