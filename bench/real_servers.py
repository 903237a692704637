"""Real servers benchmark: against the protocols' reference servers, is the library the limit?

    .venv/bin/python bench/real_servers.py [--seconds S] [--protocols socketio,stomp,...]

For each reference server the interoperability tests use (tests/support/reference_*.py:
npm socket.io and graphql-ws under node, RabbitMQ's Web STOMP, mosquitto with a websockets
listener; one skipped with the reason when it is not installed here), started on loopback:
25 connections of the engine (uvloop) run a closed-loop request->reply step (window 32 per
connection: Socket.IO acks, STOMP receipts, GraphQL results, MQTT QoS 1 PUBACKs) as fast as
the server answers. After a warm-up, over S seconds of steady state, it reads the CPU time
(user + system, psutil) of the server's process tree (node; RabbitMQ's beam.smp and its
children; mosquitto) and of this process (the generator: every thread of the engine), and
prints per protocol:

    per second    replies (for the push figures: messages arrived) counted by the engine
                  over the measured seconds
    server        the server tree's CPU seconds per second (1.00 = one core busy)
    gen           the generator's
    srv us, gen us CPU microseconds per reply on each side
    srv/gen       the two's ratio: above 1 the server spends more per reply than the
                  generator, so with a core each the server runs out first
    host          the whole machine's busy cores over the same seconds (others' work too)
    limit         "server": node and mosquitto run one thread, so the server is the limit
                  when it is near a core (>= 0.85) and the generator below it; RabbitMQ
                  runs a scheduler per core, so it is the limit when it burns more than
                  the generator while the generator is below a core. "generator" when the
                  generator is near a core and the server is not. When the machine's cores
                  were all busy (a shared machine: others' work too) and neither side
                  could reach a core, the verdict is by cost, "(by cost)": the server is
                  the limit when srv/gen is above 1 (above the core count for RabbitMQ,
                  which could use every core against the generator's one event loop).
                  Otherwise "neither".

Then, where it is cheap, one push figure per protocol with the server's own pacing or its
pub/sub: Socket.IO and GraphQL listen-only to a stream each connection asks for (the
server's timers pace it: 1 ms at best, ~1,000 msg/s a connection), STOMP and MQTT a
fan-out of one publisher's messages to the 25 connections subscribed (the broker's
fan-out), with the same CPU figures per message delivered. Those are paced (by the
server's timers, or the publisher's rate), not as fast as possible: their limit column
says "paced" and only their costs compare.

The generator's µs per reply is the library's cost; the server's is what one reply costs
the server. The library is not the limit when the server is near its core (or above the
generator) with the generator below it. The machine is shared: read the host column and
the load average (printed first) beside the figures.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libraries"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

import psutil  # noqa: E402
import pytest  # noqa: E402  (the support modules skip with pytest.skip: caught below)

from WebSocketLoadLibrary.engine import (ConnectionOptions, FanoutSpec, LoadEngine,  # noqa: E402
                                         LoadPlan, OpeningMessages,
                                         StreamSpec, protocol_named)

CONNECTIONS = 25
WINDOW = 32
WARMUP_S = 1.0
SERVER_NEAR_CORE = 0.85
GQL_ECHO = "query($payload: String) { echo(message: $payload) }"
GQL_TICKS = "subscription { ticks(rate: 1000) { seq ts } }"
GQL_NEWS = "subscription { messages(topic: \"news\") { message_id send_time payload } }"
GQL_PUBLISH = ("mutation($message_id: Int!, $send_time: Float, $payload: String) { publish("
               "topic: \"news\", message_id: $message_id, send_time: $send_time, "
               "payload: $payload) }")
STOMP_GUEST = {"login": "guest", "passcode": "guest"}


class Skip(Exception):
    """The server is not installed here (the reason)."""


# -- the reference servers, started and always stopped ---------------------------------

@contextmanager
def node_server(script: str, *arguments: str):
    """One of the npm reference servers under node (tests/support/servers/)."""
    from reference_servers import start_node
    try:
        server = start_node(script, *arguments)
    except pytest.skip.Exception as why:
        raise Skip(str(why)) from None
    try:
        yield server.uri, lambda: [server.process.pid]
    finally:
        server.stop()


def socketio_server():
    return node_server("socketio_server.js")


def graphql_server():
    return node_server("graphql_server.js", "--keep-alive-ms", "12000", "--ping-ms", "0",
                       "--garbage-every", "0", "--port", "0")


@contextmanager
def rabbitmq_server():
    import reference_stomp
    why = reference_stomp._why_not()
    if why:
        raise Skip(why)
    base = Path(tempfile.mkdtemp(prefix="websocketload-rabbitmq-"))
    node = reference_stomp.RabbitMQ(base)
    try:
        node.write_files()
        try:
            node.start()
        except pytest.fail.Exception as failed:       # the node exited while starting
            raise RuntimeError(str(failed)) from None
        # the start script's tree and the Erlang VM's (beam.smp: it writes its pid)
        yield node.uri, lambda: [p for p in (node.process.pid, node.pid) if p]
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def mosquitto_server():
    import reference_mqtt
    program = reference_mqtt._mosquitto()
    if program is None:
        raise Skip("mosquitto is not installed (tests/support/servers/install-mqtt.sh)")
    folder = Path(tempfile.mkdtemp(prefix="websocketload-mosquitto-"))
    broker = reference_mqtt.Mosquitto(program, folder)
    try:
        broker.start()
        yield broker.uri, lambda: [broker.pid]
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


# -- per protocol: the server, the request->reply options, the push figure ----------------

def request_options(name: str, uri: str) -> ConnectionOptions:
    protocol = {"socketio": lambda: protocol_named("socketio", event="echo"),
                "stomp": lambda: protocol_named("stomp", **STOMP_GUEST),
                "graphql-ws": lambda: protocol_named("graphql-ws", query=GQL_ECHO),
                "mqtt": lambda: protocol_named("mqtt")}[name]()
    return ConnectionOptions(uri, open_timeout_s=10.0, protocol=protocol)


PROTOCOLS = {"socketio": ("npm socket.io 4 (node)", socketio_server),
             "stomp": ("RabbitMQ Web STOMP (beam.smp)", rabbitmq_server),
             "graphql-ws": ("npm graphql-ws 6 (node)", graphql_server),
             "mqtt": ("mosquitto 2 websockets", mosquitto_server)}


# -- CPU over a window -------------------------------------------------------------------

def _tree_cpu(roots: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process in the trees under `roots`."""
    seen: dict[int, float] = {}
    for root in roots:
        try:
            top = psutil.Process(root)
            processes = [top, *top.children(recursive=True)]
        except psutil.Error:
            continue
        for process in processes:
            if process.pid in seen or process.pid == os.getpid():
                continue
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            seen[process.pid] = times.user + times.system
    return seen


