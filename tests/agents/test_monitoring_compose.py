"""monitoring/compose.yaml: its files are the ones in monitoring/, its pieces agree with each
other (Prometheus where the datasource looks, the dashboard where its provider looks), and
its Prometheus command, run for real (Debian's prometheus, .ci/run installs it) with
monitoring/prometheus.yml unchanged, scrapes a run's metrics endpoint on 127.0.0.1:9464.

That run happens in a network namespace of its own, so the config's fixed ports (9464, 9090)
are free whatever else runs on this machine. Docker itself cannot run here: the containers
are not started (README, "Agents on Kubernetes", says how to check them).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import yaml

from k8s_manifests import ROOT

MONITORING = ROOT / "monitoring"
COMPOSE = MONITORING / "compose.yaml"
PROMETHEUS = shutil.which("prometheus")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: str) -> dict[str, str]:
    """Container path: local path, of a service's bind mounts."""
    found = {}
    for volume in compose()["services"][service]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = str((MONITORING / source).resolve())
    return found


def flags(service: str) -> dict[str, str]:
    return dict(part.removeprefix("--").split("=", 1)
                for part in compose()["services"][service]["command"])


def test_the_compose_file_provisions_the_files_of_monitoring():
    services = compose()["services"]
    assert set(services) == {"prometheus", "grafana"}
    for name, service in services.items():
        image, _, tag = service["image"].rpartition(":")
        assert image and tag and tag != "latest", service["image"]
        assert service["network_mode"] == "host"   # 127.0.0.1 is the host's: files unchanged
        for local in mounts(name).values():
            assert os.path.exists(local), local
    # Prometheus reads monitoring/prometheus.yml, listening where the datasource looks
    prometheus = flags("prometheus")
    assert mounts("prometheus")[prometheus["config.file"]] == str(MONITORING / "prometheus.yml")
    datasource = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yaml")
                                .read_text())["datasources"][0]
    assert urlsplit(datasource["url"]).netloc == prometheus["web.listen-address"]
    # Grafana's providers and datasources from monitoring/grafana/provisioning, the dashboard
    # in the folder its provider names
    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning/datasources"] == \
        str(MONITORING / "grafana/provisioning/datasources")
    assert grafana["/etc/grafana/provisioning/dashboards"] == \
        str(MONITORING / "grafana/provisioning/dashboards")
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/websocket-load.yaml")
                              .read_text())["providers"][0]
    dashboard = next(t for t, s in grafana.items() if s.endswith("websocket-load.json"))
    assert os.path.dirname(dashboard) == provider["options"]["path"]
    environment = services["grafana"]["environment"]
    assert environment["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboard


# what runs inside the namespace: the run's endpoint where monitoring/prometheus.yml looks,
# a short local step, then Prometheus asked (where the datasource looks) until it has both
RUN_AND_ASK = r"""
import json, sys, time, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[1])
from WebSocketLoadLibrary.library import WebSocketLoadLibrary
from WebSocketLoadLibrary.utils.arguments import Rate
endpoint, prometheus = sys.argv[2], sys.argv[3]
host, port = endpoint.split(":")
library = WebSocketLoadLibrary()
answer = {"up": None, "sent": None}
try:
    library.run_keyword("start_metrics_endpoint", [], {"port": int(port), "host": host})
    library.run_keyword("start_mock_server", [], {})
    library.run_keyword("connect_clients", [], {"count": 2})
    library.run_keyword("send_burst_at_rate", [300, Rate.from_text("300/s")], {})
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not (answer["up"] and answer["sent"]):
        time.sleep(0.5)
        for key, query in (("up", 'up{job="websocket-load"}'),
                           ("sent", "sum(websocket_load_messages_sent_total)")):
            try:
                url = f"http://{prometheus}/api/v1/query?" + urllib.parse.urlencode(
                    {"query": query})
                result = json.loads(urllib.request.urlopen(url, timeout=2).read())
                values = result["data"]["result"]
                answer[key] = float(values[0]["value"][1]) if values else None
            except OSError:
                pass
finally:
    library.close()
print(json.dumps(answer))
"""


def _cannot_run() -> str | None:
    if PROMETHEUS is None:
        return "no prometheus binary (Debian's package; .ci/run installs it)"
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "a network namespace of its own needs root and iproute2"
    return None


@pytest.mark.acceptance
@pytest.mark.timeout(180)
def test_the_compose_prometheus_scrapes_a_run_with_the_files_as_they_are(tmp_path):
    reason = _cannot_run()
    if reason:
        pytest.skip(reason)
    namespace = f"wslmon{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", namespace], check=True, timeout=20)
    prometheus = None
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True,
                       timeout=20)
        # the compose service's command, its container paths as the files they mount
        command = []
        for part in compose()["services"]["prometheus"]["command"]:
            flag, value = part.split("=", 1)
            value = mounts("prometheus").get(value, value)
            if flag == "--storage.tsdb.path":
                value = str(tmp_path / "data")
            command.append(f"{flag}={value}")
        log = open(tmp_path / "prometheus.log", "w")
        prometheus = subprocess.Popen(["ip", "netns", "exec", namespace, PROMETHEUS, *command],
                                      stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        log.close()
        target = yaml.safe_load((MONITORING / "prometheus.yml").read_text())[
            "scrape_configs"][0]["static_configs"][0]["targets"][0]
        asked = subprocess.run(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", RUN_AND_ASK,
             str(ROOT / "libraries"), target, flags("prometheus")["web.listen-address"]],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT / "libraries")})
        assert asked.returncode == 0, asked.stderr[-3000:]
        answer = json.loads(asked.stdout.strip().splitlines()[-1])
        assert answer == {"up": 1.0, "sent": 300.0}, (answer, (tmp_path / "prometheus.log")
                                                      .read_text()[-2000:])
    finally:
        if prometheus is not None and prometheus.poll() is None:
            prometheus.terminate()
            try:
                prometheus.wait(10)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait(5)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)
