"""Why a QMI data call was refused, in words a user can act on.

Start Network fails in two ways: ``CallFailed`` with a call-end reason (and often a verbose,
3GPP-level one) from the network or the modem, or another QMI error about the request itself
(a profile that does not exist, an APN too long). Either way the user gets one line, the names
libqmi uses (so a search finds them), what they mean, and what to try; the recovery class
comes from the catalogue (a missing profile stays missing, the network may change its mind).
"""

from __future__ import annotations

from typing import Any

from ...errors import CallRejectedError, Recovery
from ...qmi.catalogue import catalogue
from ...qmi.message import Message, describe_error
from ..base import BearerId

__all__ = ["call_error"]

# Call-end reasons (libqmi's names, plain and verbose) and what to tell the user.
_HINTS = (
    ({"gsm-wcdma-unknown-apn", "unknown-apn"}, "check the APN name with your operator (-s APN)"),
    ({"authentication-failed"}, "check the APN user name and password, and PAP/CHAP (-s APN USER PASS [0|1|2|3])"),
    ({"gsm-wcdma-option-unsubscribed", "option-unsubscribed", "gsm-wcdma-operator-determined-barring",
      "operator-determined-barring"}, "the SIM's plan does not allow this: ask the operator to enable data for it"),
    ({"ipv4-only-allowed", "ipv6-only-allowed", "gsm-wcdma-unknown-pdp", "unknown-pdp"},
     "the network does not offer this IP family here: try -4 only or -6 only"),
    ({"no-service", "gsm-wcdma-no-service", "cdma-no-service"},
     "the module lost the network: check signal and registration (qcm doctor)"),
)

# Other errors of Start Network: about the request, not the network.
_REQUEST_HINTS = {
    "InvalidProfile": "profile %(pdn)d does not exist on the modem: choose an existing one with -n (list them with "
                      "qmicli -d /dev/cdc-wdm0 --wds-get-profile-list=3gpp)",
    "ExtendedInternal": "the modem refused the profile or the request: check -n and the APN (qcm doctor)",
    "ArgumentTooLong": "the APN, user name or password is longer than the modem accepts",
    "InvalidPdpType": "the profile's PDP type does not fit the IP families asked for: try -4 or -6 alone",
    "InvalidIpFamilyPreference": "this modem does not dial this IP family: try -4 or -6 alone",
}


def call_error(bearer: BearerId, response: Message) -> CallRejectedError:
    result = response.result
    if result is None:
        return CallRejectedError("%s: Start Network answered without a result" % bearer, "see qcm doctor",
                                 Recovery.RESET)
    name = result.error.name
    if name != "CallFailed":
        recovery = Recovery(catalogue().recovery.get(name, Recovery.RETRY.value))
        hint = _REQUEST_HINTS.get(name, "see qcm doctor for the modem's state") % {"pdn": bearer.pdn}
        return CallRejectedError("%s call refused: %s" % (bearer, describe_error(result.error)), hint, recovery)
    reason = response.get("call_end_reason")
    verbose = response.get("verbose_call_end_reason")
    parts = []
    if reason is not None:
        parts.append("%s (%d)" % (reason.name, int(reason)) + (": " + reason.meaning if reason.meaning else ""))
    if verbose is not None:
        detail = verbose["reason"]
        meaning = getattr(detail, "meaning", "")
        parts.append("[%s %s (%d)%s]" % (verbose["type"].name, getattr(detail, "name", str(int(detail))),
                                         int(detail), ": " + meaning if meaning else ""))
    return CallRejectedError("%s call rejected: %s" % (bearer, " ".join(parts) or result.describe()),
                             _hint(reason, verbose))


def _hint(reason: Any, verbose: Any) -> str:
    names = {getattr(reason, "name", ""), getattr(verbose["reason"], "name", "") if verbose else ""}
    for known, hint in _HINTS:
        if names & known:
            return hint
    return "see qcm doctor for the modem's state"
