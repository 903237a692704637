"""Message templates: what the generator sends, and how a reply's id is found.

A template is text with `string.Template` placeholders -- `$message_id`, `$send_time`,
`$payload`, `$connection` -- so that it can sit in a .robot file (Robot only expands
`${...}`) and describe a real server's own protocol. It is compiled once into literal
parts so that rendering a message is one join, not a format call.
"""
from __future__ import annotations

import re
import string
import time

import orjson

from ...errors import UsageError
from .message_pattern import pattern_or_none

PLACEHOLDERS = ("message_id", "send_time", "payload", "connection")
DEFAULT_ID_FIELD = "message_id"


def default_template(id_field: str = DEFAULT_ID_FIELD) -> str:
    # The id comes first so that `extract_id` can read it without parsing the JSON.
    return '{"%s":$message_id,"send_time":$send_time,"payload":"$payload"}' % id_field


def fast_path_parts(fast: tuple[bytes, int, bytes] | None) -> tuple:
    """`(prefix, start, end, end_byte, reach)` for a hot loop, from `id_fast_path()`'s
    tuple (None: prefix None, no fast path). A hot loop knows how wide the ids in flight
    are, so where their digits stop: it checks the one byte `end_byte`, `end`'s last, at
    `reach` bytes past that stop (for a one-byte `end`, the byte right after the digits;
    for GraphQL's `","type":"next"`, the quote that ends `next`, where an `error` or a
    `complete` of the same id has a letter), and finds `end` itself in the rare reply
    whose id is wider or narrower."""
    prefix, start, end = fast if fast is not None else (None, 0, b",")
    return prefix, start, end, end[-1], len(end) - 1


class TemplateError(UsageError):
    """A template that cannot render messages or find ids as given."""


