"""Run the mock server: `python -m WebSocketLoadLibrary.mockserver --port 0`.

Prints one JSON line `{"event": "ready", "uri": ..., ...}` on stdout once it listens.
The bearer token is read from the environment variable named by --auth-token-env
(default MOCKSERVER_AUTH_TOKEN), never from the command line, where `ps` would show it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import threading

from .constants import AUTH_TOKEN_ENV
from .core import CONTROL_PATH
from .faults import FAULTS, Faults, FaultError
from .multiprocess import StdinControl
from .pushes import OptionError, PushOptions
from .server import MockServer


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m WebSocketLoadLibrary.mockserver",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 only if you mean it)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--mode", choices=("echo", "ack"), default="echo")
    parser.add_argument("--max-connections", type=int, default=1000)
    parser.add_argument("--auth-token-env", default=AUTH_TOKEN_ENV, metavar="NAME",
                        help="require 'Authorization: Bearer <token>' with the token from $NAME")
    parser.add_argument("--require-auth", action="store_true",
                        help="fail at start if the token variable is empty")
    parser.add_argument("--certfile", help="serve wss:// with this certificate (PEM)")
    parser.add_argument("--keyfile", help="private key of --certfile (PEM)")
    parser.add_argument("--id-field", default="message_id", help="JSON id field (ack mode)")
    parser.add_argument("--no-compression", action="store_true",
                        help="refuse permessage-deflate")
    parser.add_argument("--max-size", type=int, default=1 << 20, help="max message bytes")
    parser.add_argument("--open-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="time a client gets to finish its opening handshake")
    parser.add_argument("--subprotocol", action="append", dest="subprotocols", default=[],
                        metavar="NAME", help="a subprotocol to accept (repeatable)")
    parser.add_argument("--protocol", default="plain", metavar="NAME",
                        help="the protocol spoken over WebSocket: plain (default) or "
                             "socketio, ... (engine/protocols/)")
    parser.add_argument("--protocol-option", action="append", dest="protocol_options",
                        default=[], metavar="NAME=VALUE",
                        help="an option of the protocol's server side, e.g. "
                             "ping_interval_s=1 (repeatable)")
    faults = parser.add_argument_group(
        "faults", "what the server does wrong on purpose, each off at 0 (declared in "
        "mockserver/fault_declarations.py; changed while it runs by its control endpoint)")
    for fault in FAULTS:
        faults.add_argument(fault.flag, type=fault.kind.number, default=fault.default,
                            metavar=fault.kind.unit, help=fault.help)
    parser.add_argument("--seed", type=int, default=None, help="seed of drop/garble choices")
    parser.add_argument("--replies", type=int, default=1, metavar="N",
                        help="replies per message: N acks (partial, ..., done) or N echoes")
    parser.add_argument("--heartbeat", type=float, default=0.0, metavar="SECONDS",
                        help='push {"type":"heartbeat","ts":...} to every connection this '
                             "often (0: off)")
    parser.add_argument("--welcome", action="store_true",
                        help='push {"type":"welcome","connection":N} after each handshake')
    parser.add_argument("--engine", choices=("websockets", "picows"), default="websockets",
                        help="websockets (every feature) or picows (several times faster; "
                             "no compression, no subprotocols)")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin closes (the parent's lifeline)")
    parser.add_argument("--control-stdin", action="store_true",
                        help="also take control requests as JSON lines on stdin, answered on "
                             "stdout (a server of several processes: multiprocess.py)")
    parser.add_argument("--reuse-port", action="store_true",
                        help="listen with SO_REUSEPORT, so that more processes of this server "
                             "can serve the same port")
    parser.add_argument("--parent-pid", type=int, default=0,
                        help="stop when this process is gone")
    return parser.parse_args(argv)


def _protocol_options(pairs: list[str]) -> dict:
    """`NAME=VALUE` pairs, the values as numbers where they read as one."""
    options = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"mock server: --protocol-option takes NAME=VALUE, got {pair!r}")
        try:
            options[name] = float(value)
        except ValueError:
            options[name] = value
    return options


def _watch_stdin(loop, stop: asyncio.Event) -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    loop.call_soon_threadsafe(stop.set)


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    # A dead parent may linger as a zombie, but its children are reparented at once.
    was_parent = os.getppid() == pid
    while not stop.is_set():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop.set()
        except PermissionError:
            pass
        if was_parent and os.getppid() != pid:
            stop.set()
        await asyncio.sleep(0.5)


async def main(args: argparse.Namespace) -> int:
    token = os.environ.get(args.auth_token_env) or None
    if args.require_auth and not token:
        print(f"mock server: --require-auth but ${args.auth_token_env} is empty", file=sys.stderr)
        return 2
    faults = Faults(seed=args.seed)
    try:
        faults.update(**{fault.name: getattr(args, fault.name) for fault in FAULTS})
        options = PushOptions(replies=args.replies, heartbeat_interval=args.heartbeat,
                              welcome=args.welcome)
    except (FaultError, OptionError) as error:
        print(f"mock server: {error}", file=sys.stderr)
        return 2
    control_key = secrets.token_urlsafe(16)
    server_class = MockServer
    if args.engine == "picows":
        from .picows_server import PicowsMockServer as server_class
    try:
        server = server_class(host=args.host, port=args.port, mode=args.mode,
                              max_connections=args.max_connections, auth_token=token,
                              certfile=args.certfile, keyfile=args.keyfile, id_field=args.id_field,
                              faults=faults, control_key=control_key,
                              compression=not args.no_compression, max_size=args.max_size,
                              subprotocols=args.subprotocols, open_timeout_s=args.open_timeout,
                              options=options, protocol=args.protocol,
                              protocol_options=_protocol_options(args.protocol_options))
    except ValueError as error:
        print(f"mock server: {error}", file=sys.stderr)
        return 2
    server.reuse_port = args.reuse_port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        uri = await server.start()
    except OSError as error:
        print(f"mock server: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    if args.control_stdin:
        threading.Thread(target=StdinControl(server, loop, stop).read, daemon=True).start()
    elif args.exit_on_stdin_eof:
        threading.Thread(target=_watch_stdin, args=(loop, stop), daemon=True).start()
    if args.parent_pid:
        loop.create_task(_watch_parent(args.parent_pid, stop))
    ready = {"event": "ready", "uri": uri, "pid": os.getpid(), "mode": args.mode,
             "control_uri": f"{uri}{CONTROL_PATH}?key={control_key}",
             "auth": bool(token), "tls": bool(args.certfile), "engine": args.engine,
             "loop": type(loop).__module__.split(".")[0], "port": server.port}
    print(json.dumps(ready), flush=True)
    stopped = loop.create_task(server.stopped.wait())
    await asyncio.wait([loop.create_task(stop.wait()), stopped],
                       return_when=asyncio.FIRST_COMPLETED)
    if not server.stopped.is_set():
        await server.stop()
    stats = {**server.stats.as_dict(), "topics": server.stats.topics_as_dict()}
    print(json.dumps({"event": "stopped", "stats": stats}), flush=True)
    return 0


def _raise_open_file_limit() -> None:
    """Every connection is a descriptor; the soft limit is often 1024, the hard one more."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def run(argv=None) -> int:
    args = parse_args(argv)
    _raise_open_file_limit()
    if args.loop in ("auto", "uvloop"):
        try:
            import uvloop
            return uvloop.run(main(args))
        except ImportError:
            if args.loop == "uvloop":
                print("mock server: uvloop is not installed", file=sys.stderr)
                return 2
    return asyncio.run(main(args))


if __name__ == "__main__":
    sys.exit(run())
