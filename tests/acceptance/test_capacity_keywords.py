"""The capacity keywords in Robot: Find Maximum Rate on load agents, against a server that
closes connections and on bad input; Find Maximum Connections and Find Maximum Subscribers
against the mock server's connection limit. (The search itself: tests/engine/test_capacity.py.)"""
from __future__ import annotations

import json

from agent_processes import SECRET, start_agent
from robot_runs import run_robot
from WebSocketLoadLibrary.engine.capacity.search import PRECISION, SERVER_LOST


KEYWORD_SUITE = """\
*** Settings ***
Library           WebSocketLoadLibrary
Suite Teardown    Run Keywords    Disconnect Load Agents    AND    Stop All Mock Servers

*** Test Cases ***
The Probes Run On The Load Agents
    ${uri}=    Start Mock Server    engine=picows    max_message_rate=400
    Connect Load Agents    ${AGENTS}
    Connect Clients On Agents    ${uri}    count=2
    ${found}=    Find Maximum Rate    120/s    4000/s    probe_duration=1.5 s    warm_up=0.5 s
    ...    pause=0.5 s    reply_timeout=2 s    on_agents=${True}    retries=1    p95=50 ms
    ...    p99.9=1 s    max_probes=16    time_budget=90 s
    Should Be Equal    ${found.stop_reason}    precision reached    ${found.message}
    Should Be True    340 <= ${found.capacity_msg_s} <= 440    ${found.message}
    Should Be Equal As Integers    ${{len($found.steps[0].agents)}}    2
    Capacity Should Be At Least    340/s
    ${baseline}=    Save Load Results    ${OUTPUT DIR}/capacity-baseline.json
    Load Results Should Not Regress    ${baseline}
    Log Load Summary
    [Teardown]    Run Keywords    Disconnect Clients On Agents    AND    Stop All Mock Servers

A Server That Closes Connections Ends The Search And Fails It
    ${uri}=    Start Mock Server    engine=picows    disconnect_after=200
    Connect Clients    ${uri}    count=2
    Run Keyword And Expect Error
    ...    Capacity search 'closing' could not finish: the search stopped: at * the server closed *
    ...    Find Maximum Rate    100/s    10000/s    probe_duration=1 s    warm_up=0.3 s    pause=0 s
    ...    name=closing    p95=100 ms
    Run Keyword And Expect Error
    ...    Capacity is at least 200 msg/s, not shown to be at least 1,000 msg/s: the search stopped: *
    ...    Capacity Should Be At Least    1000/s
    [Teardown]    Run Keywords    Disconnect All Clients    AND    Stop All Mock Servers

Bad Input Fails Before Any Probe
    ${uri}=    Start Mock Server
    Connect Clients    ${uri}
    Run Keyword And Expect Error    *bounds are in the wrong order: low 2,000 msg/s *
    ...    Find Maximum Rate    2k/s    1k/s    p95=50 ms
    Run Keyword And Expect Error    *recision must be a share above 0*
    ...    Find Maximum Rate    1k/s    2k/s    precision=0    p95=50 ms
    Run Keyword And Expect Error    *needs at least one target*
    ...    Find Maximum Rate    1k/s    2k/s
    Run Keyword And Expect Error    Unknown target latency=50 ms; the targets are *
    ...    Find Maximum Rate    1k/s    2k/s    latency=50 ms
    Run Keyword And Expect Error    *high bound must be a rate such as 1000/s, not max*
    ...    Find Maximum Rate    1k/s    max    p95=50 ms
    Run Keyword And Expect Error    Capacity Should Be At Least needs the result of Find *
    ...    Capacity Should Be At Least    100/s    result=${{[]}}
    [Teardown]    Run Keywords    Disconnect All Clients    AND    Stop All Mock Servers
"""


def test_the_keywords_on_agents_on_a_closing_server_and_on_bad_input(tmp_path):
    suite = tmp_path / "capacity.robot"
    suite.write_text(KEYWORD_SUITE)
    agents = [start_agent(f"agent-{n}") for n in (1, 2)]
    try:
        run = run_robot(tmp_path / "out", "--variable",
                        "AGENTS:" + ",".join(agent.uri for agent in agents), str(suite),
                        env={"LOAD_AGENT_SECRET": SECRET}, timeout_s=240)
    finally:
        for agent in agents:
            agent.stop()
    tests = run.tests()
    failed = {name: test.message for name, test in tests.items() if test.status != "PASS"}
    assert not failed, failed
    assert len(tests) == 3
    saved = {path.name: json.loads(path.read_text())
             for path in (tmp_path / "out" / "load-results").glob("*.json")}
    closing = next(data for name, data in saved.items() if "Closes_Connections" in name)
    assert closing["capacity"]["stop_reason"] == SERVER_LOST
    assert closing["steps"] and closing["capacity"]["error"]   # the probes so far, saved
    on_agents = next(data for name, data in saved.items() if "Load_Agents" in name)
    assert on_agents["capacity"]["stop_reason"] == PRECISION
    output = (tmp_path / "out" / "output.xml").read_text()
    assert "achieved rate and latency by target rate" in output   # the chart is logged
    assert "No regression beyond 10% in 1 step(s) (capacity)" in output


