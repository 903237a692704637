"""Replay of the engine's per-message Python, with no network: microseconds per message.

    .venv/bin/python bench/replay.py [--messages N] [--repeats N] [--against DIR]

Echoed replies are fed straight into the picows socket's frame callback (fake frames and a
fake transport that keeps what is sent), so what is timed is the engine's own Python: the
frame callback, matching, booking, latencies (into their histograms), rendering and the
hand-over to the transport -- for the closed loop (window 32) and the open loop (the pacer
with everything due, taking turns with the replies on one event loop). CPU time, best of
the repeats.

`--against DIR`: also time the package under DIR/libraries (e.g. a `git archive` of an
older commit), the two taking turns in this one process: on a shared VM whose speed moves
from second to second, only such interleaved figures compare two versions fairly.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(package_dir: Path, name: str):
    """Import the package at `package_dir` under the module name `name`."""
    target = Path(tempfile.mkdtemp(prefix="replay-")) / name
    shutil.copytree(package_dir, target)
    sys.path.insert(0, str(target.parent))
    return importlib.import_module(name)


def engine_module(name: str, *paths: str):
    """The first of `paths` (engine modules, newest layout first) that the tree has: the
    engine's modules moved into packages (transport/, step/, patterns/, ...) in time."""
    for path in paths:
        try:
            return importlib.import_module(f"{name}.engine.{path}")
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(f"none of {paths} in {name}.engine")


