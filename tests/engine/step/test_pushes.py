"""Messages that are not replies: pushes are counted apart and never against delivery."""
from __future__ import annotations

import pytest

from step_books import Books
from WebSocketLoadLibrary.engine.plan.message_pattern import MessagePattern, PatternError
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate
from WebSocketLoadLibrary.engine.results.push_counts import PushCounts
from WebSocketLoadLibrary.engine.results.result import LoadResult


@pytest.mark.parametrize("pattern, message, expected", [
    ("type == heartbeat", b'{"type":"heartbeat","ts":1}', True),
    ("type == heartbeat", b'{"type":"welcome"}', False),
    ("type == heartbeat", b'not json "type"', False),
    ("type != heartbeat", b'{"type":"welcome"}', True),
    ("type != heartbeat", b'{"other":1}', True),
    ("data.kind == tick", b'{"data":{"kind":"tick"}}', True),
    ("seq == 3", b'{"seq":3}', True),
    ("seq == 3", b'{"seq":"3"}', True),
    ("seq == 3", b'{"seq":4}', False),
    ("final == true", b'{"final":true}', True),
    ('status == "done"', b'{"status":"done"}', True),
    ("^PING", b"PING 1", True),
    ("^PING", b"a PING", False),
    (r'"type":\s*"heartbeat"', b'{"type": "heartbeat"}', True),
])
def test_a_pattern_is_a_field_comparison_or_a_regular_expression(pattern, message, expected):
    assert MessagePattern(pattern).matches(message) is expected


def test_a_broken_pattern_is_a_clear_error():
    with pytest.raises(PatternError, match="not a valid regular expression"):
        MessagePattern("(unclosed")
    with pytest.raises(PatternError, match="non-empty"):
        MessagePattern(" ")


def _books(push_pattern=None):
    template = MessageTemplate(push_pattern=push_pattern)
    return Books(2, template.id_extractor(), id_base=1000, start=10.0, interval=0.001,
                 id_fast_path=template.id_fast_path(), push_pattern=template.push)


def test_json_without_the_id_is_a_push_and_garbage_is_invalid():
    book = _books()
    book.sent_one(0, 1000, 10.0)
    book.reply(0, b'{"type":"welcome","connection":1}', 10.001)
    book.reply(0, b'{"type":"heartbeat","ts":1.5}', 10.002)
    book.reply(1, b'{"type":"heartbeat","ts":1.5}', 10.002)
    book.reply(0, b'#garbled#}1:"di_egassem"{', 10.003)
    book.reply(0, b'{"message_id":1000,"status":"ok"}', 10.004)
    assert (book.received, book.pushes, book.invalid_replies, book.unmatched) == (1, 3, 1, 0)
    assert book.pushes_per_connection == [2, 1]
    assert book.in_flight() == 0


def test_a_push_pattern_takes_messages_that_carry_an_id_too():
    """A notification that carries an id field of its own is a push when the pattern says so,
    not an unmatched reply."""
    book = _books("type == notice")
    book.reply(1, b'{"message_id":77,"type":"notice"}', 10.0)
    book.reply(1, b'{"message_id":78,"type":"other"}', 10.0)
    assert (book.pushes, book.unmatched) == (1, 1)


def test_pushes_are_counted_per_second_and_travel_in_the_result():
    book = _books()
    for _ in range(3):
        book.reply(0, b'{"type":"heartbeat"}', 10.0)
    first = book.close_second()
    book.reply(1, b'{"type":"heartbeat"}', 11.0)
    second = book.close_second()
    assert (first["pushes"], second["pushes"]) == (3, 1)
    section = PushCounts.of(book.pushes_per_connection, 2.0)
    assert (section.total, section.per_connection_min, section.per_connection_max) == (4, 1, 3)
    result = LoadResult(name="a", sections={"pushes": section}, timeline=book.timeline)
    again = LoadResult.from_dict(result.to_dict())
    assert again.sections["pushes"] == section
    assert again.summary()["pushes_total"] == 4
    merged = LoadResult.merge([again, LoadResult.from_dict(result.to_dict())])
    assert merged.sections["pushes"].total == 8
    assert sum(p.get("pushes", 0) for p in merged.timeline) == 8
    assert PushCounts.of([0, 0], 1.0) is None  # a step without pushes has no section


def test_results_saved_before_sections_still_load():
    old = LoadResult(name="old").to_dict()
    old.pop("sections")
    assert LoadResult.from_dict(old).sections == {}
