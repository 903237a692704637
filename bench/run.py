"""Engine benchmark: raw transport loops vs the engine, workers, mock server, pacing, 10k.

    ./run bench              # full run (about 3 minutes)
    ./run bench --quick      # a smoke run (under a minute)

Everything comes from one run against mock server processes on this machine, and each
engine figure is printed as a ratio against the raw transport loop measured in the same
run, alternating raw/engine (the machine is shared and noisy: absolute numbers drift
20-30% between runs, ratios much less). Medians of the repeats.
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

from picows import WSListener, WSMsgType  # noqa: E402
from picows.url import parse_url  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from WebSocketLoadLibrary.engine import (ConnectionOptions, LoadEngine, LoadPlan,  # noqa: E402
                                         MessageTemplate, run_step_in_workers)
from WebSocketLoadLibrary.engine.runtime.precise_sleep import PreciseSleeper  # noqa: E402
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402
from WebSocketLoadLibrary.picows_wire import make_protocol  # noqa: E402

PAYLOAD_SIZE = 32  # ~100-byte JSON messages, as in the peers' figures (README, Benchmark)


class CpuMeter:
    """CPU seconds used by this process and the server between start and stop, as %."""

    def __init__(self, server_pid: int):
        self.processes = {"generator": psutil.Process(), "server": psutil.Process(server_pid)}

    def __enter__(self):
        self.started = time.perf_counter()
        self.before = {k: _cpu_s(p) for k, p in self.processes.items()}
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.started
        self.percent = {k: 100 * (_cpu_s(p) - self.before[k]) / wall
                        for k, p in self.processes.items()}


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


# -- raw transport loops (no bookkeeping) ------------------------------------------------
async def raw_websockets_loop(uri: str, connections: int, messages: int, window: int) -> float:
    """Pipelined echo over plain websockets: msg/s round trip."""
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


class _RawPicows(WSListener):
    def __init__(self, messages: int, window: int, message: bytes):
        super().__init__()
        self.left_to_send, self.left_to_receive = messages, messages
        self.window, self.message = window, message
        self.done = asyncio.get_running_loop().create_future()
        self.rtts: list[float] = []
        self.sent_at = 0.0

    def on_ws_connected(self, transport):
        self.transport = transport

    def start(self):
        for _ in range(min(self.window, self.left_to_send)):
            self.transport.send(WSMsgType.TEXT, self.message)
            self.left_to_send -= 1

    def on_ws_frame(self, transport, frame):
        if frame.msg_type is not WSMsgType.TEXT:
            return
        frame.get_payload_as_bytes()
        self.left_to_receive -= 1
        if self.left_to_send:
            transport.send(WSMsgType.TEXT, self.message)
            self.left_to_send -= 1
        elif not self.left_to_receive and not self.done.done():
            self.done.set_result(None)


async def _raw_picows_connect(uri: str, listener_factory):
    url = parse_url(uri)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        lambda: make_protocol(True, listener_factory, netloc=url.netloc, path=url.resource_name),
        url.host, url.port)
    await protocol.wait_until_handshake_complete()
    return protocol.listener


async def raw_picows_loop(uri: str, connections: int, messages: int, window: int) -> float:
    """Pipelined echo over picows with coalesced writes (what the engine's picows transport
    is built on), no bookkeeping: msg/s round trip."""
    message = MessageTemplate(payload_size=PAYLOAD_SIZE).render(1)
    per_connection = messages // connections
    listeners = [await _raw_picows_connect(uri, lambda: _RawPicows(per_connection, window, message))
                 for _ in range(connections)]
    started = time.perf_counter()
    for listener in listeners:
        listener.start()
    await asyncio.wait_for(asyncio.gather(*(l.done for l in listeners)), 120)
    elapsed = time.perf_counter() - started
    for listener in listeners:
        listener.transport.send_close()
        listener.transport.disconnect()
    return per_connection * connections / elapsed


async def raw_picows_rtt(uri: str, messages: int, interval_s: float) -> list[float]:
    """One message at a time, `interval_s` apart: the round trip of transport and server
    alone, timestamps taken at the send and in the frame callback (ms)."""
    message = MessageTemplate(payload_size=PAYLOAD_SIZE).render(1)
    rtts: list[float] = []

    class Probe(WSListener):
        def on_ws_connected(self, transport):
            self.transport = transport

        def on_ws_frame(self, transport, frame):
            if frame.msg_type is WSMsgType.TEXT and self.waiter is not None:
                rtts.append((time.perf_counter() - self.sent_at) * 1000)
                self.waiter.set_result(None)

    probe = await _raw_picows_connect(uri, Probe)
    loop = asyncio.get_running_loop()
    for _ in range(messages):
        probe.waiter = loop.create_future()
        probe.sent_at = time.perf_counter()
        probe.transport.send(WSMsgType.TEXT, message)
        await asyncio.wait_for(probe.waiter, 5)
        probe.waiter = None
        await asyncio.sleep(interval_s)
    probe.transport.send_close()
    probe.transport.disconnect()
    return rtts


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


# -- sections ------------------------------------------------------------------------------
def server_vs_raw_client(engine, servers, messages, repeats):
    print("\n## mock server vs raw picows client (pipelined echo, window 32, no bookkeeping)")
    print(f"{'server engine':>14} {'connections':>11} {'msg/s':>9} {'srv CPU%':>8} {'client CPU%':>11}")
    for name, server in servers.items():
        for connections in (1, 25):
            runs = []
            for _ in range(repeats):
                with CpuMeter(server.pid) as cpu:
                    rate = engine.loop.run(raw_picows_loop(server.uri, connections, messages, 32), 180)
                runs.append({"rate": rate, **cpu.percent})
            print(f"{name:>14} {connections:>11} {median_of(runs, 'rate'):>9.0f} "
                  f"{median_of(runs, 'server'):>8.0f} {median_of(runs, 'generator'):>11.0f}")


def unbounded(engine, server, messages, repeats, window=32):
    print(f"\n## unbounded round trip (closed loop, window {window}) against the picows mock "
          "server; engine = full bookkeeping; ratio = engine / raw loop of the same transport")
    print(f"{'transport':>10} {'conns':>5} {'raw msg/s':>10} {'engine msg/s':>12} {'ratio':>6} "
          f"{'gen CPU% raw/eng':>17} {'srv CPU% raw/eng':>17} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'pairs':>9}")
    raws = {"websockets": raw_websockets_loop, "picows": raw_picows_loop}
    best = {}
    template = MessageTemplate(payload_size=PAYLOAD_SIZE)
    for transport in ("websockets", "picows"):
        for connections in (1, 25):
            raw_runs, engine_runs = [], []
            pool = engine.connect(ConnectionOptions(server.uri, transport=transport),
                                  count=connections)
            try:
                for _ in range(repeats):
                    with CpuMeter(server.pid) as cpu:
                        rate = engine.loop.run(raws[transport](server.uri, connections, messages,
                                                               window), 180)
                    raw_runs.append({"rate": rate, **cpu.percent})
                    with CpuMeter(server.pid) as cpu:
                        result = engine.run_step(pool, LoadPlan(rate=None, messages=messages,
                                                                window=window), template=template)
                    assert result.received == messages, result.summary()
                    engine_runs.append({"rate": result.achieved_receive_rate, **cpu.percent,
                                        "p50": result.latency_ms(50), "p99": result.latency_ms(99)})
            finally:
                engine.disconnect(pool)
            ratio = median_of(engine_runs, "rate") / median_of(raw_runs, "rate")
            # each engine run against the raw run just before it: how far one pair can stray
            pairs = [e["rate"] / r["rate"] for e, r in zip(engine_runs, raw_runs)]
            best[(transport, connections)] = median_of(engine_runs, "rate")
            print(f"{transport:>10} {connections:>5} {median_of(raw_runs, 'rate'):>10.0f} "
                  f"{median_of(engine_runs, 'rate'):>12.0f} {ratio:>6.2f} "
                  f"{median_of(raw_runs, 'generator'):>8.0f}/{median_of(engine_runs, 'generator'):<8.0f} "
                  f"{median_of(raw_runs, 'server'):>8.0f}/{median_of(engine_runs, 'server'):<8.0f} "
                  f"{median_of(engine_runs, 'p50'):>7.2f} {median_of(engine_runs, 'p99'):>7.2f} "
                  f"{min(pairs):>5.2f}-{max(pairs):.2f}")
    return best


def with_workers(engine, server, messages, repeats, loop_kind, connections=24):
    """One generator process against two worker processes, same total connections, for
    each transport. The websockets client is CPU-bound while the picows server idles, so
    there a second core pays; the picows client and server each need a core of their own,
    so on a 2-core box two picows workers only compete with the server."""
    print(f"\n## worker processes ({connections} connections in all, closed loop, window 32, "
          "picows mock server; results merged: counters added, histograms merged)")
    print(f"{'transport':>10} {'processes':>9} {'msg/s':>9} {'gain':>6} {'srv CPU%':>8} "
          f"{'gen CPU%':>8} {'p50 ms':>7} {'p99 ms':>7}")
    template = MessageTemplate(payload_size=PAYLOAD_SIZE)
    for transport in ("websockets", "picows"):
        options = ConnectionOptions(server.uri, transport=transport)
        rows = {1: [], 2: []}
        for _ in range(repeats):
            pool = engine.connect(options, count=connections)
            try:
                with CpuMeter(server.pid) as cpu:
                    result = engine.run_step(pool, LoadPlan(rate=None, messages=messages, window=32),
                                             template=template)
            finally:
                engine.disconnect(pool)
            rows[1].append({"rate": result.achieved_receive_rate, **cpu.percent,
                            "p50": result.latency_ms(50), "p99": result.latency_ms(99)})
            with CpuMeter(server.pid) as cpu:
                merged = run_step_in_workers(options, connections,
                                             LoadPlan(rate=None, messages=messages, window=32),
                                             workers=2, template=template, loop_kind=loop_kind)
            assert merged.received == messages, merged.summary()
            rows[2].append({"rate": merged.achieved_receive_rate, **cpu.percent,
                            "p50": merged.latency_ms(50), "p99": merged.latency_ms(99)})
        base = median_of(rows[1], "rate")
        for processes, runs in rows.items():
            # generator CPU: this process and its children (the workers), % of one core
            print(f"{transport:>10} {processes:>9} {median_of(runs, 'rate'):>9.0f} "
                  f"{median_of(runs, 'rate') / base:>6.2f} {median_of(runs, 'server'):>8.0f} "
                  f"{median_of(runs, 'generator'):>8.0f} {median_of(runs, 'p50'):>7.2f} "
                  f"{median_of(runs, 'p99'):>7.2f}")


def pacing(engine, server, unbounded_max, seconds, quick, connections=25):
    """Paced steps up to 80% of the closed-loop maximum over the same number of
    connections. The 70% and 80% rows each take that maximum again on the same pool just
    before their step (`max before`): on a VM whose speed moves from minute to minute, a
    maximum from another section minutes earlier may belong to another phase, in either
    direction. The `unbounded` section's median is printed beside it."""
    print(f"\n## paced (open loop, picows, {connections} connections; latency from intended send "
          f"time; the 70% and 80% rows: of the closed-loop max with the same {connections} "
          f"connections measured just before each (the unbounded section's median: "
          f"{unbounded_max:.0f} msg/s))")
    print(f"{'target':>8} {'max before':>10} {'achieved':>10} {'error %':>8} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'svc p99':>8} {'max lag ms':>10} {'lag p99':>8} {'gen CPU%':>8} "
          f"{'srv CPU%':>8} {'late %':>7} applied")
    rates = [1000, 10000, 40000] if quick else [1000, 5000, 10000, 20000, 40000, 60000]
    options = ConnectionOptions(server.uri, transport="picows")
    template = MessageTemplate(payload_size=PAYLOAD_SIZE)
    pool = engine.connect(options, count=connections)
    try:
        for rate in [*rates, 0.7, 0.8]:
            ceiling = ""
            if rate < 1:  # a fraction of the maximum taken now
                # as long as the paced step: a maximum over a shorter burst reads high
                maximum = engine.run_step(pool, LoadPlan(rate=None, duration_s=seconds, window=32),
                                          template=template).achieved_receive_rate
                rate, ceiling = round(rate * maximum, -3), f"{maximum:.0f}"
            with CpuMeter(server.pid) as cpu:
                r = engine.run_step(pool, LoadPlan(rate=rate, duration_s=seconds), template=template)
            error = 100 * (r.achieved_send_rate - rate) / rate
            print(f"{rate:>8.0f} {ceiling:>10} {r.achieved_send_rate:>10.1f} {error:>8.2f} "
                  f"{r.latency_ms(50):>7.2f} {r.latency_ms(99):>7.2f} {r.service_time_ms(99):>8.2f} "
                  f"{r.max_lag_s * 1000:>10.2f} {r.lag.percentile_us(99) / 1000:>8.2f} "
                  f"{cpu.percent['generator']:>8.0f} {cpu.percent['server']:>8.0f} "
                  f"{100 * r.late_messages / max(1, r.sent):>7.2f} {r.load_applied}")
    finally:
        engine.disconnect(pool)


