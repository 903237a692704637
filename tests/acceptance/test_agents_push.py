"""The new kinds of step on load agents: opening messages, listen-only streams and replies
in parts travel to the agents and come back merged."""
from __future__ import annotations

import pytest

from agent_processes import SECRET, start_agent
from WebSocketLoadLibrary.agents.controller import AgentFleet
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadPlan, LoadResult
from WebSocketLoadLibrary.engine.plan.specs import MultiReplySpec
from WebSocketLoadLibrary.engine.transport.opening import OpeningMessages
from WebSocketLoadLibrary.engine.plan.specs import StreamSpec


@pytest.fixture
def fleet():
    started = [start_agent(f"agent-{i + 1}") for i in range(2)]
    fleet = AgentFleet.connect([agent.uri for agent in started], SECRET)
    yield fleet
    fleet.close()
    for agent in started:
        agent.stop()


def test_a_stream_listened_to_on_two_agents_merges_into_one_result(fleet, start_server):
    server = start_server(engine="picows")
    opening = OpeningMessages('{"op":"stream","rate":200,"duration":30}', "op == streaming")
    assert fleet.open_connections(ConnectionOptions(server.uri, opening=opening),
                                  count_per_agent=2) == 4
    merged = fleet.start_step(LoadPlan(duration_s=1.5, name="listen", listen=StreamSpec(
        "seq", "ts"))).wait()
    stream = merged.sections["stream"]
    parts = [part.sections["stream"] for part in merged.agent_results()]
    assert merged.mode == "listen" and len(parts) == 2
    assert stream.messages == sum(p.messages for p in parts) >= 4 * 200 * 0.5
    assert stream.connections == 4 and stream.missing == 0
    assert stream.staleness.count == stream.messages
    assert stream.staleness_ms(50) < 1000      # the agents' clocks are this machine's
    assert LoadResult.from_dict(merged.to_dict()).sections["stream"].messages == stream.messages


def test_replies_in_parts_on_agents(fleet, start_server):
    server = start_server(mode="ack", replies=2)
    fleet.open_connections(ConnectionOptions(server.uri), count_per_agent=1)
    merged = fleet.start_step(LoadPlan(rate=200, messages=100, name="parts",
                                       replies=MultiReplySpec(2))).wait()
    assert (merged.received, merged.lost) == (100, 0)
    assert merged.sections["multi_reply"].parts_received == 200


PUBLISH = '{"op":"publish","topic":"t","message_id":$message_id,"send_time":$send_time}'


def test_publishers_on_one_agent_subscribers_on_another_one_merged_fan_out(fleet,
                                                                          start_server):
    from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
    server = start_server(engine="picows")
    fleet.open_connections(ConnectionOptions(server.uri, opening=OpeningMessages(
        '{"op":"subscribe","topic":"t"}', "op == subscribed")), count_per_agent=3,
        only=["agent-2"])
    fleet.open_connections(ConnectionOptions(server.uri), count_per_agent=1, only=["agent-1"])
    merged = fleet.start_fanout(LoadPlan(rate=100, messages=100, name="split fan-out",
                                         reply_timeout_s=2.0),
                                publishers=["agent-1"], subscribers=["agent-2"],
                                template=MessageTemplate(PUBLISH)).wait()
    fanout = merged.sections["fanout"]
    assert (merged.mode, merged.sent) == ("fanout", 100)
    assert (fanout.publishes, fanout.expected_receivers, fanout.deliveries) == (100, 3, 300)
    assert (merged.received, merged.lost, merged.delivery_ratio) == (300, 0, 1.0)
    assert merged.load_applied, merged.not_applied_reasons
    # latency against the schedule on another agent's clock: loopback, both clocks this one
    assert 0 < merged.latency_ms(50) < 500
    assert server.stats()["topics"]["t"]["delivered"] == 300
    with pytest.raises(Exception, match="either publishes or subscribes"):
        fleet.start_fanout(LoadPlan(rate=10, messages=10), ["agent-1"], ["agent-1"])
