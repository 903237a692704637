"""Each mock server fault is declared once (mockserver/fault_declarations.py) and every layer
takes it from there: the command line, the process handle, the fault state, and the keywords
`Start Mock Server` and `Set Mock Server Faults` with their documentation."""
from __future__ import annotations

import pytest
from robot.libdocpkg import LibraryDocumentation
from websockets.exceptions import InvalidStatus

from WebSocketLoadLibrary import WebSocketLoadLibrary
from WebSocketLoadLibrary.mockserver import FAULT_NAMES, FAULTS, FaultError, Faults
from WebSocketLoadLibrary.mockserver import MockServerProcess
from WebSocketLoadLibrary.mockserver.__main__ import parse_args
from WebSocketLoadLibrary.keywords.server import AFTER_FAULTS
from WebSocketLoadLibrary.mockserver.fault_declarations import COUNT
from WebSocketLoadLibrary.utils.arguments import Duration

from robot_runs import run_robot
from test_mockserver import open_client, round_trip

# The arguments as they were before the declarations, in their order (Robot passes them by
# position too): a fault declared later comes after them, none of them moves.
START_BEFORE = [
    "mode", "max_connections", "response_delay", "drop_ratio", "auth_token", "stall",
    "disconnect_after", "garble_ratio", "certfile", "keyfile", "compression", "id_field",
    "subprotocols", "seed", "alias", "startup_timeout", "engine", "host", "replies",
    "heartbeat", "welcome", "handshake_delay", "refuse_for", "hang_handshakes", "close_after",
    "max_handshake_rate", "max_message_rate"]
SET_BEFORE = [
    "response_delay", "stall", "drop_ratio", "disconnect_after", "garble_ratio", "read_stall",
    "slow_subscriber_delay", "sequence_gap_every", "handshake_delay", "refuse_for",
    "hang_handshakes", "close_after", "max_handshake_rate", "max_message_rate"]


@pytest.fixture(scope="module")
def keywords() -> dict:
    """The keywords as libdoc and Robot see them."""
    library = LibraryDocumentation("WebSocketLoadLibrary")
    return {keyword.name: keyword for keyword in library.keywords}


def arguments(keyword) -> dict:
    return {argument.name: argument for argument in keyword.args}


def test_every_declared_fault_is_a_flag_of_the_server_command_line():
    for fault in FAULTS:
        value = "3" if fault.kind is COUNT else "0.25"
        parsed = parse_args([fault.flag, value])
        assert getattr(parsed, fault.name) == fault.kind.number(value), fault.name
        assert getattr(parse_args([]), fault.name) == fault.default == 0, fault.name


def test_every_declared_fault_reaches_the_command_line_of_the_process_handle():
    for fault in FAULTS:
        args = MockServerProcess(**{fault.name: 1})._args
        assert args[args.index(fault.flag) + 1] in ("1", "1.0"), fault.name
        assert fault.flag not in MockServerProcess(**{fault.name: 0})._args  # off: no flag
    with pytest.raises(FaultError, match=r"unknown fault\(s\) \['lag'\]"):
        MockServerProcess(lag=1)
    with pytest.raises(FaultError, match="fault drop_ratio is a ratio between 0 and 1"):
        MockServerProcess(drop_ratio=2)


def test_every_declared_fault_is_in_the_fault_state_and_clears_to_its_default():
    faults = Faults()
    faults.update(**{fault.name: 1 for fault in FAULTS})
    described = faults.describe()
    for fault in FAULTS:
        key = f"{fault.name}_remaining" if fault.ends else fault.name
        assert described[key] == pytest.approx(1, abs=0.05), fault.name
    faults.clear()
    assert not [name for name, value in faults.describe().items() if value and name != "seed"]


def test_every_declared_fault_is_an_argument_of_the_keywords_and_in_their_docs(keywords):
    setting, starting = keywords["Set Mock Server Faults"], keywords["Start Mock Server"]
    for fault in FAULTS:
        assert fault.name in arguments(setting), fault.name
        assert f"``{fault.name}``" in setting.doc, fault.name
        if fault.at_start:
            assert fault.name in arguments(starting), fault.name
            assert f"``{fault.name}``" in starting.doc, fault.name
        assert fault.doc.split(";")[0] in setting.doc, fault.name  # its own words
    assert {fault.name for fault in FAULTS if not fault.at_start} == {
        "read_stall", "slow_subscriber_delay", "sequence_gap_every"}


