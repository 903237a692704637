"""The keyword library as users meet it: real Robot runs on small suites, judged by output.xml.

Every assertion keyword passes against a healthy mock server and fails, saying expected vs
measured and over how many messages, against a faulty one (delay, drop, stall).
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from robot_runs import run_robot

SUITE = Path(__file__).parent / "robot" / "assertions_healthy_and_faulty.robot"
# the first test runs the suite (its robot run may take up to 300 s beside a busy process)
pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def assertion_tests(tmp_path_factory):
    run = run_robot(tmp_path_factory.mktemp("assertions"), str(SUITE), timeout_s=300)
    tests = run.tests()
    assert tests, run.stdout[-3000:] + run.stderr[-3000:]
    return tests


HEALTHY = ["P50 Healthy", "P95 Healthy", "P99 Healthy", "Percentile Healthy",
           "Delivery Healthy", "Throughput Healthy", "Memory Healthy", "Efficiency Healthy",
           "Connection Efficiency Healthy", "Every Assertion Refuses Load That Was Not Applied"]


@pytest.mark.parametrize("name", HEALTHY)
def test_assertion_passes_against_a_healthy_server(assertion_tests, name):
    test = assertion_tests[name]
    assert test.status == "PASS", test.message


FAULTY = {
    "P50 Delay": "Latency p50 is *.* ms, expected below 50 ms (over 400 messages: 400 replies, "
                 "0 lost; latency from intended send time; step 'burst 400 at 400/s')",
    "P95 Drop": "Latency p95 is beyond the reply timeout (300 ms): more than 5% of messages got "
                "no reply (over 400 messages: 3?? replies, ?? lost; *",
    "P99 Stall": "Latency p99 is *ms, expected below 50 ms (over 600 messages: 600 replies, 0 lost*",
    "Percentile Delay": "Latency p99.9 is *.* ms, expected below 50 ms (over 400 messages:*",
    "Delivery Drop": "Delivery ratio 0.9*, expected at least 0.999 (* replies to 1,000 messages: "
                     "* lost, 0 not sent, 0 unmatched and 0 invalid replies; step *",
    "Throughput Delay": "Throughput *.* msg/s, expected at least 1,000.0 msg/s (over 200 messages;*",
    "Memory Stall": "Server memory grew by *MB, expected below 20.0 MB (over 2,000 messages;*",
    "Efficiency Stall": "Step 'rate scaling: 200/s': efficiency 0.*, expected at least 0.9 "
                        "(* of 200.0 msg/s over 200 messages)",
}


@pytest.mark.parametrize("name", FAULTY)
def test_assertion_fails_against_a_faulty_server_with_expected_and_measured(assertion_tests, name):
    test = assertion_tests[name]
    assert test.status == "FAIL"
    assert fnmatch.fnmatchcase(test.message, FAULTY[name]), test.message


@pytest.mark.parametrize("name, delay_ms", [("P50 Delay", 100), ("Percentile Delay", 80)])
def test_a_response_delay_is_measured_at_least_as_long_as_it_is(assertion_tests, name, delay_ms):
    # a busy machine can only add to it: no upper bound here
    message = assertion_tests[name].message
    measured_ms = float(message.split(" is ")[1].split(" ms")[0].replace(",", ""))
    assert measured_ms >= delay_ms, message


def test_the_stall_pushes_p99_past_the_stall_less_the_time_already_waited(assertion_tests):
    message = assertion_tests["P99 Stall"].message
    measured_ms = float(message.split(" is ")[1].split(" ms")[0].replace(",", ""))
    assert 300 <= measured_ms <= 700, message


MALFORMED = {
    "Malformed Rate": ("rate", "2x/s", "Rate", "1000, 1000/s, 2k/s"),
    "Malformed Time": ("limit", "200 xs", "Duration", "200 ms, 1.5 s"),
    "Malformed Size": ("limit", "100 XB", "ByteSize", "100 MB"),
    "Malformed Ratio": ("minimum", "1.5", "Ratio", "0.999"),
    "Malformed Percentile": ("percentile", "101", "Percentile", "99.9"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_argument_fails_naming_the_argument_and_the_accepted_forms(
        assertion_tests, name):
    argument, value, kind, example = MALFORMED[name]
    test = assertion_tests[name]
    assert test.status == "FAIL"
    assert f"Argument '{argument}' got value '{value}' that cannot be converted to {kind}" \
        in test.message
    assert example in test.message


def test_an_assertion_before_any_load_says_what_to_run_first(assertion_tests):
    test = assertion_tests["Assertion Without A Result"]
    assert test.status == "FAIL"
    assert test.message.startswith("No load result to check latency p95 on: run a load keyword")
