"""Every controller<->agent message (agents/messages.py) survives the trip both ways, and one
that is not what the module says is refused naming the message and the field."""
from __future__ import annotations

import dataclasses
import json

import pytest

from WebSocketLoadLibrary import __version__
from WebSocketLoadLibrary.agents import messages
from WebSocketLoadLibrary.agents.messages import (FORMAT, REQUESTS, CancelStep, CloseConnections,
                                                  CloseSession, GetClock, GetInfo, GetStep,
                                                  MessageError, OpenConnections, OpenSession,
                                                  OtherVersion, StartStep)
from WebSocketLoadLibrary.engine import (ConnectionOptions, FanoutSpec, LoadPlan, LoadResult,
                                         MessageTemplate, MultiReplySpec, OpeningMessages,
                                         StreamSpec, plan_to_dict)

INFO = dict(name="agent-1", version=__version__, host="h", pid=42, cpus=2, python="3.12.0",
            time=1_800_000_000.25, connections=3, sessions=1)


def _template_fields(template: MessageTemplate) -> tuple:
    return (template.text, template.payload_size, template.id_field, template.id_pattern,
            template.binary, None if template.push is None else template.push.text)


def _revealed(token) -> str | None:
    return token.reveal() if token is not None else None


def _over_xmlrpc(args: tuple) -> tuple:
    """What the agent receives: XML-RPC carries text, ints and floats, nothing else."""
    import xmlrpc.client
    (received, ), _ = xmlrpc.client.loads(xmlrpc.client.dumps((list(args),)))
    return tuple(received)


def test_every_request_and_reply_survives_the_trip():
    plans = [LoadPlan(rate=2000, messages=4001, name="p", max_run=4, wake_interval_s=0.001),
             LoadPlan(duration_s=2.5, listen=StreamSpec("seq", "ts", "ms", 0.5)),
             LoadPlan(rate=10, messages=5, replies=MultiReplySpec(3, "status == done")),
             LoadPlan(rate=100, messages=50, first_id=10 ** 15,
                      fanout=FanoutSpec(role="publish"))]
    template = MessageTemplate('{"id":$message_id,"t":$send_time}', payload_size=8,
                               id_field="id", push_pattern="kind == push")
    options = ConnectionOptions("ws://127.0.0.1:9/ws", headers={"X-A": "1"}, token="tok",
                                subprotocols=["chat"], ping_interval_s=None, max_size=None,
                                opening=OpeningMessages(['{"op":"sub","c":$connection}'],
                                                        "op == subscribed", 2.0))
    seen = set()
    # the controller's request, as the agent reads it
    for plan in plans:
        request = StartStep(plan, template, 1_800_000_000.123456, 42.5)
        again = StartStep.read(*_over_xmlrpc(request.args()))
        assert plan_to_dict(again.plan) == plan_to_dict(plan)
        assert _template_fields(again.template) == _template_fields(template)
        assert (again.start_at, again.timeout_s) == (request.start_at, request.timeout_s)
    seen.add(StartStep)
    for token_env in (None, "API_TOKEN"):
        request = OpenConnections(options, 7, token_env)
        again = OpenConnections.read(*_over_xmlrpc(request.args()))
        assert (again.count, again.token_env) == (7, token_env)
        # a token named by token_env stays on the agent: the message carries none
        assert _revealed(again.options.token) == (None if token_env else "tok")
        assert again.options.opening.reply_pattern.text == "op == subscribed"
        assert again.options.opening.messages == options.opening.messages
        assert dataclasses.replace(again.options, opening=None, token=None) == \
            dataclasses.replace(options, opening=None, token=None)
    seen.add(OpenConnections)
    assert OpenSession.read(*_over_xmlrpc(OpenSession("host pid 1").args())) == \
        OpenSession("host pid 1")
    for request in (GetStep(7), CancelStep(7)):
        assert type(request).read(*_over_xmlrpc(request.args())) == request
    for request in (GetInfo(), GetClock(), CloseSession(), CloseConnections()):
        assert request.args() == ()
    seen |= {OpenSession, GetStep, CancelStep, GetInfo, GetClock, CloseSession,
             CloseConnections}
    assert seen == set(REQUESTS)
    # the agent's reply, as the controller reads it
    assert GetInfo.read_reply(GetInfo.reply(**INFO)) == INFO
    assert GetClock.read_reply(GetClock.reply(1_800_000_000.123456)) == 1_800_000_000.123456
    assert OpenSession.read_reply(OpenSession.reply("ab12")) == "ab12"
    for request in (CloseSession, OpenConnections, CloseConnections):
        assert request.read_reply(request.reply(5)) == 5
    assert StartStep.read_reply(StartStep.reply(3)) == 3
    result = LoadResult(name="x", sent=10, received=10, started_at=1.0).to_dict()
    for status in ({"id": 1, "state": "waiting", "name": "s"},
                   {"id": 1, "state": "running", "name": "s", "progress": {"sent": 1},
                    "live": {"figures": {}, "latency": None}},
                   {"id": 1, "state": "done", "name": "s", "result": result, "live": {}},
                   {"id": 1, "state": "failed", "name": "s", "error": "StepTimeout: late"}):
        assert GetStep.read_reply(GetStep.reply(**{"step_id": status["id"], **{
            k: v for k, v in status.items() if k != "id"}})) == status
    for state in messages.STEP_STATES:
        assert CancelStep.read_reply(CancelStep.reply(state)) == state


