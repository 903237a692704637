"""Keywords that put results into the log and into files."""
from __future__ import annotations

from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword

from ..base.component import LibraryComponent
from ..base.step_report import log_charts, log_saved
from ..engine import ScalingResult
from ..errors import CheckFailed
from ..reports.records import write_json_atomically, write_text_atomically
from ..reports.summary_table import result_table, scaling_table
from ..utils.arguments import Duration, Ratio


class ReportingKeywords(LibraryComponent):

    @keyword
    def log_load_summary(self, result=None) -> None:
        """Writes the summary table and the charts of the last result (or ``result``) to
        the log.

        Every load keyword does this by itself; use it to show an earlier result again.

        Example:
        | ${first}= | Send Burst At Rate | 1000 | 500/s |
        | Send Burst At Rate | 1000 | 1k/s |
        | Log Load Summary | result=${first} |
        """
        target = self._result(result)
        table = scaling_table(target) if isinstance(target, ScalingResult) else result_table(target)
        logger.info(table, html=True)
        log_charts(target)

    @keyword
    def get_load_summary(self, result=None) -> dict:
        """Returns the figures of the last result (or ``result``) as a dictionary, in user
        units: ``sent``, ``received``, ``lost``, ``delivery_ratio``, ``achieved_send_rate``,
        ``achieved_receive_rate``, ``latency_p50_ms`` ... ``latency_p99_9_ms``,
        ``latency_max_ms``, ``service_p99_ms``, ``max_lag_ms``, ``load_applied``, ... and
        the figures of the step's kind (``stream_rate``, ``fanout_delivery_ratio``,
        ``connect_p95_ms``, ``pushes_total``, ...). A latency percentile is ranked among
        all the replies expected, a lost message above every reply (as the assertions
        rank it); it is ``None`` when it falls among the lost ones (beyond the reply
        timeout). For a scaling result: ``efficiency``, ``peak_throughput`` and ``steps`` (a list of
        the steps' dictionaries). For a step run on load agents also ``agents``: one
        dictionary per agent with its own figures and ``agent``, ``address``,
        ``clock_offset_ms``, ``clock_uncertainty_ms`` and ``start_skew_ms``.

        Example:
        | ${summary}= | Get Load Summary |
        | Should Be True | ${summary}[lost] == 0 |
        """
        target = self._result(result)
        if isinstance(target, ScalingResult):
            return {"kind": target.kind, "name": target.name, "efficiency": target.efficiency,
                    "peak_throughput": target.peak_throughput,
                    "steps": [step.summary() for step in target.steps]}
        summary = target.summary()
        if target.agents:
            summary["agents"] = [
                {"agent": agent["name"], "address": agent["uri"],
                 **{key: agent[key] for key in ("clock_offset_ms", "clock_uncertainty_ms",
                                                "start_skew_ms")},
                 **part.summary()}
                for agent, part in zip(target.agents, target.agent_results())]
        return summary

    @keyword
    def save_load_results(self, path: str | None = None, result=None) -> str:
        """Saves the last result (or ``result``) as JSON, histograms included in their
        encoded form, and returns the file's path.

        Every load keyword already saves its result by itself, to
        ``${OUTPUT DIR}/load-results/<suite>--<test>--<step>.json``; without ``path`` this
        keyword rewrites that same file (a result is never saved twice there, so a merge
        never counts it twice). With ``path`` it writes a copy where you say, e.g. a
        baseline for `Load Results Should Not Regress`. Files are written atomically (a
        reader never sees half a file) and carry the suite and test names.

        Example:
        | Send Burst At Rate | 5000 | 1k/s | name=baseline burst |
        | Save Load Results | ${CURDIR}/baseline.json |
        """
        target = self._result(result)
        saved = self.state.files.save(target, path)
        log_saved(saved, self.state.files.output_dir())
        return str(saved)

    @keyword
    def merge_load_results(self, directory: str | None = None, json: str | None = None,
                           html: str | None = None) -> dict:
        """Merges every result saved under ``directory`` into one summary, writes it as
        JSON and as an HTML page with charts, logs it, and returns its figures.

        ``directory`` is searched recursively, so the ``pabot_results/N/load-results/``
        folders of all pabot processes are found. By default it is the run's output
        directory: ``${OUTPUT DIR}``, or, inside a pabot process, the directory that holds
        ``pabot_results``. ``json`` and ``html`` default to ``merged-load-results.json`` /
        ``.html`` in ``directory``.

        Steps are merged by kind, never across kinds: request/reply steps (paced, and the
        closed loop apart), listen-only streams, fan-outs, connection storms and capacity
        searches each get their own figures -- a delivery ratio is replies per message
        expected, and a stream's messages or a fan-out's deliveries are no replies. Within a
        kind, counters add up, throughput is messages per second while any of its steps
        ran, and percentiles are *true* percentiles from the merged HdrHistograms (never
        averaged percentiles). Over all steps only what means the same for every kind adds
        up: steps, messages sent and received, busy time, steps whose load was not applied.

        Returns a dictionary with ``total`` (``steps``, ``sent``, ``received``, ``busy_s``,
        ``steps_not_applied``, ``load_applied``), ``suites`` (one such row per suite, with
        ``headlines``: one line per kind of step), ``kinds`` (by kind: ``open`` for paced
        requests, ``closed``, ``listen``, ``fanout``, ``connect``, ``capacity``; each with
        ``title``, ``total``, ``suites`` and ``steps`` rows of that kind's figures, e.g.
        ``delivery_ratio``, ``throughput_msg_s``, ``latency_p95_ms``; ``capacity`` with
        ``searches``), ``steps`` (every step's row) and ``json`` / ``html`` (the files
        written).

        Use it in a final suite after the others (pabot ``--ordering`` with the final
        suite last and ``#WAIT`` before it), or from the shell after any run:
        ``python -m WebSocketLoadLibrary merge output``.

        Example:
        | ${merged}= | Merge Load Results |
        | Should Be True | ${merged}[total][steps_not_applied] == 0 |
        | Log | paced requests, p95 over the run: ${merged}[kinds][open][total][latency_p95_ms] ms |
        """
        from ..reports.merge import merge_folder
        from ..reports.merged_page import charts_block, details_html, summary_html
        folder = Path(directory) if directory else _run_output_dir(self.state.files.output_dir())
        merged = merge_folder(folder)
        json_path = Path(json) if json else folder / "merged-load-results.json"
        html_path = Path(html) if html else folder / "merged-load-results.html"
        document = merged.to_document()
        write_json_atomically(json_path, document)
        write_text_atomically(html_path, merged.html_page())
        logger.info(summary_html(merged), html=True)
        logger.info(charts_block(merged), html=True)
        logger.info(details_html(merged), html=True)
        logger.info(f"Merged {len(merged.records)} step(s) from {len(merged.sources)} file(s) "
                    f"into {json_path} and {html_path}")
        return {"total": document["total"], "suites": document["suites"],
                "kinds": document["kinds"], "steps": document["steps"],
                "json": str(json_path), "html": str(html_path)}

    @keyword
    def load_results_should_not_regress(self, baseline: str, tolerance: Ratio = Ratio(0.10),
                                        result=None, current: str | None = None,
                                        latency_margin: Duration = Duration(0.001)) -> None:
        """Fails if throughput or p95/p99 latency got worse than in ``baseline`` by more than
        ``tolerance``; logs a table of baseline, current, change and verdict per step.

        ``baseline`` is a file saved by an earlier run: a result file (see `Save Load
        Results`), a merged file (`Merge Load Results` or ``python -m WebSocketLoadLibrary
        merge``), or a folder of result files. What is checked is the last result (or
        ``result``; every step of a scaling result), or, with ``current``, every step in
        that file or folder -- and then a baseline step that ``current`` lacks fails too.

        Steps are matched by name: suite, test and step name, or the step name alone when
        exactly one baseline step has it (name your steps with ``name=`` to keep them
        stable). A step without a baseline fails. Throughput (replies per second) regresses
        when it falls below baseline x (1 - tolerance); p95 and p99 regress when they rise
        above baseline x (1 + tolerance) *and* by more than ``latency_margin``, so that
        sub-millisecond jitter on loopback is not a regression.

        Steps of the other kinds are compared on their own figures too, by the same rule
        (figures in ms also get ``latency_margin``): a stream's rate, missing messages and
        staleness p99; a fan-out's delivery ratio, lost deliveries and publish-to-last p99;
        a connection storm's connect rate, connect p95 and failed connections; reconnects'
        time to recover and messages lost while down; lost reply parts. A figure the
        baseline has and the current step lacks fails (it could not be checked); one
        neither step measured (a stream's reply latency, a storm's replies per second) is
        not checked. A step is compared only with a baseline step of its own kind: one whose
        name now stands for another kind of traffic (request/reply become a stream, say)
        fails as ``KIND CHANGED``.

        The same check from the shell, exiting 1 on a regression:
        ``python -m WebSocketLoadLibrary compare baseline.json current.json --tolerance 10%``

        Example:
        | Run Sustained Load | 1k/s | 10 s | name=sustained 1k |
        | Load Results Should Not Regress | ${CURDIR}/baseline.json | tolerance=10% |
        | Load Results Should Not Regress | baseline.json | current=${OUTPUT DIR} | tolerance=15% |
        """
        from ..reports.records import StepRecord, read_records
        from ..reports.regression import compare
        base = read_records(baseline)
        if current is not None:
            now = read_records(current)
        else:
            target = self._result(result)
            suite, test = self.state.files.context_of(target)
            steps = target.steps if isinstance(target, ScalingResult) else [target]
            now = [StepRecord(step, suite, test, getattr(target, "name", "")
                              if isinstance(target, ScalingResult) else "") for step in steps]
        comparison = compare(base, now, float(tolerance), float(latency_margin) * 1000,
                             whole_run=current is not None)
        logger.info(comparison.html(), html=True)
        if not comparison.passed:
            raise CheckFailed(comparison.summary())
        logger.info(comparison.summary())

    def _result(self, result):
        return self.state.result_or_last(result, "to report")


def _run_output_dir(output_dir: Path) -> Path:
    """The run's output directory: above pabot_results/ when in a pabot process."""
    for folder in (output_dir, *output_dir.parents):
        if folder.name == "pabot_results":
            return folder.parent
    return output_dir
