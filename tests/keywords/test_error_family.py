"""One error family: what the library raises on purpose fails a keyword with a plain message
(no Python class name) and keeps its cause in the log at DEBUG level; anything else is a bug
and Robot shows it as one, named, with its traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from robot_runs import LIBRARIES
from WebSocketLoadLibrary.agents.client import AgentError
from WebSocketLoadLibrary.agents.controller import AgentStepFailed
from WebSocketLoadLibrary.agents.signing import SecretError
from WebSocketLoadLibrary.base.registry import NothingOpenError
from WebSocketLoadLibrary.base.state import LibraryState
from WebSocketLoadLibrary.base.step_report import ConnectionsLost
from WebSocketLoadLibrary.engine import (ConnectError, EngineError, PlanError, StepTimeout,
                                         TemplateError)
from WebSocketLoadLibrary.errors import (ArgumentError, CheckFailed, RunError, UsageError,
                                         WebSocketLoadError)
from WebSocketLoadLibrary.keywords.agents import AgentStepError
from WebSocketLoadLibrary.keywords.assertions import LoadNotApplied
from WebSocketLoadLibrary.library import KeywordError, WebSocketLoadLibrary
from WebSocketLoadLibrary.mockserver import ControlError, FaultError, MockServerError
from WebSocketLoadLibrary.utils.arguments import CONVERTERS, Duration, Rate


# -- the family ------------------------------------------------------------------------
@pytest.mark.parametrize("kind, base", [
    (ArgumentError, UsageError), (PlanError, UsageError), (TemplateError, UsageError),
    (SecretError, UsageError), (NothingOpenError, UsageError), (FaultError, UsageError),
    (EngineError, RunError), (ConnectError, RunError), (StepTimeout, RunError),
    (AgentError, RunError), (AgentStepFailed, RunError), (MockServerError, RunError),
    (ControlError, RunError), (LoadNotApplied, CheckFailed), (ConnectionsLost, CheckFailed),
    (AgentStepError, CheckFailed), (KeywordError, WebSocketLoadError)])
def test_every_error_raised_on_purpose_is_one_of_the_family(kind, base):
    assert issubclass(kind, base) and issubclass(kind, WebSocketLoadError)
    assert kind.ROBOT_SUPPRESS_NAME


def test_the_family_keeps_the_builtin_bases_callers_may_catch():
    assert issubclass(UsageError, ValueError) and issubclass(RunError, RuntimeError)
    assert issubclass(CheckFailed, AssertionError)  # a failed check is a test failure
    assert issubclass(PlanError, EngineError) and issubclass(PlanError, ValueError)


def test_the_family_is_importable_without_robot_framework():
    code = ("import sys; import WebSocketLoadLibrary.errors, WebSocketLoadLibrary.engine, "
            "WebSocketLoadLibrary.mockserver; assert 'robot' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith('robot'))")
    completed = subprocess.run([sys.executable, "-c", code], cwd=LIBRARIES, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


# -- the keyword wrapper, in process -----------------------------------------------------
@pytest.fixture
def library():
    library = WebSocketLoadLibrary()
    yield library
    library.close()


def test_a_family_error_fails_the_keyword_with_its_message_and_keeps_the_cause(library):
    with pytest.raises(KeywordError) as raised:
        library.run_keyword("set_pacing", [], {"wake_interval": "soon"})
    message = str(raised.value)
    assert message.startswith("A wake interval must be a Robot Framework time")
    cause = raised.value.__cause__
    assert isinstance(cause, UsageError)
    # raised `from None` so that the message stays the user's; the log still gets the chain
    assert cause.__context__ is not None and not cause.__suppress_context__


def test_a_refused_argument_fails_naming_it_before_the_keyword_runs(library, monkeypatch):
    ran = []
    monkeypatch.setattr(LibraryState, "result_or_last", lambda *a: ran.append(a))
    refused = CONVERTERS[Duration]("200 xs")
    with pytest.raises(KeywordError) as raised:
        library.run_keyword("latency_p95_should_be_below", [refused])
    assert str(raised.value) == ("Argument 'limit' got value '200 xs' that cannot be converted "
                                 f"to Duration: expected {Duration.FORMS}")
    assert isinstance(raised.value.__cause__, ArgumentError) and not ran


def test_a_refused_item_of_a_list_is_named_by_its_argument(library):
    rates = [CONVERTERS[Rate]("100"), CONVERTERS[Rate]("2x/s")]
    with pytest.raises(KeywordError, match="Argument 'rates' got value '2x/s' that cannot be "
                                           "converted to Rate: expected "):
        library.run_keyword("run_rate_scaling", [rates, Duration(1)])


def test_none_is_left_to_robot_so_that_an_optional_argument_can_be_none():
    with pytest.raises(ValueError) as raised:
        CONVERTERS[Duration]("None")
    assert not isinstance(raised.value, WebSocketLoadError)  # Robot then tries None


@pytest.mark.parametrize("bug", [ValueError("a wrong value inside"), KeyError("missing"),
                                 TypeError("bad call")])
def test_a_bug_goes_to_robot_as_it_is(library, monkeypatch, bug):
    def broken(*args):
        raise bug
    monkeypatch.setattr(LibraryState, "result_or_last", broken)
    with pytest.raises(type(bug)) as raised:
        library.run_keyword("latency_p95_should_be_below", [Duration(0.2)])
    assert raised.value is bug