def timings(package, name: str, messages: int, protocol: str | None = None):
    engine = importlib.import_module(f"{name}.engine")
    # a protocol's requests are answered by its mock-server session's echo, outside the
    # time taken: what is timed is still the generator's side alone
    speaking = None if protocol in (None, "plain") else engine.protocol_named(protocol)
    picows_pool = engine_module(name, "transport.picows_pool", "picows_pool")
    picows_socket = engine_module(name, "transport.picows_socket", "picows_pool")
    pooled = engine_module(name, "transport.pooled_connection", "pool")
    step_module = engine_module(name, "step.load_step", "step")
    schedule_module = engine_module(name, "pacing.schedule", "schedule")
    text = picows_socket.TEXT if speaking is None or speaking.text else picows_socket.BINARY

    class Transport:
        is_close_frame_sent = False

        def __init__(self):
            self.out = []

        def send(self, kind, data):
            self.out.append(data)

    class Frame:
        __slots__ = ("msg_type", "fin", "last_in_buffer", "payload")

        def __init__(self, payload, last):
            self.msg_type, self.fin, self.last_in_buffer, self.payload = text, True, last, payload

        def get_payload_as_bytes(self):
            return self.payload

    def sockets(count=25):
        if speaking is None:
            pool = picows_pool.PicowsPool(engine.ConnectionOptions("ws://127.0.0.1:9/"))
        else:
            pool = picows_pool.PicowsPool(engine.ConnectionOptions("ws://127.0.0.1:9/",
                                                                   protocol=speaking))
        made = []
        for slot in range(count):
            ws = picows_socket.PicowsSocket(pool)
            ws.transport = Transport()
            ws.connection = pooled.PooledConnection(slot, ws)
            if speaking is not None:
                ws.connection.session = speaking.session(slot)
                ws.server = speaking.server_session(slot)
                for opening in ws.connection.session.start():   # CONNECT and the like
                    ws.server.receive(opening)
            made.append(ws)
        return pool, made

    def answers(server, request: bytes) -> list:
        """The mock server's answer to a request, as ProtocolServing makes it."""
        if server is None:
            return [request]
        framed = server.echo(request)
        if framed is None:
            action = server.receive(request)[0]
            assert action == "request", (action, request[:60])
            framed = server.reply(request, None)
        return [framed, *server.after_reply(request)]

    def receive_with(pool, connections, receiving):
        # older trees had one receiver behind the pool's `on_message`, newer ones per-
        # connection receivers the sockets call directly
        if hasattr(pool, "receive_with"):
            pool.receive_with(connections, receiving.frame_receivers)
        elif hasattr(receiving, "receiver") and hasattr(receiving, "sent_one"):
            pool.on_message = receiving.receiver(by_connection=True)
        else:
            pool.on_message = receiving.receiver()

    def echo(made):
        for ws in made:
            out, ws.transport.out = ws.transport.out, []
            last = len(out) - 1
            for i, message in enumerate(out):
                ws.on_ws_frame(ws.transport, Frame(message, i == last))

    def echo_speaking(made) -> float:
        """The replies of the protocol's server, made first: the CPU time of their delivery."""
        replies = []
        for ws in made:
            out, ws.transport.out = ws.transport.out, []
            frames = [frame for message in out
                      for frame in answers(getattr(ws, "server", None), message)]
            replies.append([Frame(frame, i == len(frames) - 1) for i, frame in enumerate(frames)])
        started = time.process_time()
        for ws, frames in zip(made, replies):
            for frame in frames:
                ws.on_ws_frame(ws.transport, frame)
        return time.process_time() - started

    # trees since the drivers (engine/open_loop.py, closed_loop.py, correlator.py) send
    # and match through them; older trees through LoadStep's own methods and a StepBook
    try:
        closed_module = engine_module(name, "patterns.closed_loop", "closed_loop")
        open_module = engine_module(name, "patterns.open_loop", "open_loop")
        recorder_module = engine_module(name, "step.recorder", "recorder")
        correlator_module = engine_module(name, "step.correlator", "correlator")
        bookkeeping = None
    except ImportError:
        closed_module = open_module = None
        bookkeeping = engine_module(name, "bookkeeping")

    def books(count, template, interval):
        """(what counts, what matches) of a step: one StepBook in older trees."""
        if bookkeeping is not None:
            book = bookkeeping.StepBook(count, template.id_extractor(), 1, 0.0, interval,
                                        template.id_fast_path())
            return book, book
        recorder = recorder_module.StepRecorder(scheduled=interval is not None)
        return recorder, correlator_module.ReplyCorrelator(
            recorder, count, template.id_extractor(), 1, 0.0, interval, template.id_fast_path())

    def closed_loop() -> float:
        pool, made = sockets()
        connections = [ws.connection for ws in made]
        template = engine.MessageTemplate(payload_size=32)
        plan = engine.LoadPlan(rate=None, messages=messages, window=32)
        if speaking is not None:
            template = speaking.request_template(template)
            template.bind(plan, connections)
        book, correlator = books(len(made), template, None)
        if speaking is not None:
            control = importlib.import_module(f"{name}.engine.transport.protocol_session")
            correlator.control = control.controller([(pool, connections)])
            if hasattr(correlator, "passed_over"):      # as the step sets it (newer trees)
                correlator.protocol_counts = pool.protocol_counts
        if closed_module is not None:
            closed = closed_module.ClosedLoopDriver(plan, template, 1, book, correlator,
                                                    pool.writer())
            closed.prepare(pool, connections)
            closed.begin(0.0)
            closed.fill_windows()
        else:
            step = step_module.LoadStep(pool, plan, template, 1)
            step.book = book
            closed = step_module._ClosedLoop(step, connections, 0.0)
            receive_with(pool, connections, closed)
            for ws in made:
                for _ in range(32):
                    closed._send(ws.connection)
        if protocol is not None:
            taken = 0.0
            while book.received < messages:
                taken += echo_speaking(made)
            return taken / messages * 1e6
        started = time.process_time()
        while book.received < messages:
            echo(made)
        book.close_second()  # the latencies into the histograms, as once a second in a step
        return (time.process_time() - started) / messages * 1e6

    def open_loop() -> float:
        pool, made = sockets()
        connections = [ws.connection for ws in made]
        template = engine.MessageTemplate(payload_size=32)
        plan = engine.LoadPlan(rate=1e9, messages=messages, pacing_timer="loop")
        schedule = schedule_module.OpenLoopSchedule(1e9, messages, 0.0)
        book, correlator = books(len(made), template, schedule.interval)
        if open_module is not None:
            driver = open_module.OpenLoopDriver(plan, template, 1, book, correlator,
                                                pool.writer())
            driver.prepare(pool, connections)
            driver.begin(0.0)
            sending = driver.run  # everything is due at once: the timer never runs
        else:
            step = step_module.LoadStep(pool, plan, template, 1)
            step.book = book
            receive_with(pool, connections, book)
            writer = pool.writer()
            senders = step._senders(writer, connections)

            def sending():
                return step._send_all(schedule, writer, made, senders, None)

        async def replies():
            while book.received < messages:
                echo(made)
                await asyncio.sleep(0)

        async def both():
            await asyncio.gather(sending(), replies())
        started = time.process_time()
        asyncio.run(both())
        book.close_second()
        return (time.process_time() - started) / messages * 1e6
    return closed_loop, open_loop


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=150_000)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--against", type=Path, help="a checkout (or git archive) to compare")
    parser.add_argument("--protocols", nargs="+", metavar="NAME",
                        help="the closed loop speaking each protocol (plain among them: the "
                             "baseline), its requests answered by the protocol's mock-server "
                             "session outside the time taken; ratios against plain")
    args = parser.parse_args(argv)
    if args.protocols:
        return protocols_main(args)
    versions = {"this": ROOT}
    if args.against:
        versions["against"] = args.against.resolve()
    runners = {}
    for label, root in versions.items():
        name = f"wsl_replay_{label}"
        runners[label] = timings(load(root / "libraries" / "WebSocketLoadLibrary", name), name,
                                 args.messages)
    best = {label: [float("inf"), float("inf")] for label in runners}
    for _ in range(args.repeats):
        for label, (closed_loop, open_loop) in runners.items():
            best[label][0] = min(best[label][0], closed_loop())
            best[label][1] = min(best[label][1], open_loop())
    print(f"us of Python per message, best of {args.repeats} ({args.messages} messages, 25 "
          "connections)")
    for label, (closed, opened) in best.items():
        print(f"{label:>8}  closed loop {closed:.3f}   open loop (send + receive) {opened:.3f}")
    return 0


def protocols_main(args) -> int:
    """The closed loop per protocol, the protocols taking turns; best of the repeats."""
    names = ["plain"] + [name for name in args.protocols if name != "plain"]
    package = load(ROOT / "libraries" / "WebSocketLoadLibrary", "wsl_replay_this")
    runners = {name: timings(package, "wsl_replay_this", args.messages, name)[0]
               for name in names}
    best = {name: float("inf") for name in names}
    for _ in range(args.repeats):
        for name, closed_loop in runners.items():
            best[name] = min(best[name], closed_loop())
    print(f"us of the generator's Python per reply, closed loop, best of {args.repeats} "
          f"({args.messages} messages, 25 connections, window 32); ratio = plain / protocol")
    for name, taken in best.items():
        print(f"{name:>12}  {taken:.3f} us   {best['plain'] / taken:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
