"""Several replies per request: a request is answered in parts -- `parts` of them, or until
a part matches the *last part* pattern (a GraphQL `complete`, an RPC stream's `done`).

The open loop paces the requests as always; this module's correlator counts the parts of
each request in flight (one counter per request, next to its booking) and settles it when
its last part arrives: its latency runs from the intended send time to the last part, and
the latency to the first part is kept as a distribution of its own. A request still in
flight at its deadline is lost when no part came, *incomplete* when some did (its missing
parts are lost parts); either way it is not delivered. A part for a request no longer in
flight (one more than expected, or after the deadline) is an extra part.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..plan.messages import fast_path_parts
from ..step.correlator import ReplyCorrelator
from ..transport.frames import message_receiver
from ..results.histogram import LatencyHistogram
from ..step.drivers import runs_plans
from .open_loop import OpenLoopDriver
from ..plan.specs import MultiReplySpec
from ..results.sections import ResultSection

MULTI_REPLY_BASIS = "intended send time, to the last part of the reply"


class MultiReplyCorrelator(ReplyCorrelator):
    """Counts each request's parts on the connection that sent it (see the module)."""

    def __init__(self, recorder, connections: int, extract_id, id_base: int, start: float,
                 interval: float, id_fast_path, push_pattern, spec: MultiReplySpec):
        super().__init__(recorder, connections, extract_id, id_base, start, interval,
                         id_fast_path, push_pattern)
        self.spec = spec
        self.parts_so_far: list[dict[bytes, int]] = [{} for _ in range(connections)]
        self.first_part_s = recorder.add_series("first_part")
        self.parts_received = 0
        self.incomplete = 0
        self.lost_parts = 0
        self.extra_parts = 0

    def frame_receivers(self, fallbacks: list) -> list:
        book, other_key = self.recorder, self.key_of_other()
        latencies, service_times, firsts = book.latency_s, book.service_s, self.first_part_s
        expected = self.spec.parts or 0
        last_part = self.spec.last_part.matches if self.spec.last_part is not None else None
        prefix, start, end_bytes, _, _ = fast_path_parts(self.id_fast_path)
        correlator = self

        def receiver(slot: int, waiting: dict, so_far: dict, fallback):
            def take(message: bytes, now: float) -> bool:
                key = None
                if prefix is not None and message[:start] == prefix:
                    end = message.find(end_bytes, start)
                    if end > start and message[start:end] in waiting:
                        key = message[start:end]
                if key is None:
                    key = other_key(slot, message)
                    if key is None:
                        return False
                sent = waiting.get(key)
                if sent is None:
                    correlator.extra_parts += 1
                    book.unmatched += 1
                    return False
                correlator.parts_received += 1
                count = so_far.get(key, 0) + 1
                if count == 1:
                    firsts.append(now - sent[1])
                if count == expected or (last_part is not None and last_part(message)):
                    del waiting[key]
                    so_far.pop(key, None)
                    book.received += 1
                    book.last_reply = now
                    latencies.append(now - sent[1])
                    service_times.append(now - sent[0])
                else:
                    so_far[key] = count
                return True
            return message_receiver(take, fallback)
        return [receiver(slot, waiting, so_far, fallback) for slot, (waiting, so_far, fallback)
                in enumerate(zip(self.outstanding, self.parts_so_far, fallbacks))]

    def expire(self, now: float, timeout_s: float) -> list[int]:
        deadline, lost_per_connection = now - timeout_s, []
        for waiting, so_far in zip(self.outstanding, self.parts_so_far):
            lost = 0
            while waiting:
                key = next(iter(waiting))
                if waiting[key][0] > deadline:
                    break
                del waiting[key]
                self._settle_unfinished(so_far.pop(key, 0))
                lost += 1
            self.recorder.lost += lost
            lost_per_connection.append(lost)
        return lost_per_connection

    def abandon(self, connection: int) -> int:
        waiting, so_far = self.outstanding[connection], self.parts_so_far[connection]
        for key in waiting:
            self._settle_unfinished(so_far.pop(key, 0))
        lost = len(waiting)
        waiting.clear()
        self.recorder.lost += lost
        return lost

    def cut(self, connection: int) -> int:
        """The client closed the connection (churn): its requests are cut, parts and all."""
        self.parts_so_far[connection].clear()
        return super().cut(connection)

    def _settle_unfinished(self, parts: int) -> None:
        if parts:
            self.incomplete += 1
        expected = self.spec.parts
        self.lost_parts += (expected - parts) if expected else (0 if parts else 1)


