"""The load agent: `LoadAgentLibrary` served as a Robot Framework remote library.

    LOAD_AGENT_SECRET=... python -m WebSocketLoadLibrary agent --host 10.0.0.5 --port 8270
    ... agent --tls-cert agent.pem --tls-key agent.key    # https://, controller gets ca_file

It is robotremoteserver's server with these changes: every request must be signed with the
shared secret (see signing.py); requests are received by one thread that gives each client
`--request-timeout` seconds to send its whole request (request_intake.py), so idle or
half-sent connections cost no thread and cannot hold the agent; whole requests are served by
a fixed set of `--request-threads` threads (the keywords themselves run one at a time, so
more would only wait); and the port can speak TLS.
"""
from __future__ import annotations

import argparse
import io
import queue
import ssl
import sys
import threading
from xmlrpc.server import SimpleXMLRPCRequestHandler

from robotremoteserver import RobotRemoteServer, StoppableXMLRPCServer

from ..version import __version__
from .agent_library import LoadAgentLibrary
from .client import TLS_REQUIRED_REASON
from .request_intake import RequestIntake, WholeRequest
from .signing import DEFAULT_SECRET_ENV, HEADER, SecretError, Verifier, secret_from_env, \
    secret_from_file

MAX_REQUEST_BYTES = 16 << 20
DEFAULT_REQUEST_THREADS = 16
DEFAULT_REQUEST_TIMEOUT_S = 10.0   # the controller's own default call timeout: it has given up
REPLY_SEND_TIMEOUT_S = 30.0        # how long a client that stops reading holds a thread
ACCEPT_BACKLOG = 128               # socketserver's 5 would let a burst of connects stall the rest
_TLS_REQUIRED_BODY = b"this load agent speaks TLS: give its address as https://host:port\n"
HEALTH_PATH = "/healthz"           # unsigned GET: 200 while the agent serves (readiness probes)
_HEALTHY_BODY = b"ready\n"


def _log(text: str) -> None:
    # robotremoteserver captures sys.stdout/stderr while a keyword runs; the agent's own
    # lines go to the real stream
    print(text, file=sys.__stderr__, flush=True)


class SignedRequestHandler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")

    def __init__(self, request, client_address, server, received: bytes):
        self.received = received
        super().__init__(request, client_address, server)

    def setup(self):
        # the intake has read the whole request: parse it from memory, answer on the socket
        self.connection = self.request
        self.rfile = io.BytesIO(self.received)
        self.wfile = self.connection.makefile("wb")

    def do_POST(self):
        try:
            length = int(self.headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REQUEST_BYTES:
            self._refuse(413 if length > MAX_REQUEST_BYTES else 400, "bad request length")
            return
        super().do_POST()

    def do_GET(self):
        """``GET /healthz``: 200 once the agent serves (a readiness probe's answer); it
        needs no signature and tells nothing but that. Anything else: 501, as before."""
        if self.path.split("?", 1)[0] != HEALTH_PATH:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(_HEALTHY_BODY)))
        self.end_headers()
        self.wfile.write(_HEALTHY_BODY)

    def log_request(self, code="-", size="-"):
        if self.path != HEALTH_PATH:   # a probe every few seconds is not news
            super().log_request(code, size)

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


class SignedXMLRPCServer(StoppableXMLRPCServer):
    """Accepts on the serving thread, receives on the intake's, answers on a request thread."""
    request_queue_size = ACCEPT_BACKLOG

    def __init__(self, host: str, port: int, verifier: Verifier,
                 tls: ssl.SSLContext | None = None,
                 request_threads: int = DEFAULT_REQUEST_THREADS,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S):
        StoppableXMLRPCServer.__init__(self, host, port)
        self.RequestHandlerClass = SignedRequestHandler
        self.verifier, self.tls = verifier, tls
        self.request_threads, self.request_timeout_s = request_threads, request_timeout_s
        self._whole_requests: queue.SimpleQueue = queue.SimpleQueue()
        self._intake: RequestIntake | None = None

    def server_activate(self):
        super().server_activate()
        self._intake = RequestIntake(self._whole_requests.put, self.request_timeout_s,
                                     MAX_REQUEST_BYTES, self.tls, _log)
        for number in range(1, self.request_threads + 1):
            threading.Thread(target=self._answer_whole_requests, daemon=True,
                             name=f"agent-request-{number}").start()

    def process_request(self, request, client_address):
        self._intake.add(request, client_address)

    def server_close(self):
        super().server_close()
        if self._intake is not None:
            self._intake.close()
            for _ in range(self.request_threads):
                self._whole_requests.put(None)

    def _answer_whole_requests(self) -> None:
        while (request := self._whole_requests.get()) is not None:
            self._answer(request)

    def _answer(self, request: WholeRequest) -> None:
        try:
            request.sock.settimeout(REPLY_SEND_TIMEOUT_S)
            if request.plain_to_tls:
                _log(f"[agent] refused a plain-HTTP request from {request.address[0]}: this "
                     f"agent speaks TLS (https://)")
                request.sock.sendall(
                    f"HTTP/1.0 400 {TLS_REQUIRED_REASON}\r\nContent-Type: text/plain\r\n"
                    f"Content-Length: {len(_TLS_REQUIRED_BODY)}\r\n\r\n".encode()
                    + _TLS_REQUIRED_BODY)
            else:
                self.RequestHandlerClass(request.sock, request.address, self, request.data)
        except OSError:
            pass   # the client went away; nothing to answer
        except Exception:
            self.handle_error(request.sock, request.address)
        finally:
            self.shutdown_request(request.sock)


