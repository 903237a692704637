"""Soak: a steady paced rate on many connections for minutes; is anything lost, does memory
creep, do file descriptors leak?

    .venv/bin/python bench/soak.py                       # 10 minutes, 50 connections, 2k msg/s
    .venv/bin/python bench/soak.py --minutes 3 --rate 1000

Runs the load as consecutive one-minute steps on the same connections (as a long Robot suite
would), samples RSS and open files of the generator (this process) and of the mock server
every second (the engine's own samples), and fits a line to each after the warm-up: the slope, in kB per minute, is
the figure to watch. Not part of CI.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine, LoadPlan  # noqa: E402
from WebSocketLoadLibrary.engine.runtime.memory import release_freed_memory  # noqa: E402
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402


@dataclass
class Step:
    sent: int
    received: int
    lost: int
    load_applied: bool


def _samples_of(result, offset_s: float) -> list[dict]:
    """The step's generator and server samples, one a second, on the soak's clock."""
    generator = result.resources.get("generator", {}).get("samples", [])
    server = result.resources.get("server", {}).get("samples", [])
    points, next_t = [], 0.0
    for mine, theirs in zip(generator, server):
        if mine["t_s"] < next_t:
            continue
        next_t = mine["t_s"] + 1.0
        points.append({"t_s": offset_s + mine["t_s"], "generator_rss": mine["rss_bytes"],
                       "server_rss": theirs["rss_bytes"],
                       "generator_fds": mine.get("open_fds", 0),
                       "server_fds": theirs.get("open_fds", 0)})
    return points


def slope_kb_per_min(samples: list[dict], key: str, after_s: float) -> tuple[float, float, float]:
    """(slope kB/min, first, last) of `key` over the samples taken after the warm-up."""
    kept = [s for s in samples if s["t_s"] >= after_s]
    t = np.array([s["t_s"] for s in kept]) / 60.0
    y = np.array([s[key] for s in kept]) / 1000.0
    slope = float(np.polyfit(t, y, 1)[0]) if len(kept) > 2 else float("nan")
    return slope, y[0], y[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="msg/s over all connections")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=60.0, metavar="SECONDS")
    args = parser.parse_args()
    server = MockServerProcess(compression=False)
    server.start()
    engine = LoadEngine()
    try:
        pool = engine.connect(ConnectionOptions(server.uri), count=args.connections)
        samples: list[dict] = []  # the engine's own psutil samples (in its event loop),
        # not a sampling thread of ours: a thread's allocations would be measured too
        soak_started = time.monotonic()
        steps, total = [], args.minutes * 60
        between = []  # (t, generator RSS, server RSS) after each step
        deadline = time.monotonic() + total
        while (remaining := deadline - time.monotonic()) > 1:
            plan = LoadPlan(rate=args.rate, duration_s=min(60.0, remaining), reply_timeout_s=5,
                            name=f"soak minute {len(steps) + 1}")
            step_started = time.monotonic() - soak_started
            result = engine.run_step(pool, plan, server_pid=server.pid)
            samples.extend(_samples_of(result, step_started))
            # keep only the figures: a whole result (histograms, timeline, samples) is
            # about 1 MB, and keeping ten of them would look like a leak
            steps.append(Step(result.sent, result.received, result.lost + result.send_errors,
                              result.load_applied))
            print(f"{result.name}: sent {result.sent:,} received {result.received:,} "
                  f"lost {result.lost} p99 {result.latency_ms(99):.2f} ms "
                  f"applied {result.load_applied}", flush=True)
            del result
            release_freed_memory()  # as the keyword library does after every step
            between.append((time.monotonic() - soak_started,
                            psutil.Process().memory_info().rss, psutil.Process(server.pid).memory_info().rss))
        stats = server.stats()
    finally:
        engine.close()
        server.stop()
    sent = sum(s.sent for s in steps)
    received = sum(s.received for s in steps)
    lost = sum(s.lost for s in steps)
    print(f"\n{args.connections} connections, {args.rate:,.0f} msg/s, {len(steps)} steps, "
          f"{total / 60:.1f} min: sent {sent:,}, received {received:,}, lost {lost:,}, "
          f"server received {stats['messages_received']:,} sent {stats['messages_sent']:,}")
    print(f"all steps applied: {all(s.load_applied for s in steps)}")
    for side in ("generator", "server"):
        slope, first, last = slope_kb_per_min(samples, f"{side}_rss", args.warmup)
        fds = [s[f"{side}_fds"] for s in samples if s["t_s"] >= args.warmup]
        print(f"{side:9} RSS after warm-up {first / 1000:.1f} -> {last / 1000:.1f} MB, "
              f"slope {slope:+.1f} kB/min; open files {min(fds)}..{max(fds)}")
    print("RSS between steps (after the step's memory is released), MB:")
    for t, generator, served in between:
        print(f"  {t:6.0f} s  generator {generator / 1e6:6.1f}  server {served / 1e6:6.1f}")
    if len(between) > 2:
        t = np.array([b[0] for b in between[1:]]) / 60
        for index, side in ((1, "generator"), (2, "server")):
            y = np.array([b[index] for b in between[1:]]) / 1000
            print(f"  {side} slope between steps after the first: "
                  f"{float(np.polyfit(t, y, 1)[0]):+.1f} kB/min")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