class MessageTemplate:
    """Renders messages for integer ids and finds the id in replies.

    `id_field` is a JSON field name, dotted for nested objects (`data.id`).
    `id_pattern` (a regex with one group) replaces JSON parsing for non-JSON protocols.
    `push_pattern` (message_pattern.py) says which arriving messages are pushes rather than
    replies, beyond the JSON messages without the id field, which always are.
    `reply_prefix` and `id_end`: replies start with `reply_prefix` followed by the id's
    digits and then `id_end` (a protocol's framing, e.g. Socket.IO's ack `43<id>[`, or
    GraphQL's `{"id":"<id>","type":"next"`: a reply is told from an error of the same id by
    what follows it), read by slicing; None: replies echo a template that starts with the
    id field (JSON).
    """

    def __init__(self, template: str | None = None, payload_size: int = 32,
                 id_field: str = DEFAULT_ID_FIELD, id_pattern: str | None = None,
                 binary: bool = False, push_pattern: str | None = None,
                 reply_prefix: str | None = None, id_end: str = ","):
        if payload_size < 0:
            raise TemplateError(f"payload_size must be >= 0, got {payload_size}")
        self.text = template if template is not None else default_template(id_field)
        self.payload_size = payload_size
        self.id_field = id_field
        self.binary = binary
        self._parts = self._compile(self.text)
        if not any(part == "message_id" for part, is_field in self._parts if is_field):
            raise TemplateError(
                f"message template has no $message_id placeholder: {self.text!r}")
        self._payload = b"x" * payload_size
        self._id_path = tuple(id_field.split("."))
        self.id_pattern = id_pattern
        self._id_regex = re.compile(id_pattern.encode()) if id_pattern else None
        if self._id_regex is not None and self._id_regex.groups != 1:
            raise TemplateError(f"id_pattern needs exactly one group, got {id_pattern!r}")
        self.push = pattern_or_none(push_pattern)
        if not id_end or id_end[0].isdigit():
            raise TemplateError(f"id_end must be text that starts with no digit, got "
                                f"{id_end!r}")
        self.reply_prefix, self.id_end = reply_prefix, id_end
        self._id_prefix = (reply_prefix.encode() if reply_prefix is not None
                           else self._fast_prefix())
        self._render = self.renderer()
        self._extract = self.id_extractor()

    def __reduce__(self):
        # compiled closures do not pickle: worker processes rebuild the template
        return (type(self), (self.text, self.payload_size, self.id_field, self.id_pattern,
                             self.binary, None if self.push is None else self.push.text,
                             self.reply_prefix, self.id_end))

    @staticmethod
    def _compile(text: str) -> list[tuple[str, bool]]:
        parts: list[tuple[str, bool]] = []
        pattern = string.Template.pattern
        position = 0
        for match in pattern.finditer(text):
            if match.group("invalid") is not None:
                raise TemplateError(f"bad placeholder at offset {match.start()} in {text!r}")
            parts.append((text[position:match.start()], False))
            if match.group("escaped") is not None:
                parts.append(("$", False))
            else:
                name = match.group("named") or match.group("braced")
                if name not in PLACEHOLDERS:
                    raise TemplateError(
                        f"unknown placeholder ${name} in message template; "
                        f"known: {', '.join('$' + p for p in PLACEHOLDERS)}")
                parts.append((name, True))
            position = match.end()
        parts.append((text[position:], False))
        return [(p, f) for p, f in parts if f or p]

    def _fast_prefix(self) -> bytes | None:
        """Bytes that precede the id when the template starts with `{"<id_field>":$message_id`.

        Echo replies and our ack replies start the same way, so the id is read by slicing.
        Anything else falls back to a full JSON parse.
        """
        if self._id_regex is not None or len(self._id_path) != 1:
            return None
        if (len(self._parts) >= 2 and not self._parts[0][1] and self._parts[1] == ("message_id", True)
                and self._parts[0][0] == '{"%s":' % self.id_field):
            return self._parts[0][0].encode()
        return None

    def _format(self) -> tuple[bytes, tuple[str, ...]]:
        """The template as one bytes %-format (payload inlined) and its fields in order."""
        pieces, order = [], []
        for part, is_field in self._parts:
            if not is_field:
                pieces.append(part.encode().replace(b"%", b"%%"))
            elif part == "payload":
                pieces.append(self._payload)
            else:
                pieces.append(b"%.6f" if part == "send_time" else b"%d")
                order.append(part)
        return b"".join(pieces), tuple(order)

    def renderer(self):
        """`render(message_id, connection=0) -> bytes`, specialised for this template.

        One %-format per message (~0.6 us): this runs for every message sent.
        """
        fmt, order = self._format()
        now = time.time
        if order == ("message_id", "send_time"):
            return lambda message_id, connection=0: fmt % (message_id, now())
        if order == ("message_id",):
            return lambda message_id, connection=0: fmt % (message_id,)

        def render_any(message_id: int, connection: int = 0) -> bytes:
            values = {"message_id": message_id, "connection": connection}
            return fmt % tuple(now() if name == "send_time" else values[name] for name in order)
        return render_any

    def render(self, message_id: int, connection: int = 0) -> bytes:
        return self._render(message_id, connection)

    def batch_renderer(self):
        """`(begin(wall_time) -> batch, render(message_id, connection, batch) -> bytes, head)`.

        For the hot loops, which send messages in batches (a pacer batch, the replies of one
        socket read): `begin` formats `$send_time` once per batch -- `%.6f` of the wall clock
        costs ~0.8 us, more than the rest of a message -- and `render` joins pre-split bytes
        with the id as ascii digits. `render(i, c, begin(t))` is byte for byte what
        `renderer()` gives for id i, connection c at wall time t. `head` is bytes when the
        template is "literal, $message_id, anything without $connection" -- then `render` is
        `head + str(message_id).encode() + batch` and a hot loop may inline it -- else None.
        """
        parts = []  # literal bytes (payload inlined) and field names, literals merged
        for part, is_field in self._parts:
            piece = self._payload if (is_field and part == "payload") else (
                None if is_field else part.encode())
            if piece is None:
                parts.append(part)
            elif parts and isinstance(parts[-1], bytes):
                parts[-1] += piece
            else:
                parts.append(piece)
        if not isinstance(parts[0], bytes):
            parts.insert(0, b"")
        if not isinstance(parts[-1], bytes):
            parts.append(b"")
        fields = tuple(p for p in parts if isinstance(p, str))
        stamp = self.stamp
        if fields == ("message_id",):
            head, _, tail = parts

            def begin_plain(wall_time: float):
                return tail
            return begin_plain, lambda message_id, connection, batch: (
                head + str(message_id).encode() + batch), head
        if fields == ("message_id", "send_time"):
            head, _, middle, _, tail = parts

            def begin_stamped(wall_time: float):
                return middle + stamp(wall_time) + tail
            return begin_stamped, lambda message_id, connection, batch: (
                head + str(message_id).encode() + batch), head
        fmt, order = self._format()
        fmt = fmt.replace(b"%.6f", b"%s")  # the stamp arrives formatted

        def render_any(message_id: int, connection: int, batch) -> bytes:
            values = {"message_id": message_id, "connection": connection, "send_time": batch}
            return fmt % tuple(values[name] for name in order)
        return stamp, render_any, None

    @staticmethod
    def stamp(wall_time: float) -> bytes:
        """`$send_time` as rendered: seconds since the epoch, microseconds."""
        return b"%.6f" % wall_time

    def id_fast_path(self) -> tuple[bytes, int, bytes] | None:
        """`(prefix, start, end)` when replies are expected to start with `prefix` and the
        id's ascii digits to run from `start` up to the bytes `end` (a comma, or the
        protocol's `id_end`; see `id_extractor`), for hot loops that inline the check; None
        when every reply needs `id_extractor`. The hot loops read it with
        `fast_path_parts`."""
        prefix = self._id_prefix
        return None if prefix is None else (prefix, len(prefix), self.id_end.encode())

    def id_extractor(self):
        """`extract(reply: bytes) -> int`, raising ValueError (or KeyError, TypeError) when the
        reply carries no id. Specialised: this runs for every reply received."""
        regex, path = self._id_regex, self._id_path
        loads = orjson.loads

        def general(reply: bytes) -> int:
            if regex is not None:
                match = regex.search(reply)
                if not match:
                    raise ValueError("reply does not match id_pattern")
                return int(match.group(1))
            value = loads(reply)
            for key in path:
                value = value[key]
            if isinstance(value, bool):
                raise ValueError("id is a boolean")
            return int(value)

        prefix = self._id_prefix
        if prefix is None:
            return general
        start, id_end = len(prefix), self.id_end.encode()

        def fast(reply: bytes) -> int:
            # only a JSON integer of plain ascii digits takes the short cut: anything else
            # (quoted, signed, spaced, a leading zero, a fraction) is the JSON parser's to judge
            if reply[:start] == prefix:
                end = reply.find(id_end, start)
                if end > start:
                    digits = reply[start:end]
                    if digits.isdigit() and (digits[0] != 48 or end == start + 1):  # 48: "0"
                        return int(digits)
            return general(reply)
        return fast

    def bind(self, plan, connections: list) -> None:
        """A step starts with this template over `connections` (in slot order; a connection
        a lifecycle policy puts in a slot's place is found there). A protocol's template
        that keeps per-connection state (MQTT's packet ids, in each connection's session)
        keeps the list, and may refuse the plan (PlanError); plain templates keep nothing.
        Its extractor may then take the slot too: `extract(reply, slot)`, marked by the
        extractor's `by_slot` attribute being True."""

    def extract_id(self, reply) -> int:
        """The integer id in a reply (bytes or str); raises ValueError when there is none."""
        return self._extract(reply.encode() if isinstance(reply, str) else reply)
