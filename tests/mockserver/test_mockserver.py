"""The mock server as a real process, driven by real WebSocket clients on loopback.

Every test checks what a client sees *and* what the server counted (`server.stats()`).
"""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import orjson
import psutil
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from polling import wait_until
from WebSocketLoadLibrary.engine import ConnectError, LoadPlan
from WebSocketLoadLibrary.mockserver import ControlError, MockServerControl, MockServerProcess

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 5.0
TOKEN = "s3cret-token"


# -- helpers ---------------------------------------------------------------------------
def open_client(uri: str, **options):
    """A synchronous WebSocket client; never through a proxy, never waits forever."""
    options.setdefault("open_timeout", TIMEOUT_S)
    options.setdefault("close_timeout", 2)
    options.setdefault("compression", None)
    return ws_connect(uri, proxy=None, **options)


def round_trip(ws, message, timeout_s: float = TIMEOUT_S):
    """Send one message; return (reply, seconds until it came)."""
    started = time.perf_counter()
    ws.send(message)
    reply = ws.recv(timeout=timeout_s)
    return reply, time.perf_counter() - started


def stats_when(server: MockServerProcess, condition, timeout_s: float = TIMEOUT_S) -> dict:
    """The server's stats once `condition(stats)` holds (or the last ones, to assert on)."""
    latest = {}

    def check():
        latest.update(server.stats())
        return condition(latest)

    wait_until(check, timeout_s, 0.05)
    return latest


def closed_by_server(ws, probe: str = "probe", timeout_s: float = TIMEOUT_S):
    """The close frame the server sent, or None if the connection still echoes `probe`."""
    try:
        ws.send(probe)
        reply = ws.recv(timeout=timeout_s)
    except ConnectionClosed as closed:
        return closed.rcvd
    assert reply == probe
    return None


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- echo and ack ----------------------------------------------------------------------
def test_echo_mode_replies_with_the_same_message_and_frame_type(server):
    with open_client(server.uri) as ws:
        assert round_trip(ws, "hello, wörld")[0] == "hello, wörld"
        binary, _ = round_trip(ws, b"\x00\x01\xffbinary")
        assert binary == b"\x00\x01\xffbinary"
        assert isinstance(binary, bytes)
    stats = stats_when(server, lambda s: s["connections_closed"] == 1)
    assert (stats["connections_opened"], stats["connections_closed"],
            stats["connections_active"], stats["connections_peak"]) == (1, 1, 0, 1)
    assert (stats["messages_received"], stats["messages_sent"]) == (2, 2)
    assert stats["bytes_received"] == stats["bytes_sent"] > 0
    assert stats["messages_dropped"] == stats["invalid_messages"] == 0


def test_byte_counters_count_utf8_bytes_of_text_frames(server):
    with open_client(server.uri) as ws:
        assert round_trip(ws, "wörld€")[0] == "wörld€"
    stats = server.stats()
    assert (stats["bytes_received"], stats["bytes_sent"]) == (9, 9)


def test_ack_mode_replies_json_with_the_same_message_id_status_and_server_time(start_server):
    server = start_server(mode="ack", compression=False)
    before = time.time()
    with open_client(server.uri) as ws:
        replies = [orjson.loads(round_trip(ws, json.dumps({"message_id": i, "x": "y"}))[0])
                   for i in (7, 8)]
        replies.append(orjson.loads(round_trip(ws, b'{"message_id": "abc"}')[0]))
    assert [r["message_id"] for r in replies] == [7, 8, "abc"]
    for reply in replies:
        assert set(reply) == {"message_id", "status", "server_time"}
        assert reply["status"] == "ok"
        assert before - 1 <= reply["server_time"] <= time.time() + 1
    stats = server.stats()
    assert (stats["messages_received"], stats["messages_sent"]) == (3, 3)
    assert stats["invalid_messages"] == 0


@pytest.mark.parametrize("message", ["not json", '{"id": 1}', "[1, 2]", "42"],
                         ids=["not-json", "no-id-field", "json-array", "json-number"])
