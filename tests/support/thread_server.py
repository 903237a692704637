"""A websockets server on an event loop of its own in a thread: for tests that need a server
speaking a protocol of their own (a chat room, a stream, topics), in this process."""
from __future__ import annotations

import asyncio
import threading

from websockets.asyncio.server import serve


class ThreadServer:
    """Serves `handle(ws)` (a subclass's) on 127.0.0.1 at `uri` until `close()`. A subclass
    sets what `handle` reads before calling `super().__init__()`."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.uri = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _start(self):
        return await serve(self.handle, "127.0.0.1", 0)

    async def handle(self, ws) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.close()
        asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
