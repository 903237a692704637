"""Nothing outlives its owner, and the README's main command really works."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil

from polling import wait_until
from WebSocketLoadLibrary.engine import ConnectionOptions, LoadEngine, LoadPlan
from WebSocketLoadLibrary.mockserver import MockServerProcess

ROOT = Path(__file__).resolve().parents[2]


def _sockets_to(port: int) -> list:
    return [c for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status != psutil.CONN_TIME_WAIT]


def test_closing_the_engine_and_stopping_the_server_leaves_no_socket_or_process():
    server = MockServerProcess(compression=False)
    server.start()
    port = int(server.uri.rsplit(":", 1)[1])
    engine = LoadEngine()
    pool = engine.connect(ConnectionOptions(server.uri), count=20)
    engine.run_step(pool, LoadPlan(rate=2000, messages=2000))
    assert len(_sockets_to(port)) == 20
    engine.close()
    assert _sockets_to(port) == []
    pid = server.pid
    assert server.stop() == 0
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_script_that_forgets_to_stop_its_server_does_not_leak_it(tmp_path):
    script = tmp_path / "forgetful.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'libraries')!r})
        from WebSocketLoadLibrary.mockserver import MockServerProcess
        server = MockServerProcess()
        server.start()
        print(server.pid, flush=True)
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    pid = int(run.stdout.split()[0])
    wait_until(lambda: not psutil.pid_exists(pid), 10, 0.1)
    try:
        assert not psutil.pid_exists(pid), "the mock server outlived the script that started it"
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()


def test_readme_main_command_runs_the_suites_and_writes_log_and_report(tmp_path):
    """`./run suites`, the README's main command, in QUICK_MODE (the full dev run takes minutes;
    the pabot test runs every test with the CI figures)."""
    readme = (ROOT / "README.md").read_text()
    assert "main command" in readme and "./run suites" in readme
    run = subprocess.run(
        [str(ROOT / "run"), "suites", "--outputdir", str(tmp_path), "--console", "dotted"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "QUICK_MODE": "true", "CI": "", "ENVIRONMENT": "dev"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (tmp_path / "log.html").stat().st_size > 10_000
    assert (tmp_path / "report.html").exists()
    root = ET.parse(tmp_path / "output.xml").getroot()
    statistics = root.find("statistics/total/stat")
    assert int(statistics.get("pass")) >= 8 and int(statistics.get("fail")) == 0
    assert int(statistics.get("skip")) >= 10, "QUICK_MODE=true should skip the tests not tagged quick"
    environment = root.find(".//kw[@name='Start Load Test Target']")
    assert environment is not None
