"""The verdict's rules on a running step's counts so far (the live metrics' "applied so far"):
the send rule and the lateness rule as `judge` applies them to a whole step."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from WebSocketLoadLibrary.engine import LoadResult, applied_so_far
from WebSocketLoadLibrary.engine.results.verdict import sustained_lateness


def test_a_message_not_sent_is_load_not_applied_at_once():
    assert not applied_so_far(sent=10, send_errors=1, late_messages=0, rate=1000.0)


def test_a_hiccup_early_in_a_step_is_forgiven_as_the_verdict_forgives_it():
    # 200 late of the first 400 at 1,000 msg/s: a quarter second's worth, no more
    assert applied_so_far(sent=400, send_errors=0, late_messages=200, rate=1000.0)
    assert not applied_so_far(sent=400, send_errors=0, late_messages=300, rate=1000.0)


def test_more_than_five_percent_late_of_a_long_step_is_not_applied():
    assert applied_so_far(sent=100_000, send_errors=0, late_messages=5_000, rate=1000.0)
    assert not applied_so_far(sent=100_000, send_errors=0, late_messages=5_001, rate=1000.0)


@given(st.integers(1_000, 200_000), st.floats(100, 10_000), st.integers(0, 20_000))
def test_at_a_steps_end_it_agrees_with_the_verdicts_lateness_rule(planned, rate, late):
    """A step of at least a second, all sent, its longest stretch behind short: the live
    rule and the verdict's say the same."""
    planned = max(planned, int(rate))          # a second or more: the hiccup is not capped
    result = LoadResult(planned_messages=planned, sent=planned, target_rate=rate,
                        late_messages=min(late, planned), longest_late_s=0.1)
    assert applied_so_far(planned, 0, result.late_messages, rate) == \
        (not sustained_lateness(result))
