

import sys

# qcm never speaks TLS, but asyncio imports ssl, which maps OpenSSL into the process: about
# 5 MB of the 25 MB the manager may use on a small router (bench/connect.py measures it).
# Here, so that both entry points (qcm and quectel-CM) block it before anything imports asyncio.
sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
