"""Argument types of the keywords, converted by Robot Framework (ROBOT_LIBRARY_CONVERTERS).

Each type's `from_text` raises ArgumentError (a ValueError) with the accepted forms. Given
to Robot as it is, that would fail as Robot's own "ValueError: Argument 'rate' got value
'2x/s' ...", a Python name on a typo. So the converters Robot gets hand back the refused
value instead (`Unconverted`), and the library's keyword wrapper fails the keyword with
the same sentence as one of our own errors (see `refuse_unconverted`).
"""
from __future__ import annotations

import inspect
import math
import re

from robot.utils import timestr_to_secs

from ..errors import ArgumentError
from ..reports.formatting import format_bytes, format_seconds

_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"


class Rate(float):
    """Messages per second: `1000`, `1000/s`, `2k/s`, `1.5k`, `1M/s`, `500 msg/s`, or `max`."""
    FORMS = "a number of messages per second such as 1000, 1000/s, 2k/s, 1M/s, 500 msg/s, or max"
    _PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([kKM])?\s*"
                          r"(?:(?:[mM][sS][gG][sS]?|[mM]essages?)?\s*/\s*(?:s|sec|second))?\s*$")

    @classmethod
    def from_text(cls, value: str | int | float) -> "Rate":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls._checked(float(value), value)
        text = str(value)
        if text.strip().lower() in ("max", "maximum", "unbounded"):
            return cls(math.inf)
        match = cls._PATTERN.match(text)
        if not match:
            raise ArgumentError(f"expected {cls.FORMS}")
        scale = {"k": 1e3, "K": 1e3, "M": 1e6}.get(match.group(2) or "", 1)
        number = float(match.group(1)) * scale
        return cls._checked(number, value)

    @classmethod
    def _checked(cls, number: float, original) -> "Rate":
        if not number > 0 or math.isnan(number):
            raise ArgumentError(f"a rate must be above zero; expected {cls.FORMS}")
        return cls(number)

    @property
    def is_max(self) -> bool:
        return math.isinf(self)

    @property
    def per_second(self) -> float | None:
        """The engine's form: None means as fast as possible."""
        return None if self.is_max else float(self)

    def __str__(self) -> str:
        if self.is_max:
            return "max"
        if self >= 1e6:
            return f"{float(self) / 1e6:g}M/s"
        return f"{float(self):g}/s"


class Duration(float):
    """Seconds, from a Robot Framework time string: `200 ms`, `1.5 s`, `1 min 30 s`, `0.2`."""
    FORMS = ("a Robot Framework time such as 200 ms, 1.5 s, 2 minutes, 1 min 30 s, "
             "00:01:30 or a plain number of seconds")

    @classmethod
    def from_text(cls, value: str | int | float) -> "Duration":
        try:
            # Robot rounds to whole milliseconds by default: `0.5 ms` would become 1 ms, and
            # `Latency P99 Should Be Below    0.5 ms` a check against 1 ms
            seconds = timestr_to_secs(value, round_to=None)
        except (ValueError, TypeError):
            raise ArgumentError(f"expected {cls.FORMS}") from None
        if seconds < 0:
            raise ArgumentError(f"a time cannot be negative; expected {cls.FORMS}")
        return cls(seconds)

    def __str__(self) -> str:
        return format_seconds(float(self))


class ByteSize(int):
    """Bytes: `100 MB`, `512 KiB`, `1.5 GB`, `2000000` (decimal units are 1000-based)."""
    FORMS = "a size such as 100 MB, 512 KiB, 1.5 GB, 200MiB or a plain number of bytes"
    _UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
              "k": 10**3, "m": 10**6, "g": 10**9}
    _PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$", re.IGNORECASE)

    @classmethod
    def from_text(cls, value: str | int | float) -> "ByteSize":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number, unit = float(value), ""
        else:
            match = cls._PATTERN.match(str(value))
            if not match or match.group(2).lower() not in cls._UNITS:
                raise ArgumentError(f"expected {cls.FORMS}")
            number, unit = float(match.group(1)), match.group(2).lower()
        if number < 0:
            raise ArgumentError(f"a size cannot be negative; expected {cls.FORMS}")
        return cls(round(number * cls._UNITS[unit]))

    def __str__(self) -> str:
        return format_bytes(int(self))


