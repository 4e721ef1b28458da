"""What a Quectel firmware revision says about the module it was built for, and where that works.

``EC25EFAR06A11M4G`` is family EC25, variant E (Europe, Middle East, Africa, Asia), build
FAR06A11M4G. A variant's bands only cover its region: an EC25-A (North America) flashed with
E firmware, or a SIM whose home network is outside the firmware's region, leaves the module
searching forever with MCC 0 (../shared/seeds/003). The tables are facts from Quectel's
product pages; a "G" (global) firmware works everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = ["Firmware", "parse_revision", "parse_variant", "VARIANTS", "region_of_mcc", "variant_covers",
           "variants_for"]

FAMILIES = r"EC2[015]|EG2[15]|EG9[15]|EG06|EP06|EM06|EG12|EG18|EM12|EC200[A-Z]?"
# Variant codes, longest first so that "AF" is not read as "A" + "F".
VARIANT_CODES = ("EUX", "AF", "AU", "EU", "EC", "A", "E", "G", "J", "V", "T", "K", "C")

# variant -> (where it is sold, MCC prefixes of the networks its bands cover)
VARIANTS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "A": ("North America (AT&T, T-Mobile, Rogers, Bell, Telus)", ("302", "310", "311", "312", "313", "314", "315",
                                                                   "316")),
    "AF": ("North America (AT&T, Verizon, T-Mobile, FirstNet)", ("302", "310", "311", "312", "313", "314", "315",
                                                                 "316")),
    "V": ("Verizon (USA)", ("310", "311", "312", "313", "314", "315", "316")),
    "AU": ("Australia, New Zealand, Latin America, Taiwan", ("505", "530", "466", "334", "7")),
    "E": ("Europe, Middle East, Africa, Korea, Thailand, India", ("2", "40", "41", "42", "43", "45", "47", "5", "6")),
    "EU": ("Europe", ("2",)),
    "EUX": ("Europe", ("2",)),
    "EC": ("Europe and China", ("2", "460")),
    "J": ("Japan", ("440", "441")),
    "G": ("worldwide", ("",)),
}

MCC_REGIONS = (("302", "Canada"), ("31", "the USA"), ("334", "Mexico"), ("3", "North America / Caribbean"),
               ("2", "Europe"), ("440", "Japan"), ("441", "Japan"), ("460", "China"), ("466", "Taiwan"),
               ("450", "Korea"), ("40", "India"), ("4", "Asia / Middle East"), ("505", "Australia"),
               ("530", "New Zealand"), ("5", "Oceania / South-East Asia"), ("6", "Africa"),
               ("7", "Latin America"))


@dataclass(frozen=True)
class Firmware:
    revision: str
    family: str
    variant: Optional[str]

    @property
    def region(self) -> str:
        return VARIANTS[self.variant][0] if self.variant in VARIANTS else "unknown region"

    def describe(self) -> str:
        if self.variant is None:
            return "firmware %s (family %s)" % (self.revision, self.family)
        return "firmware %s: %s variant %s, for %s" % (self.revision, self.family, self.variant, self.region)


_REVISION = re.compile(r"^(%s)(%s)?[A-Z]{2}R[0-9]" % (FAMILIES, "|".join(VARIANT_CODES)))  # build code: FA, GA, GB


def parse_revision(revision: str) -> Optional[Firmware]:
    """Family and variant of an EC2x/EG2x-style revision; None for others (BG96MAR02A07M1G...)."""
    match = _REVISION.match(revision.strip().upper())
    return Firmware(revision.strip(), match.group(1), match.group(2)) if match else None


def parse_variant(model: str) -> Optional[Tuple[str, str]]:
    """(family, variant) from a module name as printed on its label: EC25-A, EC25AF, EG25-G."""
    match = re.match(r"^(%s)-?(%s)$" % (FAMILIES, "|".join(VARIANT_CODES)), model.strip().upper())
    return (match.group(1), match.group(2)) if match else None


def region_of_mcc(mcc: str) -> str:
    for prefix, name in MCC_REGIONS:
        if mcc.startswith(prefix):
            return name
    return "MCC %s" % mcc


def variant_covers(variant: str, mcc: str) -> bool:
    """Whether a variant's bands cover the network of this MCC; a variant the table does not know
    (T, K, C) is given the benefit of the doubt: no finding rather than a wrong one."""
    prefixes = VARIANTS.get(variant, ("unknown region", ("",)))[1]
    return any(mcc.startswith(p) for p in prefixes)


def variants_for(mcc: str) -> Tuple[str, ...]:
    """The regional variants whose bands cover a home network (global "G" left out: it covers all)."""
    return tuple(v for v in VARIANTS if v not in ("G", "V") and variant_covers(v, mcc))  # V: Verizon only