def test_ack_mode_answers_a_message_without_id_with_an_error_and_counts_it(start_server, message):
    server = start_server(mode="ack", compression=False)
    with open_client(server.uri) as ws:
        reply = orjson.loads(round_trip(ws, message)[0])
    assert reply == {"error": "no message_id in message"}
    stats = server.stats()
    assert (stats["invalid_messages"], stats["messages_received"], stats["messages_sent"]) == (1, 1, 1)


# -- faults ----------------------------------------------------------------------------
def test_ack_mode_answers_in_the_frame_type_of_the_request(start_server):
    server = start_server(mode="ack", compression=False)
    with open_client(server.uri) as ws:
        text_reply = round_trip(ws, '{"message_id": 1}')[0]
        binary_reply = round_trip(ws, b'{"message_id": 2}')[0]
    assert isinstance(text_reply, str) and orjson.loads(text_reply)["message_id"] == 1
    assert isinstance(binary_reply, bytes) and orjson.loads(binary_reply)["message_id"] == 2


def test_a_malformed_control_command_gets_a_clear_error_and_the_server_keeps_serving(server):
    with pytest.raises(ControlError, match="faults must be an object"):
        server.control.request("set_faults", faults=5)
    with pytest.raises(ControlError, match="unknown control op 'explode'"):
        server.control.request("explode")
    with open_client(server.uri) as ws:
        assert round_trip(ws, "still here")[0] == "still here"


def test_response_delay_set_at_start_and_changed_at_run_time_delays_each_reply(start_server):
    server = start_server(response_delay=0.05, compression=False, seed=1)
    assert server.stats()["faults"]["response_delay"] == 0.05
    # every reply takes at least the delay; a busy machine can make any one of them later,
    # so the upper bound is on the quickest of three (a stall rarely hits all three)
    with open_client(server.uri) as ws:
        took = [round_trip(ws, f"slow-{i}") for i in range(3)]
        assert [reply for reply, _ in took] == [f"slow-{i}" for i in range(3)]
        assert all(t >= 0.049 for _, t in took) and min(t for _, t in took) <= 0.150, took
        assert server.set_faults(response_delay=0.1)["response_delay"] == 0.1
        took = [round_trip(ws, f"slower-{i}") for i in range(3)]
        assert [reply for reply, _ in took] == [f"slower-{i}" for i in range(3)]
        assert all(t >= 0.099 for _, t in took) and min(t for _, t in took) <= 0.250, took
        server.set_faults(response_delay=0)
        took = [round_trip(ws, f"fast-{i}") for i in range(3)]
        assert [reply for reply, _ in took] == [f"fast-{i}" for i in range(3)]
        assert min(t for _, t in took) < 0.049, f"without a delay the replies took {took}"
    stats = stats_when(server, lambda s: s["connections_closed"] == 1)
    assert (stats["messages_received"], stats["messages_sent"]) == (9, 9)
    assert stats["replies_abandoned"] == 0


def test_stall_holds_replies_for_its_duration_then_releases_them_all_in_order(server):
    messages = [f"held-{i}" for i in range(5)]
    with open_client(server.uri) as ws:
        assert round_trip(ws, "before")[0] == "before"
        started = time.perf_counter()
        remaining = server.set_faults(stall=0.5)["stall_remaining"]
        assert 0.3 < remaining <= 0.5
        for message in messages:
            ws.send(message)
        arrivals, replies = [], []
        for _ in messages:
            replies.append(ws.recv(timeout=TIMEOUT_S))
            arrivals.append(time.perf_counter() - started)
        assert replies == messages
        assert arrivals[0] >= 0.49, f"first held reply came after {arrivals[0]:.3f} s"
        assert arrivals[-1] <= 1.5, f"last held reply came after {arrivals[-1]:.3f} s"
        # released one by one they would come a stall (0.5 s) apart
        assert arrivals[-1] - arrivals[0] < 0.45, "held replies should leave together"
        assert round_trip(ws, "after")[0] == "after"
    stats = server.stats()
    assert stats["faults"]["stall_remaining"] == 0.0
    assert (stats["messages_received"], stats["messages_sent"]) == (7, 7)


