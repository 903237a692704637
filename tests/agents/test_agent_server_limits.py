"""The agent's port under stray and hostile clients, and over TLS.

Agents are real `python -m WebSocketLoadLibrary agent` processes on loopback. Bounds on time
are generous (this runs on busy 2-core CI runners): what is checked is that a controller is
served at all while idle sockets pile up, not how fast.
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import psutil
import pytest

from agent_processes import SECRET, start_agent, wait_for_text
from WebSocketLoadLibrary.agents.client import AgentClient, AgentError
from WebSocketLoadLibrary.agents.controller import AgentFleet
from WebSocketLoadLibrary.agents.request_intake import MAX_RECEIVING
from WebSocketLoadLibrary.engine import ConnectionOptions

IDLE_SOCKETS = MAX_RECEIVING + 44   # more than the agent receives at once: some are shed
CONTROLLER_SERVED_WITHIN_S = 30.0   # normally ~50 ms; a noisy runner can stall for seconds


@pytest.fixture
def agents():
    started = []

    def start(*extra: str, **options):
        agent = start_agent(f"agent-{len(started) + 1}", extra=extra, **options)
        started.append(agent)
        return agent
    yield start
    for agent in started:
        agent.stop()


@pytest.fixture
def tls_agent(agents, self_signed):
    cert, key = self_signed
    return agents("--tls-cert", cert, "--tls-key", key)


def _address(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    return parts.hostname, parts.port


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)   # a socket with a timeout would wait that long for data first
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_flood_of_idle_sockets_neither_keeps_a_controller_out_nor_costs_threads(
        agents, self_signed, tls):
    cert, key = self_signed
    # a timeout far longer than the test: only the bounded intake can keep the agent usable
    agent = agents("--request-timeout", "300", *(("--tls-cert", cert, "--tls-key", key)
                                                 if tls else ()))
    threads_before = psutil.Process(agent.pid).num_threads()
    flood = []
    try:
        for _ in range(IDLE_SOCKETS):
            flood.append(socket.create_connection(_address(agent.uri), timeout=10))
        started = time.monotonic()
        client = AgentClient(agent.uri, SECRET, timeout_s=CONTROLLER_SERVED_WITHIN_S,
                             ca_file=cert if tls else None)
        client.hello()
        served_s = time.monotonic() - started
        threads_during = psutil.Process(agent.pid).num_threads()
        alive = sum(_still_open(sock) for sock in flood)
        client.goodbye()
    finally:
        for sock in flood:
            sock.close()
    assert served_s < CONTROLLER_SERVED_WITHIN_S
    assert client.name == agent.name
    # idle sockets cost the agent no threads (a thread each would be 300 more)
    assert threads_during <= threads_before + 2, (threads_before, threads_during)
    # the controller was served while the agent still held a full intake of idle sockets
    assert alive >= MAX_RECEIVING - 20, alive
    stderr = wait_for_text(agent.stderr, "the longest waiting is dropped")
    assert f"more than {MAX_RECEIVING} connections" in stderr


def test_a_half_open_client_is_dropped_after_the_request_timeout(agents):
    agent = agents("--request-timeout", "1")
    address = _address(agent.uri)
    partial = {
        "nothing": b"",
        "half the headers": b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Len",
        "half the body": b"POST /RPC2 HTTP/1.1\r\nContent-Length: 100\r\n\r\n<?xml",
    }
    for what, sent in partial.items():
        started = time.monotonic()
        with socket.create_connection(address, timeout=30) as sock:
            sock.sendall(sent)
            try:
                answer = sock.recv(1024)
            except ConnectionResetError:
                answer = b""
        dropped_after_s = time.monotonic() - started
        assert answer == b"", what   # dropped, not answered
        assert 0.9 <= dropped_after_s < 20, (what, dropped_after_s)
    # a byte now and then does not buy more time: the timeout runs from connecting
    started = time.monotonic()
    with socket.create_connection(address, timeout=0.2) as sock:
        dropped = False
        while not dropped and time.monotonic() - started < 20:
            try:
                sock.sendall(b"P")
                dropped = sock.recv(1024) == b""
            except TimeoutError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
    assert dropped and time.monotonic() - started < 20
    stderr = wait_for_text(agent.stderr, "sent no whole request within 1 s")
    assert "connection(s) from 127.0.0.1: sent no whole request within 1 s" in stderr
    # ... and the agent serves the next controller as ever
    client = AgentClient(agent.uri, SECRET)
    client.hello()
    client.goodbye()


def test_the_request_timeout_bounds_receiving_not_the_keywords_run(agents):
    """A call that runs longer than --request-timeout is answered: here opening connections
    to a port that never completes the WebSocket handshake, which fails after its own open
    timeout (3 s), three times the agent's request timeout."""
    agent = agents("--request-timeout", "1")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)   # the kernel completes TCP connects; nobody ever answers them
        fleet = AgentFleet.connect([agent.uri], SECRET, timeout_s=30)
        try:
            options = ConnectionOptions(f"ws://127.0.0.1:{silent.getsockname()[1]}",
                                        open_timeout_s=3)
            started = time.monotonic()
            with pytest.raises(AgentError) as error:
                fleet.open_connections(options, 1)
            answered_after_s = time.monotonic() - started
        finally:
            fleet.close()
    assert answered_after_s >= 2.5
    # the keyword's own failure came back: the agent answered, the call was not cut off
    assert "failed to open connections" in str(error.value), error.value
    assert "cannot be reached" not in str(error.value)


