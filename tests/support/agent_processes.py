"""Load agent processes for the tests: started with a secret, on loopback or inside a network
namespace, stopped by their PID."""
from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass, field

from paths import ROOT
from polling import wait_until

SECRET = "test-secret-0123456789-abcdefghij"


@dataclass
class AgentProcess:
    process: subprocess.Popen
    uri: str
    name: str
    ready_line: str
    stderr_lines: list = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        """What the agent printed to stderr so far (its refusals, among others)."""
        fd = self.process.stderr.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while selector.select(timeout=0):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                self.stderr_lines.append(chunk.decode(errors="replace"))
        return "".join(self.stderr_lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()


def start_agent(name: str, secret: str | None = SECRET, host: str = "127.0.0.1", port: int = 0,
                netns: str | None = None, extra: tuple = (), timeout_s: float = 20,
                env: dict | None = None) -> AgentProcess:
    """Starts `python -m WebSocketLoadLibrary agent` and waits for its ready line."""
    environment = {k: v for k, v in os.environ.items() if k != "LOAD_AGENT_SECRET"}
    environment["PYTHONPATH"] = str(ROOT / "libraries")
    if secret is not None:
        environment["LOAD_AGENT_SECRET"] = secret
    environment.update(env or {})
    command = [sys.executable, "-m", "WebSocketLoadLibrary", "agent", "--host", host,
               "--port", str(port), "--name", name, "--loop", "asyncio", *extra]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=environment, cwd=ROOT)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    line = ""
    while time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.2):
            line = process.stdout.readline()
            break
    selector.close()
    if "ready at " not in line:
        process.kill()
        process.wait(5)
        raise RuntimeError(f"agent {name} did not start: stdout {line!r}, stderr "
                           f"{process.stderr.read()!r}")
    uri = line.split("ready at ")[1].split()[0]
    return AgentProcess(process, uri, name, line.strip())


def wait_for_text(read, text: str, timeout_s: float = 15) -> str:
    """Call `read()` until what it returns holds `text`, or `timeout_s` has passed;
    returns the last read (the caller asserts on it, so a miss shows what came)."""
    last = ""

    def holds_text() -> bool:
        nonlocal last
        last = read()
        return text in last

    wait_until(holds_text, timeout_s, 0.05)
    return last
