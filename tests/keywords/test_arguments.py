"""The keywords' argument types: the forms people write them in."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("text, seconds", [("0.5 ms", 0.0005), ("250 us", 0.00025),
                                           ("200 ms", 0.2), ("1.5 s", 1.5), ("00:01:30", 90.0),
                                           ("0.0004", 0.0004)])
def test_durations_keep_fractions_of_a_millisecond(text, seconds):
    from WebSocketLoadLibrary.utils.arguments import Duration
    # Robot's own conversion rounds to whole milliseconds: 0.5 ms would be checked as 1 ms
    assert Duration.from_text(text) == pytest.approx(seconds, rel=1e-9)
