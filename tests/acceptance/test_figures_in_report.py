"""report.html shows the load figures without the log: each test's message has a line per
result its load keywords saved (the step's headline in its traffic pattern's words, its
verdict), each suite's metadata a table of its steps by kind, the top suite's a table of
every suite. Read from output.xml, which report.html is made of."""
from __future__ import annotations

import re

import pytest

from robot_runs import run_robot

REQUESTS = """\
*** Settings ***
Library           WebSocketLoadLibrary
Suite Setup       Run Keywords    Start Mock Server    AND    Connect Clients    count=2
...               AND    Send Burst At Rate    100    1k/s    name=warm-up in the setup
Suite Teardown    Stop All Mock Servers

*** Test Cases ***
Two Bursts
    Send Burst At Rate    300    1k/s    name=first burst
    Send Burst At Rate    200    1k/s    name=second burst

A Scaling Series
    @{rates}=    Create List    200/s    400/s
    Run Rate Scaling    ${rates}    0.5 s    name=series

Dropped Replies Fail
    Set Mock Server Faults    drop_ratio=0.5
    Send Burst At Rate    200    1k/s    reply_timeout=0.3 s    name=half dropped
    Delivery Ratio Should Be At Least    0.99
    [Teardown]    Clear Mock Server Faults

Keeps Its Own Message
    Send Burst At Rate    100    1k/s    name=before the message
    Set Test Message    my words    append=True
"""

STREAMS = """\
*** Settings ***
Library           WebSocketLoadLibrary
Suite Setup       Start Mock Server
Suite Teardown    Stop All Mock Servers

*** Test Cases ***
A Stream
    Connect Clients    count=2    opening_messages={"op":"stream","rate":200,"duration":10}
    ...    opening_reply="op":"streaming"
    Listen For Messages    1 s    sequence_field=seq    name=listened
    [Teardown]    Disconnect All Clients
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    suites = folder / "Load"
    suites.mkdir()
    (suites / "01_requests.robot").write_text(REQUESTS)
    (suites / "02_streams.robot").write_text(STREAMS)
    done = run_robot(folder / "out", str(suites), timeout_s=300)
    assert done.tests(), done.stdout[-3000:] + done.stderr[-3000:]
    return done


def suites(run) -> dict:
    top = run.result.suite
    return {suite.name: suite for suite in [top, *top.suites]}


def test_each_test_message_names_its_steps_figures_and_verdict(run):
    tests = run.tests()
    two = tests["Two Bursts"]
    assert two.status == "PASS", two.message
    first, second = two.message.split("\n")
    assert re.fullmatch(r"first burst: sent 300, received 300, lost 0, [\d,]+ msg/s, p95 "
                        r"[\d.,]+ ms; load (applied|NOT applied: .*)", first), first
    assert second.startswith("second burst: sent 200, received 200, lost 0")
    series = tests["A Scaling Series"].message
    assert re.match(r"series: 2 steps, efficiency [\d.]+ \(worst step\), peak "
                    r"[\d,]+ msg/s, p95 up to [\d.,]+ ms; load", series), series
    assert tests["Keeps Its Own Message"].message.startswith("before the message: sent 100")
    assert tests["Keeps Its Own Message"].message.endswith("my words")
    stream = tests["A Stream"].message
    assert re.match(r"listened: received [\d,]+ stream messages, [\d,]+ msg/s, missing 0; "
                    r"load applied", stream), stream


def test_a_failed_test_says_why_and_its_figures_stay_in_the_suites_table(run):
    failed = run.tests()["Dropped Replies Fail"]
    assert failed.status == "FAIL" and failed.message.startswith("Delivery ratio 0.")
    table = suites(run)["01 Requests"].metadata["Load figures"]
    # 100 + 300 + 200 + 200 + 100 paced requests, the series' 2 steps among them
    row = next(line for line in table.splitlines() if line.startswith("- *paced requests"))
    assert row.startswith("- *paced requests, 7 steps*: 1,")
    assert "lost (delivery 0." in row


def test_the_top_suite_shows_every_suites_figures(run):
    top = suites(run)["Load"].metadata["Load figures"]
    lines = top.splitlines()
    assert lines[0].startswith("- *01 Requests* -- *paced requests, 7 steps*: ")
    assert lines[1].startswith("- *02 Streams* -- *listen only (a stream the server pushes), "
                               "1 step*: ")
    assert suites(run)["02 Streams"].metadata["Load figures"].splitlines()[0].startswith(
        "- *listen only (a stream the server pushes), 1 step*: ")
    # the log is not flooded: no "Set suite metadata" message after every step
    assert "Set suite metadata" not in (run.outdir / "output.xml").read_text()
