"""Keeping a connection up, decided without I/O: events and the time in, actions out.

The supervisor knows which bearers should be up and which are, how many attempts in a row
failed, and which rung of the recovery ladder to try next. It never touches the modem: the
connection service carries out its actions (``Connect``, ``Disconnect``, ``Refresh``, ``Exit``,
and ``Note``: a line for the log) and tells it what happened. Bearers are opaque keys here.

Its behaviour is one table, ``TABLE``: (state, event) -> (handler, the states it may lead to).
A pair missing from the table is logged and changes nothing; every change of state comes with
a ``Note`` naming the cause (``connected -> backing-off: IPv4 call ended by the network ...``).
The README's diagram is checked against this table by a test.

Backoff is capped and jittered (1, 2, 4 ... 60 s, ±20 %). The ladder climbs from a plain
redial, to reopening the control port, to turning the radio off and on, to re-binding the
USB driver, one failure each, then starts over; only failures whose recovery class says a
reset may help climb it.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Hashable, List, Optional, Tuple, Type, Union

from ..errors import Recovery

__all__ = [
    "Policy", "Supervisor", "State", "TABLE", "describe_rung", "REDIAL", "REOPEN", "RADIO", "REBIND",
    "Connect", "Disconnect", "Refresh", "Exit", "Note", "Action",
    "Connected", "ConnectFailed", "CallDropped", "AddressChanged", "ProbeFailed", "ModemLost", "ModemBack",
    "ModemUnresponsive", "Registered", "SimInserted", "StopRequested", "TimerExpired", "Event",
]

# Recovery rungs, in the order they are climbed.
REDIAL, REOPEN, RADIO, REBIND = "redial", "reopen", "radio", "rebind"

BearerKey = Hashable  # a BearerId for the service; anything hashable with a readable str() here
Keys = FrozenSet[BearerKey]


class State(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing-off"
    WAITING_FOR_MODEM = "waiting-for-modem"
    STOPPING = "stopping"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Policy:
    """How the supervisor backs off and climbs its recovery ladder."""
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    jitter: float = 0.2
    # How many failures in a row each rung gets before the next one is tried.
    ladder: Tuple[Tuple[str, int], ...] = ((REDIAL, 1), (REOPEN, 1), (RADIO, 1), (REBIND, 1))


# ---------------------------------------------------------------------- actions (to the service)

@dataclass(frozen=True)
class Connect:
    """Bring these bearers up; first perform ``rung`` (redial: nothing special)."""

    bearers: Keys
    rung: str = REDIAL


@dataclass(frozen=True)
class Disconnect:
    """Take these bearers down on the host (and on the modem if it is still there)."""

    bearers: Keys
    modem_gone: bool = False


@dataclass(frozen=True)
class Refresh:
    """Re-read this bearer's settings and make the host match (its address changed)."""

    bearer: BearerKey


@dataclass(frozen=True)
class Exit:
    """Action: end the process with this status."""
    status: int


@dataclass(frozen=True)
class Note:
    """A line for the log: a transition and its cause, or an event nobody expected."""

    text: str
    warning: bool = False


Action = Union[Connect, Disconnect, Refresh, Exit, Note]


# ---------------------------------------------------------------------- events (from the service and the backend)

@dataclass(frozen=True)
class Connected:
    """Event: these bearers came up."""
    bearers: Keys


@dataclass(frozen=True)
class ConnectFailed:
    """Event: an attempt failed, and what may help."""
    reason: str
    recovery: Recovery = Recovery.RETRY
    status: int = 1                # exit status when fatal

    @property
    def waiting(self) -> str:
        """A state worth naming while we wait."""
        return {Recovery.WAIT_FOR_SIM: "waiting for a SIM",
                Recovery.WAIT_FOR_NETWORK: "waiting for the network"}.get(self.recovery, "")


@dataclass(frozen=True)
class CallDropped:
    """Event: the modem or the link ended a call."""
    bearer: BearerKey
    reason: str = ""


@dataclass(frozen=True)
class AddressChanged:
    """Event: a call's settings changed; configure them again."""
    bearer: BearerKey


@dataclass(frozen=True)
class ProbeFailed:
    """Event: the connectivity probe of a call failed."""
    bearer: BearerKey
    detail: str = ""


