"""The live metrics say how the running step stands from its first second -- its load applied
so far and its share of messages sent late -- and then how the last step ended, so a
dashboard watching a long first step never shows "No data" where it matters."""
from __future__ import annotations

from types import SimpleNamespace

from test_reports import AgentStepStandIn, exposed, library_state, share
from WebSocketLoadLibrary.engine import LatencyHistogram
from WebSocketLoadLibrary.reports.metrics import LiveCounters
from WebSocketLoadLibrary.reports.metrics_endpoint import LiveCollector

RUNNING, LAST = '{step="running"}', '{step="last"}'


def running_step(sent: int, late: int = 0, send_errors: int = 0, rate: float | None = 1000.0):
    """What the collector reads of the engine's LoadStep while it runs."""
    return SimpleNamespace(
        plan=SimpleNamespace(rate=rate),
        recorder=SimpleNamespace(sent=sent, received=sent, lost=0, unmatched=0,
                                 send_errors=send_errors, pushes=0, invalid_replies=0,
                                 latency=LatencyHistogram()),
        driver=SimpleNamespace(lateness=SimpleNamespace(late_messages=late)))


def test_before_any_step_ended_the_running_step_says_it_is_applied_so_far():
    live, state = LiveCounters(), library_state()
    collector = LiveCollector(live, state)
    assert not [name for name in exposed(collector) if "step_load_applied" in name]
    live.step_started(running_step(sent=2000, late=40))
    figures = exposed(collector)
    assert figures[f"websocket_load_step_load_applied{RUNNING}"] == 1
    assert figures[f"websocket_load_step_late_share{RUNNING}"] == 0.02
    assert f"websocket_load_step_load_applied{LAST}" not in figures
    assert "websocket_load_last_step_load_applied" not in figures   # nothing has ended


def test_a_running_step_behind_its_schedule_or_unable_to_send_is_not_applied_so_far():
    live, state = LiveCounters(), library_state()
    collector = LiveCollector(live, state)
    live.step_started(running_step(sent=10_000, late=2_000, rate=1000.0))   # 20% late
    assert exposed(collector)[f"websocket_load_step_load_applied{RUNNING}"] == 0
    live.step_started(running_step(sent=10, send_errors=1))
    figures = exposed(collector)
    assert figures[f"websocket_load_step_load_applied{RUNNING}"] == 0
    assert figures[f"websocket_load_step_late_share{RUNNING}"] == 0.0
    # a hiccup at the start: 200 late of the first 300 at 1,000 msg/s is forgiven
    live.step_started(running_step(sent=300, late=200, rate=1000.0))
    assert exposed(collector)[f"websocket_load_step_load_applied{RUNNING}"] == 1


def test_once_a_step_has_ended_the_last_one_is_shown_beside_the_running_one():
    live, state = LiveCounters(), library_state()
    collector = LiveCollector(live, state)
    step = running_step(sent=1000, late=0)
    live.step_started(step)
    live.step_finished(step)
    state.last_result = SimpleNamespace(load_applied=False, late_messages=300, attempted=1000)
    figures = exposed(collector)
    assert figures[f"websocket_load_step_load_applied{LAST}"] == 0
    assert figures[f"websocket_load_step_late_share{LAST}"] == 0.3
    assert figures["websocket_load_last_step_load_applied"] == 0
    assert f"websocket_load_step_load_applied{RUNNING}" not in figures   # none runs
    live.step_started(running_step(sent=100))
    figures = exposed(collector)
    assert figures[f"websocket_load_step_load_applied{RUNNING}"] == 1
    assert figures[f"websocket_load_step_load_applied{LAST}"] == 0


def test_a_step_on_load_agents_counts_its_agents_figures_so_far():
    state = library_state()
    collector = LiveCollector(LiveCounters(), state)
    agents = AgentStepStandIn({"agent-1": share(1000, late=10), "agent-2": share(1000, late=90)})
    agents.plan = SimpleNamespace(rate=2000.0)
    state.agent_step = agents
    figures = exposed(collector)
    assert figures[f"websocket_load_step_late_share{RUNNING}"] == 0.05
    assert figures[f"websocket_load_step_load_applied{RUNNING}"] == 1   # 100 <= 5% of 2,000
