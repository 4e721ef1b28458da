"""Addresses learnt on the link, sans I/O: our DHCPv4 client (RFC 2131) and IPv6 router
advertisements (RFC 4861, RDNSS of RFC 8106). Bytes and the time in, packets and events out;
``qcm.io.dhcp_socket`` moves the packets and ``qcm.io.ip_config`` drives both on asyncio."""