def test_over_tls_a_controller_trusting_the_ca_is_served_and_still_signs(tls_agent,
                                                                         self_signed):
    cert, _ = self_signed
    assert tls_agent.uri.startswith("https://127.0.0.1:")
    assert "(Robot Framework remote library over TLS; requests must be signed" \
        in tls_agent.ready_line
    fleet = AgentFleet.connect([tls_agent.uri], SECRET, ca_file=cert)
    assert fleet.agents[0].name == tls_agent.name
    fleet.close()
    with pytest.raises(AgentError, match=r"refused the shared secret \(HTTP 403\)"):
        AgentFleet.connect([tls_agent.uri], "a-wrong-secret-of-enough-length", ca_file=cert)


def test_over_tls_an_untrusted_certificate_names_ca_file(tls_agent, tmp_path):
    with pytest.raises(AgentError) as no_ca:
        AgentFleet.connect([tls_agent.uri], SECRET, timeout_s=10)
    assert "its TLS certificate is not trusted" in str(no_ca.value)
    assert "no ca_file given" in str(no_ca.value) and "ca_file=" in str(no_ca.value)
    other = _another_self_signed(tmp_path)
    with pytest.raises(AgentError) as wrong_ca:
        AgentFleet.connect([tls_agent.uri], SECRET, timeout_s=10, ca_file=other)
    assert f"ca_file {other} is not the CA that signed it" in str(wrong_ca.value)
    assert "cannot be reached" not in str(wrong_ca.value)
    missing = tmp_path / "missing.pem"
    with pytest.raises(AgentError, match=f"ca_file {re.escape(str(missing))} cannot be read"):
        AgentClient(tls_agent.uri, SECRET, ca_file=str(missing))
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(AgentError, match=f"ca_file {re.escape(str(not_pem))} holds no usable"):
        AgentClient(tls_agent.uri, SECRET, ca_file=str(not_pem))


def test_the_wrong_scheme_either_way_fails_saying_so(agents, tls_agent, self_signed):
    cert, _ = self_signed
    host_port = tls_agent.uri.split("://", 1)[1]
    with pytest.raises(AgentError) as plain_to_tls:
        AgentFleet.connect([f"http://{host_port}"], SECRET, timeout_s=10)
    assert f"speaks TLS: give its address as https://{host_port} and the CA that signed its " \
           f"certificate as ca_file" in str(plain_to_tls.value)
    assert "this agent speaks TLS" in wait_for_text(tls_agent.stderr, "this agent speaks TLS")
    plain = agents()
    plain_host_port = plain.uri.split("://", 1)[1]
    started = time.monotonic()
    with pytest.raises(AgentError) as tls_to_plain:
        AgentFleet.connect([f"https://{plain_host_port}"], SECRET, timeout_s=30, ca_file=cert)
    assert time.monotonic() - started < 20   # a prompt close, not a wait for a timeout
    assert "the TLS handshake failed" in str(tls_to_plain.value)
    assert "is the agent started with --tls-cert?" in str(tls_to_plain.value)
    with pytest.raises(AgentError, match="ca_file is for load agents served over TLS, but "
                                         f"http://{plain_host_port} is plain http"):
        AgentFleet.connect([plain.uri], SECRET, ca_file=cert)


def test_an_agent_with_an_unusable_certificate_will_not_start(tmp_path, self_signed):
    cert, _ = self_signed
    with pytest.raises(RuntimeError, match="cannot read .*nowhere.pem: No such file"):
        start_agent("no-cert", extra=("--tls-cert", str(tmp_path / "nowhere.pem")))
    with pytest.raises(RuntimeError) as no_key:
        start_agent("no-key", extra=("--tls-cert", cert))
    assert f"--tls-cert {cert} and --tls-key (in the cert file) are not a PEM certificate and " \
           f"its private key" in str(no_key.value)


def _another_self_signed(folder) -> str:
    """A certificate of some other CA (the openssl command; `cryptography` may be absent)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed for a second test certificate")
    cert, key = folder / "other-ca.pem", folder / "other-ca.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-subj", "/CN=localhost", "-days", "1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return str(cert)
