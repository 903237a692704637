"""The load agent: `LoadAgentLibrary` served as a Robot Framework remote library.

    LOAD_AGENT_SECRET=... python -m WebSocketLoadLibrary agent --host 10.0.0.5 --port 8270

It is robotremoteserver's server with two changes: every request must be signed with the
shared secret (see signing.py), and requests are served in threads, so one slow or hostile
client cannot hold the agent (the keywords themselves run one at a time).
"""
from __future__ import annotations

import argparse
import sys
from socketserver import ThreadingMixIn
from xmlrpc.server import SimpleXMLRPCRequestHandler

from robotremoteserver import RobotRemoteServer, StoppableXMLRPCServer

from .. import __version__
from .agent_library import LoadAgentLibrary
from .signing import DEFAULT_SECRET_ENV, HEADER, SecretError, Verifier, secret_from_env, \
    secret_from_file

MAX_REQUEST_BYTES = 16 << 20
REQUEST_SOCKET_TIMEOUT_S = 30


def _log(text: str) -> None:
    # robotremoteserver captures sys.stdout/stderr while a keyword runs; the agent's own
    # lines go to the real stream
    print(text, file=sys.__stderr__, flush=True)


class SignedRequestHandler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    timeout = REQUEST_SOCKET_TIMEOUT_S   # a half-sent request cannot hold a thread forever

    def do_POST(self):
        try:
            length = int(self.headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REQUEST_BYTES:
            self._refuse(413 if length > MAX_REQUEST_BYTES else 400, "bad request length")
            return
        super().do_POST()

    def decode_request_content(self, data):
        why = self.server.verifier.verify(self.headers.get(HEADER), self.path, data)
        if why is not None:
            self._refuse(403, why)
            return None
        return super().decode_request_content(data)

    def _refuse(self, code: int, why: str) -> None:
        _log(f"[agent] refused a request from {self.client_address[0]}: {why}")
        body = b"refused: the request is not signed with this agent's shared secret\n" \
            if code == 403 else b"refused\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        _log(f"[agent] {self.client_address[0]}: {format % args}")


class SignedXMLRPCServer(ThreadingMixIn, StoppableXMLRPCServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, verifier: Verifier):
        StoppableXMLRPCServer.__init__(self, host, port)
        self.RequestHandlerClass = SignedRequestHandler
        self.verifier = verifier


class LoadAgentServer(RobotRemoteServer):
    def __init__(self, library: LoadAgentLibrary, secret: str, host: str = "127.0.0.1",
                 port: int = 8270, port_file: str | None = None):
        super().__init__(library, host, port, port_file=port_file, serve=False,
                         allow_remote_stop=False)
        self._server = SignedXMLRPCServer(host, int(port), Verifier(secret))
        self._register_functions(self._server)
        self.library = library

    def _log(self, action, log=True, warn=False):
        pass  # the agent prints its own startup line, with the port actually bound


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m WebSocketLoadLibrary agent",
        description="Serve this machine's share of distributed load steps to a controller "
                    "suite (Robot Framework remote library, shared secret required).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; use the address the "
                             "controller reaches, e.g. 10.0.0.5)")
    parser.add_argument("--port", type=int, default=8270, help="default 8270; 0 picks a free one")
    parser.add_argument("--name", help="how results name this agent (default: host name)")
    parser.add_argument("--secret-env", default=DEFAULT_SECRET_ENV, metavar="NAME",
                        help=f"environment variable holding the shared secret "
                             f"(default {DEFAULT_SECRET_ENV})")
    parser.add_argument("--secret-file", metavar="FILE", help="read the shared secret from FILE")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop")
    parser.add_argument("--port-file", metavar="FILE", help="write the bound port to FILE")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        secret = (secret_from_file(args.secret_file) if args.secret_file
                  else secret_from_env(args.secret_env))
    except SecretError as error:
        print(f"agent: {error}", file=sys.stderr)
        return 2
    library = LoadAgentLibrary(args.name or None, args.loop)
    try:
        server = LoadAgentServer(library, secret, args.host, args.port, args.port_file)
        port = server.activate()
    except OSError as error:
        print(f"agent: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)
        library._shutdown()
        return 2
    name = library._name
    print(f"WebSocketLoadLibrary {__version__} load agent '{name}' ready at "
          f"http://{args.host}:{port} (Robot Framework remote library; requests must be "
          f"signed with the shared secret; Ctrl+C stops)", flush=True)
    try:
        server.serve(log=False)
    finally:
        library._shutdown()
    print(f"load agent '{name}' stopped", flush=True)
    return 0
