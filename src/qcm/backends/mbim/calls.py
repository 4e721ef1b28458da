"""Why an MBIM data session was refused, in words a user can act on.

CONNECT fails with a status (``invalid-access-string``, ``context-not-activated``...) and,
when the network was involved, a 3GPP cause in NwError (27 missing-or-unknown-apn, 29
user-authentication-failed...). The user gets one line with both by libmbim's names (so a
search finds them), what they mean, and what to try; the recovery class comes from the MBIM
catalogue (the cause's class when it has one, else the status's).
"""

from __future__ import annotations

from typing import Any, Optional, Set, Tuple

from ...errors import CallRejectedError, Recovery
from ...mbim.catalogue import catalogue
from ...mbim.message import Message, describe_status
from .readings import name_of

__all__ = ["session_error", "describe_nw_error"]

# (statuses, NwError causes) -> what to try
_HINTS: Tuple[Tuple[Set[str], Set[str], str], ...] = (
    ({"invalid-access-string"}, {"missing-or-unknown-apn", "requested-apn-not-supported-in-current-rat-and-plmn"},
     "check the APN name with your operator (-s APN)"),
    ({"invalid-user-name-pwd"}, {"user-authentication-failed"},
     "check the APN user name and password, and PAP/CHAP (-s APN USER PASS [1|2|3])"),
    ({"service-not-activated"}, {"requested-service-option-not-subscribed", "gprs-not-allowed",
                                 "service-option-not-supported"},
     "the SIM's plan does not allow this: ask the operator to enable data for it"),
    (set(), {"pdp-type-ipv4-only-allowed", "pdp-type-ipv6-only-allowed", "unknown-pdp-address-or-type"},
     "the network does not offer this IP family here: try -4 only or -6 only"),
    ({"not-registered", "packet-service-detached", "provider-not-visible"}, set(),
     "the module lost the network: check signal and registration (qcm doctor)"),
    ({"radio-power-off"}, set(), "the radio is off: see qcm doctor (FCC lock, W_DISABLE#)"),
    ({"max-activated-contexts"}, {"maximum-number-of-pdp-contexts-reached"},
     "another session is up on the modem (ModemManager, mbimcli): end it first"),
)


def describe_nw_error(value: Any) -> str:
    """``NwError 27 missing-or-unknown-apn: the network does not know this APN``."""
    if not value:
        return ""
    named = catalogue().enum("MbimNwError").wrap(int(value))
    meaning = getattr(named, "meaning", "")
    return "NwError %d %s%s" % (int(value), name_of(named), ": " + meaning if meaning else "")


def session_error(what: str, response: Message, session: int) -> CallRejectedError:
    """A CONNECT activation that failed: ``what`` names the bearers ("IPv4 and IPv6")."""
    status = response.status
    status_name = name_of(status) if status is not None else "function-error"
    nw_error = response.values.get("nw_error")
    parts = [describe_status(int(status)) if status is not None else "the modem refused the command"]
    cause = describe_nw_error(nw_error)
    if cause:
        parts.append("(%s)" % cause)
    recovery = catalogue().recovery_of(status_name, name_of(nw_error) if nw_error else "")
    return CallRejectedError("%s call rejected (MBIM session %d): %s" % (what, session, " ".join(parts)),
                             _hint(status_name, name_of(nw_error) if nw_error else None),
                             Recovery(recovery) if recovery else Recovery.RETRY)


def _hint(status: str, cause: Optional[str]) -> str:
    for statuses, causes, hint in _HINTS:
        if status in statuses or (cause and cause in causes):
            return hint
    return "see qcm doctor for the modem's state"