def harness(engine, server, seconds, quick, connections=25):
    print(f"\n## harness overhead at 1k msg/s ({connections} connections): engine p99 (from "
          "intended time) against the raw picows round trip of the same server, one message "
          "at a time")
    options = ConnectionOptions(server.uri, transport="picows")
    template = MessageTemplate(payload_size=PAYLOAD_SIZE)
    pool = engine.connect(options, count=connections)
    try:
        rtts = engine.loop.run(raw_picows_rtt(server.uri, 1000 if quick else 10000, 0.001), 60)
        raw_p99 = percentile(rtts, 99)
        print(f"{'pacing timer':>12} {'p50 ms':>7} {'p99 ms':>7} {'raw p99':>8} {'added p99':>9} "
              f"{'gen CPU%':>8} {'p99.9 ms':>8} {'max ms':>7} {'max lag':>7} {'messages':>8}")
        print(f"{'(raw loop)':>12} {percentile(rtts, 50):>7.2f} {raw_p99:>7.2f} {raw_p99:>8.2f} "
              f"{0:>9.2f} {'':>8} {percentile(rtts, 99.9):>8.2f} {max(rtts):>7.2f}")
        # a p99 of a few thousand messages moves with a single hiccup: 10 s = 10,000 messages
        harness_s = seconds if quick else max(seconds, 10.0)
        for timer in ("loop", "spin", "precise"):
            with CpuMeter(server.pid) as cpu:
                r = engine.run_step(pool, LoadPlan(rate=1000, duration_s=harness_s, pacing_timer=timer),
                                    template=template, server_pid=server.pid)
            print(f"{timer:>12} {r.latency_ms(50):>7.2f} {r.latency_ms(99):>7.2f} {raw_p99:>8.2f} "
                  f"{r.latency_ms(99) - raw_p99:>9.2f} {cpu.percent['generator']:>8.0f} "
                  f"{r.latency_ms(99.9):>8.2f} {r.latency.max_us() / 1000:>7.2f} "
                  f"{r.max_lag_s * 1000:>7.2f} {r.sent:>8}")
        floor = engine.loop.run(timer_floor(harness_s), 60)
        print(f"{'(bare timer)':>12} {'':>7} {'':>7} {'':>8} {'':>9} {'':>8} "
              f"{percentile(floor, 99.9):>8.2f} {max(floor):>7.2f} {max(floor):>7.2f} {len(floor):>8}"
              "   <- timerfd wake-up lag alone: no network, no bookkeeping")
    finally:
        engine.disconnect(pool)


