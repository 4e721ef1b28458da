"""A PIN the SIM rejected is never sent to that SIM again, by this process or any later one.

qcm stops after one rejected PIN, but whatever restarts it (systemd, procd, cron, a reconnect
script) would send the same wrong PIN again, and three tries lock the SIM behind its PUK. So each
rejected PIN is remembered per SIM (by ICCID), as a salted hash in a root-only directory that
survives reboots (``/var/lib/qcm/pin``), until the SIM accepts a PIN. A PIN whose answer never came
is remembered as "sent" with the tries the SIM had left before: if the SIM shows fewer tries now,
it was wrong; if it shows as many, it never reached the SIM and may be sent.

The decisions are pure (``PinMarks``); ``PinGuard`` only loads and saves them.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import SimError
from ..io.files import Untrusted, ensure_private_dir, read_private, write_atomic

__all__ = ["PinGuard", "PinMarks", "PinRefused"]

log = logging.getLogger(__name__)


class PinRefused(SimError):
    """qcm will not send this PIN: the SIM rejected it before."""


def _sha256(text: str) -> str:
    # Imported here: hashlib maps OpenSSL in (4 MB), and only a SIM with a PIN needs it.
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(sim: str, pin: str) -> str:
    return _sha256("qcm-pin:%s:%s" % (sim, pin))


@dataclass
class PinMarks:
    """What one SIM said about the PINs sent to it."""

    rejected: List[str] = field(default_factory=list)      # digests of PINs it rejected
    sent: Optional[str] = None                              # digest of a PIN whose answer never came
    sent_tries: Optional[int] = None                        # tries left before that PIN was sent
    when: float = 0.0                                       # time of the last mark

    def refusal(self, sim: str, pin: str, tries: Optional[int]) -> Optional[str]:
        """Why this PIN must not be sent now, or None."""
        digest = _digest(sim, pin)
        if digest in self.rejected:
            return "this SIM rejected this PIN before"
        if digest == self.sent and (tries is None or self.sent_tries is None or tries < self.sent_tries):
            return "this PIN was sent to this SIM before without an answer, and the SIM has fewer tries left since"
        return None

    def sending(self, sim: str, pin: str, tries: Optional[int], now: float) -> None:
        self.sent, self.sent_tries, self.when = _digest(sim, pin), tries, now

    def answered(self, sim: str, pin: str, accepted: bool, now: float) -> None:
        digest = _digest(sim, pin)
        self.sent = self.sent_tries = None
        self.when = now
        if accepted:
            self.rejected.clear()
        elif digest not in self.rejected:
            self.rejected.append(digest)

    @property
    def empty(self) -> bool:
        return not self.rejected and self.sent is None

    def to_json(self) -> Dict[str, Any]:
        return {"rejected": self.rejected, "sent": self.sent, "sent_tries": self.sent_tries, "when": self.when}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "PinMarks":
        rejected = [str(d) for d in data.get("rejected", [])]
        tries = data.get("sent_tries")
        return cls(rejected, str(data["sent"]) if data.get("sent") else None,
                   int(tries) if isinstance(tries, int) else None, float(data.get("when", 0.0)))


class PinGuard:
    """The marks of every SIM, kept in ``directory`` (None: in memory only, for one process)."""

    def __init__(self, directory: Optional[Path]) -> None:
        self.directory = directory
        self._memory: Dict[str, PinMarks] = {}
        self._warned = False

    def _path(self, sim: str) -> Path:
        assert self.directory is not None
        return self.directory / (_sha256(sim)[:24] + ".json")

    def load(self, sim: str) -> PinMarks:
        marks = self._memory.get(sim)
        if marks is not None:
            return marks
        try:
            marks = PinMarks.from_json(json.loads(read_private(self._path(sim)))) if self.directory else PinMarks()
        except (FileNotFoundError, NotADirectoryError):
            marks = PinMarks()
        except (ValueError, KeyError, TypeError, AttributeError, Untrusted, OSError) as exc:
            # A damaged or foreign mark file: be careful rather than forgetful.
            raise PinRefused("cannot read the record of PINs this SIM rejected (%s): not sending a PIN"
                             % exc, "remove %s once you have checked the PIN" % self._path(sim)) from None
        self._memory[sim] = marks
        return marks

    def check(self, sim: str, pin: str, tries: Optional[int], shown_sim: str) -> None:
        marks = self.load(sim)
        why = marks.refusal(sim, pin, tries)
        if why is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(marks.when)) if marks.when else "earlier"
            where = " or remove %s" % self._path(sim) if self.directory is not None else ""
            raise PinRefused("not sending the PIN: %s (SIM %s, %s; %s tries left)" % (
                why, shown_sim, stamp, "?" if tries is None else tries),
                "give the right PIN with -p; if you are sure this one is right, add --retry-rejected-pin%s"
                % where)

    def sending(self, sim: str, pin: str, tries: Optional[int]) -> None:
        """Recorded before the PIN goes out, so that a crash or a lost answer still counts."""
        self.load(sim).sending(sim, pin, tries, time.time())
        self._save(sim)

    def answered(self, sim: str, pin: str, accepted: bool) -> None:
        self.load(sim).answered(sim, pin, accepted, time.time())
        self._save(sim)

    def forget(self, sim: str) -> None:
        """The user says the PIN is right (--retry-rejected-pin)."""
        self._memory[sim] = PinMarks()
        self._save(sim)

    def _save(self, sim: str) -> None:
        if self.directory is None:
            return
        marks = self._memory.get(sim, PinMarks())
        path = self._path(sim)
        try:
            ensure_private_dir(self.directory)
            if marks.empty:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, json.dumps(marks.to_json()) + "\n", 0o600)
        except (OSError, Untrusted) as exc:
            # A read-only root file system must not stop the connection; this process still remembers.
            if not self._warned:
                log.warning("cannot record PIN attempts in %s (%s); only this process will remember them",
                            self.directory, exc)
                self._warned = True