class LoadAgentServer(RobotRemoteServer):
    def __init__(self, library: LoadAgentLibrary, secret: str, host: str = "127.0.0.1",
                 port: int = 8270, port_file: str | None = None,
                 tls: ssl.SSLContext | None = None,
                 request_threads: int = DEFAULT_REQUEST_THREADS,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S):
        super().__init__(library, host, port, port_file=port_file, serve=False,
                         allow_remote_stop=False)
        self._server = SignedXMLRPCServer(host, int(port), Verifier(secret), tls,
                                          request_threads, request_timeout_s)
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
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="serve https:// with this certificate (PEM); controllers trust its "
                             "CA with Connect Load Agents ca_file=...")
    parser.add_argument("--tls-key", metavar="FILE",
                        help="the certificate's private key (PEM; default: in --tls-cert)")
    parser.add_argument("--request-threads", type=_at_least_one, metavar="N",
                        default=DEFAULT_REQUEST_THREADS,
                        help=f"requests answered at once (default {DEFAULT_REQUEST_THREADS}); "
                             f"waiting connections cost no thread")
    parser.add_argument("--request-timeout", type=_positive_seconds, metavar="SECONDS",
                        default=DEFAULT_REQUEST_TIMEOUT_S,
                        help=f"a client that has not sent its whole request this many seconds "
                             f"after connecting is dropped (default "
                             f"{DEFAULT_REQUEST_TIMEOUT_S:g}); the keyword it runs may take longer")
    args = parser.parse_args(argv)
    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key needs --tls-cert (the certificate it belongs to)")
    return args


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def server_tls_context(cert_file: str, key_file: str | None) -> ssl.SSLContext:
    """The agent's TLS context; ValueError saying which file is wrong and how."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as error:
        detail = f" ({error.reason})" if error.reason else ""   # else only "PEM lib"
        raise ValueError(f"--tls-cert {cert_file} and --tls-key {key_file or '(in the cert file)'} "
                         f"are not a PEM certificate and its private key{detail}") from None
    except OSError as error:
        raise ValueError(f"cannot read {error.filename or cert_file}: "
                         f"{error.strerror or error}") from None
    return context


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        secret = (secret_from_file(args.secret_file) if args.secret_file
                  else secret_from_env(args.secret_env))
    except SecretError as error:
        print(f"agent: {error}", file=sys.stderr)
        return 2
    try:
        tls = server_tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    except ValueError as error:
        print(f"agent: {error}", file=sys.stderr)
        return 2
    library = LoadAgentLibrary(args.name or None, args.loop)
    try:
        server = LoadAgentServer(library, secret, args.host, args.port, args.port_file, tls,
                                 args.request_threads, args.request_timeout)
        port = server.activate()
    except OSError as error:
        print(f"agent: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)
        library._shutdown()
        return 2
    name = library._name
    scheme, over = ("https", " over TLS") if tls else ("http", "")
    print(f"WebSocketLoadLibrary {__version__} load agent '{name}' ready at "
          f"{scheme}://{args.host}:{port} (Robot Framework remote library{over}; requests must "
          f"be signed with the shared secret; Ctrl+C stops)", flush=True)
    try:
        server.serve(log=False)
    finally:
        library._shutdown()
    print(f"load agent '{name}' stopped", flush=True)
    return 0
