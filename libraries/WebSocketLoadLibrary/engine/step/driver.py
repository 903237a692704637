"""What a load style is to a step: the one small interface every driver implements.

A load step (step.py) owns what every style shares: the pool hookup, the bookkeeping, the
resource sampler, the 100 ms tick (expiry, the per-second timeline), the drain of replies
still in flight and the result. A *driver* owns what differs: what is sent and when, what
the connections' replies go to, what expiry means for the sending, and how the style
describes itself in the result. Each traffic pattern in engine/patterns/ has one (paced
requests, the closed loop, replies in parts, listen only, fan-out and its two halves), says
which plans it runs with `@drivers.runs_plans`, and declares how its results read with a
`TrafficPattern` (results/patterns.py). A new pattern is one new module there.

Order of calls, by `LoadStep.run`:

1. `Driver.latency_interval(plan)` (class method): the schedule's interval, which makes the
   book measure latency from each message's intended time; None: from its actual send.
2. `Driver(plan, template, id_base, recorder, correlator, writer)`: what it counts into
   (recorder.py), what matches arriving messages (correlator.py), what it sends through.
3. `prepare(pool, connections)`: all that takes time and must not eat into the schedule
   (10k connections' senders take ~20 ms, their receivers ~12 ms), before the step's clock
   starts.
4. `begin(start)`: the step's clock; the first message may be due at `start`.
5. `await run()`: send until the plan is done (not until the replies are in: the step
   drains those).
6. `expired(lost_per_slot)`: at each tick, how many messages per connection the book just
   counted as lost (the closed loop sends others in their place).
7. `describe(result)`: fill in the style's own figures (mode, latency basis, what was
   planned, the achieved send rate, schedule lateness) and the inputs of the verdict.

Before 2, `Driver.make_correlator(...)` (class method) makes the correlator: one reply per
message by default; fan-out's matches every subscriber's delivery to one publish.

Attributes: `mode` ("open", "closed", ...), `latency_basis` (words for the result),
`roles` (other groups of connections the style needs, e.g. `subscribers`: the step hands
them over as `members`, role -> (pool, open connections), before `prepare`),
`samples_unread_replies` (the step probes the sockets' unread bytes: meaningful where a
schedule could hide a receiving side that falls behind).
"""
from __future__ import annotations

from .correlator import ReplyCorrelator


class LoadDriver:
    """The base of the drivers: the defaults of the interface described above."""

    mode = ""
    latency_basis = ""
    samples_unread_replies = False
    roles: tuple[str, ...] = ()     # other groups of connections the style needs, by role
    members: dict = {}              # role -> (pool, open connections), set by the step

    @classmethod
    def latency_interval(cls, plan) -> float | None:
        return None

    @classmethod
    def make_correlator(cls, recorder, plan, template, connections: int, id_base: int,
                        interval, members: dict):
        """What matches arriving messages: one reply per message, on its connection."""
        return ReplyCorrelator(recorder, connections, template.id_extractor(), id_base, 0.0,
                               interval, template.id_fast_path(), template.push)

    def unread_sockets(self, pool, connections) -> list[int]:
        """The sockets whose unread bytes show a receiving side that falls behind."""
        return pool.socket_fds(connections)

    def __init__(self, plan, template, id_base: int, recorder, correlator, writer):
        self.plan, self.template, self.id_base = plan, template, id_base
        self.recorder, self.correlator, self.writer = recorder, correlator, writer

    def prepare(self, pool, connections) -> None:
        self.pool, self.connections = pool, connections

    def begin(self, start: float) -> None:
        self.start = start

    async def run(self) -> None:
        raise NotImplementedError

    def replaced(self, slot: int, connection) -> None:
        """A lifecycle policy put a new connection in `slot` (the pool has installed the
        step's receiver on it): a driver that sends on connections takes it up."""

    def gave_up(self, slot: int) -> None:
        """A lifecycle policy will not replace the connection in `slot`."""

    def expired(self, lost_per_slot: list[int]) -> None:
        """Messages counted lost: nothing to do unless the sending depends on replies."""

    def describe(self, result) -> None:
        raise NotImplementedError

    def verdict_inputs(self) -> dict:
        """Keyword arguments of `verdict.judge` beyond the result."""
        return {}
