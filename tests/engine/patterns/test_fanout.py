"""Fan-out steps: each publish is expected at every subscriber, matched by its id, with
bounded memory; lost deliveries, the worst and the slowest subscriber come out."""
from __future__ import annotations

import asyncio
import json

import pytest

from thread_server import ThreadServer
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine
from WebSocketLoadLibrary.engine.errors import EngineError, PlanError
from WebSocketLoadLibrary.engine.plan.specs import FanoutSpec
from WebSocketLoadLibrary.engine.patterns.fanout.correlator import FanoutCorrelator
from WebSocketLoadLibrary.engine.transport.frames import WholeMessage
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
from WebSocketLoadLibrary.engine.transport.opening import OpeningMessages
from WebSocketLoadLibrary.engine.plan.load_plan import LoadPlan
from WebSocketLoadLibrary.engine.step.recorder import StepRecorder
from WebSocketLoadLibrary.engine.results.result import LoadResult

PUBLISH = '{"op":"publish","topic":"t","message_id":$message_id,"send_time":$send_time}'


def _correlator(subscribers=3, expected=None):
    book = StepRecorder(scheduled=True)
    template = MessageTemplate(PUBLISH)
    correlator = FanoutCorrelator(book, 2, subscribers, template.id_extractor(), 100, 10.0,
                                  0.01, "message_id", None, expected or subscribers)
    receivers = correlator.subscriber_receivers([None] * subscribers)

    def deliver(s, message_id, at):
        return receivers[s](None, WholeMessage(b'{"op":"publish","message_id":%d}' % message_id,
                                                at))
    return correlator, book, deliver


def test_a_publish_is_settled_when_every_subscriber_has_it():
    correlator, book, deliver = _correlator()
    correlator.outstanding[1][b"100"] = (10.0, 10.0)   # the pacer's booking, any publisher
    correlator.outstanding[0][b"101"] = (10.01, 10.01)
    for s, at in ((0, 10.002), (2, 10.004), (1, 10.010)):
        assert deliver(s, 100, at)
    assert correlator.in_flight() == 1 and correlator.delivered == {}
    assert correlator.last_delivery_s == [pytest.approx(0.010)]
    deliver(1, 101, 10.02)
    assert correlator.delivered == {b"101": 1}
    assert not deliver(1, 100, 10.05)                  # settled already: unmatched
    assert (book.received, book.unmatched) == (4, 1)
    assert correlator.deliveries == [1, 2, 1]


def test_an_expired_publish_counts_the_subscribers_that_missed_it():
    correlator, book, deliver = _correlator()
    correlator.outstanding[0][b"100"] = (10.0, 10.0)
    correlator.outstanding[0][b"101"] = (10.01, 10.01)
    deliver(0, 100, 10.1)
    correlator.expire(now=20.0, timeout_s=5.0)
    assert (correlator.lost_deliveries, book.lost) == (5, 5)
    assert (correlator.reached_some, correlator.reached_none) == (1, 1)
    assert correlator.in_flight() == 0 and correlator.delivered == {}


def test_memory_per_publish_is_one_entry_not_one_per_subscriber():
    correlator, _, deliver = _correlator(subscribers=1000)
    for k in range(50):
        correlator.outstanding[0][str(100 + k).encode()] = (10.0, 10.0)
    for s in range(999):
        for k in range(50):
            deliver(s, 100 + k, 10.1)
    assert len(correlator.delivered) == 50 and set(correlator.delivered.values()) == {999}
    for k in range(50):
        deliver(999, 100 + k, 10.1)
    assert correlator.delivered == {} and correlator.in_flight() == 0


class PubSubServer(ThreadServer):
    """Topics over websockets, in a thread: subscribe, publish to the others; subscriber
    number `slow` gets its deliveries `delay` late, number `lossy` misses every 4th."""

    def __init__(self, slow=None, delay=0.0, lossy=None):
        self.slow, self.delay, self.lossy = slow, delay, lossy
        self.subscribers: list = []
        super().__init__()

    async def handle(self, ws):
        async for message in ws:
            command = json.loads(message)
            if command["op"] == "subscribe":
                self.subscribers.append(ws)
                await ws.send('{"op":"subscribed"}')
            elif command["op"] == "publish":
                for number, subscriber in enumerate(list(self.subscribers)):
                    if number == self.lossy and command["message_id"] % 4 == 0:
                        continue
                    if number == self.slow:
                        self.loop.call_later(self.delay, asyncio.ensure_future,
                                             subscriber.send(message))
                    else:
                        await subscriber.send(message)


