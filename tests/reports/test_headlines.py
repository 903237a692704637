"""The headline figures report.html shows (reports/headlines.py): a step's in its traffic
pattern's own words, a series' and a search's, and a suite's by kind."""
from __future__ import annotations

from test_merge_by_kind import fanning_out, listening, probe, requests, storm
from WebSocketLoadLibrary.engine import CapacityResult, ScalingResult, pattern_of
from WebSocketLoadLibrary.reports.headlines import RunFigures, result_headline, message_line


def test_a_step_reads_in_its_traffic_patterns_words_with_its_verdict_last():
    for step in (requests("burst", 500, lost=5), listening("stream", 3000),
                 fanning_out("fan-out"), storm("storm", 40)):
        line = message_line(step)
        assert line == f"{step.name}: {pattern_of(step.mode).headline(step)}; load applied"
    assert "published 10, delivered 200 of 200" in message_line(fanning_out("fan-out"))
    assert "opened 40 of 40 connections" in message_line(storm("storm", 40))


def test_a_step_not_applied_says_why_in_a_line_of_bounded_length():
    step = requests("behind", 100, applied=False)
    step.not_applied_reasons = ["the generator fell behind its schedule " * 10, "another"]
    verdict = result_headline(step).split("; ", 1)[1]
    assert verdict.startswith("load NOT applied: the generator fell behind its schedule")
    assert verdict.endswith("... (and 1 more)") and len(verdict) < 220


def test_a_series_and_a_search_read_as_one_line_each():
    series = ScalingResult("rate", "rates", steps=[requests("rates: 100/s", 100),
                                                   requests("rates: 200/s", 200, start=2)])
    assert result_headline(series).startswith(
        "2 steps, efficiency ") and result_headline(series).endswith("; load applied")
    search = CapacityResult(kind="capacity", name="capacity",
                            steps=[probe(rate=500.0), probe(rate=1000.0, start=3)],
                            capacity_msg_s=900.0, stop_reason="precision reached",
                            probes_s=6.0, pauses_s=1.0)
    assert result_headline(search) == "900 msg/s (precision reached, 2 probes, 7.0 s)"
    assert message_line(search).startswith("capacity: 900 msg/s")


def test_a_suites_figures_are_its_steps_by_kind_and_the_runs_name_each_suite():
    figures = RunFigures()
    burst = requests("burst", 1000)
    figures.add(burst, "Suites.01 Basic", "T")
    figures.add(burst, "Suites.01 Basic", "T")          # saved again: counted once
    figures.add(listening("stream", start=5), "Suites.01 Basic", "U")
    figures.add(fanning_out("fan-out", start=9), "Suites.02 Fan Out", "V")
    suite = figures.suite_figures("Suites.01 Basic").splitlines()
    assert suite[0].startswith("- *paced requests, 1 step*: 1,000 sent, 1,000 replies")
    assert suite[1].startswith("- *listen only (a stream the server pushes), 1 step*: ")
    run = figures.run_figures().splitlines()
    assert [line.split(" -- ")[0] for line in run] == ["- *01 Basic*", "- *01 Basic*",
                                                       "- *02 Fan Out*"]
