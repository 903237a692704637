"""Shared fixtures: real mock server processes and a real engine, on loopback only."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libraries"))

from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine  # noqa: E402
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402


@pytest.fixture
def start_server():
    """Start mock servers with any options; every one is stopped after the test."""
    started: list[MockServerProcess] = []

    def start(**options) -> MockServerProcess:
        server = MockServerProcess(**options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server) -> MockServerProcess:
    """A healthy echo server without compression, fixed seed."""
    return start_server(compression=False, seed=1)


@pytest.fixture
def engine():
    engine = LoadEngine()
    yield engine
    engine.close()


@pytest.fixture
def connect(engine):
    def connect(uri: str, count: int = 1, verify: bool = True, **options):
        return engine.connect(ConnectionOptions(uri, **options), count=count, verify=verify)
    return connect


def pytest_sessionfinish(session, exitstatus):
    """Clean teardown is part of the contract: no mock server may outlive the tests."""
    me = psutil.Process(os.getpid())
    leftovers = [p for p in me.children(recursive=True)
                 if "WebSocketLoadLibrary.mockserver" in " ".join(_cmdline(p))]
    if leftovers:
        for process in leftovers:
            process.kill()
        print(f"\nLEAK: {len(leftovers)} mock server process(es) outlived the tests",
              file=sys.stderr)
        session.exitstatus = 1


def _cmdline(process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []
