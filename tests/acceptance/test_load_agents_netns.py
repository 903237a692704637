"""Load agents on stand-in hosts: two network namespaces joined to this one by veth pairs.

Each agent runs inside its own namespace, with its own address and network stack; the mock
server and the controller (a real Robot run of suites/12_load_agents.robot) stay in this
one. Addresses come from 198.18.0.0/15, the range set aside for network benchmarks
(RFC 2544), so they collide with no real network; the namespaces route only that range back
here. Needs root and iproute2 (CI has both); skipped with the reason elsewhere.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from agent_processes import SECRET, start_agent
from robot_runs import run_robot
from WebSocketLoadLibrary.engine import LatencyHistogram, LoadResult


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=20)


def _can_make_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"wslprobe{os.getpid()}"
    try:
        _run("ip", "netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"ip netns add failed here: {getattr(error, 'stderr', '') or error}"
    _run("ip", "netns", "del", probe)
    return None


class StandInHosts:
    """`count` namespaces, each linked to this namespace by a veth pair on its own /24."""

    def __init__(self, count: int):
        self.prefix = f"wsl{os.getpid() % 100000}"
        taken = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True,
                               timeout=10).stdout
        base = next(x for x in range(20, 240, count)
                    if not any(f"198.18.{x + i}." in taken for i in range(count)))
        self.hosts = []   # (namespace, its address, this side's address)
        try:
            for i in range(count):
                namespace, here, there = f"{self.prefix}-h{i}", f"{self.prefix}a{i}", f"{self.prefix}b{i}"
                net = f"198.18.{base + i}"
                _run("ip", "netns", "add", namespace)
                self.hosts.append((namespace, f"{net}.2", f"{net}.1"))
                _run("ip", "link", "add", here, "type", "veth", "peer", "name", there)
                _run("ip", "link", "set", there, "netns", namespace)
                _run("ip", "addr", "add", f"{net}.1/24", "dev", here)
                _run("ip", "link", "set", here, "up")
                inside = ("ip", "netns", "exec", namespace)
                _run(*inside, "ip", "addr", "add", f"{net}.2/24", "dev", there)
                _run(*inside, "ip", "link", "set", there, "up")
                _run(*inside, "ip", "link", "set", "lo", "up")
                _run(*inside, "ip", "route", "add", "198.18.0.0/15", "via", f"{net}.1")
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        for namespace, _, _ in self.hosts:  # deleting a namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)
        self.hosts = []


@pytest.fixture
def stand_in_hosts():
    reason = _can_make_namespaces()
    if reason:
        pytest.skip(f"no network namespaces: {reason}")
    hosts = StandInHosts(2)
    yield hosts
    hosts.remove()


def test_agents_on_two_stand_in_hosts_give_one_merged_result(stand_in_hosts, tmp_path):
    agents = []
    try:
        for i, (namespace, address, _) in enumerate(stand_in_hosts.hosts):
            agents.append(start_agent(f"host-{i + 1}", host=address, port=8270, netns=namespace))
        # each agent really lives in another network stack than this process
        own = os.stat("/proc/self/ns/net").st_ino
        assert len({os.stat(f"/proc/{a.pid}/ns/net").st_ino for a in agents} - {own}) == 2
        server_address = stand_in_hosts.hosts[0][2]   # this side of the first link
        run = run_robot(tmp_path, "--variable", f"LOAD_AGENTS:{agents[0].uri},{agents[1].uri}",
                        "--variable", f"AGENT_SERVER_HOST:{server_address}",
                        "suites/12_load_agents.robot", env={"LOAD_AGENT_SECRET": SECRET},
                        timeout_s=240)
    finally:
        for agent in agents:
            agent.stop()
    tests = run.tests()
    assert {name: test.status for name, test in tests.items()} == dict.fromkeys(tests, "PASS"), \
        {name: test.message for name, test in tests.items()}
    assert len(tests) == 3
    burst = next((tmp_path / "load-results").glob("*agents_burst.json"))
    merged = LoadResult.from_dict(json.loads(burst.read_text()))
    parts = merged.agent_results()
    assert [a["uri"] for a in merged.agents] == [a.uri for a in agents]
    assert all(a.uri.startswith("http://198.18.") for a in agents)
    for counter in ("connections", "sent", "received", "lost", "planned_messages"):
        assert getattr(merged, counter) == sum(getattr(p, counter) for p in parts), counter
    assert all(p.sent > 0 for p in parts)
    from_parts = LatencyHistogram.merged(p.latency for p in parts)
    assert merged.latency.count == from_parts.count == merged.received
    assert merged.latency_ms(95) == from_parts.percentile_us(95) / 1000
    assert merged.resources["server"]["pid"] > 0   # the controller sampled the server
