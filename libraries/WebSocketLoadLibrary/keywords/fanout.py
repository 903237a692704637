"""Keywords for publish/subscribe servers: publish at a rate, check every subscriber got it."""
from __future__ import annotations

from robot.api.deco import keyword

from ..base.component import LibraryComponent
from ..base.step_report import run_step
from ..engine import LoadResult
from ..engine import SUBSCRIBERS, FanoutSpec
from ..engine import FanoutFigures
from ..engine import LoadPlan
from ..errors import UsageError
from ..utils.arguments import Duration, Rate, Ratio
from .assertions import checked_target, verdict


class FanoutKeywords(LibraryComponent):

    @keyword
    def publish_at_rate(self, rate: Rate, subscribers: str, duration: Duration | None = None,
                        messages: int | None = None, publishers: str | None = None,
                        expected_receivers: int | None = None,
                        delivery_timeout: Duration = Duration(5),
                        rate_tolerance: Ratio = Ratio(0.05), timeout: Duration | None = None,
                        name: str | None = None, fail_on_disconnect: bool = True) -> LoadResult:
        """Publishes at ``rate`` from the ``publishers`` client group (the current one by
        default) for ``duration`` or ``messages`` publishes, and measures the delivery of
        each publish to every connection of the ``subscribers`` group.

        A chat room, a notification fan-out, a market-data topic: open the subscribers
        with their subscription as opening messages (so they are ready before the first
        publish), the publishers as a group of their own, and set the publish message with
        `Set Message Template` (``$message_id`` in it; the server must pass the id on in
        what it delivers). Publishing is paced as `Send Burst At Rate` paces requests:
        every publish has an intended send time, and a delivery's latency runs from it.

        Each publish is expected on ``expected_receivers`` subscriber connections (by
        default every open connection of the ``subscribers`` group). It is settled when
        that many have it, or after ``delivery_timeout``: the subscribers that did not get
        it by then count as lost deliveries. A delivery that comes after that, or one more
        than expected, is unmatched. Memory stays one entry per publish in flight.

        The result: deliveries, expected and lost deliveries, the delivery ratio overall and
        of the worst subscriber, the slowest subscriber (mean delivery latency), delivery
        latency percentiles (every delivery) and the latency from a publish to its last
        subscriber. `Delivery Ratio Should Be At Least` and the latency keywords work on it
        (a lost delivery ranks above every delivery), and `Every Subscriber Should Receive
        At Least` checks the worst subscriber. Messages on a publisher's connection, and
        messages without an id on a subscriber's (heartbeats), are counted as pushes.

        Example:
        | Connect Clients | count=100 | alias=readers | opening_messages={"op":"subscribe","topic":"room"} | opening_reply=op == subscribed |
        | Connect Clients | count=1 | alias=writers |
        | Set Message Template | {"op":"publish","topic":"room","message_id":$message_id,"send_time":$send_time} |
        | Publish At Rate | 100/s | subscribers=readers | duration=10 s | publishers=writers |
        | Delivery Ratio Should Be At Least | 99.9% |
        | Latency P99 Should Be Below | 50 ms |
        """
        if rate.per_second is None:
            raise UsageError("publishing is paced: give a rate such as 100/s, not max")
        if duration is None and messages is None:
            raise UsageError("Publish At Rate needs a duration or a number of messages")
        readers = self.state.clients.get(subscribers)
        writers = self.state.clients.get(publishers)
        if readers is writers:
            raise UsageError("publishers and subscribers must be two client groups (aliases)")
        plan = LoadPlan(rate=rate.per_second, messages=messages,
                        duration_s=None if duration is None else float(duration),
                        reply_timeout_s=float(delivery_timeout),
                        rate_tolerance=float(rate_tolerance),
                        fanout=FanoutSpec(expected_receivers),
                        name=name or f"fan-out at {rate} to {subscribers}", **self.state.pacing)
        return run_step(self, writers, plan, timeout, fail_on_disconnect=fail_on_disconnect,
                        roles={SUBSCRIBERS: readers})

    @keyword
    def every_subscriber_should_receive_at_least(self, minimum: Ratio, result=None) -> float:
        """Fails unless every subscriber got at least ``minimum`` of the publishes
        (``99%``, ``0.999``) in a `Publish At Rate` step; names the worst one. Returns the
        worst subscriber's delivery ratio."""
        target = checked_target(self, result, "every subscriber's delivery ratio")
        fanout = target.sections.get(FanoutFigures.kind)
        if fanout is None:
            raise UsageError(f"cannot check subscribers: {target.name!r} has no fan-out "
                             f"figures (they come from Publish At Rate)")
        worst, ratio = fanout.worst_subscriber
        short = sum(1 for r in fanout.subscriber_ratios() if r < minimum)
        detail = (f"subscriber {worst} got {fanout.subscriber_deliveries[worst]:,} of "
                  f"{fanout.publishes:,} publishes ({ratio:.6f})" if worst >= 0
                  else "no subscriber")
        if worst < 0 or ratio < minimum:
            return verdict(self, [f"{short:,} of {fanout.subscribers:,} subscribers got less "
                                  f"than {minimum:g} of the publishes; the worst: {detail}"],
                           "", None)
        return verdict(self, [], f"every subscriber got at least {minimum:g} of the "
                                 f"publishes; the worst: {detail}", ratio)