class CpuWindow:
    """The server tree's, this process's and the host's CPU between `start()` and `stop()`."""

    def __init__(self, server_pids):
        self.server_pids = server_pids
        self.me = psutil.Process()

    def _sample(self):
        mine = self.me.cpu_times()
        host = psutil.cpu_times()
        return (time.perf_counter(), _tree_cpu(self.server_pids()), mine.user + mine.system,
                sum(host) - host.idle - getattr(host, "iowait", 0.0))

    def start(self) -> None:
        self.first = self._sample()

    def stop(self) -> dict:
        (t0, server0, me0, host0), (t1, server1, me1, host1) = self.first, self._sample()
        wall = t1 - t0
        server = sum(cpu - server0.get(pid, 0.0) for pid, cpu in server1.items())
        return {"wall_s": wall, "server_cores": server / wall, "gen_cores": (me1 - me0) / wall,
                "host_cores": (host1 - host0) / wall, "server_processes": len(server1)}


def measured(engine, pool, plan: LoadPlan, server_pids, seconds: float, template=None,
             roles=None, count=lambda progress: progress["received"]) -> dict:
    """Run the step; over `seconds` after the warm-up, what arrived and the CPU it took."""
    running = engine.start_step(pool, plan, template, roles=roles,
                                timeout_s=WARMUP_S + seconds + 30.0)
    window = CpuWindow(server_pids)
    time.sleep(WARMUP_S)
    before = count(running.progress())
    window.start()
    time.sleep(seconds)
    figures = window.stop()
    after = count(running.progress())
    result = running.wait()
    figures["count"] = after - before
    figures["rate"] = figures["count"] / figures["wall_s"]
    figures["result"] = result
    return figures


def limit(name: str, f: dict, cores: int) -> str:
    """Who runs out first: by the cores each side used, or -- when the machine's cores were
    all busy (others' work too) and neither side could reach one -- by CPU per reply."""
    server, gen = f["server_cores"], f["gen_cores"]
    threads = cores if name == "stomp" else 1     # RabbitMQ's schedulers: one per core
    if name == "stomp":
        if server > gen and gen < SERVER_NEAR_CORE:
            return "server"
    elif server >= SERVER_NEAR_CORE and gen < server:
        return "server"
    if gen >= SERVER_NEAR_CORE and server < SERVER_NEAR_CORE * threads:
        return "generator"
    if f["host_cores"] >= 0.9 * cores and f["count"]:
        # a core each: the generator's one event loop against the server's threads
        return ("server (by cost)" if cost_ratio(f) > threads else "generator (by cost)")
    return "neither"


def cost_ratio(f: dict) -> float:
    """The server's CPU per reply over the generator's (> 1: the server's core runs out
    first)."""
    return f["server_cores"] / f["gen_cores"] if f["gen_cores"] else float("inf")


def row(label: str, f: dict, verdict: str, unit: str) -> str:
    n = max(f["count"], 1)
    return (f"{label:>22} {f['rate']:>12,.0f} {unit:<10} {f['server_cores']:>6.2f} "
            f"{f['gen_cores']:>6.2f} {f['server_cores'] * f['wall_s'] / n * 1e6:>8.1f} "
            f"{f['gen_cores'] * f['wall_s'] / n * 1e6:>8.1f} {cost_ratio(f):>7.1f} "
            f"{f['host_cores']:>5.2f}  {verdict}")


