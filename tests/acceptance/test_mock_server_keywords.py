"""The mock server's keywords in Robot: push options and faults in Robot's units, the
lifecycle faults and the restart. (The server itself: tests/mockserver/.)"""
from __future__ import annotations

from robot_runs import run_robot


KEYWORD_SUITE = """\
*** Settings ***
Library    WebSocketLoadLibrary

*** Test Cases ***
Push Options At Start And While It Runs
    ${uri}=    Start Mock Server    engine=picows    mode=ack    replies=3    heartbeat=200 ms
    ...    welcome=True
    ${stats}=    Get Mock Server Stats
    Should Be Equal    ${stats}[options]    ${{{"replies": 3, "heartbeat_interval": 0.2, "welcome": True}}}
    ${now}=    Set Mock Server Options    replies=2    heartbeat=0 s    welcome=False
    Should Be Equal    ${now}    ${{{"replies": 2, "heartbeat_interval": 0.0, "welcome": False}}}
    ${faults}=    Set Mock Server Faults    slow_subscriber_delay=300 ms    sequence_gap_every=7
    Should Be Equal As Numbers    ${faults}[slow_subscriber_delay]    0.3
    Should Be Equal As Integers    ${faults}[sequence_gap_every]    7
    Clear Mock Server Faults
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[faults][sequence_gap_every]    0
    [Teardown]    Stop Mock Server
"""


def test_the_keywords_take_the_push_options_and_faults_in_robot_units(tmp_path):
    suite = tmp_path / "push_options.robot"
    suite.write_text(KEYWORD_SUITE)
    run = run_robot(tmp_path / "out", str(suite), timeout_s=120)
    tests = run.tests()
    assert {name: (t.status, t.message) for name, t in tests.items()} == {
        "Push Options At Start And While It Runs": ("PASS", "")}, run.stdout


def test_the_keywords_start_fault_and_restart_the_server(tmp_path):
    """Start Mock Server and Set Mock Server Faults take the faults in Robot's words;
    Restart Mock Server Connections closes the clients."""
    suite = tmp_path / "lifecycle.robot"
    suite.write_text("""\
*** Settings ***
Library    WebSocketLoadLibrary
Suite Teardown    Stop All Mock Servers

*** Test Cases ***
Faults In Robot's Words
    Start Mock Server    close_after=2 s    max_handshake_rate=50/s    max_message_rate=1k/s
    ${faults}=    Set Mock Server Faults    refuse_for=500 ms    handshake_delay=100 ms
    Should Be Equal As Numbers    ${faults}[close_after]    2
    Should Be Equal As Numbers    ${faults}[max_handshake_rate]    50
    Should Be Equal As Numbers    ${faults}[max_message_rate]    1000
    Should Be Equal As Numbers    ${faults}[handshake_delay]    0.1
    Should Be True    0 < ${faults}[refuse_for_remaining] <= 0.5
    Run Keyword And Expect Error    *fault max_message_rate takes a number per second, not max*
    ...    Set Mock Server Faults    max_message_rate=max
    ${faults}=    Set Mock Server Faults    max_message_rate=0    refuse_for=0
    Should Be Equal As Numbers    ${faults}[max_message_rate]    0
    Connect Clients    count=3
    ${open}=    Restart Mock Server Connections
    Should Be Equal As Integers    ${open}    3
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[restarts]    1
    Should Be Equal As Integers    ${stats}[closes_by_restart]    3
    [Teardown]    Disconnect All Clients
""")
    run = run_robot(tmp_path / "out", str(suite), timeout_s=120)
    assert run.returncode == 0, run.stdout + run.stderr
