"""Numbers as people, AT answers and modems write them: ASCII digits only.

``str.isdigit()``, ``int()`` and ``float()`` accept Arabic-Indic, fullwidth and superscript
digits (``"٣"``, ``"３"``, ``"²"``); a SIM takes none of them, so a PIN written that way only
costs one of its tries, and ``int("²")`` raises where ``isdigit()`` said yes. ``int()`` also
refuses more than 4,300 digits (Python's int_max_str_digits). Every number qcm reads from a
person or a module goes through here instead.
"""

from __future__ import annotations

import math
import re
from typing import Optional

__all__ = ["is_digits", "parse_int", "parse_decimal"]

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_MAX_DECIMAL_DIGITS = 32  # far beyond any value qcm takes, far below what float() would chew on


def is_digits(text: str) -> bool:
    """True for one or more of 0-9 and nothing else (no sign, no space, no other script's digits)."""
    return _DIGITS.fullmatch(text) is not None


def parse_int(text: str, low: int, high: int) -> Optional[int]:
    """The integer ``text`` spells in ASCII digits (a sign allowed), if it lies in [low, high]; else None.

    Leading and trailing spaces are ignored (AT answers have them); anything else is not a number.
    Overlong digit strings are refused before ``int()`` sees them.
    """
    text = text.strip(" ")
    if _INTEGER.fullmatch(text) is None:
        return None
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > max(len(str(abs(low))), len(str(abs(high)))):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_decimal(text: str) -> Optional[float]:
    """A plain decimal number (``30``, ``0.5``, ``.5``, ``-1``) in ASCII digits; None for anything else,
    including exponents, ``nan`` and ``inf``."""
    text = text.strip(" ")
    if _DECIMAL.fullmatch(text) is None or len(text) > _MAX_DECIMAL_DIGITS:
        return None
    value = float(text)
    return value if math.isfinite(value) else None
