"""The AT backend: Ethernet-style modules (ECM, RNDIS, NCM) dialled on their AT port."""
