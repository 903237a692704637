"""Scale benchmark: 100,000 connections from this machine (`./run bench --sections scale`).

    .venv/bin/python bench/scale.py                          # 100,000 at 3,000/s
    .venv/bin/python bench/scale.py --count 20000 --rate 2000 --server-engine picows

As a user would with the default settings (`Start Mock Server`, then `Open Connections At
Rate    100000    3000/s`): the mock server and the generator each take as many processes
as the count needs (the library chooses them), every connection subscribed to one topic.
Prints, in this order:

open        connections opened, the rate achieved against the asked one, applied or not,
            connect p50/p99, memory per connection: generator RSS and heap, mock server RSS
hold        the crowd held --hold seconds with keep-alive pings (every --ping-interval):
            connections still open, CPU of the generator's and the server's processes
paced       one step across all: --step-rate msg/s for --step-seconds: delivery, p50/p99
broadcast   --publishes publishes to every connection, one a second: delivery ratio,
            delivery p99, publish-to-last-subscriber (the slowest of every publish)
close       every connection closed: how long, and what the server still holds after

The machine is shared: run it on a quiet one, at most a few times, and note `uptime`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from WebSocketLoadLibrary.engine import (ArrivalPlan, ConnectionOptions, FanoutSpec,  # noqa: E402
                                         LoadEngine, LoadPlan, MessageTemplate,
                                         OpeningMessages)
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402

SUBSCRIBE = '{"op":"subscribe","topic":"everyone"}'
PUBLISH = '{"op":"publish","topic":"everyone","message_id":$message_id,"send_time":$send_time}'


def cpu_seconds(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def scale(count: int, rate: float, hold_s: float, ping_s: float, step_rate: float,
          step_s: float, publishes: int, server_engine: str, loop: str,
          subscribe: bool = True) -> None:
    load = os.getloadavg()
    print(f"\n## scale: {count:,} connections at {rate:,.0f}/s, mock server {server_engine} "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)")
    engine = LoadEngine(loop)
    with MockServerProcess(engine=server_engine, compression=False,
                           max_connections=2 * count) as server:
        server.hold(count)
        options = ConnectionOptions(server.uri, ping_interval_s=ping_s, opening=OpeningMessages(
            SUBSCRIBE, "op == subscribed") if subscribe else None)
        cpu_before = (cpu_seconds([os.getpid()]), cpu_seconds(server.pids))
        pool, result = engine.open_at_rate(options, ArrivalPlan(count, rate, "scale"),
                                           server_pids=server.pids)
        connect, memory = result.sections["connect"], result.sections["memory"]
        server_cpu = cpu_seconds(server.pids) - cpu_before[1]

        def kb(value):
            return "-" if value is None else f"{value / 1000:.2f}"
        print(f"open      opened {connect.opened:,}/{count:,} at {connect.achieved_rate:,.0f}/s "
              f"(asked {rate:,.0f}/s), applied {result.load_applied}, late "
              f"{connect.late_starts:,}, failures {connect.describe_failures()}; connect p50 "
              f"{connect.latency_ms(50):.2f} ms p99 {connect.latency_ms(99):.2f} ms; "
              f"{memory.generator_processes} generator / {memory.server_processes} server "
              f"processes, {memory.source_addresses or 1} source address(es); server CPU "
              f"{1e6 * server_cpu / max(1, connect.opened):.0f} us per connection")
        print(f"memory    generator {kb(memory.generator_bytes_per_connection)} KB RSS, "
              f"{kb(memory.generator_heap_bytes_per_connection)} KB heap per connection; "
              f"mock server {kb(memory.server_bytes_per_connection)} KB RSS per connection "
              f"(KB = 1000 B)")
        if not result.load_applied:
            print("          not applied: " + "; ".join(result.not_applied_reasons))
        generator_pids = [worker.process.pid for worker in getattr(pool, "workers", ())] \
            or [os.getpid()]
        before = (cpu_seconds(generator_pids), cpu_seconds(server.pids), time.perf_counter())
        time.sleep(hold_s)
        wall = time.perf_counter() - before[2]
        held = len(pool.open_connections)
        print(f"hold      {held:,} of {connect.opened:,} open after {hold_s:g} s with pings every "
              f"{ping_s:g} s; CPU generator {100 * (cpu_seconds(generator_pids) - before[0]) / wall:.1f}%"
              f", server {100 * (cpu_seconds(server.pids) - before[1]) / wall:.1f}% (of one core)")
        step = engine.run_step(pool, LoadPlan(rate=step_rate, duration_s=step_s, name="paced"))
        print(f"paced     {step_rate:,.0f} msg/s for {step_s:g} s over {step.connections:,} "
              f"connections: sent {step.sent:,}, received {step.received:,}, delivery "
              f"{step.delivery_ratio:.6f}, p50 {step.latency_ms(50):.2f} ms p99 "
              f"{step.latency_ms(99):.2f} ms, applied {step.load_applied}")
        if not subscribe:
            publishes = 0
        announcer = engine.connect(ConnectionOptions(server.uri), count=1)
        fan = None if not publishes else engine.run_step(announcer, LoadPlan(
            rate=1, messages=publishes, reply_timeout_s=20.0, fanout=FanoutSpec(),
            name="broadcast"), MessageTemplate(PUBLISH), roles={"subscribers": pool})
        fanout = fan.sections["fanout"] if fan else None
        print("broadcast skipped (no subscriptions)") if fan is None else print(f"broadcast {fanout.publishes} publish(es) to {fanout.subscribers:,} subscribers: "
              f"{fanout.deliveries:,} of {fanout.expected_deliveries:,} delivered (ratio "
              f"{fanout.delivery_ratio:.6f}), delivery p50 {fan.latency_ms(50):.1f} ms p99 "
              f"{fan.latency_ms(99):.1f} ms, publish to last subscriber "
              f"{fanout.last_delivery.max_us() / 1000:.1f} ms")
        engine.disconnect(announcer)
        began = time.perf_counter()
        engine.disconnect(pool, timeout_s=120)
        closed_s = time.perf_counter() - began
        deadline = time.monotonic() + 60
        while server.stats()["connections_active"] and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"close     {connect.opened:,} closed in {closed_s:.1f} s; the server holds "
              f"{server.stats()['connections_active']:,} "
              f"{time.monotonic() - deadline + 60:.1f} s later")
    engine.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=3000)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds held (default 30)")
    parser.add_argument("--ping-interval", type=float, default=20.0)
    parser.add_argument("--step-rate", type=float, default=10_000)
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--publishes", type=int, default=3)
    parser.add_argument("--no-subscribe", action="store_true",
                        help="open without subscribing (no broadcast)")
    parser.add_argument("--server-engine", choices=("websockets", "picows"),
                        default="websockets", help="the mock server's (default: its default)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                        help="this process's loop, as the library's import has it (default "
                             "asyncio; the worker processes run uvloop)")
    args = parser.parse_args(argv)
    scale(args.count, args.rate, args.hold, args.ping_interval, args.step_rate,
          args.step_seconds, args.publishes, args.server_engine, args.loop,
          not args.no_subscribe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