CONNECTIONS_SUITE = """\
*** Settings ***
Library           WebSocketLoadLibrary
Suite Teardown    Run Keywords    Disconnect All Clients    AND    Stop All Mock Servers

*** Test Cases ***
Find Maximum Connections Finds The Connection Limit
    ${uri}=    Start Mock Server    engine=picows    max_connections=20
    Connect Clients    ${uri}    count=2
    ${found}=    Find Maximum Connections    3    200    rate_per_connection=5/s
    ...    probe_duration=0.8 s    warm_up=0.2 s    pause=0.3 s    precision=10%
    ...    p95=500 ms    delivery=99%
    Log    ${found.capacity} connections: ${found.message}
    # the current group's 2 connections count against the server's 20
    Should Be True    14 <= ${found.capacity} <= 18    ${found.message}
    Capacity Should Be At Least    10 connections
    Capacity Should Be At Least    10
    Run Keyword And Expect Error    Capacity is * connections, expected at least 100 connections: *
    ...    Capacity Should Be At Least    100 connections
"""


def test_the_find_maximum_connections_keyword_in_robot(tmp_path):
    suite = tmp_path / "connections.robot"
    suite.write_text(CONNECTIONS_SUITE)
    run = run_robot(tmp_path / "out", str(suite), timeout_s=120)
    failed = {name: test.message for name, test in run.tests().items()
              if test.status != "PASS"}
    assert not failed, failed
    saved = [json.loads(path.read_text())
             for path in (tmp_path / "out" / "load-results").glob("*.json")]
    found = next(data for data in saved if data.get("kind") == "capacity")
    assert found["capacity"]["unit"] == "connections"
    output = (tmp_path / "out" / "output.xml").read_text()
    assert "achieved rate and latency by connections" in output   # the chart is logged
    assert "connections failed" in output


SUBSCRIBERS_SUITE = """\
*** Settings ***
Library           WebSocketLoadLibrary
Suite Teardown    Run Keywords    Disconnect All Clients    AND    Stop All Mock Servers

*** Test Cases ***
Find Maximum Subscribers Finds The Connection Limit Of A Fan Out
    ${uri}=    Start Mock Server    engine=picows    max_connections=16
    Connect Clients    ${uri}    count=1    alias=writer
    Set Message Template    {"op":"publish","topic":"room","message_id":$message_id,"send_time":$send_time}
    ${found}=    Find Maximum Subscribers    2    100    publish_rate=20/s
    ...    opening_messages={"op":"subscribe","topic":"room"}    opening_reply=op == subscribed
    ...    probe_duration=0.8 s    warm_up=0.2 s    pause=0.3 s    precision=10%
    ...    p99=500 ms    delivery=99%
    Log    ${found.capacity} subscribers: ${found.message}
    # the publisher's connection counts against the server's 16
    Should Be True    11 <= ${found.capacity} <= 15    ${found.message}
    Capacity Should Be At Least    10 subscribers
    Run Keyword And Expect Error    Capacity is * subscribers, expected at least 100 subscribers: *
    ...    Capacity Should Be At Least    100 subscribers
"""


def test_the_find_maximum_subscribers_keyword_in_robot(tmp_path):
    suite = tmp_path / "subscribers.robot"
    suite.write_text(SUBSCRIBERS_SUITE)
    run = run_robot(tmp_path / "out", str(suite), timeout_s=180)
    failed = {name: test.message for name, test in run.tests().items()
              if test.status != "PASS"}
    assert not failed, failed
    output = (tmp_path / "out" / "output.xml").read_text()
    assert "subscribers failed" in output or "connections failed" in output
    saved = [json.loads(path.read_text())
             for path in (tmp_path / "out" / "load-results").glob("*.json")]
    found = next(data for data in saved if data.get("kind") == "capacity")
    assert found["capacity"]["unit"] == "subscribers"
