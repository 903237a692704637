"""Sections of a result: the figures of one kind of traffic, apart from the request-reply core.

A `LoadResult` keeps the figures every step has (sent, received, latency, ...) as fields;
each further kind -- pushes, a listen-only stream, a fan-out -- is a *section* in
`LoadResult.sections`, under its `kind`. A section knows how to merge with its like from
other processes or agents, how to travel as JSON, which flat figures it adds to the summary
(and so to the saved JSON, the console and the regression check) and which rows to the
summary table in log.html. So a new kind of figure is one new section class here, not an
edit in merge, to_dict, the summary, the tables and the regression check each.

A section class registers itself when it is defined (`ResultSection.__init_subclass__`);
`LoadResult.from_dict` finds it by its kind. The engine package imports every module that
defines one, so a process that reads a saved result knows every kind this version writes; a
kind it does not know is an error naming it (a file from a newer version, or a section
class that no module imports), never a section silently dropped.
"""
from __future__ import annotations

from typing import ClassVar

SECTIONS: dict[str, type["ResultSection"]] = {}


class UnknownSectionKind(ValueError):
    """A saved result holds a section kind this version does not know."""


class ResultSection:
    """The interface of a section; subclasses implement every method and name their `kind`."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.kind:
            raise TypeError(f"{cls.__name__} names no section kind")
        if SECTIONS.get(cls.kind, cls) is not cls:
            raise TypeError(f"section kind {cls.kind!r} is taken by "
                            f"{SECTIONS[cls.kind].__name__}; {cls.__name__} needs another")
        SECTIONS[cls.kind] = cls

    @classmethod
    def merged(cls, sections: list["ResultSection"]) -> "ResultSection":
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict) -> "ResultSection":
        raise NotImplementedError

    def summary(self) -> dict:
        """Flat figures in user units, named `<kind>_<figure>` (`pushes_total`, ...)."""
        raise NotImplementedError

    def rows(self) -> list[tuple[str, str]]:
        """(label, text) rows for the summary table."""
        raise NotImplementedError

    # figures where a higher value is worse, for the regression check: summary name -> words
    higher_is_worse: ClassVar[dict[str, str]] = {}
    lower_is_worse: ClassVar[dict[str, str]] = {}


def sections_to_dict(sections: dict) -> dict:
    return {kind: part.to_dict() for kind, part in sections.items()}


def sections_from_dict(data: dict | None) -> dict:
    """Sections of a saved result, each by its registered class."""
    unknown = sorted(set(data or {}) - set(SECTIONS))
    if unknown:
        raise UnknownSectionKind(
            f"the saved result has section kind(s) {', '.join(map(repr, unknown))} that this "
            f"version does not know (known: {', '.join(sorted(SECTIONS))}); was it saved by "
            f"a newer version of the library?")
    return {kind: SECTIONS[kind].from_dict(part) for kind, part in (data or {}).items()}


def merge_sections(results) -> dict:
    kinds: dict[str, list] = {}
    for result in results:
        for kind, part in result.sections.items():
            kinds.setdefault(kind, []).append(part)
    return {kind: SECTIONS[kind].merged(parts) for kind, parts in kinds.items()}
