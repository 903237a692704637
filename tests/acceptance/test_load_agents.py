"""Load agents on loopback: the shared secret, the merged result, an agent dying mid-step.

Agents are real `python -m WebSocketLoadLibrary agent` processes; the mock server is a real
process too. The network-namespace version (agents on stand-in hosts) is
test_load_agents_netns.py; the controller's bookkeeping without agents is
tests/agents/test_controller.py.
"""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import threading
import time
import xmlrpc.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agent_processes import ROOT, SECRET, start_agent, wait_for_text
from robot_runs import run_robot
from WebSocketLoadLibrary import __version__
from WebSocketLoadLibrary.agents.client import AgentClient, AgentError, normalise_uri
from WebSocketLoadLibrary.agents.controller import AgentFleet, AgentStepFailed
from WebSocketLoadLibrary.agents.signing import HEADER, sign
from WebSocketLoadLibrary.engine import ConnectionOptions, LatencyHistogram, LoadPlan, LoadResult


@pytest.fixture
def agents():
    started = []

    def start(count: int = 2, **options):
        for i in range(count):
            started.append(start_agent(f"agent-{len(started) + 1}", **options))
        return started[-count:]
    yield start
    for agent in started:
        agent.stop()


def _post(uri: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    parts = urlsplit(uri)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("POST", "/", body, {"Content-Type": "text/xml", **headers})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_an_agent_will_not_start_without_a_proper_secret():
    with pytest.raises(RuntimeError, match="no shared secret: environment variable "
                                           "LOAD_AGENT_SECRET is empty or not set"):
        start_agent("no-secret", secret=None)
    with pytest.raises(RuntimeError, match="is 5 characters long; use at least 16"):
        start_agent("short-secret", secret="short")


def test_the_startup_line_says_where_and_that_a_secret_is_required(agents):
    agent, = agents(1)
    assert agent.ready_line.startswith("WebSocketLoadLibrary ")
    assert f"load agent 'agent-1' ready at {agent.uri} (Robot Framework remote library; " \
           "requests must be signed with the shared secret" in agent.ready_line
    assert SECRET not in agent.ready_line


def test_a_wrong_secret_or_no_signature_is_refused_and_changes_nothing(agents, server):
    agent, = agents(1)
    with pytest.raises(AgentError, match=r"load agent .* refused the shared secret \(HTTP 403\)"):
        AgentFleet.connect([agent.uri], "a-wrong-secret-of-enough-length")
    # a plain Robot remote client (no signature) gets nowhere either
    with pytest.raises(xmlrpc.client.ProtocolError) as refused:
        xmlrpc.client.ServerProxy(agent.uri).run_keyword(
            "open_agent_connections", ['{"uri": "%s"}' % server.uri, 5], {})
    assert refused.value.errcode == 403
    stderr = wait_for_text(agent.stderr, "no signature")
    assert "wrong signature (a different shared secret?)" in stderr
    assert SECRET not in stderr
    # ... and nothing was opened: the genuine controller sees no connections, the server none
    client = AgentClient(agent.uri, SECRET)
    client.hello()
    assert client.info["connections"] == 0
    assert server.stats()["connections_opened"] == 0


def test_a_recorded_request_cannot_be_replayed(agents):
    agent, = agents(1)
    body = xmlrpc.client.dumps(("get_agent_info", [], {}), "run_keyword").encode()
    headers = {HEADER: sign(SECRET, "/", body)}
    first, _ = _post(agent.uri, body, headers)
    second, answer = _post(agent.uri, body, headers)
    tampered, _ = _post(agent.uri, body.replace(b"get_agent_info", b"get_agent_clock"), headers)
    assert (first, second, tampered) == (200, 403, 403)
    assert b"shared secret" in answer
    stderr = wait_for_text(agent.stderr, "wrong signature")
    assert "replayed request (nonce already used)" in stderr


def test_an_unreachable_agent_or_a_bad_address_is_named(agents):
    agent, = agents(1)
    with pytest.raises(AgentError) as error:
        AgentFleet.connect([agent.uri, "http://127.0.0.1:9"], SECRET)
    assert str(error.value).startswith("1 of 2 load agents could not connect: load agent "
                                       "http://127.0.0.1:9 cannot be reached")
    assert "connection refused (is the agent running on that address and port?)" in str(error.value)
    for bad in ("ftp://127.0.0.1:8270", "http://user:pw@127.0.0.1:8270", "http://127.0.0.1:x"):
        with pytest.raises(AgentError, match="not a load agent address"):
            normalise_uri(bad)
    assert normalise_uri("127.0.0.1:8270") == "http://127.0.0.1:8270"


def test_an_agent_of_another_version_is_refused_by_name_before_any_session(agents, tmp_path):
    """An older agent would refuse a newer plan's fields only once a step starts: the
    controller names the versions at connect time instead."""
    older = tmp_path / "WebSocketLoadLibrary"
    shutil.copytree(ROOT / "libraries" / "WebSocketLoadLibrary", older,
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = older / "version.py"
    init.write_text(init.read_text().replace(f'__version__ = "{__version__}"',
                                             '__version__ = "0.1.0"'))
    current, = agents(1)
    old, = agents(1, env={"PYTHONPATH": str(tmp_path)})
    with pytest.raises(AgentError) as error:
        AgentFleet.connect([current.uri, old.uri], SECRET)
    assert str(error.value) == (
        f"1 of 2 load agents could not connect: load agent agent-2 ({old.uri}) runs "
        f"WebSocketLoadLibrary 0.1.0, this controller {__version__}: install the same version "
        f"on the agent and the controller")
    for agent in (current, old):  # neither keeps a session of the refused fleet
        info = AgentClient(agent.uri, SECRET).call_json("get_agent_info")
        assert info["sessions"] == 0
    fleet = AgentFleet.connect([current.uri], SECRET)
    fleet.close()


def test_the_merged_result_is_the_sum_of_the_agents_with_merged_percentiles(agents, server):
    fleet = AgentFleet.connect([a.uri for a in agents(2)], SECRET)
    assert fleet.open_connections(ConnectionOptions(server.uri), count_per_agent=3) == 6
    merged = fleet.start_step(LoadPlan(rate=2000, messages=4001, name="merge check"),
                              server_pid=server.pid).wait()
    parts = merged.agent_results()
    assert [p.name for p in parts] == ["agent-1", "agent-2"]
    assert [p.planned_messages for p in parts] == [2001, 2000]
    assert [p.target_rate for p in parts] == [1000, 1000]
    for counter in ("connections", "planned_messages", "sent", "received", "lost", "unmatched"):
        assert getattr(merged, counter) == sum(getattr(p, counter) for p in parts), counter
    assert merged.sent == merged.received == 4001 and merged.load_applied
    assert server.stats()["messages_received"] == merged.sent
    from_parts = LatencyHistogram.merged(p.latency for p in parts)
    assert merged.latency.count == from_parts.count == 4001
    for percentile in (50, 95, 99, 99.9):
        assert merged.latency_ms(percentile) == from_parts.percentile_us(percentile) / 1000
    # the agents started at one moment: within a few ms on the controller's clock
    skews = [agent["start_skew_ms"] for agent in merged.agents]
    assert all(abs(skew) < 50 for skew in skews), skews
    assert all(agent["clock_uncertainty_ms"] < 50 for agent in merged.agents)
    # the server was sampled by the controller, the generators by each agent
    assert merged.resources["server"]["pid"] == server.pid
    assert merged.resources["generator"]["agent"] in ("agent-1", "agent-2")
    # and the whole thing survives a save and a load
    again = LoadResult.from_dict(merged.to_dict())
    assert [p.sent for p in again.agent_results()] == [p.sent for p in parts]
    assert fleet.close_connections() == 6


def test_an_agent_dying_mid_step_is_named_and_the_others_results_are_kept(agents, server):
    first, second = agents(2)
    fleet = AgentFleet.connect([first.uri, second.uri], SECRET)
    fleet.open_connections(ConnectionOptions(server.uri), count_per_agent=2)
    step = fleet.start_step(LoadPlan(rate=1000, duration_s=4, name="doomed"))
    killer = threading.Timer(1.5, os.kill, (second.pid, signal.SIGKILL))
    killer.start()
    started = time.monotonic()
    with pytest.raises(AgentStepFailed) as failed:
        step.wait()
    killer.join()
    assert time.monotonic() - started < 15
    message = str(failed.value)
    assert message.startswith("Load step 'doomed' failed on 1 of 2 load agents (agent-2): "
                              f"load agent agent-2 ({second.uri}) cannot be reached")
    assert "lost mid-step" in message
    assert "The results of the other agents (agent-1) are kept" in message
    kept = failed.value.result
    assert [a["name"] for a in kept.agents] == ["agent-1"]
    assert kept.sent == kept.agent_results()[0].sent == 2000
    assert kept.received == 2000
    assert not kept.load_applied
    assert any(reason.startswith("agent agent-2 failed: ") for reason in kept.not_applied_reasons)
    # the survivor still works
    assert fleet.agents[0].call_json("get_agent_info")["connections"] == 2


def test_two_controllers_sharing_agents_keep_their_own_connections(agents, server):
    uris = [a.uri for a in agents(2)]
    first, second = AgentFleet.connect(uris, SECRET), AgentFleet.connect(uris, SECRET)
    assert first.open_connections(ConnectionOptions(server.uri), count_per_agent=1) == 2
    assert second.open_connections(ConnectionOptions(server.uri), count_per_agent=3) == 6
    steps = [fleet.start_step(LoadPlan(rate=1000, messages=1000, name=name))
             for fleet, name in ((first, "first"), (second, "second"))]
    results = [step.wait() for step in steps]   # at the same time, on the same agents
    assert [r.connections for r in results] == [2, 6]
    assert [r.received for r in results] == [1000, 1000]
    info = first.agents[0].call_json("get_agent_info")
    assert (info["sessions"], info["connections"]) == (2, 4)
    assert first.close() == 2    # ends its own sessions only
    info = second.agents[0].call_json("get_agent_info")
    assert (info["sessions"], info["connections"]) == (1, 3)
    with pytest.raises(AgentError, match="not connected"):
        first.agents[0].call_in_session("close_agent_connections")
    assert second.close() == 6


def test_a_bearer_token_from_the_agents_environment_never_travels(agents, start_server):
    token = "agent-side-token-4e5f6a7b8c9d"
    server = start_server(auth_token=token)
    with_token, = agents(1, env={"WSL_AGENT_TOKEN": token})
    without, = agents(1)
    fleet = AgentFleet.connect([with_token.uri], SECRET)
    assert fleet.open_connections(ConnectionOptions(server.uri), 2, token_env="WSL_AGENT_TOKEN") == 2
    assert fleet.start_step(LoadPlan(rate=500, messages=200)).wait().received == 200
    fleet.close()
    lacking = AgentFleet.connect([without.uri], SECRET)
    with pytest.raises(AgentError, match=r"failed to open connections: .*environment variable "
                                         r"WSL_AGENT_TOKEN \(the bearer token\) is not set on "
                                         r"this agent"):
        lacking.open_connections(ConnectionOptions(server.uri), 2, token_env="WSL_AGENT_TOKEN")
    lacking.close()
    assert token not in with_token.stderr() + without.stderr()


def test_the_keywords_in_robot_at_trace_level_never_show_the_secret(agents, tmp_path):
    first, second = agents(2)
    wrong = "wrong-agent-secret-7c1d9e0f2a3b"
    run = run_robot(tmp_path, "--loglevel", "TRACE",
                    "--variable", f"AGENTS:{first.uri},{second.uri}",
                    "--variable", f"DOOMED_PID:{second.pid}",
                    str(Path(__file__).parent / "robot" / "load_agents.robot"),
                    env={"LOAD_AGENT_SECRET": SECRET, "WSLOAD_WRONG_AGENT_SECRET": wrong},
                    timeout_s=180)
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
    doomed = LoadResult.from_dict(__import__("json").loads(
        next(p for n, p in saved.items() if "doomed" in n).read_text()))
    assert [a["name"] for a in doomed.agents] == ["agent-1"] and not doomed.load_applied
    output = (tmp_path / "output.xml").read_text()  # log.html holds the same, compressed
    assert "clock offset ms" in output and "received per second, per agent" in output
