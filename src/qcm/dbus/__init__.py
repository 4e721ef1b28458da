"""D-Bus, as much as qcm needs to ask ModemManager to let go of a module: ``wire.py`` is the protocol
(no I/O), ``connection.py`` one connection to a bus in asyncio."""
