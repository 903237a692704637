"""Push benchmarks: a listen-only sink, a fan-out, and what subscribers cost in memory.

    .venv/bin/python bench/push.py                     # all sections (about 2 minutes)
    .venv/bin/python bench/push.py --sections stream   # stream, fanout, memory

Against the picows mock server in its own process, on this machine. Each engine figure is
printed next to a raw picows client doing the least that measures the same thing, run in
turns in the same process (the machine is shared and noisy: ratios drift less than
absolute numbers). Medians of the repeats.

stream   the server streams as fast as it can ({"op":"stream"} with a rate above its
         speed) to 4 connections; messages/s received over a window by a raw client that
         only counts frames, and by `Listen For Messages` with sequence and staleness
         bookkeeping. The server may be the limit: the raw figure says where it is.
fanout   1 publisher to 1,000 subscribers at 100 publishes/s (100,000 deliveries/s): a raw
         client (publisher sleeping to each due time, subscribers taking `now - send_time`)
         and `Publish At Rate`'s engine with delivery accounting: delivery ratio, p50/p99.
memory   10,000 subscribers opened with their subscription: the generator's RSS per
         connection, and the fan-out correlation state per subscriber (tracemalloc).
connect  connection storms: 4,000 connections opened at 2,000/s and at 4,000/s, each with
         its phases timed (`Open Connections At Rate`): achieved rate, connect p50/p99,
         whether the opener kept its schedule.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from picows import WSListener, WSMsgType  # noqa: E402
from picows.url import parse_url  # noqa: E402

from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine, LoadPlan  # noqa: E402
from WebSocketLoadLibrary.engine.plan.specs import FanoutSpec  # noqa: E402
from WebSocketLoadLibrary.engine.patterns.fanout.correlator import FanoutCorrelator  # noqa: E402
from WebSocketLoadLibrary.engine.plan.messages import MessageTemplate  # noqa: E402
from WebSocketLoadLibrary.engine.transport.opening import OpeningMessages  # noqa: E402
from WebSocketLoadLibrary.engine.step.recorder import StepRecorder  # noqa: E402
from WebSocketLoadLibrary.engine.plan.specs import StreamSpec  # noqa: E402
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402
from WebSocketLoadLibrary.picows_wire import make_protocol  # noqa: E402

STREAM_REQUEST = b'{"op":"stream","rate":250000,"duration":30,"size":16}'
PUBLISH = '{"op":"publish","topic":"bench","message_id":$message_id,"send_time":$send_time}'
SUBSCRIBE = '{"op":"subscribe","topic":"bench"}'


# -- raw picows clients ------------------------------------------------------------------
class RawListener(WSListener):
    """Counts data frames; with `latencies`, takes now - send_time of each (wall clock)."""

    def __init__(self, latencies: list | None = None):
        super().__init__()
        self.frames = 0
        self.latencies = latencies
        self.ready = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport):
        self.transport = transport

    def on_ws_frame(self, transport, frame):
        if frame.msg_type is not WSMsgType.TEXT:
            return
        self.frames += 1
        if not self.ready.done():
            self.ready.set_result(None)  # the answer to the opening command
            return
        if self.latencies is not None:
            found = SEND_TIME(frame.get_payload_as_bytes())
            if found:
                self.latencies.append(time.time() - float(found.group(1)))


SEND_TIME = re.compile(rb'"send_time":([0-9.]+)').search


async def raw_connections(uri: str, count: int, first: bytes | None, latencies=None):
    url, loop = parse_url(uri), asyncio.get_running_loop()
    listeners = []
    for _ in range(count):
        _, protocol = await loop.create_connection(
            lambda: make_protocol(True, lambda: RawListener(latencies), netloc=url.netloc,
                                  path=url.resource_name), url.host, url.port)
        await protocol.wait_until_handshake_complete()
        listeners.append(protocol.listener)
    if first is not None:   # all connected first: a stream must not hold up the others
        for listener in listeners:
            listener.transport.send(WSMsgType.TEXT, first)
        await asyncio.wait_for(asyncio.gather(*(listener.ready for listener in listeners)), 30)
    return listeners


async def raw_stream_rate(uri: str, connections: int, window_s: float) -> float:
    listeners = await raw_connections(uri, connections, STREAM_REQUEST)
    await asyncio.sleep(0.5)
    before, started = sum(listener.frames for listener in listeners), time.perf_counter()
    await asyncio.sleep(window_s)
    rate = (sum(listener.frames for listener in listeners) - before) / (
        time.perf_counter() - started)
    for listener in listeners:
        listener.transport.disconnect()
    return rate


async def raw_fanout(uri: str, subscribers: int, rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    readers = await raw_connections(uri, subscribers, SUBSCRIBE.encode(), latencies)
    (writer,) = await raw_connections(uri, 1, None)
    start, count = time.perf_counter() + 0.01, int(rate * seconds)
    for k in range(count):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.transport.send(WSMsgType.TEXT, b'{"op":"publish","topic":"bench","message_id":%d,'
                              b'"send_time":%.6f}' % (k, time.time()))
    await asyncio.sleep(1.0)
    for listener in readers + [writer]:
        listener.transport.disconnect()
    values = np.array(latencies) * 1000
    return {"deliveries": len(latencies), "expected": count * subscribers,
            "p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99))}


# -- the engine --------------------------------------------------------------------------
def engine_stream_rate(engine: LoadEngine, uri: str, connections: int, window_s: float):
    pool = engine.connect(ConnectionOptions(uri, transport="picows", opening=OpeningMessages(
        STREAM_REQUEST.decode(), "op == streaming")), count=connections)
    time.sleep(0.5)
    result = engine.run_step(pool, LoadPlan(duration_s=window_s, name="sink", listen=StreamSpec(
        "seq", "ts")))
    engine.disconnect(pool)
    stream = result.sections["stream"]
    return stream.rate, result.resources.get("generator", {}).get("cpu_percent_mean"), stream


def engine_fanout(engine: LoadEngine, uri: str, subscribers: int, rate: float, seconds: float):
    readers = engine.connect(ConnectionOptions(uri, transport="picows", opening=OpeningMessages(
        SUBSCRIBE, "op == subscribed")), count=subscribers)
    writers = engine.connect(ConnectionOptions(uri, transport="picows"), count=1)
    result = engine.run_step(writers, LoadPlan(rate=rate, duration_s=seconds, name="fanout",
                                               fanout=FanoutSpec()),
                             MessageTemplate(PUBLISH), roles={"subscribers": readers})
    engine.disconnect(writers)
    engine.disconnect(readers)
    return result


# -- sections ----------------------------------------------------------------------------
def bench_stream(repeats: int) -> None:
    server = MockServerProcess(engine="picows", loop="uvloop")
    server.start()
    engine = LoadEngine()
    raw, ours, cpus = [], [], []
    try:
        for _ in range(repeats):
            raw.append(asyncio.run(raw_stream_rate(server.uri, 4, 3.0)))
            rate, cpu, stream = engine_stream_rate(engine, server.uri, 4, 3.0)
            ours.append(rate)
            cpus.append(cpu or 0.0)
    finally:
        engine.close()
        server.stop()
    ratios = [o / r for o, r in zip(ours, raw)]
    print(f"stream   raw picows count-only {statistics.median(raw):>10,.0f} msg/s | "
          f"Listen For Messages (seq + staleness) {statistics.median(ours):>10,.0f} msg/s | "
          f"ratio {statistics.median(ratios):.2f} (each: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}) | generator CPU "
          f"{statistics.median(cpus):.0f}% | last: missing {stream.missing:,}, staleness p50 "
          f"{stream.staleness_ms(50):,.1f} ms")


def bench_fanout(repeats: int, subscribers: int = 1000, rate: float = 100.0,
                 seconds: float = 5.0) -> None:
    server = MockServerProcess(engine="picows", loop="uvloop", max_connections=subscribers + 50)
    server.start()
    engine = LoadEngine()
    try:
        for _ in range(repeats):
            raw = asyncio.run(raw_fanout(server.uri, subscribers, rate, seconds))
            result = engine_fanout(engine, server.uri, subscribers, rate, seconds)
            fanout = result.sections["fanout"]
            cpu = result.resources.get("generator", {}).get("cpu_percent_mean", 0.0)
            print(f"fanout   1 -> {subscribers:,} at {rate:g}/s: raw {raw['deliveries']:,}/"
                  f"{raw['expected']:,} p50 {raw['p50_ms']:.2f} p99 {raw['p99_ms']:.2f} ms | "
                  f"engine {fanout.deliveries:,}/{fanout.expected_deliveries:,} (ratio "
                  f"{fanout.delivery_ratio:.6f}) p50 {result.latency_ms(50):.2f} p99 "
                  f"{result.latency_ms(99):.2f} ms, to last subscriber p99 "
                  f"{fanout.last_delivery.percentile_us(99) / 1000:.2f} ms, "
                  f"{result.achieved_receive_rate:,.0f} deliveries/s, generator CPU {cpu:.0f}% "
                  f"| p99 overhead {result.latency_ms(99) - raw['p99_ms']:+.2f} ms")
    finally:
        engine.close()
        server.stop()


def bench_memory(subscribers: int = 10_000) -> None:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    correlator = FanoutCorrelator(StepRecorder(True), 1, subscribers,
                                  MessageTemplate(PUBLISH).id_extractor(), 0, 0.0, 0.01,
                                  "message_id", None, subscribers)
    receivers = correlator.subscriber_receivers([None] * subscribers)
    state = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    del receivers, correlator
    server = MockServerProcess(engine="picows", loop="uvloop", max_connections=subscribers + 50)
    server.start()
    engine = LoadEngine()
    try:
        gc.collect()
        rss_before = psutil.Process().memory_info().rss
        started = time.perf_counter()
        readers = engine.connect(ConnectionOptions(
            server.uri, transport="picows", ping_interval_s=None, opening=OpeningMessages(
                SUBSCRIBE, "op == subscribed")), count=subscribers, concurrency=200)
        opened_s = time.perf_counter() - started
        gc.collect()
        rss_after = psutil.Process().memory_info().rss
        writers = engine.connect(ConnectionOptions(server.uri, transport="picows"), count=1)
        result = engine.run_step(writers, LoadPlan(rate=10, duration_s=3, name="10k",
                                                   fanout=FanoutSpec()),
                                 MessageTemplate(PUBLISH), roles={"subscribers": readers})
    finally:
        engine.close()
        server.stop()
    fanout = result.sections["fanout"]
    print(f"memory   {subscribers:,} subscribers opened and subscribed in {opened_s:.1f} s: "
          f"generator RSS {(rss_after - rss_before) / subscribers / 1024:.1f} KB/connection; "
          f"fan-out correlation state {state / subscribers:.0f} bytes/subscriber "
          f"(receivers included); a 10/s fan-out to all: ratio {fanout.delivery_ratio:.6f}, "
          f"p99 {result.latency_ms(99):.1f} ms, generator CPU "
          f"{result.resources.get('generator', {}).get('cpu_percent_mean', 0):.0f}%")


def bench_connect(count: int = 4000) -> None:
    from WebSocketLoadLibrary.engine.lifecycle.arrivals import ArrivalPlan
    server = MockServerProcess(engine="picows", loop="uvloop", max_connections=count + 50)
    server.start()
    try:
        for rate in (2000.0, 4000.0):
            engine = LoadEngine("uvloop")   # as load agents run (asyncio: about 0.7 of it)
            try:
                _, result = engine.open_at_rate(ConnectionOptions(
                    server.uri, transport="picows", ping_interval_s=None),
                    ArrivalPlan(count, rate, name=f"storm {rate:g}/s"))
            finally:
                engine.close()
            connect = result.sections["connect"]
            print(f"connect  {count:,} at {rate:,.0f}/s: opened {connect.opened:,}, failed "
                  f"{connect.failed:,}, achieved {connect.achieved_rate:,.0f}/s, connect p50 "
                  f"{connect.latency_ms(50):.2f} p99 {connect.latency_ms(99):.2f} ms (handshake "
                  f"p99 {connect.latency_ms(99, 'handshake'):.2f} ms), started late "
                  f"{connect.late_starts:,}, applied {result.load_applied}")
    finally:
        server.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default="stream,fanout,memory,connect")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    if "stream" in sections:
        bench_stream(args.repeats)
    if "fanout" in sections:
        bench_fanout(max(1, args.repeats - 1))
    if "memory" in sections:
        bench_memory()
    if "connect" in sections:
        bench_connect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
