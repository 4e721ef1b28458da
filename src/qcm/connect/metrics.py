"""Prometheus metrics from the manager's status (text exposition format, no I/O here).

Written to a file for node_exporter's textfile collector, or served on a loopback port.
"""

from __future__ import annotations

from typing import Any, Dict, List

__all__ = ["render"]


def _labels(**labels: Any) -> str:
    if not labels:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"'))
                             for k, v in sorted(labels.items()))


def render(status: Dict[str, Any]) -> str:
    netdev = status.get("netdev") or "?"
    lines: List[str] = []

    def metric(name: str, kind: str, help_text: str, samples: List[tuple]) -> None:
        lines.append("# HELP qcm_%s %s" % (name, help_text))
        lines.append("# TYPE qcm_%s %s" % (name, kind))
        for labels, value in samples:
            lines.append("qcm_%s%s %s" % (name, _labels(netdev=netdev, **labels), value))

    metric("call_up", "gauge", "1 while the data call of this IP family (and PDN) is up",
           [({"family": "ipv%d" % b["family"], "pdn": b["pdn"]}, 1 if b.get("state") == "up" else 0)
            for b in status.get("bearers", [])])
    metric("connected", "gauge", "1 while every requested family is up",
           [({}, 1 if status.get("state") == "connected" else 0)])
    metric("reconnects_total", "counter", "connections restored after a drop", [({}, status.get("reconnects", 0))])
    metric("uptime_seconds", "gauge", "seconds since the connection came up", [({}, status.get("uptime", 0))])
    registration = status.get("registration") or {}
    metric("registered", "gauge", "1 while registered on a network",
           [({}, 1 if registration.get("state") == "registered" else 0)])
    if registration.get("signal_dbm") is not None:
        metric("signal_dbm", "gauge", "signal strength (RSRP on LTE)", [({}, registration["signal_dbm"])])
    return "\n".join(lines) + "\n"