def _fanout(server, transport, subscribers=4, rate=100, messages=100, **spec):
    engine = LoadEngine()
    try:
        publishers = engine.connect(ConnectionOptions(server.uri, transport=transport), count=1)
        audience = engine.connect(ConnectionOptions(
            server.uri, transport=transport,
            opening=OpeningMessages('{"op":"subscribe","topic":"t"}', "op == subscribed")),
            count=subscribers)
        return engine.run_step(publishers, LoadPlan(
            rate=rate, messages=messages, reply_timeout_s=2.0, name="fan-out",
            fanout=FanoutSpec(**spec)), MessageTemplate(PUBLISH),
            roles={"subscribers": audience})
    finally:
        engine.close()


@pytest.mark.parametrize("transport", ["websockets", "picows"])
def test_a_healthy_fan_out_delivers_every_publish_to_every_subscriber(transport):
    server = PubSubServer()
    try:
        result = _fanout(server, transport)
    finally:
        server.close()
    fanout = result.sections["fanout"]
    assert result.mode == "fanout" and result.load_applied
    assert (fanout.publishes, fanout.deliveries, fanout.lost_deliveries) == (100, 400, 0)
    assert result.delivery_ratio == 1.0 and fanout.worst_subscriber[1] == 1.0
    assert result.latency.count == 400 and fanout.last_delivery.count == 100
    again = LoadResult.from_dict(result.to_dict())
    assert again.sections["fanout"].deliveries == 400 and again.delivery_ratio == 1.0


def test_a_lossy_and_a_slow_subscriber_show_as_such():
    server = PubSubServer(slow=1, delay=0.3, lossy=2)
    try:
        result = _fanout(server, "picows")
    finally:
        server.close()
    fanout = result.sections["fanout"]
    assert fanout.lost_deliveries == 25 and fanout.reached_some == 25
    assert fanout.worst_subscriber == (2, 0.75)
    assert fanout.slowest_subscriber[0] == 1 and fanout.slowest_subscriber[1] >= 250
    assert result.delivery_ratio == pytest.approx(375 / 400)
    assert result.latency_ms(99) >= 250


def test_expected_receivers_given_by_the_user_and_bad_plans():
    server = PubSubServer()
    try:
        result = _fanout(server, "picows", subscribers=2, messages=20, expected_receivers=3)
    finally:
        server.close()
    assert result.sections["fanout"].lost_deliveries == 20 and result.lost == 20
    with pytest.raises(PlanError, match="paced rate"):
        LoadPlan(messages=10, fanout=FanoutSpec())
    with pytest.raises(PlanError, match="at least 1"):
        FanoutSpec(expected_receivers=0)
    engine = LoadEngine()
    server = PubSubServer()
    try:
        pool = engine.connect(ConnectionOptions(server.uri), count=1)
        with pytest.raises(EngineError, match="needs a group of connections as its subscribers"):
            engine.run_step(pool, LoadPlan(rate=10, messages=5, fanout=FanoutSpec()))
    finally:
        engine.close()
        server.close()


def test_subscribers_that_never_receive_anything_show_as_lost_against_the_mock_server(
        start_server):
    """Each subscriber subscribes to a topic of its own (`$connection`); the publishes go to
    t0: subscriber 0 gets them all, the others nothing -- and the figures say exactly that."""
    server = start_server(engine="picows")
    engine = LoadEngine()
    try:
        audience = engine.connect(ConnectionOptions(server.uri, opening=OpeningMessages(
            '{"op":"subscribe","topic":"t$connection"}', "op == subscribed")), count=3)
        writers = engine.connect(ConnectionOptions(server.uri), count=1)
        result = engine.run_step(writers, LoadPlan(
            rate=100, messages=30, reply_timeout_s=0.5, fanout=FanoutSpec()),
            MessageTemplate(PUBLISH.replace('"topic":"t"', '"topic":"t0"')),
            roles={"subscribers": audience})
    finally:
        engine.close()
    fanout = result.sections["fanout"]
    assert fanout.subscriber_deliveries == [30, 0, 0]
    assert (fanout.lost_deliveries, fanout.reached_some, fanout.reached_none) == (60, 30, 0)
    assert fanout.worst_subscriber == (1, 0.0)
    assert server.stats()["topics"]["t0"]["delivered"] == 30
