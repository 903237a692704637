"""Protocols benchmark: what speaking a protocol over WebSocket costs the generator.

    .venv/bin/python bench/protocols.py [--messages N] [--repeats N] [--seconds S]

Against the picows mock server speaking each protocol (one server per protocol, all started
first), the engine's closed loop over 25 connections (window 32) and a listen-only sink of a
stream the server pushes, each protocol's figure printed as a ratio against plain JSON
messages measured beside it: each protocol's step between two of plain's, its ratio against
their mean (the machine is shared and noisy: ratios hold where absolute figures drift).
Medians of the repeats. The aim: request-reply and the sink each at least 0.7x plain.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from WebSocketLoadLibrary.engine import (PROTOCOLS, ConnectionOptions, LoadEngine,  # noqa: E402
                                         LoadPlan, OpeningMessages, StreamSpec,
                                         protocol_named)
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402

CONNECTIONS = 25
STREAM_COMMAND = '{"op":"stream","rate":%d,"duration":600}'


def stream_opening(name: str, rate: int) -> tuple[OpeningMessages | None, dict]:
    """How a connection of the protocol asks the mock server for its stream: the push
    protocol's command in the protocol's framing, and the protocol's options it needs."""
    command = STREAM_COMMAND % rate
    if name == "plain":
        return OpeningMessages([command], '"op":"streaming"'), {}
    if name == "socketio":
        return OpeningMessages([f'42["stream",{command}]'], '"op":"streaming"'), {}
    if name == "stomp":
        return None, {"subscribe": "/topic/stream", "opening": (
            f"SEND\ndestination:/topic/stream\ncontent-type:application/json\n\n{command}\0")}
    if name == "mqtt":      # its handshake publishes the command, once subscribed
        return None, {"subscribe": "wsload/stream", "opening_publish": command}
    return None, {}


def protocols_to_measure() -> list[str]:
    """Every protocol whose mock-server side exists (a ServerSession of its own)."""
    names = []
    for name, cls in sorted(PROTOCOLS.items()):
        if name == "plain" or cls.server_session.__func__ is not PROTOCOLS[
                "plain"].server_session.__func__:
            names.append(name)
    return ["plain"] + [n for n in names if n != "plain"]


def request_reply(engine, uri: str, name: str, messages: int) -> float:
    protocol = None if name == "plain" else protocol_named(name)
    pool = engine.connect(ConnectionOptions(uri, protocol=protocol), count=CONNECTIONS)
    try:
        result = engine.run_step(pool, LoadPlan(rate=None, messages=messages, window=32))
        assert result.received == messages, (name, result.received, messages)
        return result.achieved_receive_rate
    finally:
        engine.disconnect(pool)


def sink(engine, uri: str, name: str, seconds: float, rate: int,
         checked: bool = False) -> float | None:
    opening, extra = stream_opening(name, rate)
    said = extra.pop("opening", None)
    if name != "plain" and opening is None and said is None and not extra:
        return None
    protocol = None if name == "plain" else protocol_named(name, **extra)
    if said is not None:
        opening = OpeningMessages([said])
    pool = engine.connect(ConnectionOptions(uri, protocol=protocol, opening=opening),
                          count=CONNECTIONS)
    try:
        spec = (StreamSpec(sequence_field="seq", timestamp_field="ts") if checked
                else StreamSpec())
        result = engine.run_step(pool, LoadPlan(duration_s=seconds, listen=spec))
        return result.achieved_receive_rate
    finally:
        engine.disconnect(pool)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--stream-rate", type=int, default=20_000,
                        help="messages/s each connection's stream is asked for (the default "
                             "asks 500,000/s in all: a sink that keeps up reads 1.00)")
    parser.add_argument("--checked", action="store_true",
                        help="the sink reads each message's seq and ts (missing, duplicate "
                             "and stale messages counted), as a listen-only test does")
    args = parser.parse_args(argv)
    names = protocols_to_measure()
    servers = {name: MockServerProcess(engine="picows", compression=False, max_size=1 << 20,
                                       protocol=None if name == "plain" else name)
               for name in names}
    engine = LoadEngine(loop_kind="uvloop")
    try:
        for server in servers.values():
            server.start()
        print(f"# protocols: {CONNECTIONS} connections, picows mock server per protocol, "
              f"medians of {args.repeats}; ratio = protocol / plain JSON beside it")
        print(f"{'protocol':>12} {'req/reply msg/s':>16} {'ratio':>6} {'sink msg/s':>12} "
              f"{'ratio':>6}")
        # each protocol's step is bracketed by plain's (plain, A, plain, B, plain, ...) and
        # its ratio is against the mean of the two plain steps beside it: the machine's
        # speed drifts within a round, and a baseline measured once a round leaned the
        # ratios of the protocols measured last by as much as 0.2
        rates = {name: ([], []) for name in names}
        ratios = {name: ([], []) for name in names}
        for _ in range(args.repeats):
            for column, measure in enumerate((
                    lambda name: request_reply(engine, servers[name].uri, name, args.messages),
                    lambda name: sink(engine, servers[name].uri, name, args.seconds,
                                      args.stream_rate, args.checked))):
                before = measure("plain")
                rates["plain"][column].append(before)
                for name in names[1:]:
                    rate = measure(name)
                    if rate is None:
                        continue
                    after = measure("plain")
                    rates[name][column].append(rate)
                    rates["plain"][column].append(after)
                    ratios[name][column].append(rate / ((before + after) / 2))
                    before = after
                    print(f"  ({name} {('req/reply', 'sink')[column]}: {rate:,.0f} msg/s, "
                          f"{ratios[name][column][-1]:.2f} of plain beside it)",
                          file=sys.stderr, flush=True)
        for name in names:
            shown = []
            for column in (0, 1):
                if not rates[name][column]:
                    shown += ["-", "-"]
                    continue
                shown.append(f"{statistics.median(rates[name][column]):,.0f}")
                shown.append("1.00" if name == "plain"
                             else f"{statistics.median(ratios[name][column]):.2f}")
            print(f"{name:>12} {shown[0]:>16} {shown[1]:>6} {shown[2]:>12} {shown[3]:>6}")
    finally:
        engine.close()
        for server in servers.values():
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
