"""The mock server's stream mode, flat out: how many messages/s it pushes.

    .venv/bin/python bench/mock_stream.py                 # picows engine, 4 connections, 3 s
    .venv/bin/python bench/mock_stream.py --engine websockets --rate 5000

Each raw picows client (coalesced writes, uvloop; it only counts frames) asks for
`{"op":"stream","rate":R,"duration":D}`; with R above what the server can do, the server
sends everything due at each wake, so what it sends is its top speed. Printed: the server's
rate (the messages over the span of their `ts`, the server's clock when it made them), the
clients' rate (what they counted between the first and the last arrival: with two cores
for both sides, the clients may be the limit), and the server's CPU share.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from picows import WSListener, WSMsgType  # noqa: E402
from picows.url import parse_url  # noqa: E402

from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402
from WebSocketLoadLibrary.picows_wire import make_protocol  # noqa: E402


class Counter(WSListener):
    """Counts stream frames; notes the first and last arrival and the last seq."""

    expected = 0  # stream messages per connection

    def __init__(self):
        super().__init__()
        self.frames, self.first, self.last = 0, 0.0, 0.0
        self.first_ts = self.last_ts = 0.0

    def on_ws_connected(self, transport):
        self.transport = transport

    def on_ws_frame(self, transport, frame):
        if frame.msg_type is not WSMsgType.TEXT:
            return
        if not self.frames:
            self.first = time.perf_counter()
        self.frames += 1
        self.last = time.perf_counter()
        if self.frames == 2 or self.frames == self.expected + 1:  # 1: the "streaming" answer
            ts = orjson.loads(frame.get_payload_as_bytes())["ts"]
            if self.frames == 2:
                self.first_ts = ts
            self.last_ts = ts


async def connect(uri: str) -> Counter:
    url = parse_url(uri)
    _, protocol = await asyncio.get_running_loop().create_connection(
        lambda: make_protocol(True, Counter, netloc=url.netloc, path=url.resource_name),
        url.host, url.port)
    await protocol.wait_until_handshake_complete()
    return protocol.listener


async def bench(uri: str, connections: int, rate: float, seconds: float, size: int) -> list:
    Counter.expected = math.ceil(rate * seconds)
    clients = [await connect(uri) for _ in range(connections)]
    command = orjson.dumps({"op": "stream", "rate": rate, "duration": seconds, "size": size})
    for client in clients:
        client.transport.send(WSMsgType.TEXT, command)
    expected = Counter.expected + 1  # the streams' seqs plus the "streaming" answer
    deadline = time.monotonic() + seconds * 4 + 5
    while time.monotonic() < deadline and any(c.frames < expected for c in clients):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    for client in clients:
        client.transport.disconnect()
    return clients


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("picows", "websockets"), default="picows")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=float, default=150_000, help="per connection, msg/s")
    parser.add_argument("--seconds", type=float, default=3.0, help="stream duration (<= 15)")
    parser.add_argument("--size", type=int, default=16, help="payload bytes")
    args = parser.parse_args()
    seconds = min(args.seconds, 15.0)  # a shared machine: keep the load short
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    with MockServerProcess(engine=args.engine, max_connections=args.connections + 10) as server:
        process = psutil.Process(server.pid)
        cpu_before, started = process.cpu_times(), time.perf_counter()
        clients = run(bench(server.uri, args.connections, args.rate, seconds, args.size))
        elapsed = time.perf_counter() - started
        cpu_after = process.cpu_times()
        stats = server.stats()
    frames = sum(c.frames - 1 for c in clients)  # less each "streaming" answer
    span = max(c.last for c in clients) - min(c.first for c in clients)
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / elapsed
    asked = args.connections * args.rate
    print(f"{args.engine} mock server, stream mode, {args.connections} connections x "
          f"{args.rate:,.0f} msg/s asked ({asked:,.0f} total) for {seconds:g} s, "
          f"payload {args.size} B:")
    server_span = max(c.last_ts for c in clients) - min(c.first_ts for c in clients)
    print(f"  server sent {stats['pushes_sent']:,} messages in {server_span:.3f} s (their ts) "
          f"= {stats['pushes_sent'] / server_span:,.0f} msg/s; "
          f"CPU {cpu:.0%} of one core over {elapsed:.1f} s")
    print(f"  clients counted {frames:,} messages in {span:.3f} s = {frames / span:,.0f} msg/s"
          f"{'' if frames == stats['pushes_sent'] else ' (not all arrived)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
