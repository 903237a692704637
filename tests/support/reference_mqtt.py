"""mosquitto, the MQTT reference broker, started by the tests on free loopback ports with a
configuration of its own (never the package's service or its files); skipped with the reason
when Debian's mosquitto is not installed here (tests/support/servers/install-mqtt.sh installs
it; .ci/run runs that).

mosquitto 2.0 opens a `protocol websockets` listener only beside a plain MQTT one ("Unable to
start any listening sockets" otherwise), so each broker has both. It starts in milliseconds:
one broker per test, stopped by its pid at the end.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from polling import wait_until

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def _mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    return found or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Mosquitto:
    """One broker: `uri` its websockets listener, `mqtt_port` its plain one."""
    program: str
    folder: Path
    users: dict = field(default_factory=dict)        # username -> password; none: anonymous
    max_inflight: int = 0                             # per client, to it (0: no limit)
    process: subprocess.Popen | None = None

    def __post_init__(self):
        self.ws_port, self.mqtt_port = _free_port(), _free_port()
        self.uri = f"ws://127.0.0.1:{self.ws_port}"
        self.log = self.folder / "mosquitto.log"
        self.config = self.folder / "mosquitto.conf"
        lines = ["per_listener_settings false", "persistence false",
                 f"allow_anonymous {'false' if self.users else 'true'}",
                 f"user {pwd.getpwuid(os.getuid()).pw_name}",   # no dropping to 'mosquitto'
                 f"max_inflight_messages {self.max_inflight}",
                 "max_queued_messages 1000000", "max_keepalive 65535",
                 f"log_dest file {self.log}", "log_type error", "log_type warning",
                 "log_type notice", "log_type information", "connection_messages true",
                 f"listener {self.mqtt_port} 127.0.0.1",
                 f"listener {self.ws_port} 127.0.0.1", "protocol websockets"]
        if self.users:
            passwords = self.folder / "passwords"
            passwords.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password],
                               check=True, capture_output=True, timeout=20)
            passwords.chmod(0o600)
            lines.append(f"password_file {passwords}")
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> "Mosquitto":
        self.process = subprocess.Popen([self.program, "-c", str(self.config)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        ready = wait_until(lambda: self.process.poll() is not None or (
            _listening(self.ws_port) and _listening(self.mqtt_port)), READY_TIMEOUT_S)
        if not ready or self.process.poll() is not None:
            said = self.process.stderr.read()[:500] if self.process.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"mosquitto did not start within {READY_TIMEOUT_S:g} s: "
                               f"{said} {self.log_text()[-800:]}")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def restart(self) -> None:
        """Stopped and started again on the same ports: every client is dropped."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def mosquitto(tmp_path):
    """Start mosquitto brokers: `start(users={"user": "password"}, max_inflight=0)`; each
    is stopped by its pid after the test."""
    program = _mosquitto()
    if program is None:
        pytest.skip("mosquitto is not installed (tests/support/servers/install-mqtt.sh "
                    "installs Debian's; .ci/run runs it)")
    started: list[Mosquitto] = []

    def start(users: dict | None = None, max_inflight: int = 0) -> Mosquitto:
        folder = tmp_path / f"mosquitto{len(started)}"
        folder.mkdir()
        broker = Mosquitto(program, folder, dict(users or {}), max_inflight)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()
