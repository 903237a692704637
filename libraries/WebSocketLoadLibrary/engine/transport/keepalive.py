"""Keep-alive pings of a picows pool: one task for every connection of the pool.

picows' own keep-alive is a task, a future and a timer per connection: about 2 KB each,
a fifth of what an idle connection costs. Here one task wakes every TICK_S and pings the
connections whose turn it is, so that each is pinged once every `interval_s`, spread evenly
over the interval (100,000 connections every 20 s: 500 pings a tick). A connection whose
pong has not come by its next turn (at least `timeout_s` after its ping) is closed with
1001 going away, as picows would close it. Pings go to every connection in turn, busy or
idle, as the websockets transport's do.
"""
from __future__ import annotations

import asyncio
import time

from picows import WSCloseCode

TICK_S = 0.1


class KeepAlive:
    def __init__(self, pool, interval_s: float, timeout_s: float | None):
        self.pool, self.interval_s = pool, interval_s
        self.timeout_s = min(timeout_s or interval_s, interval_s)
        self.task: asyncio.Task | None = None
        self.pings = self.timeouts = 0

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        cursor = 0.0      # how far through the connections this interval's turns are
        while True:
            await asyncio.sleep(TICK_S)
            connections = self.pool.connections
            count = len(connections)
            if not count:
                continue
            start = int(cursor) % count
            cursor = start + cursor % 1 + count * TICK_S / self.interval_s
            now = time.monotonic()
            for connection in connections[start:int(cursor)]:
                self.ping(connection.ws, now)
            if int(cursor) > count:      # the turns wrapped round to the first ones
                for connection in connections[:int(cursor) - count]:
                    self.ping(connection.ws, now)

    def ping(self, ws, now: float) -> None:
        if ws.closed or ws.transport is None or ws.transport.is_close_frame_sent:
            return
        if ws.pinged_at:
            if now - ws.pinged_at >= self.timeout_s:
                self.timeouts += 1
                ws.transport.send_close(WSCloseCode.GOING_AWAY, f"no pong within {self.timeout_s:g} s "
                                        f"of a keep-alive ping".encode())
                ws.transport.disconnect(False)
            return
        ws.pinged_at = now
        ws.transport.send_ping()
        self.pings += 1