@dataclass(frozen=True)
class ModemLost:
    """Event: the module went away (or its port closed)."""
    reason: str = ""


@dataclass(frozen=True)
class ModemBack:
    """Event: the module is back."""


@dataclass(frozen=True)
class ModemUnresponsive:
    """The control port is there but the modem stopped answering (requests time out)."""

    reason: str = ""


@dataclass(frozen=True)
class Registered:
    """The network is back: a pending redial need not wait for its backoff."""


@dataclass(frozen=True)
class SimInserted:
    """Event: a SIM was put in."""


@dataclass(frozen=True)
class StopRequested:
    """Event: stop (a signal, qcm disconnect)."""
    reason: str = ""


@dataclass(frozen=True)
class TimerExpired:
    """Event: the timer the supervisor asked for ran out."""


Event = Union[Connected, ConnectFailed, CallDropped, AddressChanged, ProbeFailed, ModemLost, ModemBack,
              ModemUnresponsive, Registered, SimInserted, StopRequested, TimerExpired]

# What cuts a wait short: the event that cures the last failure's recovery class.
CURES: Dict[type, FrozenSet[Recovery]] = {
    Registered: frozenset({Recovery.WAIT_FOR_NETWORK, Recovery.RESET, Recovery.RETRY}),
    SimInserted: frozenset({Recovery.WAIT_FOR_SIM}),
}

C, U, B, W, S = State.CONNECTING, State.CONNECTED, State.BACKING_OFF, State.WAITING_FOR_MODEM, State.STOPPING
UP_OR_TRYING = (C, U, B)

# (state, event) -> (handler, states it may lead to). Handlers return the actions.
TABLE: Dict[Tuple[State, Type[object]], Tuple[str, FrozenSet[State]]] = {}


def _rows(states: Tuple[State, ...], event: Type[object], handler: str, *targets: State) -> None:
    for state in states:
        TABLE[(state, event)] = (handler, frozenset(targets or (state,)))


_rows((C,), Connected, "_connected", U, C)
_rows((C,), ConnectFailed, "_failed", B, S)
_rows((C, B), CallDropped, "_dropped_meanwhile")
_rows((C, B), ProbeFailed, "_dropped_meanwhile")
_rows((U,), CallDropped, "_dropped", C)
_rows((U,), ProbeFailed, "_dropped", C)
_rows(UP_OR_TRYING, AddressChanged, "_address_changed")
_rows(UP_OR_TRYING, ModemLost, "_modem_lost", W)
_rows((U,), ModemUnresponsive, "_unresponsive", B)
_rows((C, B), ModemUnresponsive, "_ignore")  # an attempt is under way or due: its own failure counts
_rows((W,), ModemBack, "_modem_back", C)
_rows((B,), Registered, "_cured", C, B)
_rows((B,), SimInserted, "_cured", C, B)
_rows((C, U), Registered, "_ignore")
_rows((C, U), SimInserted, "_ignore")
_rows((B,), TimerExpired, "_timer", C, B)
_rows((C, U, W), TimerExpired, "_ignore")
_rows((C, U, B, W), StopRequested, "_stop", S)
_rows((W,), Connected, "_ignore")  # the result of an attempt the modem's disappearance overtook
_rows((W,), ConnectFailed, "_ignore")
_rows((W,), CallDropped, "_ignore")
_rows((W,), ProbeFailed, "_ignore")
_rows((W,), AddressChanged, "_ignore")
_rows((W,), ModemLost, "_ignore")
_rows((W,), ModemUnresponsive, "_ignore")
_rows((W,), Registered, "_ignore")
_rows((W,), SimInserted, "_ignore")
_rows((C, U, B), ModemBack, "_ignore")


