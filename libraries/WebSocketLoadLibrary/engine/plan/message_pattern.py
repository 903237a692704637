"""What a user says a message looks like: a push to tell from replies, the reply an opening
message waits for, the last part of a multi-part answer.

Two forms, one argument:

- `field == value` (or `!=`): the message is JSON and its field (dotted for nested objects,
  `data.type`) equals the value -- `type == heartbeat`, `status == done`, `seq == 1`. The
  value is compared as JSON would give it: text without quotes, numbers as numbers,
  `true`/`false`/`null`.
- anything else is a regular expression searched in the message's text:
  `"type":\\s*"heartbeat"`, `^PING`.

A pattern only runs where a message is not already a matched reply (the slow path), so a
regular expression costs nothing on the per-reply hot path.
"""
from __future__ import annotations

import re

import orjson

from ...errors import UsageError

_COMPARISON = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(==|!=)\s*(.*?)\s*$", re.S)
_MISSING = object()


class PatternError(UsageError):
    """A pattern that cannot be understood (a broken regular expression)."""


def _json_value(text: str):
    """`heartbeat` -> 'heartbeat', `"a b"` -> 'a b', `3` -> 3, `true` -> True."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class MessagePattern:
    """`matches(message: bytes) -> bool`; `str(pattern)` is what the user wrote."""

    __slots__ = ("text", "matches", "field")

    def __init__(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise PatternError(f"a message pattern must be non-empty text, got {text!r}")
        self.text = text
        comparison = _COMPARISON.match(text)
        if comparison:
            path, operator, value = comparison.groups()
            self.field = path
            self.matches = _field_test(tuple(path.split(".")), _json_value(value),
                                       operator == "==")
        else:
            self.field = None
            try:
                regex = re.compile(text.encode())
            except re.error as error:
                raise PatternError(f"message pattern {text!r} is not a valid regular "
                                   f"expression: {error}") from None
            search = regex.search
            self.matches = lambda message: search(message) is not None

    def __str__(self) -> str:
        return self.text

    def __reduce__(self):
        """Pickled as its text (worker processes get it so): `matches` is a closure."""
        return MessagePattern, (self.text,)

    def __repr__(self) -> str:
        return f"MessagePattern({self.text!r})"


def _field_test(path: tuple[str, ...], expected, equal: bool):
    loads = orjson.loads
    needle = ('"%s"' % path[-1]).encode()

    def matches(message: bytes) -> bool:
        if needle not in message:  # cheap refusal: most messages are not what is sought
            return not equal
        try:
            value = loads(message)
            for key in path:
                value = value[key]
        except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
            value = _MISSING
        same = value == expected or (isinstance(value, str) and value == str(expected))
        return same if equal else not same
    return matches


def pattern_or_none(text) -> MessagePattern | None:
    """A pattern from a keyword argument: None, empty text or `NONE` mean no pattern."""
    if text is None or isinstance(text, MessagePattern):
        return text
    if not str(text).strip() or str(text).strip().upper() == "NONE":
        return None
    return MessagePattern(str(text))
