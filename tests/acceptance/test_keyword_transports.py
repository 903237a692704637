"""Both client transports and both mock server engines, as a suite uses them."""
from __future__ import annotations

from robot_runs import run_robot

SUITE = """
*** Settings ***
Library           WebSocketLoadLibrary
Suite Teardown    Stop All Mock Servers
Test Teardown     Disconnect All Clients

*** Test Cases ***
Picows Server, Picows Clients
    Start Mock Server    engine=picows    alias=picows
    Connect Clients    count=4    transport=picows
    Send Burst At Rate    2000    2k/s
    Delivery Ratio Should Be At Least    1.0
    Latency P95 Should Be Below    100 ms
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[messages_received]    2000

Picows Server, Websockets Clients
    Switch Mock Server    picows
    ${open}=    Connect Clients    count=2    transport=websockets
    Should Be Equal As Integers    ${open}    2
    Send Burst At Rate    1000    max
    Throughput Should Be At Least    1k/s

Picows Server Faults Fail The Assertions
    Switch Mock Server    picows
    Connect Clients    count=2
    Set Mock Server Faults    response_delay=60 ms
    Send Burst At Rate    500    1k/s
    Run Keyword And Expect Error    Latency p50 is *ms, expected below 50 ms*
    ...    Latency P50 Should Be Below    50 ms
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

Picows Transport Cannot Compress
    Run Keyword And Expect Error    Transport picows cannot do compression: use transport=websockets*
    ...    Connect Clients    count=1    transport=picows    compression=True
"""


def test_both_transports_and_both_server_engines_work_through_the_keywords(tmp_path):
    suite = tmp_path / "transports.robot"
    suite.write_text(SUITE)
    run = run_robot(tmp_path / "out", str(suite), timeout_s=120)
    tests = run.tests()
    assert len(tests) == 4
    for name, test in tests.items():
        assert test.status == "PASS", f"{name}: {test.message}"
