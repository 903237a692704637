"""RabbitMQ with its Web STOMP plugin, the STOMP reference server: ONE node per test run
(it takes tens of seconds to start), on free loopback ports, in a directory of its own, so
that it runs beside anything else (another RabbitMQ, the package's service). Skipped with
the reason when Debian's rabbitmq-server is not installed here (tests/support/servers/
install-stomp.sh installs it; .ci/run runs that).

Debian's `rabbitmq-server`, run as root, drops to the `rabbitmq` user: the node's
directories are made that user's. Its Erlang port mapper (epmd) gets a port of its own on
127.0.0.1 and is stopped with the node.
"""
from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from polling import wait_until

SERVER = "/usr/sbin/rabbitmq-server"
CTL = "/usr/sbin/rabbitmqctl"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
CTL_TIMEOUT_S = 60.0
WATCHDOG_S = 4 * 3600
# should the test run die without its teardown, the node goes too (within a second; and
# after WATCHDOG_S at the latest), and its directory: $1 the test run's pid, $2 rabbitmqctl,
# $3 the node, $4 its directory
WATCHDOG = (f'i=0; while [ "$i" -lt {WATCHDOG_S} ] && kill -0 "$1" 2>/dev/null; do '
            'sleep 1; i=$((i+1)); done; "$2" -n "$3" stop >/dev/null 2>&1; sleep 2; '
            'epmd -kill >/dev/null 2>&1 || { sleep 5; epmd -kill >/dev/null 2>&1; }; '
            'rm -rf "$4"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _dist_port() -> int:
    """A distribution port whose +10000 (where rabbitmqctl's own listener goes) is free too."""
    for _ in range(200):
        port = random.randint(20000, 28000)
        if _bindable(port) and all(_bindable(port + 10000 + k) for k in range(3)):
            return port
    raise RuntimeError("no free port pair for RabbitMQ's distribution")


class RabbitMQ:
    """A RabbitMQ node of the test run's own: `uri` is its Web STOMP endpoint."""

    def __init__(self, base: Path):
        self.base = base
        self.name = f"websocketload{os.getpid()}@localhost"
        self.web_stomp_port = _free_port()
        self.epmd_port = _free_port()
        self.dist_port = _dist_port()
        self.uri = f"ws://127.0.0.1:{self.web_stomp_port}/ws"
        self.process: subprocess.Popen | None = None
        self.watchdog: subprocess.Popen | None = None
        self.output = base / "output.log"
        self.environment = dict(
            os.environ,
            RABBITMQ_NODENAME=self.name, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"), RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(base / "node.pid"),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_PORT=str(self.epmd_port), ERL_EPMD_ADDRESS="127.0.0.1")

    def write_files(self) -> None:
        (self.base / "mnesia").mkdir()
        (self.base / "log").mkdir()
        (self.base / "rabbitmq.conf").write_text(
            "loopback_users = none\n"
            "listeners.tcp = none\n"           # no AMQP port: Web STOMP alone is wanted
            "stomp.listeners.tcp = none\n"     # nor plain STOMP's 61613
            f"web_stomp.tcp.port = {self.web_stomp_port}\n"
            "web_stomp.tcp.ip = 127.0.0.1\n"
            "log.console = false\n"
            "log.file.level = warning\n")
        (self.base / "enabled_plugins").write_text("[rabbitmq_web_stomp].\n")
        user = pwd.getpwnam("rabbitmq")
        for path in [self.base, *self.base.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)

    def start(self) -> None:
        with open(self.output, "ab") as output:
            self.process = subprocess.Popen([SERVER], env=self.environment, stdin=subprocess.DEVNULL,
                                            stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.watchdog = subprocess.Popen(
            ["sh", "-c", WATCHDOG, "watchdog", str(os.getpid()), CTL, self.name,
             str(self.base)],
            env=self.environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, READY_TIMEOUT_S, interval_s=0.5,
                   message=f"RabbitMQ's Web STOMP at {self.uri} did not answer "
                           f"({self._log_tail()})")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"RabbitMQ exited with {self.process.returncode}: {self._log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.web_stomp_port), timeout=1):
                return True
        except OSError:
            return False

    def ctl(self, *arguments: str, timeout_s: float = CTL_TIMEOUT_S) -> str:
        done = subprocess.run([CTL, "-n", self.name, *arguments], env=self.environment,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(arguments)} failed: "
                               f"{done.stdout[-500:]} {done.stderr[-500:]}")
        return done.stdout

    @property
    def pid(self) -> int | None:
        """The Erlang VM's own process id (for its CPU), once it has written it."""
        try:
            return int((self.base / "node.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def connections(self) -> int:
        out = self.ctl("list_connections", "--quiet", "--no-table-headers", "name")
        return len([line for line in out.splitlines() if line.strip()])

    def close_all_connections(self, reason: str = "test") -> None:
        self.ctl("close_all_connections", reason)

    def restart_app(self) -> None:
        """The broker restarts in its running VM: every connection goes, the listener comes
        back (seconds, not the tens a new VM takes)."""
        self.ctl("stop_app")
        self.ctl("start_app")
        wait_until(self._answers, READY_TIMEOUT_S, interval_s=0.2,
                   message="RabbitMQ's Web STOMP did not come back after start_app")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.watchdog is not None and self.watchdog.poll() is None:
            self.watchdog.terminate()
            self.watchdog.wait(10)
        if self.process.poll() is None:
            try:
                self.ctl("stop", timeout_s=STOP_TIMEOUT_S)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                vm = self.pid
                self.process.terminate()
                if vm is not None:
                    try:
                        os.kill(vm, 15)
                    except OSError:
                        pass
                self.process.wait(10)
        # the node's port mapper, on its own port: stopped by its own command
        subprocess.run(["epmd", "-kill"], env=self.environment, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=10, check=False)

    def _log_tail(self) -> str:
        texts = []
        for path in [self.output, *sorted((self.base / "log").glob("*.log"))]:
            try:
                texts.append(path.read_text(errors="replace")[-800:])
            except OSError:
                pass
        return " | ".join(t.strip() for t in texts if t.strip()) or "no output"


def _why_not() -> str | None:
    if not (os.path.exists(SERVER) and os.path.exists(CTL)):
        return ("Debian's rabbitmq-server is needed (bash tests/support/servers/"
                "install-stomp.sh as root; .ci/run does it)")
    if shutil.which("epmd") is None:
        return "rabbitmq-server is there but Erlang's epmd is not on PATH"
    try:
        pwd.getpwnam("rabbitmq")
    except KeyError:
        return "rabbitmq-server is there but its user 'rabbitmq' is not"
    if os.geteuid() != 0:
        return "Debian's rabbitmq-server runs for root (it drops to the rabbitmq user) only"
    return None


@pytest.fixture(scope="session")
def rabbitmq():
    """The test run's RabbitMQ node with Web STOMP (guest/guest from loopback)."""
    why = _why_not()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="websocketload-rabbitmq-"))
    node = RabbitMQ(base)
    try:
        node.write_files()
        began = time.monotonic()
        node.start()
        node.started_in_s = time.monotonic() - began
        yield node
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)
