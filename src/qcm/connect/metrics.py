"""Prometheus metrics from the manager's status (text exposition format, no I/O here).

Written to a file for node_exporter's textfile collector, or served on a loopback port. One
``qcm connect`` labels its samples with the interface (``netdev``); ``qcm daemon`` also with the
connection's name (``module``: its configuration's name, or the module's USB path), one family
per metric for every connection, as the format requires.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["render", "render_all"]

Sample = Tuple[Dict[str, Any], Any]


def _labels(**labels: Any) -> str:
    if not labels:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
                             for k, v in sorted(labels.items()))


# (name, kind, help, samples of one connection's status)
_METRICS: List[Tuple[str, str, str, Callable[[Dict[str, Any]], List[Sample]]]] = [
    ("call_up", "gauge", "1 while the data call of this IP family (and PDN) is up",
     lambda s: [({"family": "ipv%s" % b.get("family"), "pdn": b.get("pdn")}, 1 if b.get("state") == "up" else 0)
                for b in s.get("bearers", []) if isinstance(b, dict)]),
    ("connected", "gauge", "1 while every requested family is up",
     lambda s: [({}, 1 if s.get("state") == "connected" else 0)]),
    ("reconnects_total", "counter", "connections restored after a drop", lambda s: [({}, s.get("reconnects", 0))]),
    ("uptime_seconds", "gauge", "seconds since the connection came up", lambda s: [({}, s.get("uptime", 0))]),
    ("registered", "gauge", "1 while registered on a network",
     lambda s: [({}, 1 if (s.get("registration") or {}).get("state") == "registered" else 0)]),
    ("signal_dbm", "gauge", "signal strength (RSRP on LTE)",
     lambda s: [({}, (s.get("registration") or {})["signal_dbm"])]
     if (s.get("registration") or {}).get("signal_dbm") is not None else []),
]


def render_all(statuses: Sequence[Dict[str, Any]], module_label: bool = True) -> str:
    """Every connection's samples, each metric once with its HELP and TYPE."""
    lines: List[str] = []
    for name, kind, help_text, samples_of in _METRICS:
        samples = []
        for status in statuses:
            labels: Dict[str, Any] = {"netdev": status.get("netdev") or "?"}
            if module_label:
                labels["module"] = _module(status)
            samples += [(dict(labels, **extra), value) for extra, value in samples_of(status)]
        if not samples and name == "signal_dbm":
            continue  # no connection knows its signal: leave the family out, as before
        lines.append("# HELP qcm_%s %s" % (name, help_text))
        lines.append("# TYPE qcm_%s %s" % (name, kind))
        lines += ["qcm_%s%s %s" % (name, _labels(**labels), value) for labels, value in samples]
    return "\n".join(lines) + "\n"


def render(status: Dict[str, Any], module: Optional[str] = None) -> str:
    """One connection (``qcm connect``): labelled by its interface only."""
    return render_all([dict(status, name=module) if module else status], module_label=module is not None)


def _module(status: Dict[str, Any]) -> str:
    return str(status.get("name") or status.get("usb_path") or status.get("netdev") or "?")
