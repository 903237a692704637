"""Every fault of the mock server, declared once: the one place to read what it can do wrong.

From `FAULTS` come
- the command line's flags (`__main__.py`: ``--response-delay SECONDS`` and so on),
- the arguments `MockServerProcess` takes and passes to that command line (`process.py`),
- the fault state the server keeps and checks values into (`Faults`, `faults.py`),
- the fault arguments of the keywords `Set Mock Server Faults` and `Start Mock Server`, their
  types and their documentation (`keywords/server.py`),
- the list of faults the picows engine refuses (`picows_server.py`).

To add a fault: declare it in `FAULTS` below, and write what it does in the server (read
``faults.<name>`` where it applies: pipeline.py for messages, core.py for handshakes and
connections, topics.py and streams.py for pushes). Nothing else lists faults. A fault is
off at its default, 0; a new one goes last in `FAULTS` (keywords take arguments by
position, so the order of those declared stays).

No Robot Framework here: the keyword layer maps each `Kind` to its own argument types.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError


class FaultError(UsageError):
    pass


@dataclass(frozen=True)
class Kind:
    """What a fault's value is: the number the server keeps, its unit, its range."""
    name: str          # the keyword layer takes a seconds as Duration, a ratio as Ratio...
    number: type       # float or int: what the server keeps (an int fault drops a fraction)
    unit: str          # the command line's placeholder (SECONDS, N, ...)
    most: float | None = None  # the largest value, if any (a ratio's 1)

    def checked(self, fault: str, value) -> float | int:
        """The value as the server keeps it; FaultError names the fault and what is wrong."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise FaultError(f"fault {fault} must be a number, got {value!r}") from None
        if number < 0 or number != number:
            raise FaultError(f"fault {fault} must be >= 0, got {value!r}")
        if self.most is not None and number > self.most:
            raise FaultError(f"fault {fault} is a {self.name} between 0 and {self.most:g}, "
                             f"got {value!r}")
        return self.number(number)

    def text(self, value) -> str:
        """The value on the command line."""
        return repr(float(value)) if self.number is float else str(int(value))


SECONDS = Kind("seconds", float, "SECONDS")
RATIO = Kind("ratio", float, "RATIO", most=1.0)
COUNT = Kind("count", int, "N")
PER_SECOND = Kind("rate", float, "PER_S")


@dataclass(frozen=True)
class Fault:
    """One fault: what it is called everywhere, what its value is, what it does.

    name       the keyword argument, the control command's key and (with dashes) the flag
    kind       SECONDS, RATIO, COUNT or PER_SECOND
    doc        what it does, in the words of the person running the test: one line for the
               keyword documentation's table (Robot markup: ``code``; no ``|``) and the
               command line's help
    default    its value when not given, and after `Clear Mock Server Faults`: 0, off
    ends       for a fault that starts when it is set and lasts its value (a `stall` of
               2 s): the attribute of `Faults` holding the monotonic time it ends
    websockets_only  the picows engine cannot carry it out and refuses it, naming the
               websockets engine
    at_start   `Start Mock Server` takes it too (the command line and `Set Mock Server
               Faults` take every fault); False for the three it has never taken
    """
    name: str
    kind: Kind
    doc: str
    default: float = 0
    ends: str = ""
    websockets_only: bool = False
    at_start: bool = True

    def __post_init__(self):
        if "|" in self.doc:
            raise ValueError(f"fault {self.name}: a '|' in its doc would break the keyword "
                             "documentation's table")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def attribute(self) -> str:
        """Where `Faults` keeps it: its value, or for a timed fault the time it ends."""
        return self.ends or self.name

    @property
    def words(self) -> str:
        """The doc with what follows from the declaration (engine), in Robot markup."""
        engine = "; ``websockets`` engine only" if self.websockets_only else ""
        return self.doc + engine

    @property
    def help(self) -> str:
        """The doc for the command line (argparse formats help with %)."""
        return self.words.replace("``", "").replace("%", "%%")


FAULTS: tuple[Fault, ...] = (
    Fault("response_delay", SECONDS,
          "time added before every reply, delivery to a subscriber and stream message"),
    Fault("stall", SECONDS,
          "nothing leaves for this long from when it is set: replies, deliveries and stream "
          "messages queue up, then all go", ends="stall_until"),
    Fault("read_stall", SECONDS,
          "the server reads nothing for this long from when it is set, so the clients' "
          "sends back up through TCP, as with a server that stops consuming",
          ends="read_stall_until", at_start=False),
    Fault("drop_ratio", RATIO,
          "share of messages that get no reply, ``0.01`` or ``1%``; of deliveries and stream "
          "messages too (a dropped stream message is a gap in its ``seq``)"),
    Fault("disconnect_after", COUNT,
          "close each connection with code 1011 once it has sent this many messages (the "
          "last one still gets its reply); 0: never"),
    Fault("garble_ratio", RATIO,
          "share of replies replaced by text that is not the message (nor valid JSON)"),
    Fault("slow_subscriber_delay", SECONDS,
          "time added to the deliveries to one subscriber, the connection subscribed the "
          "longest", at_start=False),
    Fault("sequence_gap_every", COUNT,
          "skip every Nth stream ``seq`` number, never sent; 0: none", at_start=False),
    # the connection lifecycle, decided in core.py at each handshake and connection
    Fault("handshake_delay", SECONDS,
          "answer every opening handshake this late (other connections go on meanwhile); "
          "the server's own 10 s open timeout cuts off a longer wait",
          websockets_only=True),
    Fault("refuse_for", SECONDS,
          "refuse every new handshake with HTTP 503 for this long from when it is set",
          ends="refuse_until"),
    Fault("hang_handshakes", SECONDS,
          "for this long from when it is set, accept TCP and never answer the handshake: "
          "the client's open timeout fires (the server drops it after its own 10 s)",
          ends="hang_until", websockets_only=True),
    Fault("close_after", SECONDS,
          "close each connection with code 1001 this long after its handshake, for "
          "connections opened from when it is set; 0: never"),
    Fault("max_handshake_rate", PER_SECOND,
          "handshakes per second accepted (a bucket of one second's worth); those beyond "
          "get HTTP 429; 0: no limit"),
    # capacity, in pipeline.py
    Fault("max_message_rate", PER_SECOND,
          "the server serves at most this many messages per second, all connections "
          "together: one queue in front of the handler, each reply leaving at its slot, so "
          "beyond it latency grows without bound and nothing is dropped; 0: no limit"),
)

FAULT_NAMES = tuple(fault.name for fault in FAULTS)
BY_NAME = {fault.name: fault for fault in FAULTS}
assert len(BY_NAME) == len(FAULTS), "two faults of one name"


def checked_names(names) -> None:
    """FaultError naming the unknown ones among `names`, and the known."""
    unknown = set(names) - set(BY_NAME)
    if unknown:
        raise FaultError(f"unknown fault(s) {sorted(unknown)}; known: {list(FAULT_NAMES)}")


def command_line(values: dict) -> list[str]:
    """The flags of the faults in `values` (name -> value) that are on."""
    checked_names(values)
    arguments = []
    for name, value in values.items():
        fault = BY_NAME[name]
        if value is not None and fault.kind.checked(name, value) != fault.default:
            arguments += [fault.flag, fault.kind.text(value)]
    return arguments
