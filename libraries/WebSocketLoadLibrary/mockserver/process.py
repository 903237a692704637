"""Starts the mock server in its own process and never leaks it.

The child announces its real port on one ready line (no find-a-free-port race), exits when
our end of its stdin closes (so also when this process dies), and `stop` escalates from
a polite close to SIGTERM to SIGKILL. Every handle still running at exit is stopped.
"""
from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path

from ..errors import RunError
from .constants import AUTH_TOKEN_ENV
from .control import MockServerControl
from .fault_declarations import command_line
from .multiprocess import summed_stats

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_running: "weakref.WeakSet[MockServerProcess]" = weakref.WeakSet()


class MockServerError(RunError):
    pass


class MockServerProcess:
    """Handle of one mock server process. `start()` returns its ws:// or wss:// URI."""

    def __init__(self, mode: str = "echo", max_connections: int = 1000,
                 auth_token: str | None = None, certfile: str | None = None,
                 keyfile: str | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 seed: int | None = None, compression: bool = True,
                 id_field: str = "message_id", loop: str = "auto", max_size: int = 1 << 20,
                 subprotocols: list[str] | None = None, open_timeout_s: float = 10.0,
                 startup_timeout_s: float = 15.0, engine: str = "websockets",
                 replies: int = 1, heartbeat: float = 0.0, welcome: bool = False,
                 protocol: str | None = None, protocol_options: dict | None = None,
                 extra_args: list[str] | None = None, processes: int = 1, **faults):
        """`faults`: any fault of fault_declarations.FAULTS by name (``response_delay=0.05``),
        checked here: an unknown name or a bad value raises FaultError before any start.
        `processes`: how many processes serve the port from the start (`hold` adds more
        when a count asks for them; multiprocess.py)."""
        if processes < 1:
            raise MockServerError(f"processes must be at least 1, got {processes}")
        self.wanted_processes = processes
        self.siblings: list[MockServerProcess] = []   # more processes on the same port
        self._leader: MockServerProcess | None = None
        self._requests = itertools.count(1)
        self._answers: queue.Queue = queue.Queue()
        self._stdin_lock = threading.Lock()
        self._args = [
            "--host", host, "--port", str(port), "--mode", mode,
            "--max-connections", str(max_connections), "--id-field", id_field,
            "--loop", loop, "--exit-on-stdin-eof", "--control-stdin",
            "--parent-pid", str(os.getpid()),
            "--max-size", str(int(max_size)), "--open-timeout", repr(float(open_timeout_s)),
            "--engine", engine, "--replies", str(int(replies)),
            "--heartbeat", repr(float(heartbeat)),
            *command_line(faults),
        ]
        if welcome:
            self._args.append("--welcome")
        if protocol:
            self._args += ["--protocol", protocol]
        for name, value in (protocol_options or {}).items():
            self._args += ["--protocol-option", f"{name}={value}"]
        for name in subprotocols or []:
            self._args += ["--subprotocol", name]
        if seed is not None:
            self._args += ["--seed", str(seed)]
        if not compression:
            self._args.append("--no-compression")
        if certfile:
            self._args += ["--certfile", certfile, "--keyfile", keyfile or certfile]
        if auth_token:
            self._args.append("--require-auth")
        if port == 0 or processes > 1:
            # a port of the system's choice is free: more processes may join it later
            self._args.append("--reuse-port")
        self._args += list(extra_args or [])
        self._auth_token = auth_token
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.ready: dict = {}
        self.final_stats: dict | None = None
        self._lines: queue.Queue = queue.Queue()
        self._stderr = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> str:
        if self.running:
            raise MockServerError(f"mock server already running at {self.uri}")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
        env.pop(AUTH_TOKEN_ENV, None)
        if self._auth_token:
            env[AUTH_TOKEN_ENV] = self._auth_token
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "WebSocketLoadLibrary.mockserver", *self._args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        _running.add(self)
        threading.Thread(target=self._read_stdout, args=(self.process.stdout,),
                         name="mockserver-stdout", daemon=True).start()
        try:
            line = self._lines.get(timeout=self.startup_timeout_s)
        except queue.Empty:
            self.stop()
            raise MockServerError(
                f"mock server did not report ready within {self.startup_timeout_s} s"
                f"{self._stderr_tail()}") from None
        if line is None or line.get("event") != "ready":
            code = self.process.wait(timeout=5)
            tail = self._stderr_tail()  # read before stop() closes the file
            self.stop()
            raise MockServerError(f"mock server exited with code {code} before it was ready"
                                  f"{tail}")
        self.ready = line
        if self.wanted_processes > 1:
            self.grow(self.wanted_processes)
        return self.uri

    def _read_stdout(self, stream) -> None:
        for raw in stream:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            event = message.get("event")
            if event == "stopped":
                self.final_stats = message.get("stats")
            elif event == "control":
                self._answers.put(message)
                continue
            elif event == "publish":
                (self._leader or self).relay(self, message)
                continue
            self._lines.put(message)
        self._lines.put(None)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return f": {text[-2000:]}" if text else ""

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Stop the process (close stdin, then SIGTERM, then SIGKILL), and the others of
        the server first. Returns its exit code."""
        siblings, self.siblings = self.siblings, []
        for sibling in siblings:
            sibling.stop(timeout_s)
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=timeout_s)
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        _running.discard(self)
        return process.returncode

    def __enter__(self) -> "MockServerProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- facts -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def uri(self) -> str:
        return self.ready.get("uri", "")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def pids(self) -> list[int]:
        """Every process of the server."""
        return [self.pid] + [sibling.pid for sibling in self.siblings]

    @property
    def processes(self) -> int:
        return 1 + len(self.siblings)

    # -- several processes (multiprocess.py) -------------------------------------------
    def hold(self, connections: int) -> int:
        """Enough processes for `connections` connections (each process at most its
        open-file hard limit of them, 5% kept spare); returns how many serve now."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        each = (hard if hard != resource.RLIM_INFINITY else 1 << 20) - 256
        wanted = max(1, math.ceil(connections * 1.05 / max(1, each)))
        if wanted > self.processes:
            self.grow(wanted)
        return self.processes

    def grow(self, processes: int) -> None:
        """Start processes of this server on its port until there are `processes`."""
        if "--reuse-port" not in self._args:
            raise MockServerError(f"the mock server at {self.uri} listens on a port it was "
                                  f"given without SO_REUSEPORT: start it with processes="
                                  f"{processes} to have that many serve it")
        args = list(self._args)
        args[args.index("--port") + 1] = str(self.ready.get("port") or self.uri.rsplit(":", 1)[1])
        while self.processes < processes:
            sibling = MockServerProcess(extra_args=[], startup_timeout_s=self.startup_timeout_s)
            sibling._args, sibling._auth_token, sibling._leader = args, self._auth_token, self
            sibling.start()
            self.siblings.append(sibling)
        for member in self._members():
            member._write({"relaying": True})

    def _members(self) -> list["MockServerProcess"]:
        return [self] + self.siblings

    def relay(self, origin: "MockServerProcess", message: dict) -> None:
        """A publish that came to `origin`, for the subscribers of the other processes."""
        line = {"relay": message["relay"], "text": message.get("text"), "b64": message["b64"]}
        for member in self._members():
            if member is not origin:
                member._write(line)

    def _write(self, data: dict) -> None:
        with self._stdin_lock:
            try:
                self.process.stdin.write(json.dumps(data).encode() + b"\n")
                self.process.stdin.flush()
            except (OSError, ValueError, AttributeError):
                pass

    def _ask(self, op: str, timeout_s: float = 10.0, **fields) -> dict:
        """One control request over this process's stdin; its answer."""
        ident = next(self._requests)
        self._write({"id": ident, "op": op, **fields})
        while True:
            try:
                message = self._answers.get(timeout=timeout_s)
            except queue.Empty:
                raise MockServerError(f"mock server process {self.pid} did not answer {op} "
                                      f"within {timeout_s:g} s") from None
            if message.get("id") == ident:
                answer = message.get("answer") or {}
                if not answer.get("ok"):
                    raise MockServerError(f"mock server refused {op}: {answer.get('error')}")
                return answer

    @property
    def control(self):
        if not self.ready:
            raise MockServerError("mock server is not started")
        if self.siblings:
            return GroupControl(self._members())
        ssl_context = None
        if self.uri.startswith("wss://"):
            import ssl
            ssl_context = ssl.create_default_context()
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE  # our own child on loopback
        return MockServerControl(self.ready["control_uri"], ssl_context=ssl_context)

    def stats(self) -> dict:
        return self.control.stats()

    def set_faults(self, **faults) -> dict:
        return self.control.set_faults(**faults)

    def clear_faults(self) -> dict:
        return self.control.clear_faults()

    def set_options(self, **options) -> dict:
        return self.control.set_options(**options)

    def restart(self, after: float = 0.0, down_for: float = 0.0) -> int:
        return self.control.restart(after=after, down_for=down_for)


class GroupControl:
    """MockServerControl's surface over every process of a server (their stdin): stats
    summed, everything else done by each."""

    def __init__(self, members: list[MockServerProcess]):
        self.members = members

    def request(self, op: str, **fields) -> list[dict]:
        return [member._ask(op, **fields) for member in self.members]

    def stats(self) -> dict:
        parts = [{**answer["stats"], "faults": answer["faults"], "options": answer["options"],
                  "topics": answer["topics"]} for answer in self.request("stats")]
        return summed_stats(parts)

    def set_faults(self, **faults) -> dict:
        return self.request("set_faults", faults=faults)[0]["faults"]

    def clear_faults(self) -> dict:
        return self.request("clear_faults")[0]["faults"]

    def set_options(self, **options) -> dict:
        return self.request("set_options", options=options)[0]["options"]

    def restart(self, after: float = 0.0, down_for: float = 0.0) -> int:
        return sum(answer["connections"] for answer in
                   self.request("restart", after=after, down_for=down_for))

    def reset_stats(self) -> dict:
        return summed_stats([answer["stats"] for answer in self.request("reset_stats")])


@atexit.register
def _stop_all() -> None:
    for handle in list(_running):
        handle.stop(timeout_s=2)
