"""One error family: what the library raises on purpose fails a keyword with a plain message
(no Python class name) and keeps its cause in the log at DEBUG level; anything else is a bug
and Robot shows it as one, named, with its traceback."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap

import pytest

from robot_runs import LIBRARIES, run_robot
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

# "ValueError: ...", "ConnectError: ...": what a message must not start with, or contain
PYTHON_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|Failed|Timeout|Lost|Applied)\b:")


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


# -- in a Robot run, read back from output.xml ---------------------------------------------
BUGS_LIBRARY = '''
from WebSocketLoadLibrary.engine.facade import LoadEngine

ORIGINAL = LoadEngine.connect


def break_the_engine(kind):
    """Makes LoadEngine.connect fail as a bug would."""
    def connect(*args, **kwargs):
        raise {"ValueError": ValueError("a wrong value inside the engine"),
               "KeyError": KeyError("missing_key")}[kind]
    LoadEngine.connect = connect


def mend_the_engine():
    LoadEngine.connect = ORIGINAL
'''

SUITE = '''
*** Settings ***
Library    WebSocketLoadLibrary
Library    Bugs.py

*** Test Cases ***
Typo In A Rate
    Send Burst At Rate    100    2x/s

Typo In A Time
    Latency P95 Should Be Below    200 xs

Refused Connection
    Connect Clients    ws://127.0.0.1:${PORT}    count=1    open_timeout=5 s

Bug Raising ValueError
    Break The Engine    ValueError
    Connect Clients    ws://127.0.0.1:${PORT}    count=1
    [Teardown]    Mend The Engine

Bug Raising KeyError
    Break The Engine    KeyError
    Connect Clients    ws://127.0.0.1:${PORT}    count=1
    [Teardown]    Mend The Engine
'''


def unused_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def messages(item, level: str) -> list[str]:
    """Every message at `level` logged under `item`, however deep."""
    found = []
    for child in getattr(item, "body", ()):
        if getattr(child, "level", None) == level:
            found.append(child.message)
        found.extend(messages(child, level))
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("error_family")
    (folder / "Bugs.py").write_text(textwrap.dedent(BUGS_LIBRARY))
    (folder / "errors.robot").write_text(SUITE)
    port = unused_loopback_port()
    result = run_robot(folder / "out", "--loglevel", "DEBUG", "--pythonpath", str(folder),
                       "--variable", f"PORT:{port}", str(folder / "errors.robot"),
                       timeout_s=120)
    tests = result.tests()
    assert tests, result.stdout[-3000:] + result.stderr[-3000:]
    return tests, port


USER_MISTAKES = {
    "Typo In A Rate": ("Argument 'rate' got value '2x/s' that cannot be converted to Rate: "
                       "expected a number of messages per second", "ArgumentError: expected"),
    "Typo In A Time": ("Argument 'limit' got value '200 xs' that cannot be converted to "
                       "Duration: expected a Robot Framework time",
                       "Invalid time string '200 xs'"),
    "Refused Connection": ("Connection refused by 127.0.0.1:{port}: is the server running on "
                           "that port?", "ConnectError: connection refused by 127.0.0.1:{port}"),
}


@pytest.mark.parametrize("name", USER_MISTAKES)
def test_a_user_mistake_fails_cleanly_with_the_cause_at_debug(run, name):
    tests, port = run
    test = tests[name]
    shown, cause = (text.format(port=port) for text in USER_MISTAKES[name])
    assert test.status == "FAIL"
    assert test.message.startswith(shown), test.message
    assert not PYTHON_NAME.search(test.message), test.message
    failures = messages(test, "FAIL")
    assert failures and all(not PYTHON_NAME.search(m) for m in failures), failures
    debug = "\n".join(messages(test, "DEBUG"))
    assert "Traceback (most recent call last)" in debug and cause in debug, debug


@pytest.mark.parametrize("name, shown", [
    ("Bug Raising ValueError", "ValueError: a wrong value inside the engine"),
    ("Bug Raising KeyError", "KeyError: 'missing_key'")])
def test_a_bug_shows_as_a_bug_with_its_name_and_traceback(run, name, shown):
    test = run[0][name]
    assert test.status == "FAIL"
    assert test.message == shown
    debug = "\n".join(messages(test, "DEBUG"))
    assert "Bugs.py" in debug and shown in debug, debug  # where the bug is, not only its text
    assert "KeywordError" not in debug
