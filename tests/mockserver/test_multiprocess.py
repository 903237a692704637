"""A mock server of several processes on one port (mockserver/multiprocess.py): connections
spread over the processes by SO_REUSEPORT, one server to its user -- stats summed, faults
in every process, a publish delivered to the subscribers of every process."""
from __future__ import annotations

import psutil
import pytest

from polling import wait_until
from WebSocketLoadLibrary.engine import (ConnectionOptions, FanoutSpec, LoadEngine, LoadPlan,
                                         MessageTemplate, OpeningMessages)
from WebSocketLoadLibrary.mockserver import MockServerProcess

PUBLISH = '{"op":"publish","topic":"t","message_id":$message_id,"send_time":$send_time}'
SUBSCRIBE = OpeningMessages('{"op":"subscribe","topic":"t"}', "op == subscribed")


@pytest.fixture
def engine():
    engine = LoadEngine()
    yield engine
    engine.close()


@pytest.mark.parametrize("kind", ["websockets", "picows"])
def test_several_processes_serve_one_port_as_one_server(engine, kind):
    with MockServerProcess(engine=kind, compression=False, processes=3) as server:
        assert server.processes == 3 and len(set(server.pids)) == 3
        assert all(psutil.Process(pid).is_running() for pid in server.pids)
        pool = engine.connect(ConnectionOptions(server.uri), count=60)
        stats = wait_until(lambda: (lambda s: s if s["connections_active"] == 60 else None)(
            server.stats())) or server.stats()
        assert stats["connections_active"] == 60
        assert stats["processes"] == 3 and stats["connections_opened"] == 60
        # the kernel spread them: more than one process holds some
        each = [member._ask("stats")["stats"]["connections_active"]
                for member in server._members()]
        assert sum(each) == 60 and sum(1 for n in each if n) >= 2
        assert server.set_faults(response_delay=0.001)["response_delay"] == 0.001
        assert all(member._ask("stats")["faults"]["response_delay"] == 0.001
                   for member in server._members())
        server.clear_faults()
        result = engine.run_step(pool, LoadPlan(rate=300, messages=300))
        assert result.received == 300 and result.load_applied
        assert server.stats()["messages_received"] >= 300
        engine.disconnect(pool)
        wait_until(lambda: server.stats()["connections_active"] == 0, message="all closed")
        pids = server.pids
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                   for pid in pids)


@pytest.mark.parametrize("kind", ["websockets", "picows"])
def test_a_publish_reaches_the_subscribers_of_every_process(engine, kind):
    with MockServerProcess(engine=kind, compression=False) as server:
        assert server.hold(10) == 1          # a small count needs one process
        server.grow(3)
        publishers = engine.connect(ConnectionOptions(server.uri), count=1)
        audience = engine.connect(ConnectionOptions(server.uri, opening=SUBSCRIBE), count=30)
        result = engine.run_step(publishers, LoadPlan(
            rate=20, messages=20, reply_timeout_s=2.0, fanout=FanoutSpec()),
            MessageTemplate(PUBLISH), roles={"subscribers": audience})
        fanout = result.sections["fanout"]
        assert (fanout.publishes, fanout.deliveries, fanout.lost_deliveries) == (20, 600, 0)
        topic = server.stats()["topics"]["t"]
        assert topic["published"] == 20 and topic["delivered"] == 600
        assert topic["subscribers"] == 30


def test_a_server_given_its_port_cannot_grow_and_says_how():
    with MockServerProcess(engine="picows") as first:
        port = int(first.uri.rsplit(":", 1)[1])
    with MockServerProcess(engine="picows", port=port) as server:
        with pytest.raises(Exception, match="start it with processes=2"):
            server.grow(2)