def test_drop_ratio_drops_about_that_share_and_counts_exactly_the_missing_replies(start_server):
    count, ratio = 2000, 0.1
    server = start_server(drop_ratio=ratio, seed=42, compression=False)
    with open_client(server.uri, max_queue=None) as ws:
        for i in range(count):
            ws.send(f"m{i}")
        stats_when(server, lambda s: s["messages_received"] == count)
        server.set_faults(drop_ratio=0)
        ws.send("end")  # replies keep their order: every reply before this one has arrived
        replies = []
        while (reply := ws.recv(timeout=TIMEOUT_S)) != "end":
            replies.append(reply)
    assert len(set(replies)) == len(replies)
    assert set(replies) <= {f"m{i}" for i in range(count)}
    missing = count - len(replies)
    stats = server.stats()
    assert stats["messages_dropped"] == missing
    assert stats["messages_sent"] == len(replies) + 1
    assert stats["messages_received"] == count + 1
    assert 0.07 <= missing / count <= 0.13, f"dropped {missing} of {count}"


def test_disconnect_after_n_messages_closes_each_connection_with_1011(start_server):
    server = start_server(disconnect_after=3, compression=False)
    for _ in range(2):
        with open_client(server.uri) as ws:
            for i in range(3):
                assert round_trip(ws, f"m{i}")[0] == f"m{i}"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=TIMEOUT_S)
        assert closed.value.rcvd.code == 1011
        assert closed.value.rcvd.reason == "mock server fault: disconnect after 3 messages"
    stats = stats_when(server, lambda s: s["connections_closed"] == 2)
    assert stats["disconnects_injected"] == 2
    assert (stats["messages_received"], stats["messages_sent"]) == (6, 6)
    assert (stats["connections_opened"], stats["connections_active"]) == (2, 0)


def test_garble_ratio_one_replaces_every_reply_and_counts_it(start_server):
    server = start_server(garble_ratio=1, compression=False, seed=1)
    with open_client(server.uri) as ws:
        text, _ = round_trip(ws, "hello")
        binary, _ = round_trip(ws, b"\x01\x02")
    assert text != "hello" and text.startswith("#garbled#")
    assert binary != b"\x01\x02" and binary.startswith(b"#garbled#")
    stats = server.stats()
    assert (stats["messages_garbled"], stats["messages_sent"], stats["messages_received"]) == (2, 2, 2)


# -- admission: limit, auth, TLS -------------------------------------------------------
def test_connections_over_the_limit_are_closed_with_1013_and_admitted_ones_still_echo(start_server):
    server = start_server(max_connections=3, compression=False)
    with ExitStack() as stack:
        clients = [stack.enter_context(open_client(server.uri)) for _ in range(5)]
        closes = [closed_by_server(ws, f"probe-{i}") for i, ws in enumerate(clients)]
        refused = [c for c in closes if c is not None]
        assert len(refused) == 2, closes
        assert {(c.code, c.reason) for c in refused} == {(1013, "connection limit reached")}
        for i, ws in enumerate(clients):
            if closes[i] is None:
                assert round_trip(ws, f"again-{i}")[0] == f"again-{i}"
        stats = server.stats()
    assert stats["connections_refused"] == 2
    assert (stats["connections_opened"], stats["connections_active"]) == (3, 3)
    assert (stats["messages_received"], stats["messages_sent"]) == (6, 6)


