"""Load agents benchmark: what the agent path costs, and what a second agent brings.

    .venv/bin/python bench/agents.py [--seconds 5] [--connections 10]

Against one picows mock server on this machine, alternating in one run:
- the engine in this process (the baseline), closed loop at rate max;
- the same step through one load agent on loopback (the remote-library path: signed
  XML-RPC start, polls, the result shipped back as JSON and merged): ratio to the baseline;
- the same step split over two agents (two processes, like two machines): ratio;
- a paced step on two agents: achieved rate against target, start skew between the agents,
  p99, and the controller's cost of merging the results.
On one 2-core machine two agents and the server share the cores, so the two-agent gain here
is a floor: on separate machines each agent has its own.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libraries"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from agent_processes import SECRET, start_agent  # noqa: E402
from WebSocketLoadLibrary.agents.controller import AgentFleet  # noqa: E402
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine, LoadPlan  # noqa: E402
from WebSocketLoadLibrary.engine.results.result import LoadResult  # noqa: E402
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402


def local(uri: str, connections: int, seconds: float) -> LoadResult:
    engine = LoadEngine("uvloop")
    try:
        pool = engine.connect(ConnectionOptions(uri), count=connections)
        return engine.run_step(pool, LoadPlan(rate=None, duration_s=seconds, window=32))
    finally:
        engine.close()


def on_agents(uris: list[str], uri: str, connections: int, plan: LoadPlan) -> LoadResult:
    fleet = AgentFleet.connect(uris, SECRET)
    try:
        fleet.open_connections(ConnectionOptions(uri), count_per_agent=connections // len(uris))
        return fleet.start_step(plan).wait()
    finally:
        fleet.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paced-rate", type=float, default=20_000)
    args = parser.parse_args(argv)
    os.environ["LOAD_AGENT_SECRET"] = SECRET
    agents = [start_agent(f"agent-{i + 1}", extra=("--loop", "uvloop")) for i in range(2)]
    try:
        with MockServerProcess(engine="picows", max_connections=1000) as server:
            uri = server.uri
            closed = LoadPlan(rate=None, duration_s=args.seconds, window=32, name="max")
            figures = {"local": [], "1 agent": [], "2 agents": []}
            for _ in range(args.repeats):
                figures["local"].append(local(uri, args.connections, args.seconds)
                                        .achieved_receive_rate)
                figures["1 agent"].append(on_agents([agents[0].uri], uri, args.connections,
                                                    closed).achieved_receive_rate)
                figures["2 agents"].append(on_agents([a.uri for a in agents], uri,
                                                     args.connections, closed)
                                           .achieved_receive_rate)
            base = statistics.median(figures["local"])
            print(f"closed loop, rate max, {args.connections} connections in all, "
                  f"{args.seconds:g} s, median of {args.repeats} (picows mock server):")
            print(f"  {'':<34} {'msg/s':>10} {'ratio':>7}")
            for label, name in (("engine in this process (baseline)", "local"),
                                ("one agent (remote-library path)", "1 agent"),
                                ("two agents (results merged)", "2 agents")):
                value = statistics.median(figures[name])
                print(f"  {label:<34} {value:>10,.0f} {value / base:>7.2f}")
            paced = LoadPlan(rate=args.paced_rate, duration_s=args.seconds, name="paced")
            started = time.perf_counter()
            result = on_agents([a.uri for a in agents], uri, args.connections, paced)
            elapsed = time.perf_counter() - started
            t0 = time.perf_counter()
            LoadResult.merge(result.agent_results())
            merge_ms = (time.perf_counter() - t0) * 1000
            skew = [a["start_skew_ms"] for a in result.agents]
            print(f"paced {args.paced_rate:,.0f} msg/s on two agents for {args.seconds:g} s: "
                  f"achieved {result.achieved_send_rate:,.1f} msg/s "
                  f"({100 * (result.achieved_send_rate / args.paced_rate - 1):+.2f}%), "
                  f"received {result.received:,}/{result.sent:,}, p99 "
                  f"{result.latency_ms(99):.2f} ms, applied {result.load_applied}; agents "
                  f"started {max(skew) - min(skew):.2f} ms apart (offset uncertainty "
                  f"{max(a['clock_uncertainty_ms'] for a in result.agents):.2f} ms); "
                  f"merge {merge_ms:.1f} ms; whole keyword {elapsed:.2f} s")
    finally:
        for agent in agents:
            agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
