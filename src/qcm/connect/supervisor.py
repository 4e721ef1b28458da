"""Keeping a connection up, decided without I/O: events and the time in, actions out.

The supervisor knows which families should be up and which are, how many attempts in a row
failed, and which rung of the recovery ladder to try next. It never touches the modem: the
manager (``manager.py``) carries out its actions and tells it what happened.

    CONNECTING --up--> CONNECTED --drop/probe/address--> CONNECTING (at once)
    CONNECTING --failed--> BACKING_OFF --timer--> CONNECTING (next rung after a few failures)
    any --modem lost--> WAITING_FOR_MODEM --modem back--> CONNECTING
    any --stop--> STOPPING

Backoff is capped and jittered (1, 2, 4 ... 60 s, ±20 %). The ladder climbs from a plain
redial, to reopening the control port, to turning the radio off and on, to re-binding the
USB driver, a bounded number of times each, then starts over at the top of the backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

__all__ = [
    "Policy", "Supervisor", "describe_rung", "REDIAL", "REOPEN", "RADIO", "REBIND",
    "CONNECTING", "CONNECTED", "BACKING_OFF", "WAITING_FOR_MODEM", "STOPPING",
    "Connect", "Disconnect", "Refresh", "Exit",
    "Connected", "ConnectFailed", "CallDropped", "AddressChanged", "ProbeFailed", "ModemLost", "ModemBack",
    "ModemUnresponsive",
    "Registered", "SimInserted", "StopRequested",
]

# Recovery rungs, in the order they are climbed.
REDIAL, REOPEN, RADIO, REBIND = "redial", "reopen", "radio", "rebind"

CONNECTING, CONNECTED, BACKING_OFF, WAITING_FOR_MODEM, STOPPING = (
    "connecting", "connected", "backing-off", "waiting-for-modem", "stopping")


@dataclass(frozen=True)
class Policy:
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    jitter: float = 0.2
    # How many failures in a row each rung gets before the next one is tried.
    ladder: Tuple[Tuple[str, int], ...] = ((REDIAL, 1), (REOPEN, 1), (RADIO, 1), (REBIND, 1))


# ---------------------------------------------------------------------- actions (to the manager)

@dataclass(frozen=True)
class Connect:
    """Bring these families up; first perform ``rung`` (redial: nothing special)."""

    families: FrozenSet[int]
    rung: str = REDIAL


@dataclass(frozen=True)
class Disconnect:
    """Take these families down on the host (and on the modem if it is still there)."""

    families: FrozenSet[int]
    modem_gone: bool = False


@dataclass(frozen=True)
class Refresh:
    """Re-read this family's settings and make the host match (the address changed)."""

    family: int


@dataclass(frozen=True)
class Exit:
    status: int


Action = object


# ---------------------------------------------------------------------- events (from the manager)

@dataclass(frozen=True)
class Connected:
    families: FrozenSet[int]


@dataclass(frozen=True)
class ConnectFailed:
    reason: str
    fatal: bool = False            # retrying cannot help (wrong PIN, PUK): stop
    status: int = 1                # exit status when fatal
    kind: str = "other"            # modem | registration | sim | call | other: what an event may cure
    waiting: str = ""              # a state worth naming while we wait ("waiting for a SIM")

    @property
    def climbs(self) -> bool:
        """A modem that stops answering, or will not attach, may be cured by a reset; a wrong APN
        or a missing SIM is not."""
        return self.kind in ("modem", "registration")


@dataclass(frozen=True)
class CallDropped:
    family: int
    reason: str = ""


@dataclass(frozen=True)
class AddressChanged:
    family: int


@dataclass(frozen=True)
class ProbeFailed:
    family: int


@dataclass(frozen=True)
class ModemLost:
    reason: str = ""


@dataclass(frozen=True)
class ModemBack:
    pass


@dataclass(frozen=True)
class ModemUnresponsive:
    """The control port is there but the modem stopped answering (requests time out)."""

    reason: str = ""


@dataclass(frozen=True)
class Registered:
    """The network is back: a pending redial need not wait for its backoff."""


@dataclass(frozen=True)
class SimInserted:
    pass


@dataclass(frozen=True)
class StopRequested:
    reason: str = ""


Event = object


