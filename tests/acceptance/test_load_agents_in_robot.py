"""The load-agent keywords in Robot at TRACE level: eight tests against two agents on
loopback (one of them killed midway), and the shared secret in no output. (The agents
themselves: tests/agents/.)"""
from __future__ import annotations

import json
from pathlib import Path

from agent_processes import SECRET, start_agent
from robot_runs import run_robot
from WebSocketLoadLibrary.engine import LoadResult

SUITE = Path(__file__).parent / "robot" / "load_agents.robot"


def test_the_keywords_in_robot_at_trace_level_never_show_the_secret(tmp_path):
    agents = [start_agent(f"agent-{n}") for n in (1, 2)]
    first, second = agents
    wrong = "wrong-agent-secret-7c1d9e0f2a3b"
    try:
        run = run_robot(tmp_path, "--loglevel", "TRACE",
                        "--variable", f"AGENTS:{first.uri},{second.uri}",
                        "--variable", f"DOOMED_PID:{second.pid}", str(SUITE),
                        env={"LOAD_AGENT_SECRET": SECRET, "WSLOAD_WRONG_AGENT_SECRET": wrong},
                        timeout_s=180)
    finally:
        for agent in agents:
            agent.stop()
    tests = run.tests()
    failed = {name: test.message for name, test in tests.items() if test.status != "PASS"}
    assert not failed, failed
    assert len(tests) == 8
    warnings = [m.message for m in run.result.errors.messages if m.level == "WARN"]
    assert any("started the load step 'forgotten step' on load agents and did not wait for it"
               in w for w in warnings), warnings
    for name, text in run.output_files().items():
        assert SECRET not in text, name
        assert wrong not in text, name
    saved = {path.name: path for path in (tmp_path / "load-results").glob("*.json")}
    doomed = LoadResult.from_dict(json.loads(
        next(p for n, p in saved.items() if "doomed" in n).read_text()))
    assert [a["name"] for a in doomed.agents] == ["agent-1"] and not doomed.load_applied
    output = (tmp_path / "output.xml").read_text()  # log.html holds the same, compressed
    assert "clock offset ms" in output and "received per second, per agent" in output