class Ratio(float):
    """A share between 0 and 1: `0.999` or `99.9%`."""
    FORMS = "a ratio between 0 and 1 such as 0.999, or a percentage such as 99.9%"

    @classmethod
    def from_text(cls, value: str | int | float) -> "Ratio":
        text = str(value).strip()
        scale = 1.0
        if text.endswith("%"):
            text, scale = text[:-1].strip(), 0.01
        try:
            number = float(text) * scale
        except ValueError:
            raise ArgumentError(f"expected {cls.FORMS}") from None
        if not 0 <= number <= 1:
            raise ArgumentError(f"{value} is outside 0..1; expected {cls.FORMS}")
        return cls(number)

    def __str__(self) -> str:
        return f"{float(self):g}"


class Percentile(float):
    """A percentile between 0 and 100: `95`, `99.9`, `p99.9`."""
    FORMS = "a percentile between 0 and 100 such as 95, 99.9 or p99.9"

    @classmethod
    def from_text(cls, value: str | int | float) -> "Percentile":
        text = str(value).strip().lower().removeprefix("p")
        try:
            number = float(text)
        except ValueError:
            raise ArgumentError(f"expected {cls.FORMS}") from None
        if not 0 <= number <= 100:
            raise ArgumentError(f"{value} is outside 0..100; expected {cls.FORMS}")
        return cls(number)

    def __str__(self) -> str:
        return f"p{float(self):g}"


class Unconverted:
    """A value a converter refused, standing in for it until the keyword wrapper sees it."""
    __slots__ = ("kind", "value", "error")

    def __init__(self, kind: type, value, error: ArgumentError):
        self.kind, self.value, self.error = kind, value, error

    def message(self, argument: str) -> str:
        # Robot's own sentence, which users and tests already know
        return (f"Argument '{argument}' got value '{self.value}' that cannot be converted to "
                f"{self.kind.__name__}: {self.error}")


def _deferring(kind):
    def convert(value: str | int | float):  # the annotation tells Robot what to hand over
        if isinstance(value, str) and value.strip().upper() == "NONE":
            # refused the ordinary way, so that Robot tries None next for `Duration | None`
            raise ValueError(f"expected {kind.FORMS}")
        try:
            return kind.from_text(value)
        except ArgumentError as error:
            return Unconverted(kind, value, error)
    convert.__name__ = convert.__qualname__ = f"{kind.__name__}_from_text"
    return convert


CONVERTERS = {kind: _deferring(kind) for kind in (Rate, Duration, ByteSize, Ratio, Percentile)}


def refuse_unconverted(method, args, kwargs) -> None:
    """ArgumentError naming the first argument of `method` a converter refused, if any."""
    values = [*args, *(kwargs or {}).values()]
    if not any(map(_refused, values)):
        return  # every call passes here: one look at each value, nothing more
    names = _positional_names(method, len(args)) + list(kwargs or {})
    for name, value in zip(names, values):
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, Unconverted):
                raise ArgumentError(item.message(name)) from item.error


def _refused(value) -> bool:
    if isinstance(value, (list, tuple)):  # list[Rate]: Robot converts each item
        return any(isinstance(item, Unconverted) for item in value)
    return isinstance(value, Unconverted)


def _positional_names(method, count: int) -> list[str]:
    names, rest = [], "*"
    for parameter in inspect.signature(method).parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
        elif parameter.kind is parameter.VAR_POSITIONAL:
            rest = parameter.name
    return (names + [rest] * count)[:count]
