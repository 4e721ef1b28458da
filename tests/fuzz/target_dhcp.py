"""Fuzz target: what the link and the AT port send us. DHCP replies fed to a client in every
state, IP/UDP and ICMPv6 framing, router advertisements fed to router discovery, the AT answer
readers of the AT backend, and GobiNet's mux reading SDUs.

Shared fuzz contract: NAME, seeds(), run(data) (returns normally for every input), close().
"""

from __future__ import annotations

import ipaddress
import random
from typing import List

from qcm.backends.at import answers
from qcm.dhcp import frames
from qcm.dhcp.client import DhcpClient, DhcpConfig
from qcm.dhcp.message import decode
from qcm.dhcp.ra import RouterDiscovery, parse_router_advert
from qcm.qmi.catalogue import catalogue
from qcm.qmi.gobinet import GobiNetMux
from qcm.qmi.message import build
from qcm.sim import packets, router6
from qcm.sim.dhcp_server import DhcpServer, Offer

NAME = "dhcp"
MAC = bytes.fromhex("020000000001")
LAN = ipaddress.ip_network("192.0.2.0/24")
_OFFER = Offer(LAN[100], LAN, LAN[1], (LAN[1],), LAN[1])


def _replies() -> List[bytes]:
    """An OFFER and an ACK the simulated module sends our client, as UDP payloads."""
    client = DhcpClient(MAC, DhcpConfig(), random.Random(1))
    server = DhcpServer(600)
    client.start(0.0)
    out = []
    for _ in range(2):
        for datagram in client.datagrams_to_send():
            reply = server.answer(datagram.payload, _OFFER, 0.0)
            if reply is not None:
                out.append(reply.payload)
                client.receive(reply.payload, 0.0)
    return out


def seeds() -> List[bytes]:
    offer, ack = _replies()
    advert = router6.router_advertisement(router6.ALL_NODES, ipaddress.ip_network("2001:db8:1::/64"),
                                          [ipaddress.ip_address("2001:db8::53")], 1500, MAC)
    return [b"D" + offer, b"D" + ack, b"I" + packets.udp(LAN[1], LAN[100], 67, 68, ack), b"R" + advert,
            b"A" + b'+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3, 85600, 85600',
            b"A" + b'+CEREG: 2,5,"1A2B","01A2B3C4",7\n+QIACT: 1,1,1,"100.64.0.2"\n+COPS: 0,2,"46000",12',
            b"G" + build(catalogue().method("DMS", "Get Revision"), "response", 1, 1, {"revision": "EC25"})[6:]]


def _client_in(state: int) -> DhcpClient:
    """A client in SELECTING (0), REQUESTING (1) or BOUND and then RENEWING (2)."""
    client = DhcpClient(MAC, DhcpConfig(), random.Random(state))
    server = DhcpServer(600)
    client.start(0.0)
    for _ in range(state):
        for datagram in client.datagrams_to_send():
            reply = server.answer(datagram.payload, _OFFER, 0.0)
            if reply is not None:
                client.receive(reply.payload, 0.0)
    if state == 2:
        client.handle_timer(300.0)
    return client


def run(data: bytes) -> None:
    kind, body = data[:1], data[1:]
    if kind == b"D":
        message = decode(body)
        for state in range(3):
            client = _client_in(state)
            client.receive(body, 1.0, LAN[1])
            if message is not None:  # the same reply for this client's transaction, whatever else it says
                client.receive(message.__class__(**{**message.__dict__, "xid": 0, "chaddr": MAC}).encode(), 1.0)
            client.handle_timer(1e6)
            client.datagrams_to_send()
            client.events()
    elif kind == b"I":
        frames.parse_dhcp(body)
        frames.strip_ethernet(body)
    elif kind == b"R":
        parse_router_advert(body)
        discovery = RouterDiscovery(MAC, random.Random(0))
        discovery.start(0.0)
        discovery.receive(body, 1.0)
        discovery.handle_timer(1e6)
        discovery.events()
    elif kind == b"A":
        lines = body.decode("utf-8", "replace").splitlines()
        answers.qnetdevstatus_address(lines)
        answers.qiact_address(lines, 1)
        answers.cgpaddr_address(lines, 1)
        answers.ceer_text(lines)
        answers.qicsgp(lines)
        answers.registration_stat(lines, "CEREG")
        for line in lines:
            answers.call_news(line)
            answers.urc_stat(line)
            answers.registration([answers.registration_stat([line], "CEREG")], "1", line, line)
    elif kind == b"G":
        mux = GobiNetMux()
        mux.outgoing(build(catalogue().method("CTL", "Allocate CID"), "request", 0, 1, {"service": "dms"}))
        mux.incoming(1, body)
        mux.outgoing(body)


def close() -> None:
    pass