def test_a_json_message_names_itself_and_its_format():
    text = GetStep.reply(1, "done", "s", result={})
    assert json.loads(text)["message"] == "step status"
    assert json.loads(text)["format"] == FORMAT
    with pytest.raises(MessageError, match="expected a 'start step' message, got 'step status'"):
        StartStep.read(text)
    newer = json.dumps({**json.loads(text), "format": FORMAT + 1})
    with pytest.raises(MessageError, match=rf"'step status' message in format {FORMAT + 1}, this "
                                           rf"side reads format {FORMAT}: install the same"):
        GetStep.read_reply(newer)
    for broken, why in (("not json", "is not JSON"), ("[1]", "expected a JSON object"),
                        (3, "expected JSON text")):
        with pytest.raises(MessageError, match=why):
            GetStep.read_reply(broken)


def test_a_missing_or_unknown_field_is_named():
    good = json.loads(OpenConnections(ConnectionOptions("ws://127.0.0.1:9"), 2).args()[0])
    with pytest.raises(MessageError, match="'open connections' message lacks field.s. count"):
        OpenConnections.read(json.dumps({k: v for k, v in good.items() if k != "count"}))
    with pytest.raises(MessageError, match="unknown field.s. colour"):
        OpenConnections.read(json.dumps({**good, "colour": "red"}))
    with pytest.raises(MessageError, match="options does not fit this version: .*'colour'"):
        OpenConnections.read(json.dumps({**good, "options": {**good["options"], "colour": 1}}))
    with pytest.raises(MessageError, match="count must be a whole number of at least 1, got 0"):
        OpenConnections.read(json.dumps({**good, "count": 0}))
    start = json.loads(StartStep(LoadPlan(rate=1, messages=1), MessageTemplate(), 1.0,
                                 2.0).args()[0])
    with pytest.raises(MessageError, match="plan does not fit this version: .*'spin_rate'"):
        StartStep.read(json.dumps({**start, "plan": {**start["plan"], "spin_rate": 3}}))
    with pytest.raises(MessageError, match="start_at must be a number of seconds, got 'soon'"):
        StartStep.read(json.dumps({**start, "start_at": "soon"}))
    with pytest.raises(MessageError, match="'start step: template' message lacks .* binary"):
        StartStep.read(json.dumps({**start, "template": {
            k: v for k, v in start["template"].items() if k != "binary"}}))
    with pytest.raises(MessageError, match="state 'exploded' is none of waiting, running"):
        GetStep.read_reply(messages.dump("step status", {"id": 1, "state": "exploded",
                                                         "name": "s"}))
    with pytest.raises(MessageError, match="result must be a JSON object, got NoneType"):
        GetStep.read_reply(GetStep.reply(1, "done", "s"))
    with pytest.raises(MessageError, match="step id must be a whole number of at least 1"):
        GetStep.read("x")
    with pytest.raises(MessageError, match="the number of connections must be a whole number"):
        CloseConnections.read_reply(-1)
    with pytest.raises(MessageError, match="'agent info' message lacks field.s. sessions"):
        GetInfo.reply(**{k: v for k, v in INFO.items() if k != "sessions"})


def test_another_version_is_named_before_any_other_check():
    older = json.dumps({"name": "old-1", "version": "0.1.0", "sessions": 0})   # no format
    with pytest.raises(OtherVersion) as error:
        GetInfo.read_reply(older)
    assert (error.value.version, error.value.name) == ("0.1.0", "old-1")
    assert str(error.value) == (f"runs WebSocketLoadLibrary 0.1.0, this controller "
                                f"{__version__}: install the same version on the agent and "
                                f"the controller")
    with pytest.raises(OtherVersion, match=r"runs WebSocketLoadLibrary \(unknown version\)"):
        GetInfo.read_reply(json.dumps({"name": "x"}))


def test_a_protocol_travels_to_the_agent_with_its_options():
    from WebSocketLoadLibrary.engine import protocol_named
    options = ConnectionOptions("ws://127.0.0.1:9", protocol=protocol_named(
        "socketio", namespace="/chat", event="echo", auth='{"token":"t"}'))
    again = OpenConnections.read(*_over_xmlrpc(OpenConnections(options, 3).args())).options
    assert again.protocol.name == "socketio" and again.uri == options.uri
    assert again.protocol.settings == options.protocol.settings
    assert "token" not in again.protocol.describe()
