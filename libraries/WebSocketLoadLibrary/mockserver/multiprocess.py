"""A mock server of several processes on one port, as one server.

One process holds at most its open-file limit of connections (20,000 here, a hard limit)
and uses one core; so for 100,000 connections the library starts more processes of the
same server on the same port (SO_REUSEPORT: the kernel spreads new connections over them)
and keeps them one server to the user (process.py's MockServerProcess):

- control goes to each process over its own stdin and stdout (a JSON line each way):
  through the shared port a control connection would reach any one of them. The stats are
  summed over the processes (`summed_stats`), faults, options, restarts and resets go to
  every one;
- a publish (the push protocol) reaches the subscribers of every process: the process it
  arrived at tells the parent (a `publish` line), which hands it to the others (`relay`),
  each delivering it to its own subscribers. It is counted published once, where it came.

This module is the process's side of that (`StdinControl`) and the sums.
"""
from __future__ import annotations

import base64
import sys

import orjson


class StdinControl:
    """Reads control lines from stdin (on a thread of its own) and carries each out on the
    server's loop: `{"id": n, "op": ...}` is a control request answered on stdout as
    `{"event": "control", "id": n, "answer": {...}}`; `{"relay": topic, ...}` a publish of
    another process to deliver here; `{"relaying": true}` has this process report its
    publishes. End of input stops the server (the parent's lifeline)."""

    def __init__(self, server, loop, stop):
        self.server, self.loop, self.stop = server, loop, stop
        if server.engine == "picows":
            self.flush = lambda exchange: exchange.peer.flush()
        else:
            from .server import _flush
            self.flush = lambda exchange: _flush(exchange.peer)

    def read(self) -> None:
        try:
            for line in sys.stdin.buffer:
                if line.strip():
                    self.loop.call_soon_threadsafe(self.handle, line)
        except (OSError, ValueError):
            pass
        self.loop.call_soon_threadsafe(self.stop.set)

    def handle(self, line: bytes) -> None:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if "relay" in message:
            self.deliver(message["relay"], _payload(message), bool(message.get("text")))
        elif "relaying" in message:
            self.server.commands.on_publish = self.report if message["relaying"] else None
        elif "op" in message:
            answer, shutdown = self.server.control(orjson.dumps(
                {k: v for k, v in message.items() if k != "id"}))
            _say({"event": "control", "id": message.get("id"), "answer": orjson.loads(answer)})
            if shutdown:
                self.stop.set()

    def report(self, topic: str, message, kind) -> None:
        """A publish that came here, for the other processes."""
        data = message.encode() if isinstance(message, str) else bytes(message)
        _say({"event": "publish", "relay": topic, "text": kind == self.server.text_kind,
              "b64": base64.b64encode(data).decode()})

    def deliver(self, topic: str, data: bytes, text: bool) -> None:
        server = self.server
        kind = server.text_kind if text else server.binary_kind
        deliveries = server.topics.publish(None, topic)
        counts = server.stats.topic(topic)
        counts.published -= 1          # counted where it was published
        if not deliveries:
            counts.unheard -= 1
        for subscriber, delay_s, topic_counts in deliveries:
            subscriber.deliver(kind, data, topic_counts, delay_s)
        for subscriber, _, _ in deliveries:
            self.flush(subscriber)


def _payload(message: dict) -> bytes:
    return base64.b64decode(message.get("b64", ""))


def _say(data: dict) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()


def summed_stats(parts: list[dict]) -> dict:
    """One server's stats from its processes': counters added up (a peak too: the peaks of
    the processes need not fall together, so it is an upper bound), the topics' counts
    added up per topic, faults and options those of the first (every process has the same)."""
    if not parts:
        return {}
    total: dict = {}
    for part in parts:
        _add(total, part)
    for key in ("faults", "options", "pid"):
        if key in parts[0]:
            total[key] = parts[0][key]
    if "uptime_s" in parts[0]:
        total["uptime_s"] = max(part.get("uptime_s", 0) for part in parts)
    total["pids"] = [part.get("pid") for part in parts]
    total["processes"] = len(parts)
    return total


def _add(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, bool) or key in ("faults", "options"):
            total.setdefault(key, value)
        elif isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        else:
            total.setdefault(key, value)