# -- the push figures ----------------------------------------------------------------------

def push_figure(engine, name: str, uri: str, server_pids, seconds: float,
                fanout_rate: int) -> dict | None:
    if name in ("socketio", "graphql-ws"):      # listen-only: each connection's stream
        if name == "socketio":
            options = ConnectionOptions(uri, open_timeout_s=10.0,
                                        protocol=protocol_named("socketio", event="echo"),
                                        opening=OpeningMessages(['42["stream",{"rate":1000}]']))
        else:
            options = ConnectionOptions(uri, open_timeout_s=10.0, protocol=protocol_named(
                "graphql-ws", query=GQL_ECHO, subscription=GQL_TICKS))
        pool = engine.connect(options, count=CONNECTIONS)
        try:
            figures = measured(engine, pool, LoadPlan(duration_s=WARMUP_S + seconds,
                                                      listen=StreamSpec()),
                               server_pids, seconds)
        finally:
            engine.disconnect(pool)
        figures["label"] = "listen 25 streams"
        return figures
    # fan-out: one publisher, the 25 subscribed connections each get every message
    if name == "stomp":
        audience_options = dict(STOMP_GUEST, subscribe="/topic/fanout")
        # no heart-beats on the publisher: RabbitMQ 3.10's Web STOMP, flow-controlling a
        # fast publisher, crashes the connection's heart-beat receiver ("unexpected_message,
        # resume") and drops the connection (1006); without heart-beats there is none
        publisher_options = dict(STOMP_GUEST, destination="/topic/fanout", heart_beat="0,0")
    else:
        audience_options = {"subscribe": "load/fanout"}
        publisher_options = {"topic": "load/fanout"}
    audience = engine.connect(ConnectionOptions(uri, open_timeout_s=10.0, protocol=protocol_named(
        name, **audience_options)), count=CONNECTIONS)
    publisher = engine.connect(ConnectionOptions(uri, open_timeout_s=10.0, protocol=protocol_named(
        name, **publisher_options)), count=1)
    try:
        time.sleep(0.3)                     # the subscriptions reach the broker
        figures = measured(engine, publisher, LoadPlan(
            rate=fanout_rate, duration_s=WARMUP_S + seconds, reply_timeout_s=5.0,
            fanout=FanoutSpec()), server_pids, seconds, roles={"subscribers": audience},
            count=lambda progress: progress["received"])   # a fan-out's: deliveries
    finally:
        engine.disconnect(publisher)
        engine.disconnect(audience)
    figures["label"] = f"fan-out {fanout_rate}/s x25"
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="seconds measured per figure, after a 1 s warm-up")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help="a comma-separated subset of " + ", ".join(PROTOCOLS))
    parser.add_argument("--fanout-rate", type=int, default=400,
                        help="publishes/s of the STOMP and MQTT fan-out (each to 25)")
    parser.add_argument("--no-push", action="store_true", help="request->reply only")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.protocols.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        parser.error(f"unknown protocol(s) {unknown}: choose from {', '.join(PROTOCOLS)}")
    cores = psutil.cpu_count() or 1
    print(f"# real servers: {CONNECTIONS} connections, closed loop window {WINDOW}, "
          f"{args.seconds:g} s measured after {WARMUP_S:g} s; {cores} cores, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'protocol / step':>22} {'per second':>12} {'':<10} {'server':>6} {'gen':>6} "
          f"{'srv us':>8} {'gen us':>8} {'srv/gen':>7} {'host':>5}  limit")
    failures = 0
    engine = LoadEngine(loop_kind="uvloop")
    try:
        for name in names:
            title, server = PROTOCOLS[name]
            print(f"{name} -- {title}", flush=True)
            try:
                with server() as (uri, server_pids):
                    pool = engine.connect(request_options(name, uri), count=CONNECTIONS)
                    try:
                        f = measured(engine, pool, LoadPlan(
                            rate=None, duration_s=WARMUP_S + args.seconds, window=WINDOW),
                            server_pids, args.seconds)
                    finally:
                        engine.disconnect(pool)
                    result = f["result"]
                    print(row("request->reply", f, limit(name, f, cores), "replies"),
                          flush=True)
                    if result.lost or result.invalid_replies or result.connections_closed:
                        print(f"{'':>22} ! lost {result.lost}, invalid "
                              f"{result.invalid_replies}, closed {result.connections_closed}")
                    if not args.no_push:
                        p = push_figure(engine, name, uri, server_pids, args.seconds,
                                        args.fanout_rate)
                        if p is not None:
                            r = p["result"]
                            print(row(p["label"], p, "paced", "messages"),
                                  flush=True)
                            if r.lost or r.connections_closed:
                                print(f"{'':>22} ! lost {r.lost}, closed "
                                      f"{r.connections_closed}")
            except Skip as why:
                print(f"{'':>22} skipped: {why}")
            except Exception as error:       # noqa: BLE001 - the next server still runs
                failures += 1
                print(f"{'':>22} FAILED: {type(error).__name__}: {error}")
    finally:
        engine.close()
    print("# load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
