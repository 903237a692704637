"""Publish/subscribe: each published message is expected on every subscriber's connection.

The pacer books a publish as it books a request (`outstanding[slot][digits] = (actual,
intended)`), but every publisher slot holds the *same* dict: a publish is in flight once,
whichever connection published it. A delivery on a subscriber's connection is matched by
the id inside it and counted against its publish; the entry goes when the expected number
of subscribers have it (then the publish-to-last-subscriber latency is known) or at its
deadline (then the subscribers that never got it are lost deliveries). So memory is one
entry and one counter per publish in flight -- never a set per subscriber per message.

A delivery's latency runs from the publish's intended send time, as a reply's does. Per
subscriber only sums are kept (deliveries, total and largest latency): enough for the
delivery ratio per subscriber and the slowest subscriber, at a few numbers each.

Messages on a publisher's connection, and messages on a subscriber's that carry no id,
are pushes (`ReplyCorrelator.key_of_other`); a delivery whose publish is no longer in
flight (past its deadline, or one more than expected) is unmatched.
"""
from __future__ import annotations

import re

from ...step.correlator import ReplyCorrelator
from ...transport.frames import message_receiver


class FanoutCorrelator(ReplyCorrelator):
    """`publishers` slots share one dict of publishes in flight; `subscribers` have
    receivers of their own (`subscriber_receivers`), numbered from 0. Push counters run
    over publishers first, then subscribers."""

    def __init__(self, recorder, publishers: int, subscribers: int, extract_id,
                 id_base: int, start: float, interval: float, id_field: str | None,
                 push_pattern, expected_receivers: int):
        super().__init__(recorder, publishers + subscribers, extract_id, id_base, start,
                         interval, None, push_pattern)
        self.publishers, self.subscribers = publishers, subscribers
        self.in_flight_publishes: dict = {}
        self.outstanding = [self.in_flight_publishes] * publishers
        self.delivered: dict[bytes, int] = {}
        self.expected_receivers = expected_receivers
        self.deliveries = [0] * subscribers
        self.latency_sum_s = [0.0] * subscribers
        self.latency_max_s = [0.0] * subscribers
        self.last_delivery_s = recorder.add_series("last_delivery")
        self.lost_deliveries = 0
        self.reached_none = 0       # publishes no subscriber got
        self.reached_some = 0       # publishes some, not all, got
        # the id found without parsing where the field is a plain name
        self.id_regex = (re.compile(rb'"' + re.escape(id_field.encode()) + rb'"\s*:\s*(\d+)')
                         if id_field and "." not in id_field else None)

    def frame_receivers(self, fallbacks: list) -> list:
        """The publishers' receivers: whatever arrives there is no delivery (a push)."""
        other_key = self.key_of_other()

        def receiver(slot: int, fallback):
            def take(message: bytes, now: float) -> bool:
                if other_key(slot, message) is not None:   # an id, yet no delivery here
                    self.recorder.pushes += 1
                    self.recorder.pushes_per_connection[slot] += 1
                return False
            return message_receiver(take, fallback)
        return [receiver(slot, fallback) for slot, fallback in enumerate(fallbacks)]

    def subscriber_receivers(self, fallbacks: list) -> list:
        """Per subscriber connection, `on_frame(transport, frame)`: count a delivery."""
        book, shared, delivered = self.recorder, self.in_flight_publishes, self.delivered
        latencies, service_times = book.latency_s, book.service_s
        last, expected = self.last_delivery_s, self.expected_receivers
        deliveries, sums, maxes = self.deliveries, self.latency_sum_s, self.latency_max_s
        other_key, search = self.key_of_other(), (
            self.id_regex.search if self.id_regex is not None else None)
        first_push_slot = self.publishers

        def receiver(s: int, fallback):
            push_slot = first_push_slot + s

            def deliver(message: bytes, now: float) -> bool:
                found = search(message) if search is not None else None
                key = found.group(1) if found is not None else other_key(push_slot, message)
                if key is None:
                    return False
                sent = shared.get(key)
                if sent is None:
                    book.unmatched += 1
                    return False
                latency = now - sent[1]
                latencies.append(latency)
                service_times.append(now - sent[0])
                book.received += 1
                book.last_reply = now
                deliveries[s] += 1
                sums[s] += latency
                if latency > maxes[s]:
                    maxes[s] = latency
                count = delivered.get(key, 0) + 1
                if count >= expected:
                    del shared[key]
                    delivered.pop(key, None)
                    last.append(latency)
                else:
                    delivered[key] = count
                return True
            return message_receiver(deliver, fallback)
        return [receiver(s, fallback) for s, fallback in enumerate(fallbacks)]

    def expire(self, now: float, timeout_s: float) -> list[int]:
        """Publishes in flight for longer than `timeout_s` are settled: the subscribers that
        did not get them are lost deliveries. Nothing is resent: returns zeros."""
        deadline, shared, delivered = now - timeout_s, self.in_flight_publishes, self.delivered
        expected = self.expected_receivers
        while shared:
            key = next(iter(shared))
            if shared[key][0] > deadline:
                break
            del shared[key]
            got = delivered.pop(key, 0)
            self.lost_deliveries += expected - got
            self.recorder.lost += expected - got
            if got:
                self.reached_some += 1
            else:
                self.reached_none += 1
        return [0] * self.publishers

    def abandon(self, connection: int) -> int:
        """A publisher's connection closed: what it published is on the server's side now,
        still to be delivered or to expire."""
        return 0

    def in_flight(self) -> int:
        return len(self.in_flight_publishes)