def test_bearer_auth_admits_the_right_token_and_answers_401_otherwise(start_server):
    server = start_server(auth_token=TOKEN, compression=False)
    with open_client(server.uri, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert round_trip(ws, "let me in")[0] == "let me in"
    for headers in ({"Authorization": "Bearer wrong-token"}, {}):
        with pytest.raises(InvalidStatus) as refused:
            open_client(server.uri, additional_headers=headers)
        assert refused.value.response.status_code == 401
    stats = server.stats()
    assert stats["auth_failures"] == 2
    assert (stats["connections_opened"], stats["messages_received"]) == (1, 1)


def test_bearer_token_is_not_visible_in_the_command_line_or_ready_line(start_server):
    server = start_server(auth_token=TOKEN, compression=False)
    assert server.ready["auth"] is True
    assert TOKEN not in " ".join(psutil.Process(server.pid).cmdline())
    assert TOKEN not in json.dumps(server.ready)


@pytest.fixture
def tls_server(start_server, self_signed) -> MockServerProcess:
    cert, key = self_signed
    return start_server(certfile=cert, keyfile=key, compression=False)


def test_tls_server_serves_wss_to_a_client_that_trusts_its_certificate(tls_server, self_signed):
    assert tls_server.uri.startswith("wss://127.0.0.1:")
    assert tls_server.ready["tls"] is True
    context = ssl.create_default_context(cafile=self_signed[0])
    with open_client(tls_server.uri, ssl=context) as ws:
        assert round_trip(ws, "over tls")[0] == "over tls"
    stats = tls_server.stats()
    assert (stats["connections_opened"], stats["messages_received"], stats["messages_sent"]) == (1, 1, 1)


def test_engine_over_tls_trusts_a_ca_file_or_insecure_and_explains_an_untrusted_cert(
        tls_server, self_signed, connect, engine):
    pool = connect(tls_server.uri, ca_file=self_signed[0])
    result = engine.run_step(pool, LoadPlan(rate=200, messages=20))
    assert (result.sent, result.received, result.lost) == (20, 20, 0)
    connect(tls_server.uri, insecure=True)
    with pytest.raises(ConnectError) as untrusted:
        connect(tls_server.uri)
    message = str(untrusted.value)
    assert "is not trusted" in message and "ca_file" in message
    assert tls_server.uri.removeprefix("wss://") in message
    stats = tls_server.stats()
    assert stats["connections_opened"] == 2
    assert stats["messages_received"] == 20


# -- control ---------------------------------------------------------------------------
def test_set_faults_rejects_an_unknown_fault_name_with_a_clear_message(server):
    with pytest.raises(ControlError) as refused:
        server.set_faults(lag=1)
    assert str(refused.value) == (
        "mock server refused set_faults: unknown fault(s) ['lag']; known: "
        "['response_delay', 'stall', 'read_stall', 'drop_ratio', 'disconnect_after', 'garble_ratio', "
        "'slow_subscriber_delay', 'sequence_gap_every', 'handshake_delay', 'refuse_for', "
        "'hang_handshakes', 'close_after', 'max_handshake_rate', 'max_message_rate']")


@pytest.mark.parametrize("fault, value, expected", [
    ("response_delay", -1, "fault response_delay must be >= 0, got -1"),
    ("drop_ratio", 1.5, "fault drop_ratio is a ratio between 0 and 1, got 1.5"),
    ("stall", "soon", "fault stall must be a number, got 'soon'"),
])
def test_set_faults_rejects_a_bad_value_and_keeps_the_old_faults(server, fault, value, expected):
    server.set_faults(response_delay=0.01)
    with pytest.raises(ControlError) as refused:
        server.set_faults(**{fault: value})
    assert str(refused.value) == f"mock server refused set_faults: {expected}"
    faults = server.stats()["faults"]
    assert (faults["response_delay"], faults["drop_ratio"], faults["stall_remaining"]) == (0.01, 0, 0)


def test_clear_faults_resets_every_fault(server):
    server.set_faults(response_delay=0.2, stall=5, read_stall=5, drop_ratio=0.5,
                      disconnect_after=4, garble_ratio=0.5)
    assert server.clear_faults() == {"response_delay": 0, "drop_ratio": 0, "disconnect_after": 0,
                                     "garble_ratio": 0, "slow_subscriber_delay": 0,
                                     "sequence_gap_every": 0, "seed": 1, "stall_remaining": 0,
                                     "read_stall_remaining": 0, "handshake_delay": 0,
                                     "close_after": 0, "max_handshake_rate": 0,
                                     "max_message_rate": 0, "refuse_for_remaining": 0,
                                     "hang_handshakes_remaining": 0, "message_backlog_s": 0}
    with open_client(server.uri) as ws:
        took = [round_trip(ws, "clean") for _ in range(3)]
    assert [reply for reply, _ in took] == ["clean"] * 3
    assert min(t for _, t in took) < 0.1, took   # no 0.2 s delay left (the quickest of three)


def test_reset_stats_zeroes_the_counters_but_keeps_live_connections(server):
    with open_client(server.uri) as ws:
        round_trip(ws, "count me")
        assert server.stats()["messages_received"] == 1
        reset = server.control.reset_stats()
        counters = {k: v for k, v in reset.items()
                    if k not in ("connections_active", "connections_peak", "uptime_s", "pid",
                                 "close_codes")}
        assert set(counters.values()) == {0}, counters
        assert reset["close_codes"] == {}
        assert (reset["connections_active"], reset["connections_peak"]) == (1, 1)
        round_trip(ws, "again")
    stats = stats_when(server, lambda s: s["connections_closed"] == 1)
    assert (stats["messages_received"], stats["messages_sent"], stats["connections_opened"]) == (1, 1, 0)


def test_control_with_a_wrong_key_is_refused_with_403_and_the_key_is_not_shown(server):
    wrong = f"{server.uri}/_control?key=not-the-key"
    with pytest.raises(InvalidStatus) as refused:
        open_client(wrong)
    assert refused.value.response.status_code == 403
    with pytest.raises(ControlError) as failed:
        MockServerControl(wrong, timeout_s=TIMEOUT_S).stats()
    assert "403" in str(failed.value)
    assert "not-the-key" not in str(failed.value)
    assert server.stats()["auth_failures"] == 0


# -- the picows engine -----------------------------------------------------------------
def test_picows_server_ack_mode_and_counters(start_server, engine, connect):
    server = start_server(engine="picows", mode="ack")
    assert server.ready["engine"] == "picows"
    pool = connect(server.uri, count=2, transport="websockets")
    result = engine.run_step(pool, LoadPlan(rate=2000, messages=1000))
    stats = server.stats()
    assert result.received == 1000 and result.invalid_replies == 0
    assert stats["connections_active"] == 2 and stats["bytes_received"] > 1000 * 50
    engine.disconnect(pool)
    wait_until(lambda: not server.stats()["connections_active"], 5, 0.05)
    stats = server.stats()
    assert stats["connections_closed"] == 2 and stats["close_codes"] == {"1000": 2}
    assert stats["connection_errors"] == 0


def test_picows_server_refuses_subprotocols_at_start(start_server):
    from WebSocketLoadLibrary.mockserver.process import MockServerError
    with pytest.raises(MockServerError, match="does not negotiate subprotocols"):
        start_server(engine="picows", subprotocols=["v1"])


# -- stopping --------------------------------------------------------------------------
def test_stop_returns_exit_code_zero_and_the_process_is_gone(start_server):
    server = start_server(compression=False)
    pid = server.pid
    assert psutil.pid_exists(pid)
    assert server.stop() == 0
    assert not server.running
    assert process_gone(pid)


def test_closing_stdin_the_lifeline_makes_the_server_exit(start_server):
    server = start_server(compression=False)
    server.process.stdin.close()
    assert server.process.wait(timeout=TIMEOUT_S) == 0


CHILD_STARTS_A_SERVER_AND_DIES = """
import os, sys
sys.path.insert(0, {libraries!r})
from WebSocketLoadLibrary.mockserver import MockServerProcess
server = MockServerProcess(compression=False)
server.start()
print(server.pid, flush=True)
os._exit(0)
"""


def test_a_server_whose_parent_dies_exits(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(CHILD_STARTS_A_SERVER_AND_DIES.format(libraries=str(ROOT / "libraries")))
    parent = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
    assert parent.returncode == 0, parent.stderr
    pid = int(parent.stdout.strip())
    try:
        assert wait_until(lambda: process_gone(pid), timeout_s=5, interval_s=0.05), (
            f"mock server {pid} outlived its parent")
    finally:
        if not process_gone(pid):
            psutil.Process(pid).kill()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "libraries")}
    return subprocess.run([sys.executable, "-m", "WebSocketLoadLibrary.mockserver", *args],
                          capture_output=True, text=True, timeout=30, env=env,
                          stdin=subprocess.DEVNULL)


def test_cli_rejects_a_drop_ratio_above_one_with_exit_code_2():
    finished = run_cli("--drop-ratio", "2")
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines()[-1] == (
        "mock server: fault drop_ratio is a ratio between 0 and 1, got 2.0")
    assert finished.stdout == ""


def test_cli_prints_nothing_but_its_error_on_stderr():
    finished = run_cli("--drop-ratio", "2")
    assert finished.stderr == "mock server: fault drop_ratio is a ratio between 0 and 1, got 2.0\n"
