"""The reporting keywords in Robot (tests/acceptance/robot/reports.robot): every load keyword
logs its table and charts, results are saved per test, the regression keyword passes and
fails, the metrics endpoint serves, and a merge sums every saved step once. (The reports
themselves: tests/reports/.)"""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from robot_runs import run_robot
from WebSocketLoadLibrary.engine import LatencyHistogram

SUITE = Path(__file__).parent / "robot" / "reports.robot"


@pytest.fixture(scope="module")
def reports_run(tmp_path_factory):
    run = run_robot(tmp_path_factory.mktemp("reports"), str(SUITE), timeout_s=300)
    assert run.tests(), run.stdout[-3000:] + run.stderr[-3000:]
    return run


def saved(run) -> dict[str, dict]:
    return {path.name: json.loads(path.read_text())
            for path in sorted((run.outdir / "load-results").glob("*.json"))}


def test_every_load_keyword_logs_its_table_and_charts(reports_run):
    tests = reports_run.tests()
    for name in ("Burst With Charts", "Rate Scaling With Charts",
                 "Connection Scaling With Charts"):
        assert tests[name].status == "PASS", tests[name].message
    files = saved(reports_run)
    burst = files["Reports--Burst_With_Charts--charted_burst.json"]
    output = (reports_run.outdir / "output.xml").read_text()
    subtitle = (f"{burst['sent']:,} sent, {burst['received']:,} received, {burst['lost']:,} "
                f"lost; {burst['achieved_receive_rate']:,.0f} msg/s; p50 "
                f"{burst['summary']['latency_p50_ms']:,.2f} ms")
    assert subtitle in output
    assert "rates: achieved rate and p95 by target rate".replace("rates", "rate scaling") \
        in output
    assert "connection scaling: throughput by connections" in output
    assert output.count("&lt;svg") >= 6          # two charts per load keyword, in the log
    assert "service time p50 / p99 (ms)" in output and "server CPU / RSS peak / growth" in output
    assert (reports_run.outdir / "log.html").stat().st_size > 0


def test_results_are_saved_per_test_with_their_names_even_when_the_test_fails(reports_run):
    tests = reports_run.tests()
    assert tests["A Failing Test Still Leaves Its Result"].status == "FAIL"
    files = saved(reports_run)
    failed = files["Reports--A_Failing_Test_Still_Leaves_Its_Result--before_the_failure.json"]
    assert failed["suite"] == "Reports"
    assert failed["test"] == "A Failing Test Still Leaves Its Result"
    assert failed["received"] == 300 and LatencyHistogram.decode(
        failed["latency_histogram"]).count == 300
    assert {"Reports--Two_Steps_Of_One_Name_Get_Two_Files--same_name.json",
            "Reports--Two_Steps_Of_One_Name_Get_Two_Files--same_name--2.json"} <= set(files)
    scaling = files["Reports--Rate_Scaling_With_Charts--rate_scaling.json"]
    assert [step["name"] for step in scaling["steps"]] == ["rate scaling: 200/s",
                                                          "rate scaling: 400/s"]
    assert not list((reports_run.outdir / "load-results").glob(".*"))  # no temporary left


def test_the_keyword_passes_on_equal_results_and_fails_on_a_20_percent_drop(reports_run):
    tests = reports_run.tests()
    equal = tests["Equal Results Do Not Regress"]
    assert equal.status == "PASS", equal.message
    dropped = tests["A 20% Throughput Drop Regresses"]
    assert dropped.status == "FAIL"
    assert fnmatch.fnmatchcase(
        dropped.message, "Load results regressed against the baseline (tolerance 10%): "
        "Reports / A 20% Throughput Drop Regresses / regression step: throughput regressed "
        "(-*%, allowed >= *)*"), dropped.message
    drop = float(re.search(r"throughput regressed \((-[0-9.]+)%", dropped.message).group(1))
    assert -25 < drop < -15, dropped.message   # 800/s against 1000/s
    assert "&lt;table" in (reports_run.outdir / "output.xml").read_text()


def test_the_metrics_keywords_serve_the_counters(reports_run):
    test = reports_run.tests()["The Metrics Endpoint Counts What Was Sent"]
    assert test.status == "PASS", test.message


def test_the_merge_keyword_sums_every_saved_step_once(reports_run):
    test = reports_run.tests()["Merge Of The Run So Far"]
    assert test.status == "PASS", test.message
    merged = json.loads((reports_run.outdir / "merged-load-results.json").read_text())
    steps = [step for data in saved(reports_run).values()
             for step in data.get("steps", [data])]
    merged_before = [s for s in steps if s["name"]]   # all saved before the merge ran
    assert merged["total"]["steps"] == len(merged_before)
    assert merged["total"]["received"] == sum(s["received"] for s in merged_before)
    assert test.message == (f"{merged['total']['received']} replies in "
                            f"{merged['total']['steps']} steps")
    assert (reports_run.outdir / "merged-load-results.html").read_text().count("<svg") >= 2