@dataclass
class MultiReplyFigures(ResultSection):
    kind = "multi_reply"
    parts_expected: int | None = None        # None: until the last-part pattern
    last_part: str | None = None
    requests_complete: int = 0
    requests_incomplete: int = 0             # some parts came, not the last
    parts_received: int = 0
    lost_parts: int = 0
    extra_parts: int = 0
    first_part: LatencyHistogram = field(default_factory=LatencyHistogram)

    @classmethod
    def of(cls, correlator: MultiReplyCorrelator) -> "MultiReplyFigures":
        spec = correlator.spec
        return cls(spec.parts, None if spec.last_part is None else spec.last_part.text,
                   correlator.recorder.received, correlator.incomplete,
                   correlator.parts_received, correlator.lost_parts, correlator.extra_parts,
                   correlator.recorder.series["first_part"][1])

    @classmethod
    def merged(cls, sections: list["MultiReplyFigures"]) -> "MultiReplyFigures":
        first = sections[0]
        return cls(first.parts_expected, first.last_part,
                   *(sum(getattr(s, name) for s in sections)
                     for name in ("requests_complete", "requests_incomplete", "parts_received",
                                  "lost_parts", "extra_parts")),
                   LatencyHistogram.merged(s.first_part for s in sections))

    def to_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "first_part"}
        data["first_part_histogram"] = self.first_part.encode()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "MultiReplyFigures":
        data = dict(data)
        first = LatencyHistogram.decode(data.pop("first_part_histogram", ""))
        return cls(**data, first_part=first)

    def summary(self) -> dict:
        return {"reply_parts_received": self.parts_received,
                "requests_incomplete": self.requests_incomplete,
                "reply_parts_lost": self.lost_parts, "reply_parts_extra": self.extra_parts,
                "first_part_p50_ms": self.first_part.percentile_us(50) / 1000,
                "first_part_p99_ms": self.first_part.percentile_us(99) / 1000}

    def rows(self) -> list[tuple[str, str]]:
        expected = (f"{self.parts_expected} per request" if self.parts_expected
                    else f"until {self.last_part!r}")
        p = self.first_part.percentiles_us((50, 95, 99))
        return [("reply parts expected / received", f"{expected} / {self.parts_received:,}"),
                ("requests complete / incomplete", f"{self.requests_complete:,} / "
                 f"{self.requests_incomplete:,}"),
                ("reply parts lost / extra", f"{self.lost_parts:,} / {self.extra_parts:,}"),
                ("first part p50 / p95 / p99 (ms)",
                 " / ".join(f"{p[float(q)] / 1000:,.3f}" for q in (50, 95, 99)))]

    higher_is_worse = {"reply_parts_lost": "lost reply parts",
                       "first_part_p99_ms": "first part p99 (ms)"}


@runs_plans(order=30, where=lambda plan: plan.replies is not None)
class MultiReplyDriver(OpenLoopDriver):
    """The open loop's pacing; each request waits for all its parts."""
    mode = "open"
    latency_basis = MULTI_REPLY_BASIS

    @classmethod
    def make_correlator(cls, recorder, plan, template, connections: int, id_base: int,
                        interval, members: dict):
        return MultiReplyCorrelator(recorder, connections, template.id_extractor(), id_base,
                                    0.0, interval, template.id_fast_path(), template.push,
                                    plan.replies)

    def describe(self, result) -> None:
        super().describe(result)
        figures = MultiReplyFigures.of(self.correlator)
        result.sections[figures.kind] = figures
