"""What a step sends: message templates (rendering, finding the id in a reply), the plans a
step refuses before it starts, and plans with nested specs as they travel to load agents."""
from __future__ import annotations

import pytest

from WebSocketLoadLibrary.engine import LoadPlan, MessageTemplate, PlanError, TemplateError
from WebSocketLoadLibrary.engine.plan.load_plan import plan_from_dict, plan_to_dict
from WebSocketLoadLibrary.engine.plan.specs import MultiReplySpec, StreamSpec


def test_default_template_renders_json_with_id_send_time_and_payload_of_given_size():
    template = MessageTemplate(payload_size=100)
    import orjson
    message = orjson.loads(template.renderer()(42, 0))
    assert message["message_id"] == 42
    assert len(message["payload"]) == 100
    assert message["send_time"] > 1.6e9


def test_id_is_found_in_echoed_and_reordered_and_nested_replies():
    template = MessageTemplate()
    assert template.extract_id(template.render(123)) == 123
    assert template.extract_id(b'{"status":"ok","message_id":77}') == 77
    assert template.extract_id('{"message_id": "88"}') == 88
    nested = MessageTemplate('{"data":{"id":$message_id},"p":"$payload"}', id_field="data.id")
    assert nested.extract_id(nested.render(5)) == 5


def test_non_json_protocols_use_an_id_pattern():
    template = MessageTemplate("PING $message_id $payload", id_pattern=r"PONG (\d+)",
                               payload_size=3)
    assert template.render(9) == b"PING 9 xxx"
    assert template.extract_id(b"PONG 9") == 9
    with pytest.raises(ValueError):
        template.extract_id(b"PING 9")


@pytest.mark.parametrize("reply", [b"#garbled#}9:di", b'{"other": 1}', b'{"message_id": true}', b""])
def test_replies_without_an_id_raise_value_error(reply):
    with pytest.raises((ValueError, KeyError)):
        MessageTemplate().extract_id(reply)


@pytest.mark.parametrize("text, message", [
    ('{"x": 1}', "no $message_id"),
    ('{"id": $message_id, "t": $sendtime}', "unknown placeholder $sendtime"),
])
def test_bad_templates_are_refused_with_a_clear_message(text, message):
    with pytest.raises(TemplateError, match=message.replace("$", r"\$")):
        MessageTemplate(text)


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=0, messages=1), "rate must be a positive"),
    (dict(rate=100), "message count or a duration"),
    (dict(rate=100, messages=0), "at least 1"),
    (dict(rate=100, duration_s=-1), "duration must be positive"),
    (dict(rate=None, messages=10, window=0), "window"),
])
def test_plans_that_cannot_run_are_refused(kwargs, message):
    with pytest.raises(PlanError, match=message):
        LoadPlan(**kwargs)


def test_plans_with_nested_specs_survive_the_trip():
    plan = LoadPlan(rate=10, messages=5, replies=MultiReplySpec(3, "status == done"))
    again = plan_from_dict(plan_to_dict(plan))
    assert (again.replies.parts, again.replies.last_part.text) == (3, "status == done")
    listen = LoadPlan(duration_s=2, listen=StreamSpec("seq", "ts", "ms", 0.5))
    assert plan_from_dict(plan_to_dict(listen)).listen == listen.listen
