"""A QMI session with one modem: client ids per service, allocated together and always released.

``ModemSession`` wraps a ``QmiPort``. Clients are allocated concurrently (one CTL round trip
for all of them), and ``close()`` releases every client it holds, with a short timeout each,
on every exit path: normal end, error, cancellation by a signal. Clients deliberately kept
(the WDS clients that hold a call in ``--once`` mode) are handed over instead of released.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from ...io.qmi_port import DEFAULT_TIMEOUT, PortGone, QmiPort
from ...qmi.catalogue import catalogue
from ...qmi.message import Message, QmiError

__all__ = ["ModemSession", "ClientKey"]

log = logging.getLogger(__name__)

ClientKey = Tuple[str, str]  # (service, role): ("WDS", "ipv4"), ("NAS", "main")

RELEASE_TIMEOUT = 2.0


class ModemSession:
    def __init__(self, port: QmiPort, request_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.port = port
        self.request_timeout = request_timeout
        self.clients: Dict[ClientKey, int] = {}

    async def allocate(self, keys: Iterable[ClientKey]) -> None:
        """Allocate a client for each (service, role) not held yet, all requests in flight at once."""
        wanted = [k for k in keys if k not in self.clients]
        definition = catalogue().method("CTL", "Allocate CID")
        futures = [self.port.send(definition, 0, {"service": service.lower()}, self.request_timeout)
                   for service, _ in wanted]
        results = await asyncio.gather(*futures, return_exceptions=True)
        error: Optional[BaseException] = None
        for key, result in zip(wanted, results):
            if isinstance(result, BaseException):
                error = error or result
                continue
            if not result.ok:
                error = error or QmiError(result)
                continue
            self.clients[key] = int(result["allocation_info"]["cid"])
            log.debug("client %s/%s = %d", key[0], key[1], self.clients[key])
        if error is not None:
            raise error

    def cid(self, service: str, role: str = "main") -> int:
        return self.clients[(service, role)]

    async def request(self, service: str, message: str, values: Optional[Mapping[str, Any]] = None,
                      role: str = "main", timeout: Optional[float] = None, check: bool = True) -> Message:
        return await self.port.request(service, message, values, self.cid(service, role),
                                       timeout or self.request_timeout, check)

    def keep(self, key: ClientKey) -> int:
        """Stop tracking a client so close() does not release it (its call must survive us)."""
        return self.clients.pop(key)

    async def close(self) -> None:
        """Release every client held; never raises, never waits long."""
        clients, self.clients = self.clients, {}
        if not clients or not self.port.is_open:
            return
        definition = catalogue().method("CTL", "Release CID")
        futures = []
        for (service, _), cid in clients.items():
            try:
                futures.append(self.port.send(definition, 0, {"release_info": {"service": service.lower(),
                                                                                "cid": cid}}, RELEASE_TIMEOUT))
            except PortGone:
                return
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException) or not r.ok]
        if failed:
            log.warning("%d of %d client ids could not be released: %s", len(failed), len(results), failed[0])
