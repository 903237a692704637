"""Agents found by name on loopback (`dns:localhost:PORT`, through the system resolver and
/etc/hosts): the waiting rule, what a failed wait says, names told apart, the agent's
health answer. The same against a real DNS server with agents on stand-in hosts:
test_dns_agents_netns.py."""
from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from agent_processes import SECRET, start_agent
from WebSocketLoadLibrary.agents.client import AgentError
from WebSocketLoadLibrary.agents.controller import AgentFleet
from WebSocketLoadLibrary.agents.discovery import DnsName, find_agents


@pytest.fixture
def agents():
    started = []

    def start(name: str, **options):
        started.append(start_agent(name, **options))
        return started[-1]
    yield start
    for agent in started:
        agent.stop()


def _port(uri: str) -> int:
    return int(uri.rsplit(":", 1)[1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dns_address_names_every_address_behind_the_name():
    name = DnsName.parse("dns:localhost:8270")
    assert (name.host, name.port, name.scheme) == ("localhost", 8270, "http")
    assert DnsName.parse("dns:https://agents.loadtest.svc:9000").scheme == "https"
    uris, problem = name.resolve()
    assert problem is None and "http://127.0.0.1:8270" in uris
    assert name.uri("fd00::5") == "http://[fd00::5]:8270"
    for bad in ("dns:agents", "dns:agents:x", "dns:ftp://agents:1", "dns::8270",
                "dns:agents:8270/path"):
        with pytest.raises(AgentError, match="not a DNS name of load agents.*dns:NAME:PORT"):
            DnsName.parse(bad)
    uris, problem = DnsName.parse("dns:no-such-name.invalid:8270").resolve()
    assert uris == [] and "no-such-name.invalid does not resolve" in problem


def test_agents_behind_a_name_are_found_and_say_how(agents):
    agent = agents("found-1")
    fleet = AgentFleet.find([f"dns:localhost:{_port(agent.uri)}"], SECRET, expected=1)
    try:
        (found,) = fleet.agents
        assert (found.name, found.uri) == ("found-1", f"http://127.0.0.1:{_port(agent.uri)}")
        assert str(found.found_by) == f"dns:localhost:{_port(agent.uri)}"
        assert found.session is not None
    finally:
        fleet.close()


def test_a_wait_that_runs_out_names_what_was_found(agents):
    agent = agents("lonely-1")
    port = _port(agent.uri)
    began = time.monotonic()
    with pytest.raises(AgentError) as error:
        find_agents([f"dns:localhost:{port}", "http://127.0.0.1:9"], SECRET, expected=2,
                    wait_s=1.5)
    assert 1.5 <= time.monotonic() - began < 8
    message = str(error.value)
    assert message.startswith(f"1 of 2 expected load agents behind dns:localhost:{port} "
                              f"answered within 1.5 s; answered: lonely-1 "
                              f"(http://127.0.0.1:{port}); did not answer: load agent "
                              f"http://127.0.0.1:9 cannot be reached"), message
    assert message.endswith(f"dns:localhost:{port} had 1 address(es) at the last look: "
                            f"127.0.0.1"), message
    # the agent that answered keeps no session of the failed connect
    fleet = AgentFleet.connect([agent.uri], SECRET)
    assert fleet.agents[0].info["sessions"] == 0
    fleet.close()
    with pytest.raises(AgentError, match="no-such-name.invalid does not resolve"):
        find_agents(["dns:no-such-name.invalid:8270"], SECRET, wait_s=0)


def test_the_wait_ends_when_a_late_agent_answers(agents):
    port = _free_port()
    late = threading.Timer(1.0, lambda: agents("late-1", port=port))
    late.start()
    began = time.monotonic()
    try:
        fleet = AgentFleet.find([f"http://127.0.0.1:{port}"], SECRET, wait_s=20)
    finally:
        late.join()
    try:
        assert [a.name for a in fleet.agents] == ["late-1"]
        assert 1.0 <= time.monotonic() - began < 15
    finally:
        fleet.close()


def test_two_agents_of_one_name_are_refused(agents):
    first, second = agents("twin"), agents("twin")
    with pytest.raises(AgentError, match=r"load agents that call themselves by one name: twin: "
                                         r"http://127.0.0.1:\d+, http://127.0.0.1:\d+ \(give "
                                         r"each agent its own --name\)"):
        AgentFleet.connect([first.uri, second.uri], SECRET)
    info = AgentFleet.connect([first.uri], SECRET)
    assert info.agents[0].info["sessions"] == 0   # the refused connect left no session
    info.close()


def test_the_agent_answers_a_health_probe_without_a_signature(agents):
    agent = agents("healthy-1")
    with urllib.request.urlopen(f"{agent.uri}/healthz", timeout=5) as reply:
        assert (reply.status, reply.read()) == (200, b"ready\n")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{agent.uri}/", timeout=5)
    assert refused.value.code == 501
    time.sleep(0.2)
    assert "/healthz" not in agent.stderr()   # probes every few seconds are not logged


def test_libdoc_documents_dns_names_and_the_waiting_rule_the_old_arguments_unchanged():
    from robot.libdocpkg import LibraryDocumentation
    library = LibraryDocumentation("WebSocketLoadLibrary")
    keyword = next(k for k in library.keywords if k.name == "Connect Load Agents")
    assert [a.name for a in keyword.args] == ["agent_uris", "secret", "secret_env", "timeout",
                                              "ca_file", "expected", "wait", "secret_file"]
    assert [str(a.default) for a in keyword.args][5:] == ["None", "0 ms", "None"]
    for words in ("``dns:NAME:PORT`` stands for every agent behind a DNS name",
                  "every A and AAAA record of NAME", "*The waiting rule.*",
                  "until at least ``expected``", "When\n``wait`` has passed first, the keyword "
                  "fails naming the agents that answered",
                  "| Connect Load Agents | dns:websocketload-agents.loadtest.svc:8270 | "
                  "expected=10 | wait=2 min |"):
        assert words in keyword.doc, words
