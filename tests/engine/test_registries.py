"""The engine's registries: result sections, traffic patterns and the drivers that run plans.

Each kind registers itself where it is defined; these tests hold the registries against the
source, so that a kind defined but never registered (or registered but lost on the way
through a saved file) fails here rather than in a merge on another machine.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from WebSocketLoadLibrary.engine import (PATTERNS, SECTIONS, FanoutSpec, LoadPlan, LoadResult,
                                         MultiReplySpec, ResultSection, StreamSpec,
                                         UnknownSectionKind, pattern_of)
from WebSocketLoadLibrary.engine.results.patterns import TrafficPattern, register
from WebSocketLoadLibrary.engine.step.drivers import DRIVERS, driver_for

ENGINE = Path(__file__).resolve().parents[2] / "libraries" / "WebSocketLoadLibrary" / "engine"


def classes_in_source(base: str) -> set[str]:
    """Names of the classes in the engine's source that name `base` among their bases."""
    found = set()
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", None)) == base for b in node.bases):
                found.add(node.name)
    return found


def test_every_section_class_in_the_source_is_registered():
    assert {cls.__name__ for cls in SECTIONS.values()} == classes_in_source("ResultSection")


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_every_section_kind_survives_saving_and_loading(kind):
    section = SECTIONS[kind]()
    result = LoadResult(name="step", mode="open", sections={kind: section})
    loaded = LoadResult.from_dict(result.to_dict())
    assert type(loaded.sections[kind]) is SECTIONS[kind]
    assert loaded.sections[kind].to_dict() == section.to_dict()
    merged = LoadResult.merge([result, loaded])
    assert type(merged.sections[kind]) is SECTIONS[kind]


def test_a_saved_kind_this_version_does_not_know_is_an_error_naming_it():
    data = LoadResult(name="step", mode="open").to_dict()
    data["sections"] = {"pushes": SECTIONS["pushes"]().to_dict(), "telepathy": {"x": 1}}
    with pytest.raises(UnknownSectionKind, match="'telepathy'"):
        LoadResult.from_dict(data)


def test_a_section_kind_cannot_be_taken_twice():
    with pytest.raises(TypeError, match="taken"):
        type("Pushes2", (ResultSection,), {"kind": "pushes"})
    with pytest.raises(TypeError, match="names no section kind"):
        type("Nameless", (ResultSection,), {})


def test_every_driver_mode_has_a_traffic_pattern():
    assert {driver.mode for _, _, driver in DRIVERS} <= set(PATTERNS)
    assert set(PATTERNS) >= {"open", "closed", "listen", "fanout", "connect"}


@pytest.mark.parametrize("plan, driver", [
    (LoadPlan(rate=100, messages=10), "OpenLoopDriver"),
    (LoadPlan(rate=None, messages=10), "ClosedLoopDriver"),
    (LoadPlan(rate=100, messages=10, replies=MultiReplySpec(parts=3)), "MultiReplyDriver"),
    (LoadPlan(duration_s=1.0, listen=StreamSpec()), "ListenOnlyDriver"),
    (LoadPlan(rate=10, messages=10, fanout=FanoutSpec()), "FanoutDriver"),
    (LoadPlan(rate=10, messages=10, fanout=FanoutSpec(role="publish")), "PublishOnlyDriver"),
    (LoadPlan(rate=10, messages=10, fanout=FanoutSpec(role="subscribe",
                                                      publishes=[[1, 10, 10]])),
     "ScheduledSubscriberDriver"),
])
def test_each_plan_goes_to_its_patterns_driver(plan, driver):
    assert driver_for(plan).__name__ == driver


def test_a_mode_nothing_declared_reads_as_requests_and_replies():
    assert pattern_of("mixed").words.sent == "sent"
    assert pattern_of("listen").words.sent is None
    assert pattern_of("fanout").paced and pattern_of("open").paced
    assert not pattern_of("closed").paced and pattern_of("closed").saturates


def test_a_mode_declared_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        register(TrafficPattern(mode="open", title="another open loop"))
