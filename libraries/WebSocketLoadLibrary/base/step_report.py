"""What every load keyword does with a step's result: log, save, tell the console, remember,
put its headline figures where report.html shows them, and fail when the server dropped
connections. Shared by local and load-agent steps."""
from __future__ import annotations

import os
import time
from html import escape
from pathlib import Path

from robot.api import logger
from robot.running.context import EXECUTION_CONTEXTS

from ..engine import LoadResult, StepTimeout
from ..engine import pattern_of
from ..engine import release_freed_memory
from ..errors import CheckFailed
from ..reports.headlines import METADATA, message_line
from ..reports.summary_table import agents_table, result_table

PROGRESS_EVERY_S = 2.0


class ConnectionsLost(CheckFailed):
    """The server closed connections during a step."""


def run_step(component, group, plan, timeout, remember: bool = True,
             fail_on_disconnect: bool = True, roles: dict | None = None) -> LoadResult:
    """Run one step of `plan` on a client group's connections, with console progress,
    then `report_step` it. Every load keyword (local steps) comes through here.
    `roles`: other client groups the step needs, by role (fan-out: `subscribers`)."""
    state = component.state
    engine = state.engine
    timeout_s = float(timeout) if timeout is not None else engine.default_timeout_s(plan)
    component.console(f"[INFO] {plan.name}: {describe_plan(plan)} over {group.open_count} "
                      f"connection(s)")
    running = engine.start_step(group.pool, plan, state.template,
                                server_pid=state.server_pid_for(group.options.uri),
                                timeout_s=timeout_s,
                                roles={role: g.pool for role, g in (roles or {}).items()})
    state.live.step_started(running.step)
    progress = ProgressPrinter(component.console, plan.name, plan.planned_messages)
    try:
        result = running.wait(poll_interval_s=PROGRESS_EVERY_S, on_progress=progress)
    except StepTimeout as error:
        running.cancel()
        component.console(f"[FAIL] {plan.name}: {error}")
        raise
    except BaseException:
        running.cancel()
        raise
    finally:
        state.live.step_finished(running.step)
        release_freed_memory()
    report_step(component, result, plan.name, remember, fail_on_disconnect)
    return result


def report_step(component, result: LoadResult, name: str, remember: bool = True,
                fail_on_disconnect: bool = True) -> None:
    state = component.state
    state.files.remember_context(result)
    logger.info(result_table(result), html=True)
    if result.agents:
        logger.info(agents_table(result), html=True)
    if remember:  # saved at once, so a test that fails later still leaves its figures
        save_result(component, result)
        log_charts(result)  # a scaling series charts all its steps at its end
    verdict = "[INFO]" if result.load_applied else "[WARN]"
    line = f"{verdict} {name}: {console_figures(result)}"
    if not result.load_applied:
        line += " - load NOT applied: " + "; ".join(result.not_applied_reasons)
        logger.warn(f"{name}: load not applied: " + "; ".join(result.not_applied_reasons))
    component.console(line)
    if remember:
        state.remember(result)
    if result.connections_closed and fail_on_disconnect:
        closed = sum(result.connections_closed.values())
        why = "; ".join(f"{count} x {reason}"
                        for reason, count in result.connections_closed.items())
        message = (f"Load step '{name}' lost {closed} of {result.connections} connections "
                   f"({why}). So far: sent {result.sent:,}, received {result.received:,}, "
                   f"lost {result.lost:,}, not sent {result.send_errors:,}. The result is "
                   f"kept as the last result and saved.")
        component.console(f"[FAIL] {message}")
        raise ConnectionsLost(message)


def console_figures(result: LoadResult) -> str:
    """The step's headline figures in its own terms, for the console line."""
    return pattern_of(result.mode).headline(result)


def describe_plan(plan) -> str:
    """`5,000 messages at 1,000 msg/s`, `10 s at max`: a step's plan for the console."""
    if plan.listen_only:
        return ("listening, sending nothing, for "
                + " or ".join(part for part in (
                    f"{plan.duration_s:g} s" if plan.duration_s else "",
                    f"{plan.messages:,} messages" if plan.messages else "") if part))
    rate = "max" if plan.rate is None else f"{plan.rate:,.0f} msg/s"
    amount = (f"{plan.planned_messages:,} messages" if plan.planned_messages
              else f"{plan.duration_s:g} s")
    return f"{amount} at {rate}"


def save_result(component, result) -> None:
    files = component.state.files
    log_saved(files.save(result), files.output_dir())
    note_figures(files, result)


def note_figures(files, result) -> None:
    """The result's headline figures into report.html: a line of the test's message, the
    suite's metadata (its steps by kind) and the top suite's (every suite so far). Set on
    Robot's running suite and test directly: BuiltIn's keywords would log all of it again
    after every step. A failure's message replaces a passing test's figures, as Robot
    does with any test message; the suite's table keeps them."""
    suite, test = files.context_of(result)
    files.figures.add(result, suite, test)
    context = EXECUTION_CONTEXTS.current
    if context is None:   # not in a Robot run (the library used from Python)
        return
    running = context.test
    if running is not None and test:
        line = message_line(result)
        message = running.message or ""
        if message.startswith("*HTML*"):
            running.message = f"{message}<br>{escape(line)}"
        else:
            running.message = f"{message}\n{line}" if message else line
    context.suite.metadata[METADATA] = files.figures.suite_figures(suite)
    top = EXECUTION_CONTEXTS.top
    if top is not None and top.suite is not context.suite:
        top.suite.metadata[METADATA] = files.figures.run_figures()


def log_charts(result) -> None:
    """The result's charts into the log as inline SVG; a chart that cannot be drawn is a
    warning, never a failed keyword (the figures are in the table and the saved file)."""
    try:
        from ..reports import charts
        logger.info(charts.charts_html(charts.result_charts(result)), html=True)
    except Exception as error:  # matplotlib missing or broken: say so, keep the run going
        logger.warn(f"Charts of {getattr(result, 'name', 'the result')!r} could not be drawn: "
                    f"{type(error).__name__}: {error}")


def log_saved(path: Path, output_dir: Path) -> None:
    """A link to a saved result file, relative to log.html so that it survives a move."""
    try:
        href = Path(os.path.relpath(path, output_dir)).as_posix()
    except ValueError:  # another drive on Windows
        href = Path(path).resolve().as_uri()
    logger.info(f'Result saved to <a href="{escape(href)}">{escape(str(path))}</a>', html=True)


class ProgressPrinter:
    """Console progress every PROGRESS_EVERY_S from progress snapshots (sent, received,
    lost, elapsed_s)."""

    def __init__(self, console, name: str, planned: int | None = None):
        self.console, self.name, self.planned = console, name, planned
        self.last = time.monotonic()

    def __call__(self, snapshot: dict) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S * 0.9:
            return
        self.last = now
        of = f"/{self.planned:,}" if self.planned else ""
        self.console(f"[INFO] {self.name}: {snapshot['elapsed_s']:.0f} s, sent "
                     f"{snapshot['sent']:,}{of}, received {snapshot['received']:,}, "
                     f"lost {snapshot['lost']:,}")