@dataclass
class Supervisor:
    families: FrozenSet[int]
    policy: Policy = field(default_factory=Policy)
    random: Callable[[], float] = random.random
    state: str = CONNECTING
    up: FrozenSet[int] = frozenset()
    failures: int = 0              # attempts in a row that failed: sets the backoff
    climbs: int = 0                # ... of which a reset might cure: sets the ladder rung
    failure_kind: str = ""         # what the last failure was, so that only its cure cuts the wait short
    dropped_meanwhile: FrozenSet[int] = frozenset()  # families that dropped while an attempt was under way
    reconnects: int = 0
    rung_used: str = REDIAL
    last_error: str = ""
    waiting: str = ""
    deadline: Optional[float] = None
    ever_connected: bool = False

    def start(self, now: float) -> List[Action]:
        return self._connect(now, REDIAL)

    # ---------------------------------------------------------------- transitions

    def _connect(self, now: float, rung: str) -> List[Action]:
        self.state = CONNECTING
        self.deadline = None
        self.rung_used = rung
        self.dropped_meanwhile = frozenset()
        if rung != REDIAL and self.up:
            # Reopening the port, cycling the radio or re-binding the driver ends every call.
            down, self.up = self.up, frozenset()
            return [Disconnect(down), Connect(self.families, rung)]
        return [Connect(self.families - self.up, rung)]

    def _rung(self) -> str:
        """The rung for the next attempt, from how many attempts in a row have failed for reasons
        a reset might cure (not a missing SIM: that only a person can fix)."""
        position = self.climbs
        total = sum(count for _, count in self.policy.ladder)
        position %= total
        for rung, count in self.policy.ladder:
            if position < count:
                return rung
            position -= count
        return REDIAL

    def _delay(self) -> float:
        delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** max(0, self.failures - 1))
        return delay * (1 + self.policy.jitter * (2 * self.random() - 1))

    def handle(self, event: Event, now: float) -> List[Action]:
        if self.state == STOPPING:
            return []
        if isinstance(event, StopRequested):
            self.state = STOPPING
            return [Disconnect(self.families), Exit(0)]
        if isinstance(event, (Connected, ConnectFailed)) and self.state == WAITING_FOR_MODEM:
            return []  # the result of an attempt the modem's disappearance overtook
        if isinstance(event, Connected):
            dropped = event.families & self.dropped_meanwhile
            self.up = self.up | (event.families - dropped)
            if dropped:  # the call ended before its attempt reported: what came up is already gone
                return [Disconnect(dropped)] + self._connect(now, REDIAL)
            if self.up < self.families and self.state == CONNECTING:
                return self._connect(now, REDIAL)  # a family dropped while the others came up
            if self.up >= self.families:
                if self.ever_connected and self.state != CONNECTED:
                    self.reconnects += 1
                self.ever_connected = True
                self.failures = 0
                self.climbs = 0
                self.waiting = ""
                self.state = CONNECTED
            return []
        if isinstance(event, ConnectFailed):
            self.last_error = event.reason
            if event.fatal:
                self.state = STOPPING
                return [Disconnect(self.families), Exit(event.status)]
            self._back_off(now, event.kind, event.climbs, event.waiting)
            return []
        if isinstance(event, (CallDropped, ProbeFailed)):
            family = event.family
            if family not in self.up:
                if self.state == CONNECTING:
                    self.dropped_meanwhile = self.dropped_meanwhile | {family}
                return []
            self.up = self.up - {family}
            self.last_error = event.reason if isinstance(event, CallDropped) else \
                "IPv%d: no traffic through the connection (probe failed)" % family
            actions: List[Action] = [Disconnect(frozenset({family}))]
            if self.state == CONNECTED:
                return actions + self._connect(now, REDIAL)
            return actions  # a connect attempt is already under way or scheduled
        if isinstance(event, AddressChanged):
            return [Refresh(event.family)] if event.family in self.up else []
        if isinstance(event, ModemLost):
            if self.state == WAITING_FOR_MODEM:
                return []
            self.last_error = event.reason or "the modem vanished"
            self.up = frozenset()
            self.state = WAITING_FOR_MODEM
            self.deadline = None
            return [Disconnect(self.families, modem_gone=True)]
        if isinstance(event, ModemUnresponsive):
            if self.state != CONNECTED:
                return []  # an attempt is under way; its own failure will count
            self.last_error = event.reason or "the modem stopped answering"
            down, self.up = self.up, frozenset()
            self._back_off(now, "modem", climbs=True)
            return [Disconnect(down)]
        if isinstance(event, ModemBack):
            if self.state == WAITING_FOR_MODEM:
                return self._connect(now, REDIAL)
            return []
        if isinstance(event, (Registered, SimInserted)):
            cures = {Registered: ("registration", "call", "modem"), SimInserted: ("sim",)}[type(event)]
            if self.state == BACKING_OFF and self.failure_kind in cures:
                return self._connect(now, self._rung())
            return []
        return []

    def timer(self) -> Optional[float]:
        return self.deadline if self.state == BACKING_OFF else None

    def on_timer(self, now: float) -> List[Action]:
        if self.state == BACKING_OFF and self.deadline is not None and now >= self.deadline:
            return self._connect(now, self._rung())
        return []

    # ---------------------------------------------------------------- reporting

    def _back_off(self, now: float, kind: str, climbs: bool, waiting: str = "") -> None:
        """A failed attempt: count it (a modem failure also climbs the ladder) and wait before the next."""
        self.failures += 1
        if climbs:
            self.climbs += 1
        self.failure_kind = kind
        self.waiting = waiting
        self.state = BACKING_OFF
        self.deadline = now + self._delay()

    def snapshot(self) -> Dict[str, object]:
        return {"state": self.state, "failures": self.failures, "reconnects": self.reconnects, "last_error": self.last_error,
                "waiting": self.waiting, "rung": self.rung_used}


def describe_rung(rung: str) -> str:
    return {REDIAL: "a redial", REOPEN: "reopening the control port", RADIO: "turning the radio off and on",
            REBIND: "re-binding the USB driver"}.get(rung, rung)

