"""Engine benchmark: raw websockets loop vs the engine, unbounded and paced.

    .venv/bin/python bench/run.py            # full run (about 1-2 minutes)
    .venv/bin/python bench/run.py --quick    # a smoke run

All figures come from one process against one mock server process, and each engine figure
is printed as a ratio against the raw transport loop measured in the same run (the machine
is shared and noisy: absolute numbers drift, ratios much less). Runs alternate raw/engine
and report medians.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from websockets.asyncio.client import connect  # noqa: E402

from WebSocketLoadLibrary.engine import (ConnectionOptions, LoadEngine, LoadPlan,  # noqa: E402
                                         MessageTemplate)
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402

PAYLOAD_SIZE = 32  # ~100-byte JSON messages, as in DESIGN.md's figures


class CpuMeter:
    """CPU seconds used by this process and the server between start and stop, as %."""

    def __init__(self, server_pid: int):
        self.processes = {"generator": psutil.Process(), "server": psutil.Process(server_pid)}

    def __enter__(self):
        self.started = time.perf_counter()
        self.before = {k: sum(p.cpu_times()[:2]) for k, p in self.processes.items()}
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.started
        self.percent = {k: 100 * (sum(p.cpu_times()[:2]) - self.before[k]) / wall
                        for k, p in self.processes.items()}


async def raw_echo_loop(uri: str, connections: int, messages: int, window: int) -> float:
    """Pipelined echo over plain websockets, no bookkeeping: msg/s round trip."""
    message = MessageTemplate(payload_size=PAYLOAD_SIZE).render(1)
    sockets = [await connect(uri, compression=None, max_queue=1024, proxy=None)
               for _ in range(connections)]
    per_connection = messages // connections

    async def one(ws):
        for _ in range(window):
            await ws.send(message, text=True)
        sent, received = window, 0
        while received < per_connection:
            await ws.recv(decode=False)
            received += 1
            if sent < per_connection:
                await ws.send(message, text=True)
                sent += 1

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(ws) for ws in sockets)), 120)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    return per_connection * connections / elapsed


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def unbounded(engine, server, connections: int, messages: int, window: int, repeats: int):
    raw_runs, engine_runs = [], []
    pool = engine.connect(ConnectionOptions(server.uri), count=connections)
    template = MessageTemplate(payload_size=PAYLOAD_SIZE)
    try:
        for _ in range(repeats):
            with CpuMeter(server.pid) as cpu:
                rate = engine.loop.run(raw_echo_loop(server.uri, connections, messages, window), 180)
            raw_runs.append({"rate": rate, **cpu.percent})
            with CpuMeter(server.pid) as cpu:
                result = engine.run_step(pool, LoadPlan(rate=None, messages=messages, window=window),
                                         template=template)
            assert result.received == messages, result.summary()
            engine_runs.append({"rate": result.achieved_receive_rate, **cpu.percent,
                                "p50": result.latency_ms(50), "p99": result.latency_ms(99)})
    finally:
        engine.disconnect(pool)
    return raw_runs, engine_runs


def paced(engine, server, rate: float, seconds: float, connections: int) -> dict:
    pool = engine.connect(ConnectionOptions(server.uri), count=connections)
    try:
        with CpuMeter(server.pid) as cpu:
            result = engine.run_step(pool, LoadPlan(rate=rate, duration_s=seconds),
                                     template=MessageTemplate(payload_size=PAYLOAD_SIZE))
    finally:
        engine.disconnect(pool)
    return {"target": rate, "achieved": result.achieved_send_rate,
            "error_pct": 100 * (result.achieved_send_rate - rate) / rate,
            "received": result.received, "sent": result.sent, "p50": result.latency_ms(50),
            "p99": result.latency_ms(99), "service_p99": result.service_time_ms(99),
            "max_lag_ms": result.max_lag_s * 1000, "applied": result.load_applied, **cpu.percent}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, one repeat")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                        help="event loop of the generator")
    parser.add_argument("--window", type=int, default=32, help="in flight per connection")
    args = parser.parse_args(argv)
    messages = 20_000 if args.quick else 100_000
    repeats = 1 if args.quick else 3
    seconds = 1.0 if args.quick else 3.0

    print(f"# bench: websockets client, generator loop={args.loop}, payload {PAYLOAD_SIZE} B, "
          f"window {args.window}/connection, {messages} messages x {repeats} (medians)")
    with MockServerProcess(compression=False) as server:
        print(f"# mock server {server.uri} (pid {server.pid}, loop {server.ready.get('loop')})")
        engine = LoadEngine(loop_kind=args.loop)
        try:
            print("\n## unbounded round trip (closed loop)")
            print(f"{'connections':>11} {'raw msg/s':>10} {'engine msg/s':>12} {'ratio':>6} "
                  f"{'gen CPU% raw/eng':>17} {'srv CPU% raw/eng':>17} {'p50 ms':>7} {'p99 ms':>7}")
            for connections in (1, 25):
                raw, eng = unbounded(engine, server, connections, messages, args.window, repeats)
                ratio = median_of(eng, "rate") / median_of(raw, "rate")
                print(f"{connections:>11} {median_of(raw, 'rate'):>10.0f} "
                      f"{median_of(eng, 'rate'):>12.0f} {ratio:>6.2f} "
                      f"{median_of(raw, 'generator'):>8.0f}/{median_of(eng, 'generator'):<8.0f} "
                      f"{median_of(raw, 'server'):>8.0f}/{median_of(eng, 'server'):<8.0f} "
                      f"{median_of(eng, 'p50'):>7.2f} {median_of(eng, 'p99'):>7.2f}")
            print("\n## paced (open loop, 10 connections; latency from intended send time)")
            print(f"{'target':>8} {'achieved':>10} {'error %':>8} {'p50 ms':>7} {'p99 ms':>7} "
                  f"{'svc p99':>8} {'max lag ms':>10} {'gen CPU%':>8} {'srv CPU%':>8} applied")
            for rate in (1000, 5000, 10000, 20000, 40000):
                row = paced(engine, server, rate, seconds, 10)
                print(f"{row['target']:>8.0f} {row['achieved']:>10.1f} {row['error_pct']:>8.2f} "
                      f"{row['p50']:>7.2f} {row['p99']:>7.2f} {row['service_p99']:>8.2f} "
                      f"{row['max_lag_ms']:>10.2f} {row['generator']:>8.0f} {row['server']:>8.0f} "
                      f"{row['applied']}")
        finally:
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
