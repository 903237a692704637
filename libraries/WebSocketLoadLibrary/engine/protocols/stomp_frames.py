"""STOMP frames, without I/O: the grammar both the client (stomp.py) and the mock server's
side (stomp_server.py) speak.

A frame is a command line, header lines `name:value`, a blank line, the body and a NUL;
lines end in LF or CRLF; bare EOLs between frames are heart-beats. In STOMP 1.2 header
values escape `\\`, CR, LF and `:` (`\\\\`, `\\r`, `\\n`, `\\c`), except in CONNECT and
CONNECTED; a repeated header's first value wins; `content-length` says how long the body
is (it may then hold NULs), else the body ends at the first NUL.
"""
from __future__ import annotations

import re

VERSIONS = ("1.0", "1.1", "1.2")
HEARTBEAT = b"\n"
RECEIPT_PREFIX = "RECEIPT\nreceipt-id:"
SHOWN_BYTES = 200                       # how much of a server's ERROR body a message shows

_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPES = {b"\\\\": b"\\", b"\\r": b"\r", b"\\n": b"\n", b"\\c": b":"}
_ESCAPED = re.compile(rb"\\.")


def escape(value: str) -> str:
    """A header value as STOMP 1.2 frames other than CONNECT/CONNECTED carry it."""
    return "".join(_ESCAPES.get(c, c) for c in value)


def unescape(value: bytes) -> bytes:
    return _ESCAPED.sub(_unescaped, value) if b"\\" in value else value


def _unescaped(match: re.Match) -> bytes:
    return _UNESCAPES.get(match.group(0), match.group(0))


class Frame:
    """A parsed frame: `command`, `headers` (the first of a repeated header wins, as 1.2
    says), `body`."""

    __slots__ = ("command", "headers", "body")

    def __init__(self, command: str, headers: dict[str, str], body: bytes):
        self.command, self.headers, self.body = command, headers, body

    def __repr__(self) -> str:
        return f"Frame({self.command!r}, {self.headers!r}, {self.body[:40]!r})"


class FrameError(ValueError):
    """Bytes that are no STOMP frame."""


def encode(command: str, headers: list[tuple[str, str]], body: bytes = b"",
           escaped: bool = True) -> bytes:
    """One frame; header values escaped (STOMP 1.2) unless `escaped` is False (CONNECT,
    CONNECTED: their values are sent as they are)."""
    lines = [command] + [f"{name}:{escape(value) if escaped else value}"
                         for name, value in headers]
    return ("\n".join(lines) + "\n\n").encode() + body + b"\0"


def parse(message: bytes) -> Frame | None:
    """The first frame in a message, leading heart-beat EOLs skipped; None when the message
    is heart-beats alone. Raises FrameError for anything else that is no frame."""
    start = skip_eols(message, 0)
    if start == len(message):
        return None
    return read_frame(message, start)[0]


def skip_eols(data: bytes, position: int) -> int:
    size = len(data)
    while position < size and data[position] in (10, 13):     # "\n", "\r"
        position += 1
    return position


def read_frame(data: bytes, start: int) -> tuple[Frame, int]:
    """The frame starting at `start`, and where it ends (after its NUL)."""
    head_end, skip = data.find(b"\n\n", start), 2
    crlf = data.find(b"\n\r\n", start)
    if crlf >= 0 and (head_end < 0 or crlf < head_end):
        head_end, skip = crlf, 3
    if head_end < 0:
        raise FrameError("no blank line after the headers")
    lines = data[start:head_end].split(b"\n")
    command = lines[0].rstrip(b"\r")
    if not command.isalpha() or not command.isupper():
        raise FrameError(f"no STOMP command: {command[:40]!r}")
    name = command.decode()
    # 1.2: CONNECT's and CONNECTED's header values are not escaped; a head without a
    # backslash has nothing to unescape (the usual case: spare a regex per header)
    raw = name in ("CONNECT", "CONNECTED") or data.find(b"\\", start, head_end) < 0
    crlf = skip == 3 or data.find(b"\r", start, head_end) >= 0
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if crlf:
            line = line.rstrip(b"\r")
        key, colon, value = line.partition(b":")
        if not colon:
            raise FrameError(f"a header line without a colon: {line[:40]!r}")
        key_text = (key if raw else unescape(key)).decode(errors="replace")
        if key_text not in headers:
            headers[key_text] = (value if raw else unescape(value)).decode(errors="replace")
    body_start = head_end + skip
    length = headers.get("content-length", "")
    if length.isascii() and length.isdigit():     # not "²": a digit int() refuses
        end = body_start + int(length)
        if end >= len(data) or data[end] != 0:
            raise FrameError(f"the body is not content-length {length} bytes long, then NUL")
    else:
        end = data.find(b"\0", body_start)
        if end < 0:
            raise FrameError("the frame has no NUL at its end")
    return Frame(name, headers, data[body_start:end]), end + 1


def error_text(frame: Frame) -> str:
    """What an ERROR frame says: its `message` header and the start of its body."""
    said = frame.headers.get("message", "").strip()
    body = frame.body[:SHOWN_BYTES].decode(errors="replace").strip()
    if len(frame.body) > SHOWN_BYTES:
        body += "..."
    return ": ".join(part for part in (said, body) if part) or "no reason given"


def negotiated_ms(ours: int, theirs: int) -> int:
    """A heart-beat direction's interval: 0 (none) when either side says 0, else the larger."""
    return 0 if ours == 0 or theirs == 0 else max(ours, theirs)


def parse_heart_beat(value: str) -> tuple[int, int]:
    parts = value.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"heart-beat must be two numbers of milliseconds, 'cx,cy': {value!r}")
    return int(parts[0]), int(parts[1])