def event_name(event_type: type) -> str:
    """``CallDropped`` -> ``call-dropped`` (the names the README's diagram uses)."""
    name = event_type.__name__
    return "".join("-" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


@dataclass
class Supervisor:
    """The supervisor's state, changed only by ``handle`` and ``on_timer`` (sans I/O)."""
    wanted: Keys
    policy: Policy = field(default_factory=Policy)
    random: Callable[[], float] = random.random
    state: State = State.CONNECTING
    up: Keys = frozenset()
    failures: int = 0              # attempts in a row that failed: sets the backoff
    climbs: int = 0                # ... of which a reset might cure: sets the ladder rung
    failure_recovery: Recovery = Recovery.RETRY   # the last failure's class: which events cut the wait short
    dropped_meanwhile: Keys = frozenset()  # bearers that dropped while an attempt was under way
    reconnects: int = 0
    rung_used: str = REDIAL
    last_error: str = ""
    waiting: str = ""
    deadline: Optional[float] = None
    ever_connected: bool = False

    def start(self, now: float, rung: str = REDIAL) -> List[Action]:
        return self._connect(rung)

    # ---------------------------------------------------------------- the table

    def handle(self, event: object, now: float) -> List[Action]:
        row = TABLE.get((self.state, type(event)))
        if row is None:
            if self.state == State.STOPPING:
                return []  # after the decision to stop, nothing else matters
            return [Note("supervisor: %s in state %s changes nothing" % (event_name(type(event)), self.state), True)]
        handler, targets = row
        before = self.state
        actions: List[Action] = getattr(self, handler)(event, now)
        assert self.state in targets, "%s: %s -> %s is not in the table" % (handler, before, self.state)
        if self.state != before:
            # Going down, backing off or stopping on an error is worth a warning (journalctl -p warning).
            failed = self.state in (State.BACKING_OFF, State.WAITING_FOR_MODEM) \
                or (before, self.state) == (State.CONNECTED, State.CONNECTING) \
                or any(isinstance(a, Exit) and a.status != 0 for a in actions)
            actions.insert(0, Note("%s -> %s: %s" % (before, self.state, self._cause(event, now)), failed))
        return actions

    def timer(self) -> Optional[float]:
        return self.deadline if self.state == State.BACKING_OFF else None

    def on_timer(self, now: float) -> List[Action]:
        if self.deadline is not None and now >= self.deadline:
            return self.handle(TimerExpired(), now)
        return []

    # ---------------------------------------------------------------- handlers

    def _ignore(self, event: object, now: float) -> List[Action]:
        return []

    def _connected(self, event: Connected, now: float) -> List[Action]:
        dropped = event.bearers & self.dropped_meanwhile
        self.up = self.up | (event.bearers - dropped)
        if dropped:  # the call ended before its attempt reported: what came up is already gone
            return [Disconnect(dropped)] + self._connect(REDIAL)
        if self.up < self.wanted:
            return self._connect(REDIAL) if self.state == State.CONNECTING else []
        if self.ever_connected and self.state != State.CONNECTED:
            self.reconnects += 1
        self.ever_connected = True
        self.failures = self.climbs = 0
        self.waiting = ""
        self.state = State.CONNECTED
        return []

    def _failed(self, event: ConnectFailed, now: float) -> List[Action]:
        self.last_error = event.reason
        if event.recovery == Recovery.FATAL:
            self.state = State.STOPPING
            return [Disconnect(self.wanted), Exit(event.status)]
        self._back_off(now, event.recovery, event.waiting)
        return []

    def _dropped_meanwhile(self, event: Union[CallDropped, ProbeFailed], now: float) -> List[Action]:
        bearer = event.bearer
        if bearer not in self.up:
            if self.state == State.CONNECTING:
                self.dropped_meanwhile = self.dropped_meanwhile | {bearer}
            return []
        self.up = self.up - {bearer}
        self.last_error = self._cause(event, now)
        return [Disconnect(frozenset({bearer}))]  # an attempt is already under way or scheduled

    def _dropped(self, event: Union[CallDropped, ProbeFailed], now: float) -> List[Action]:
        bearer = event.bearer
        if bearer not in self.up:
            return []
        self.up = self.up - {bearer}
        self.last_error = self._cause(event, now)
        return [Disconnect(frozenset({bearer}))] + self._connect(REDIAL)

    def _address_changed(self, event: AddressChanged, now: float) -> List[Action]:
        return [Refresh(event.bearer)] if event.bearer in self.up else []

    def _modem_lost(self, event: ModemLost, now: float) -> List[Action]:
        self.last_error = event.reason or "the modem vanished"
        self.up = frozenset()
        self.state = State.WAITING_FOR_MODEM
        self.deadline = None
        return [Disconnect(self.wanted, modem_gone=True)]

    def _unresponsive(self, event: ModemUnresponsive, now: float) -> List[Action]:
        self.last_error = event.reason or "the modem stopped answering"
        down, self.up = self.up, frozenset()
        self._back_off(now, Recovery.RESET)
        return [Disconnect(down)]

    def _modem_back(self, event: ModemBack, now: float) -> List[Action]:
        return self._connect(REDIAL)

    def _cured(self, event: object, now: float) -> List[Action]:
        if self.failure_recovery in CURES[type(event)]:
            return self._connect(self._rung())
        return []

    def _timer(self, event: TimerExpired, now: float) -> List[Action]:
        if self.deadline is None or now < self.deadline:
            return []
        return self._connect(self._rung())

    def _stop(self, event: StopRequested, now: float) -> List[Action]:
        self.state = State.STOPPING
        return [Disconnect(self.wanted), Exit(0)]

    # ---------------------------------------------------------------- helpers

    def _connect(self, rung: str) -> List[Action]:
        self.state = State.CONNECTING
        self.deadline = None
        self.rung_used = rung
        self.dropped_meanwhile = frozenset()
        if rung != REDIAL and self.up:
            # Reopening the port, cycling the radio or re-binding the driver ends every call.
            down, self.up = self.up, frozenset()
            return [Disconnect(down), Connect(self.wanted, rung)]
        return [Connect(self.wanted - self.up, rung)]

    def _rung(self) -> str:
        """The rung for the next attempt, from how many attempts in a row have failed for reasons
        a reset might cure (not a missing SIM: that only a person can fix)."""
        position = self.climbs % sum(count for _, count in self.policy.ladder)
        for rung, count in self.policy.ladder:
            if position < count:
                return rung
            position -= count
        return REDIAL

    def _delay(self) -> float:
        delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** max(0, self.failures - 1))
        return delay * (1 + self.policy.jitter * (2 * self.random() - 1))

    def _back_off(self, now: float, recovery: Recovery, waiting: str = "") -> None:
        """A failed attempt: count it (one a reset may cure also climbs the ladder) and wait before the next."""
        self.failures += 1
        if recovery == Recovery.RESET:
            self.climbs += 1
        self.failure_recovery = recovery
        self.waiting = waiting
        self.state = State.BACKING_OFF
        self.deadline = now + self._delay()

    def _cause(self, event: object, now: float) -> str:
        if isinstance(event, ConnectFailed):
            text = event.reason
            if self.state == State.BACKING_OFF and self.deadline is not None:
                text += "; next attempt in %.0f s%s" % (max(0.0, self.deadline - now),
                                                         " (%s)" % self.waiting if self.waiting else "")
            return text
        if isinstance(event, CallDropped):
            return event.reason or "%s call ended" % event.bearer
        if isinstance(event, ProbeFailed):
            return "%s: no traffic through the connection (probe failed%s)" % (
                event.bearer, ": " + event.detail if event.detail else "")
        if isinstance(event, (ModemLost, ModemUnresponsive, StopRequested)):
            return event.reason or event_name(type(event))
        if isinstance(event, (TimerExpired, Registered, SimInserted, ModemBack)):
            return {TimerExpired: "backoff over", Registered: "the network is back", SimInserted: "a SIM was inserted",
                    ModemBack: "the module is back"}[type(event)] + (
                ", trying %s" % describe_rung(self.rung_used) if self.rung_used != REDIAL else "")
        if isinstance(event, Connected):
            return "%s up" % ", ".join(str(b) for b in sorted(event.bearers, key=str))
        return event_name(type(event))

    def snapshot(self) -> Dict[str, object]:
        return {"state": str(self.state), "failures": self.failures, "reconnects": self.reconnects,
                "last_error": self.last_error, "waiting": self.waiting, "rung": self.rung_used}


def describe_rung(rung: str) -> str:
    return {REDIAL: "a redial", REOPEN: "reopening the control port", RADIO: "turning the radio off and on",
            REBIND: "re-binding the USB driver"}.get(rung, rung)
