"""Sections of a result: the figures of one kind of traffic, apart from the request-reply core.

A `LoadResult` keeps the figures every step has (sent, received, latency, ...) as fields;
each further kind -- pushes, a listen-only stream, a fan-out -- is a *section* in
`LoadResult.sections`, under its `kind`. A section knows how to merge with its like from
other processes or agents, how to travel as JSON, which flat figures it adds to the summary
(and so to the saved JSON, the console and the regression check) and which rows to the
summary table in log.html. So a new kind of figure is one new section class here, not an
edit in merge, to_dict, the summary, the tables and the regression check each.

Register a section class with `@section`; `LoadResult.from_dict` finds it by its kind.
"""
from __future__ import annotations

from typing import ClassVar

SECTIONS: dict[str, type["ResultSection"]] = {}


def section(cls):
    """Class decorator: make a section kind known (for loading saved results)."""
    SECTIONS[cls.kind] = cls
    return cls


class ResultSection:
    """The interface of a section; subclasses implement every method."""

    kind: ClassVar[str] = ""

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
    """Sections of a saved result; kinds this version does not know are kept out (a newer
    file read by an older version still loads)."""
    # the sections' modules register themselves when imported
    from .. import section_kinds  # noqa: F401
    loaded = {}
    for kind, part in (data or {}).items():
        if kind in SECTIONS:
            loaded[kind] = SECTIONS[kind].from_dict(part)
    return loaded


def merge_sections(results) -> dict:
    from .. import section_kinds  # noqa: F401
    kinds: dict[str, list] = {}
    for result in results:
        for kind, part in result.sections.items():
            kinds.setdefault(kind, []).append(part)
    return {kind: SECTIONS[kind].merged(parts) for kind, parts in kinds.items()}
