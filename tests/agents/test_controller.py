"""The controller's side of a step on load agents, without agents: a missed poll is forgiven
and a silent agent is not, and clock offsets put every agent's timeline on the controller's
clock. (Steps on real agent processes: tests/acceptance/test_load_agents.py.)"""
from __future__ import annotations

import time

import pytest

from agent_processes import SECRET
from WebSocketLoadLibrary.agents.client import AgentClient, AgentError
from WebSocketLoadLibrary.agents.controller import AgentFleet, AgentStepFailed, DistributedStep
from WebSocketLoadLibrary.engine import LatencyHistogram, LoadPlan, LoadResult


def test_a_missed_poll_is_forgiven_a_silent_agent_is_not(monkeypatch):
    done = LoadResult(name="x", sent=10, received=10, started_at=time.time())
    script = {"busy": ["timeout", "timeout", "done"], "silent": ["timeout"] * 5}

    def fake_poll(agent, step_id):
        answer = script[agent.name].pop(0)
        if answer == "timeout":
            raise AgentError(f"load agent {agent.name} cannot be reached (get step): no answer "
                             f"in time", transient=True)
        return {"state": "done", "result": done.to_dict()}
    monkeypatch.setattr("WebSocketLoadLibrary.agents.controller._poll", fake_poll)
    monkeypatch.setattr("WebSocketLoadLibrary.agents.controller.AgentClient.call_in_session",
                        lambda *args, **kwargs: "cancelled")
    fleet = AgentFleet([AgentClient("http://127.0.0.1:1", SECRET, name=n) for n in script])
    step = DistributedStep(fleet, LoadPlan(rate=20, messages=20, name="polls"), time.time(),
                           30, {"busy": 1, "silent": 2})
    with pytest.raises(AgentStepFailed) as failed:
        step.wait(poll_interval_s=0.01)
    assert list(failed.value.failures) == ["silent"]
    assert "no answer in time - lost mid-step" in failed.value.failures["silent"]
    assert [a["name"] for a in failed.value.result.agents] == ["busy"]


def test_clock_offsets_place_the_agents_timelines_on_the_controllers_clock():
    ahead = AgentClient("http://127.0.0.1:1", SECRET, name="ahead")
    ahead.call = lambda keyword, *args, **kw: repr(time.time() + 5.0)  # its clock 5 s ahead
    ahead.clock = ahead.measure_clock(samples=3)
    assert ahead.clock.offset_s == pytest.approx(5.0, abs=0.01)
    assert ahead.clock.uncertainty_s < 0.01
    in_step = AgentClient("http://127.0.0.1:2", SECRET, name="in-step")
    start = 1_800_000_000.0
    step = DistributedStep(AgentFleet([in_step, ahead]), LoadPlan(rate=200, messages=400),
                           start, 10, {"in-step": 1, "ahead": 2})
    for agent, stamped in ((in_step, start), (ahead, start + 5.0)):
        part = LoadResult(name="x", started_at=stamped, sent=200, received=200,
                          timeline=[_second(0, 100), _second(1, 100)])
        step.statuses[agent.name] = {"state": "done", "result": part.to_dict()}
    merged = step._merged()
    # both agents' seconds 0 and 1 fall on the controller's seconds 0 and 1, not 0..6
    assert [(p["second"], p["received"]) for p in merged.timeline] == [(0, 200), (1, 200)]
    assert [a["start_skew_ms"] for a in merged.agents] == pytest.approx([0, 0], abs=10)
    assert merged.agents[1]["clock_offset_ms"] == pytest.approx(5000, abs=10)


def _second(second: int, count: int) -> dict:
    histogram = LatencyHistogram()
    histogram.record_seconds([0.001] * count)
    return {"second": second, "span_s": 1.0, "sent": count, "received": count, "lost": 0,
            "latency_histogram": histogram.encode()}
