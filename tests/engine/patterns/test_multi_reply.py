"""Several replies per request: counted by parts, settled at the last, against the mock
server's multi-reply mode (both engines)."""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine.errors import PlanError
from WebSocketLoadLibrary.engine.transport.frames import WholeMessage
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
from WebSocketLoadLibrary.engine.plan.specs import MultiReplySpec
from WebSocketLoadLibrary.engine.patterns.multi_reply import MultiReplyCorrelator
from WebSocketLoadLibrary.engine.plan.load_plan import LoadPlan
from WebSocketLoadLibrary.engine.step.recorder import StepRecorder
from WebSocketLoadLibrary.engine.results.result import LoadResult


def _correlator(**spec):
    book = StepRecorder(scheduled=True)
    template = MessageTemplate()
    correlator = MultiReplyCorrelator(book, 1, template.id_extractor(), 100, 10.0, 0.01,
                                      template.id_fast_path(), None, MultiReplySpec(**spec))
    receive = correlator.frame_receivers([None])[0]
    return correlator, book, lambda message, at: receive(None, WholeMessage(message, at))


def test_a_request_is_settled_at_its_last_part_with_first_and_last_latency():
    correlator, book, receive = _correlator(parts=3)
    correlator.outstanding[0][b"100"] = (10.0, 10.0)
    for at in (10.01, 10.02, 10.05):
        receive(b'{"message_id":100,"part":1}', at)
    receive(b'{"message_id":100,"part":4}', 10.06)          # one too many
    assert (book.received, correlator.parts_received, correlator.extra_parts) == (1, 3, 1)
    assert correlator.first_part_s == [pytest.approx(0.01)]
    assert book.latency_s == [pytest.approx(0.05)] and correlator.in_flight() == 0


def test_the_last_part_pattern_ends_a_request_and_missing_parts_are_lost_parts():
    correlator, book, receive = _correlator(last_part="status == done")
    correlator.outstanding[0][b"100"] = (10.0, 10.0)
    correlator.outstanding[0][b"101"] = (10.01, 10.01)
    correlator.outstanding[0][b"102"] = (10.02, 10.02)
    receive(b'{"message_id":100,"status":"partial"}', 10.03)
    receive(b'{"message_id":100,"status":"done"}', 10.04)
    receive(b'{"message_id":101,"status":"partial"}', 10.05)
    correlator.expire(now=100.0, timeout_s=5.0)
    assert (book.received, book.lost) == (1, 2)
    assert (correlator.incomplete, correlator.lost_parts) == (1, 1)


def test_bad_multi_reply_plans_are_clear_errors():
    with pytest.raises(PlanError, match="their number or the pattern"):
        MultiReplySpec()
    with pytest.raises(PlanError, match="paced rate"):
        LoadPlan(messages=10, replies=MultiReplySpec(parts=2))


@pytest.mark.parametrize("engine_name", ["websockets", "picows"])
@pytest.mark.parametrize("spec", [dict(parts=3), dict(last_part="status == done")])
def test_the_mock_servers_parts_are_all_counted(start_server, engine, connect, engine_name,
                                                spec):
    server = start_server(mode="ack", replies=3, engine=engine_name)
    pool = connect(server.uri, count=2)
    result = engine.run_step(pool, LoadPlan(rate=500, messages=200, name="parts",
                                            replies=MultiReplySpec(**spec)))
    parts = result.sections["multi_reply"]
    assert (result.received, result.lost) == (200, 0) and result.load_applied
    assert (parts.parts_received, parts.lost_parts, parts.extra_parts) == (600, 0, 0)
    assert parts.first_part.count == 200
    assert parts.first_part.percentile_us(50) <= result.latency.percentile_us(50)
    again = LoadResult.from_dict(result.to_dict())
    assert again.sections["multi_reply"].parts_received == 600


def test_a_server_that_answers_once_leaves_every_request_incomplete(start_server, engine,
                                                                     connect):
    server = start_server(mode="ack", replies=1)
    pool = connect(server.uri, count=1)
    result = engine.run_step(pool, LoadPlan(rate=200, messages=40, reply_timeout_s=0.5,
                                            replies=MultiReplySpec(parts=2)))
    parts = result.sections["multi_reply"]
    assert (result.received, result.lost) == (0, 40)
    assert (parts.requests_incomplete, parts.lost_parts) == (40, 40)
    assert result.delivery_ratio == 0.0
