"""The error family in a Robot run, read back from output.xml: a user's mistake fails its
keyword with a plain message and keeps the cause at DEBUG; a bug shows as a bug, named, with
its traceback. (The family and the keyword wrapper in process: tests/keywords/.)"""
from __future__ import annotations

import re
import socket
import textwrap

import pytest

from robot_runs import run_robot

# "ValueError: ...", "ConnectError: ...": what a message must not start with, or contain
PYTHON_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|Failed|Timeout|Lost|Applied)\b:")


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
