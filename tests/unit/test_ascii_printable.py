"""ASCII-only numbers and terminal-safe text: the two helpers every reader of user or modem text uses."""

import pytest

from qcm.ascii import is_digits, parse_decimal, parse_int
from qcm.printable import printable

# Arabic-Indic, extended Arabic-Indic, fullwidth, superscript, Devanagari: all pass str.isdigit().
FOREIGN_DIGITS = ["٠١٢٣", "۰۱۲۳", "０１２３", "¹²³⁴", "०१२३"]


@pytest.mark.parametrize("text", FOREIGN_DIGITS)
def test_only_ascii_digits_are_digits(text):
    assert text.isdigit()  # what the old checks relied on
    assert not is_digits(text)
    assert parse_int(text, 0, 9999) is None


def test_parse_int_bounds_and_sizes():
    assert parse_int(" 31", 0, 31) == 31 and parse_int("32", 0, 31) is None
    assert parse_int("-95", -140, -40) == -95 and parse_int("+7", 0, 9) == 7
    assert parse_int("0007", 0, 9) == 7
    assert parse_int("9" * 5000, 0, 99) is None  # int() itself refuses over 4,300 digits
    assert parse_int("", 0, 9) is None and parse_int("1 2", 0, 99) is None and parse_int("1\n", 0, 9) is None


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "infinity", "1e3", "1e400", "0x10", "١", "1_0", "", "."])
def test_parse_decimal_refuses_what_float_takes(text):
    assert parse_decimal(text) is None


def test_parse_decimal():
    assert parse_decimal("30") == 30.0 and parse_decimal("0.5") == 0.5 and parse_decimal(".5") == 0.5
    assert parse_decimal("-1") == -1.0


def test_printable_escapes_terminal_commands():
    hostile = "Rogers\x1b]0;owned\x07\x1b[2J\r\n\x9b31m\x7f"
    assert printable(hostile) == "Rogers\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0a\\x9b31m\\x7f"
    assert "\x1b" not in printable(hostile) and "\x07" not in printable(hostile)


def test_printable_escapes_bidi_controls_and_lone_surrogates():
    assert printable("abc\u202edcba\u2066x\u2069") == "abc\\u202edcba\\u2066x\\u2069"
    assert printable("\u200f\u061c\u2028") == "\\u200f\\u061c\\u2028"
    text = printable(b"EC25\xff".decode("utf-8", "surrogateescape"))
    assert text == "EC25\\udcff"
    text.encode("utf-8")  # a UTF-8 terminal can take it


def test_printable_leaves_letters_of_every_script_alone():
    for text in ("Telefónica", "中国移动", "МТС", "زين", "Ελληνικά", "☎ ok", "tab-free, plain ASCII!"):
        assert printable(text) == text