def test_the_keywords_keep_their_arguments_where_and_as_they_were(keywords):
    start = [argument.name for argument in keywords["Start Mock Server"].args]
    assert start[:len(START_BEFORE)] == START_BEFORE
    # the faults declared since, then the keyword's own arguments added after them
    assert start[len(START_BEFORE):] == [f.name for f in FAULTS if f.at_start
                                        and f.name not in START_BEFORE] + list(AFTER_FAULTS)
    set_faults = [argument.name for argument in keywords["Set Mock Server Faults"].args]
    assert set_faults[:len(SET_BEFORE)] == SET_BEFORE
    assert set_faults[len(SET_BEFORE):] == [f.name for f in FAULTS if f.name not in SET_BEFORE]
    assert sorted(set_faults) == sorted(FAULT_NAMES)
    started, changed = arguments(keywords["Start Mock Server"]), \
        arguments(keywords["Set Mock Server Faults"])
    shown = {name: (str(started[name]), str(changed[name]))
             for name in ("response_delay", "drop_ratio", "disconnect_after", "max_message_rate")}
    assert shown == {
        "response_delay": ("response_delay: Duration = 0 ms", "response_delay: Duration | None = None"),
        "drop_ratio": ("drop_ratio: Ratio = 0", "drop_ratio: Ratio | None = None"),
        "disconnect_after": ("disconnect_after: int = 0", "disconnect_after: int | None = None"),
        "max_message_rate": ("max_message_rate: int | Rate = 0",
                             "max_message_rate: int | Rate | None = None")}


@pytest.fixture
def library():
    library = WebSocketLoadLibrary()
    yield library
    library.run_keyword("stop_all_mock_servers", [])


def test_a_fault_set_through_the_keywords_reaches_a_real_server_and_changes_what_it_does(
        library):
    """As Robot calls the keywords: positional and named arguments, converted values."""
    uri = library.run_keyword("start_mock_server", [], {"compression": False})
    with open_client(uri) as ws:
        assert round_trip(ws, "quick")[0] == "quick"
        # the first positional argument is response_delay
        faults = library.run_keyword("set_mock_server_faults", [Duration(0.2)], {})
        assert faults["response_delay"] == 0.2
        took = [round_trip(ws, f"slow-{i}") for i in range(3)]
        assert [reply for reply, _ in took] == [f"slow-{i}" for i in range(3)]
        assert all(seconds >= 0.199 for _, seconds in took), took
    library.run_keyword("set_mock_server_faults", [], {"refuse_for": Duration(30)})
    with pytest.raises(InvalidStatus) as refused:
        open_client(uri)
    assert refused.value.response.status_code == 503
    stats = library.run_keyword("get_mock_server_stats", [])
    assert stats["handshakes_refused_503"] == 1
    assert 25 < stats["faults"]["refuse_for_remaining"] <= 30
    library.run_keyword("clear_mock_server_faults", [])
    with open_client(uri) as ws:
        assert round_trip(ws, "back")[0] == "back"


FAULT_THROUGH_ROBOT = """
*** Settings ***
Library           WebSocketLoadLibrary
Suite Teardown    Stop All Mock Servers

*** Test Cases ***
A Fault Set By Keyword Changes What The Server Does
    ${uri}=    Start Mock Server
    Connect Clients    ${uri}
    Disconnect All Clients
    Set Mock Server Faults    refuse_for=30 s
    Run Keyword And Expect Error    *HTTP 503*    Connect Clients    ${uri}
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[handshakes_refused_503]    1
    Clear Mock Server Faults
    Connect Clients    ${uri}

Faults Given By Position Land Where They Always Did
    Start Mock Server    echo    1000    250 ms    1%
    ${faults}=    Set Mock Server Faults    ${None}    ${None}    ${None}    7
    Should Be Equal As Numbers    ${faults}[response_delay]    0.25
    Should Be Equal As Numbers    ${faults}[drop_ratio]    0.01
    Should Be Equal As Integers    ${faults}[disconnect_after]    7
    Run Keyword And Expect Error    *max_message_rate takes a number per second, not max*
    ...    Set Mock Server Faults    max_message_rate=max
"""


@pytest.mark.acceptance   # a Robot run: its types convert the values ("250 ms", "1%")
def test_robot_converts_the_fault_arguments_by_their_declared_types(tmp_path):
    suite = tmp_path / "fault_through_robot.robot"
    suite.write_text(FAULT_THROUGH_ROBOT)
    run = run_robot(tmp_path / "out", str(suite), timeout_s=120)
    tests = run.tests()
    assert len(tests) == 2, run.stdout
    failed = {name: test.message for name, test in tests.items() if test.status != "PASS"}
    assert not failed, f"{failed}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
