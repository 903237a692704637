"""The protocols' reference servers (npm, Debian), started on loopback by the tests that
prove interoperability; skipped with the reason when the server is not installed here
(`.ci/run` installs them)."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVERS = Path(__file__).resolve().parent / "servers"
READY_TIMEOUT_S = 20.0


@dataclass
class ReferenceServer:
    process: subprocess.Popen
    port: int
    uri: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_node(script: str, *args: str) -> ReferenceServer:
    node = shutil.which("node")
    if node is None or not (SERVERS / "node_modules").is_dir():
        pytest.skip("node and the reference servers' npm packages are needed "
                    "(npm install --prefix tests/support/servers; .ci/run does it)")
    process = subprocess.Popen([node, str(SERVERS / script), *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = _first_line(process)
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"{script} did not start: {line!r} {process.stderr.read()[:500]}")
    port = int(line.split()[1])
    return ReferenceServer(process, port, f"ws://127.0.0.1:{port}")


def _first_line(process) -> str:
    import selectors
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(READY_TIMEOUT_S):
        return f"(nothing within {READY_TIMEOUT_S:g} s)"
    return process.stdout.readline().strip()


@pytest.fixture
def socketio_server():
    """Start npm socket.io servers: `start(ping_interval_ms=..., ping_timeout_ms=...,
    token=...)`; each is stopped after the test."""
    started: list[ReferenceServer] = []

    def start(ping_interval_ms: int = 25000, ping_timeout_ms: int = 20000,
              token: str = "") -> ReferenceServer:
        args = ["--ping-interval-ms", str(ping_interval_ms),
                "--ping-timeout-ms", str(ping_timeout_ms)]
        if token:
            args += ["--token", token]
        server = start_node("socketio_server.js", *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
