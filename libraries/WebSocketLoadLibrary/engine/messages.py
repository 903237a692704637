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

PLACEHOLDERS = ("message_id", "send_time", "payload", "connection")
DEFAULT_ID_FIELD = "message_id"


def default_template(id_field: str = DEFAULT_ID_FIELD) -> str:
    # The id comes first so that `extract_id` can read it without parsing the JSON.
    return '{"%s":$message_id,"send_time":$send_time,"payload":"$payload"}' % id_field


class TemplateError(ValueError):
    pass


class MessageTemplate:
    """Renders messages for integer ids and finds the id in replies.

    `id_field` is a JSON field name, dotted for nested objects (`data.id`).
    `id_pattern` (a regex with one group) replaces JSON parsing for non-JSON protocols.
    """

    def __init__(self, template: str | None = None, payload_size: int = 32,
                 id_field: str = DEFAULT_ID_FIELD, id_pattern: str | None = None,
                 binary: bool = False):
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
        self._id_regex = re.compile(id_pattern.encode()) if id_pattern else None
        if self._id_regex is not None and self._id_regex.groups != 1:
            raise TemplateError(f"id_pattern needs exactly one group, got {id_pattern!r}")
        self._id_prefix = self._fast_prefix()

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

    def render(self, message_id: int, connection: int = 0) -> bytes:
        out = []
        for part, is_field in self._parts:
            if not is_field:
                out.append(part.encode())
            elif part == "message_id":
                out.append(str(message_id).encode())
            elif part == "send_time":
                out.append(repr(time.time()).encode())
            elif part == "payload":
                out.append(self._payload)
            else:
                out.append(str(connection).encode())
        return b"".join(out)

    def renderer(self):
        """A fast `render(message_id, connection) -> bytes` specialised for this template."""
        if [f for _, f in self._parts] == [False, True, False, True, False, True, False] and \
                [p for p, f in self._parts if f] == ["message_id", "send_time", "payload"]:
            a, b, c, d = (self._parts[i][0].encode() for i in (0, 2, 4, 6))
            payload = self._payload
            now = time.time

            def render_default(message_id: int, connection: int = 0) -> bytes:
                return b"%s%d%s%r%s%s%s" % (a, message_id, b, now(), c, payload, d)
            return render_default
        return self.render

    def extract_id(self, reply) -> int:
        """The integer id in a reply; raises ValueError when there is none."""
        if isinstance(reply, str):
            reply = reply.encode()
        prefix = self._id_prefix
        if prefix is not None and reply.startswith(prefix):
            end = reply.find(b",", len(prefix))
            try:
                return int(reply[len(prefix):end] if end > 0 else b"")
            except ValueError:
                pass  # e.g. a quoted id: take the general route
        if self._id_regex is not None:
            match = self._id_regex.search(reply)
            if not match:
                raise ValueError("reply does not match id_pattern")
            return int(match.group(1))
        value = orjson.loads(reply)
        for key in self._id_path:
            value = value[key]
        if isinstance(value, bool):
            raise ValueError("id is a boolean")
        return int(value)
