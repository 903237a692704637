"""The Grafana dashboard against a real Prometheus: every PromQL expression in
monitoring/grafana/websocket-load.json returns data while the run's first steps are still
running (nothing has ended yet: a watcher of a long first step sees no "No data"), and again
once a step on this machine and one on a load agent, at the same time, have ended.

Grafana itself cannot run here; Prometheus can: Debian's `prometheus` package (installed by
.ci/run; the test skips without it). It listens on a free loopback port with a generated
scrape config (1 s), stores in a temporary folder and is stopped by its PID.
"""
from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from agent_processes import ROOT, SECRET, start_agent
from polling import wait_until
from WebSocketLoadLibrary.library import WebSocketLoadLibrary
from WebSocketLoadLibrary.utils.arguments import Rate

DASHBOARD = ROOT / "monitoring" / "grafana" / "websocket-load.json"
PROMETHEUS = shutil.which("prometheus")
RATE_INTERVAL = "10s"   # $__rate_interval: covers the steps when the queries are evaluated

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="no prometheus binary on PATH: install Debian's package "
    "(apt-get install prometheus; .ci/run does) to check the Grafana dashboard's queries")


def expressions(node) -> list[str]:
    """Every `expr` in the dashboard, wherever it is (panels, rows, nested panels)."""
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in expressions(value)]
    if isinstance(node, list):
        return [e for value in node for e in expressions(value)]
    return []


def substituted(expr: str) -> str:
    """Grafana's template variables as a query with every agent selected would have them."""
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("${agent}", ".*")
            .replace("$agent", ".*"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(base: str, path: str, **params) -> dict:
    url = f"{base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


def start_prometheus(folder: Path, target_port: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = folder / "prometheus.yml"
    config.write_text(f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: websocket-load
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
    log = open(folder / "prometheus.log", "w")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    log.close()
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_every_dashboard_query_returns_data_from_a_real_prometheus(tmp_path, monkeypatch):
    queries = expressions(json.loads(DASHBOARD.read_text()))
    assert len(queries) >= 15, queries
    monkeypatch.chdir(tmp_path)                      # the steps' saved results land here
    monkeypatch.setenv("LOAD_AGENT_SECRET", SECRET)
    began = time.monotonic()
    library = WebSocketLoadLibrary()
    agent = prometheus = None
    try:
        url = library.run_keyword("start_metrics_endpoint", [], {"port": 0})
        prometheus, base = start_prometheus(tmp_path, urllib.parse.urlsplit(url).port)
        agent = start_agent("prom-agent")
        # OSError: not listening yet
        wait_until(lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2).status == 200,
                   20, 0.25, "Prometheus was not ready", ignoring=(OSError,))
        library.run_keyword("start_mock_server", [], {})
        library.run_keyword("connect_clients", [], {"count": 2})
        library.run_keyword("connect_load_agents", [agent.uri], {})
        library.run_keyword("connect_clients_on_agents", [], {"count": 2})
        wait_until(lambda: api(base, "/api/v1/query", query='up{job="websocket-load"} == 1')
                   ["data"]["result"], 15, 0.25, "Prometheus did not scrape the endpoint",
                   ignoring=(OSError,))
        # at the same time: the agent's share (polled on scrape, as nothing waits for it
        # meanwhile) and a step here, the run's first: the local one in a thread of its own,
        # so that the queries can be asked while both run
        started = time.time()
        library.run_keyword("start_load_on_agents", [Rate.from_text("100/s")],
                            {"messages": 600})
        local = threading.Thread(target=library.run_keyword, args=(
            "send_burst_at_rate", [500, Rate.from_text("100/s")], {}))
        local.start()
        try:
            # three scrapes into the steps (two make a rate): every query has data before
            # any step has ended
            wait_until(lambda: api(base, "/api/v1/query", query="count_over_time("
                                   "websocket_load_step_late_share{step=\"running\"}[10s])"
                                   " >= 3")["data"]["result"],
                       15, 0.25, "Prometheus did not see the first steps run",
                       ignoring=(OSError,))
            now = time.time()
            during = {expr: api(base, "/api/v1/query", query=substituted(expr), time=now)
                      for expr in queries}
            finished = api(base, "/api/v1/query", query="websocket_load_steps_finished_total",
                           time=now)["data"]["result"]
        finally:
            local.join(60)
        assert [float(s["value"][1]) for s in finished] == [0.0], finished   # truly first
        assert all(reply["status"] == "success" for reply in during.values()), during
        nothing = [expr for expr, reply in during.items() if not reply["data"]["result"]]
        assert not nothing, f"no data during the first step for: {nothing}"
        library.run_keyword("wait_for_load_on_agents", [], {})
        # evaluated just after the first scrape that saw both steps end: the rate window
        # then covers the steps however long this machine took to get there
        seen = wait_until(lambda: api(base, "/api/v1/query", query="timestamp("
                                      "websocket_load_steps_finished_total >= 2)")
                          ["data"]["result"], 15, 0.25, "Prometheus did not see both steps end",
                          ignoring=(OSError,))
        at = float(seen[0]["value"][1]) + 0.5
        generators = api(base, "/api/v1/label/agent/values",
                         **{"match[]": "websocket_load_messages_sent_total"})["data"]
        assert {"local", "prom-agent"} <= set(generators), generators
        empty, no_number = [], []
        for expr in queries:
            reply = api(base, "/api/v1/query", query=substituted(expr), time=at)
            assert reply["status"] == "success", (expr, reply)
            samples = reply["data"]["result"]
            if not samples:
                empty.append(expr)
            elif not any(math.isfinite(float(s["value"][1])) for s in samples):
                no_number.append(expr)
        assert not empty, f"no data for: {empty}"
        assert not no_number, f"only NaN for: {no_number}"
        sent = api(base, "/api/v1/query", time=at,
                   query="sum by (agent) (websocket_load_messages_sent_total)")["data"]["result"]
        assert {s["metric"]["agent"]: float(s["value"][1]) for s in sent} == \
            {"local": 500.0, "prom-agent": 600.0}
        # scraped while the steps ran, not only at their end: the agent's share too
        during = api(base, "/api/v1/query_range", start=started, end=at, step=0.5,
                     query="websocket_load_messages_sent_total")["data"]["result"]
        midway = {s["metric"]["agent"] for s in during
                  if any(0 < float(v) < 500 for _, v in s["values"])}
        assert midway == {"local", "prom-agent"}, during
    finally:
        try:
            library.close()
        finally:
            if agent is not None:
                agent.stop()
            if prometheus is not None:
                stop(prometheus)
    assert time.monotonic() - began < 75
