"""Reads the module the way qcm status or qcm doctor could while a qcm holds the port: through the
qmi-proxy (``qcm.backends.qmi.backend.open_port``). Prints the model, the registration and the
client ids held on the modem when it is done (JSON)."""

import asyncio
import json
import sys

from qcm.backends.qmi.backend import open_port
from qcm.backends.qmi.session import ModemSession
from qcm.qmi import readings


async def main(control: str) -> None:
    port = await open_port(control)
    session = ModemSession(port, 5.0)
    try:
        await session.allocate([("DMS", "main"), ("NAS", "main")])
        model = await session.request("DMS", "Get Model")
        serving = await session.request("NAS", "Get Serving System")
        print(json.dumps({"model": model["model"], "through": type(port.transport).__name__,
                          "registration": readings.registration(serving, None).describe()}))
    finally:
        await session.close()
        port.close()


asyncio.run(main(sys.argv[1]))
