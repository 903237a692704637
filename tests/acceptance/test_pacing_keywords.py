"""Set Pacing in Robot: it reaches the steps (their pacing logged at DEBUG) and refuses bad
values. (The pacer itself: tests/engine/pacing/.)"""
from __future__ import annotations

from robot_runs import run_robot


SET_PACING_SUITE = """
*** Settings ***
Library           WebSocketLoadLibrary
Suite Setup       Start Mock Server    engine=picows
Suite Teardown    Stop All Mock Servers

*** Test Cases ***
Plain Turns And A Wake For Every Message
    Connect Clients    count=4    transport=picows
    Set Pacing    wake_interval=0    max_run=1
    Send Burst At Rate    1000    5k/s
    Delivery Ratio Should Be At Least    1.0
    Set Pacing    wake_interval=500 us
    Send Burst At Rate    1000    5k/s
    Delivery Ratio Should Be At Least    1.0
    [Teardown]    Run Keywords    Set Pacing    AND    Disconnect All Clients

Bad Pacing Is Refused
    Run Keyword And Expect Error    Wake interval must be between 0 and 0.1 s, got 1.0 s
    ...    Set Pacing    wake_interval=1 s
    Run Keyword And Expect Error
    ...    A wake interval must be a Robot Framework time such as 200 ms*, or auto; got 'fast'
    ...    Set Pacing    wake_interval=fast
    Run Keyword And Expect Error
    ...    The longest run (max_run) must be a whole number of messages or auto, got 'many'
    ...    Set Pacing    max_run=many
    Run Keyword And Expect Error    Max run must be at least 1 message, got 0
    ...    Set Pacing    max_run=0
"""


def test_set_pacing_reaches_the_steps_and_refuses_bad_values(tmp_path):
    suite = tmp_path / "pacing.robot"
    suite.write_text(SET_PACING_SUITE)
    run = run_robot(tmp_path / "out", "--loglevel", "DEBUG", str(suite), timeout_s=120)
    tests = run.tests()
    for name, test in tests.items():
        assert test.status == "PASS", f"{name}: {test.message}"
    log = run.output_files()["output.xml"]
    assert "Pacing: wake interval 0 ms, runs of at most 1 messages per connection" in log
    assert "Pacing: wake interval 0.5 ms, runs of up to 64 (auto) messages per connection" in log
    assert "Pacing: wake interval auto (0.25 ms, up to 1 ms at 100,000 msg/s), runs of up to " \
           "64 (auto) messages per connection" in log