async def timer_floor(seconds: float) -> list[float]:
    """How late the pacer's own timer wakes with nothing else to do, 1 ms apart (ms): what a
    paced send cannot beat on this machine whatever the harness does."""
    sleeper = PreciseSleeper(asyncio.get_running_loop())
    lags = []
    try:
        start = time.perf_counter() + 0.005
        for k in range(int(seconds * 1000)):
            due = start + k * 0.001
            await sleeper.until(due)
            lags.append(max(0.0, time.perf_counter() - due) * 1000)
    finally:
        sleeper.close()
    return lags


def closed_loop_max(engine, server, messages, repeats, connections=25):
    """The engine's closed-loop picows maximum, for the pacing section when run alone."""
    pool = engine.connect(ConnectionOptions(server.uri, transport="picows"), count=connections)
    try:
        rates = [engine.run_step(pool, LoadPlan(rate=None, messages=messages, window=32),
                                 template=MessageTemplate(payload_size=PAYLOAD_SIZE))
                 .achieved_receive_rate for _ in range(repeats)]
    finally:
        engine.disconnect(pool)
    return statistics.median(rates)


def ten_thousand(engine, transports, count=10_000):
    print(f"\n## {count} concurrent connections from one generator (picows mock server, "
          "one paced step over all of them)")
    print(f"{'transport':>10} {'connect s':>9} {'gen KB/conn':>11} {'srv KB/conn':>11} "
          f"{'step msg/s':>10} {'received':>9} {'p99 ms':>7}")
    for transport in transports:
        with MockServerProcess(engine="picows", max_connections=count + 100) as server:
            generator, server_process = psutil.Process(), psutil.Process(server.pid)
            time.sleep(0.2)
            before = (generator.memory_info().rss, server_process.memory_info().rss)
            started = time.perf_counter()
            pool = engine.connect(ConnectionOptions(server.uri, transport=transport,
                                                    ping_interval_s=None), count=count,
                                  concurrency=500)
            connect_s = time.perf_counter() - started
            try:
                time.sleep(0.5)
                after = (generator.memory_info().rss, server_process.memory_info().rss)
                result = engine.run_step(pool, LoadPlan(rate=count, messages=count),
                                         template=MessageTemplate(payload_size=PAYLOAD_SIZE))
            finally:
                engine.disconnect(pool, timeout_s=60)
            print(f"{transport:>10} {connect_s:>9.2f} {(after[0] - before[0]) / count / 1024:>11.1f} "
                  f"{(after[1] - before[1]) / count / 1024:>11.1f} "
                  f"{result.achieved_send_rate:>10.0f} {result.received:>9} {result.latency_ms(99):>7.2f}")


SECTIONS = ("server", "unbounded", "workers", "pacing", "harness", "10k")
# asked for by name only (`--sections scale`): 100,000 connections, about 5 minutes
OPTIONAL_SECTIONS = ("scale",)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, one repeat")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop",
                        help="event loop of the generator (default uvloop)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated, in this order: {','.join(SECTIONS)} (default all; "
                             "pacing alone measures its own 25-connection maximum first); or "
                             "scale alone: 100,000 connections (bench/scale.py)")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 3, quick 1)")
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    if not sections <= set(SECTIONS + OPTIONAL_SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(sections - set(SECTIONS)))}")
    if sections == {"scale"}:
        # bench/scale.py: 100,000 connections from this machine (its --help for the knobs),
        # at the rate this 2-core machine sustains with both sides on it (3,000/s is over)
        import scale
        scale.scale(count=25_000 if args.quick else 100_000, rate=1000, hold_s=30.0,
                    ping_s=20.0, step_rate=10_000, step_s=20.0, publishes=3,
                    server_engine="picows", loop=args.loop)
        return 0
    messages = 30_000 if args.quick else 150_000
    repeats = args.repeats or (1 if args.quick else 3)
    seconds = 1.0 if args.quick else 3.0

    print(f"# bench: generator loop={args.loop}, payload {PAYLOAD_SIZE} B (~100-byte JSON), "
          f"{messages} messages x {repeats} (medians), sections {','.join(s for s in SECTIONS if s in sections)}")
    engine = LoadEngine(loop_kind=args.loop)
    try:
        with MockServerProcess(engine="picows") as fast, \
                MockServerProcess(engine="websockets", compression=False) as plain:
            print(f"# mock servers: picows {fast.uri} (pid {fast.pid}), websockets {plain.uri} "
                  f"(pid {plain.pid}), both on uvloop")
            if "server" in sections:
                server_vs_raw_client(engine, {"picows": fast, "websockets": plain}, messages, repeats)
            if "unbounded" in sections:
                # the ratios move most from run to run: five pairs for a steadier median
                best = unbounded(engine, fast, messages, args.repeats or (1 if args.quick else 5))[
                    ("picows", 25)]
            elif "pacing" in sections:
                best = closed_loop_max(engine, fast, messages, repeats)
            if "workers" in sections:
                with_workers(engine, fast, messages, repeats, args.loop)
            if "pacing" in sections:
                pacing(engine, fast, best, seconds, args.quick, connections=25)
            if "harness" in sections:
                harness(engine, fast, seconds, args.quick, connections=25)
        if "10k" in sections:
            ten_thousand(engine, ["picows"] if args.quick else ["picows", "websockets"])
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
