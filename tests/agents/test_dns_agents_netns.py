"""Agents found by DNS, as in a Kubernetes pod, without a cluster: a stand-in cluster of
network namespaces.

- The controller's namespace holds a bridge (the pod network, 198.18.0.0/24: RFC 2544's
  benchmark range, and no link to this machine's own network at all) and a real DNS
  server, Debian's dnsmasq, on its loopback port 53. `ip netns exec` mounts
  /etc/netns/<ns>/resolv.conf over /etc/resolv.conf, so the controller resolves through it
  with a pod's search domains and ndots:5, exactly as in a pod.
- Each agent pod is a namespace of its own on the bridge, running the StatefulSet's command
  and arguments (deploy/kubernetes/agents.yaml, $(POD_NAME) expanded); dnsmasq answers the
  headless Service's name, websocketload-agents.loadtest.svc.cluster.local, with one A
  record per pod that is up, as the Service does per ready pod.
- The controller runs the Job's command (sh /suite/run-suite.sh) with the Job's environment
  (the ConfigMap websocketload-run and the Job's env; the pod's IP is the bridge's address),
  its mounts standing in as local folders: the suite deploy/kubernetes/suite/ itself.

Then: two agents found; one added and one removed between two runs; a run that waits for an
agent still starting; one that gives up naming what it found; an agent that stops answering
mid-step and leaves the name, failing the step by name with the others' results saved.
Needs root, iproute2 and dnsmasq (.ci/run installs them); skipped with the reason elsewhere.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_processes import SECRET, AgentProcess
from polling import wait_until
from k8s_manifests import (DEPLOY, ROOT, container_command, container_env, find, generated,
                           listed_resources, mounted, pod_container)
from robot.api import ExecutionResult, ResultVisitor
from WebSocketLoadLibrary.engine import LoadResult

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(300)]

DNSMASQ = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq")
                                      else None)
NAMESPACE = "loadtest"
SERVICE_FQDN = f"websocketload-agents.{NAMESPACE}.svc.cluster.local"
NET = "198.18.0"            # the pod network, inside the stand-in cluster only
CONTROLLER_IP = f"{NET}.1"
SECRET_MOUNT = "/var/run/secrets/websocketload"


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=20)


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if DNSMASQ is None:
        return "no dnsmasq (Debian's dnsmasq-base; .ci/run installs it)"
    probe = f"wslkprobe{os.getpid()}"
    try:
        _run("ip", "netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"ip netns add failed here: {getattr(error, 'stderr', '') or error}"
    _run("ip", "netns", "del", probe)
    return None


class StandInCluster:
    """The controller's namespace with the pod network's bridge and dnsmasq, and agent pods."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.prefix = f"wsk{os.getpid() % 100000}"
        self.controller = f"{self.prefix}-ctl"
        self.pods: dict[int, tuple[str, str, AgentProcess]] = {}   # index: (ns, ip, agent)
        self.hosts_file = folder / "service.hosts"
        self.hosts_file.write_text("")
        self.secrets = folder / "secrets"
        self.secrets.mkdir()
        (self.secrets / "secret").write_text(SECRET + "\n")
        self.dns = None
        self._etc = []
        self._frozen: list[tuple[str, AgentProcess]] = []
        try:
            _run("ip", "netns", "add", self.controller)
            inside = ("ip", "-n", self.controller)
            _run(*inside, "link", "set", "lo", "up")
            _run(*inside, "link", "add", "br0", "type", "bridge")
            _run(*inside, "addr", "add", f"{CONTROLLER_IP}/24", "dev", "br0")
            _run(*inside, "link", "set", "br0", "up")
            # a pod's resolver: the cluster's DNS server, its search domains, ndots:5
            self._resolv_conf(self.controller, "nameserver 127.0.0.1\n"
                              f"search {NAMESPACE}.svc.cluster.local svc.cluster.local "
                              f"cluster.local\noptions ndots:5 timeout:1 attempts:2\n")
            log = open(folder / "dnsmasq.log", "w")
            self.dns = subprocess.Popen(
                ["ip", "netns", "exec", self.controller, DNSMASQ, "--keep-in-foreground",
                 "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file=",
                 "--user=root", "--group=root", "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--port=53", "--local=/cluster.local/",
                 f"--addn-hosts={self.hosts_file}", "--log-facility=-", "--log-queries"],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            self._wait_for_dns()
        except BaseException:
            self.remove()
            raise

    def _resolv_conf(self, namespace: str, text: str) -> None:
        folder = Path("/etc/netns") / namespace
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "resolv.conf").write_text(text)
        self._etc.append(folder)

    def _wait_for_dns(self) -> None:
        log = self.folder / "dnsmasq.log"
        wait_until(lambda: self.dns.poll() is not None or "started, version" in log.read_text(),
                   10, message="dnsmasq did not start")
        if self.dns.poll() is not None:
            raise RuntimeError(f"dnsmasq exited: {log.read_text()}")

    def resolve(self) -> list[str]:
        """The Service's addresses as the controller's namespace sees them now."""
        probe = subprocess.run(
            ["ip", "netns", "exec", self.controller, sys.executable, "-c",
             "import json, socket; print(json.dumps(sorted({a[4][0] for a in socket.getaddrinfo("
             "'websocketload-agents', 8270, type=socket.SOCK_STREAM)})))"],
            capture_output=True, text=True, timeout=20)
        return json.loads(probe.stdout) if probe.returncode == 0 else []

    def _publish(self) -> None:
        """The Service's A records: one per pod that is up; dnsmasq re-reads them on HUP."""
        self.hosts_file.write_text("".join(f"{ip} {SERVICE_FQDN}\n"
                                           for _, ip, _ in self.pods.values()))
        self.dns.send_signal(signal.SIGHUP)
        wanted = sorted(ip for _, ip, _ in self.pods.values())
        wait_until(lambda: self.resolve() == wanted, 10, 0.1,
                   message=f"dnsmasq did not answer {wanted}")

    def add_pod(self, index: int) -> AgentProcess:
        """Agent pod websocketload-agent-<index>: a namespace on the bridge running the
        StatefulSet's command, then listed in the Service's name (once it serves, as a
        readiness probe would have it)."""
        namespace, ip = f"{self.prefix}-p{index}", f"{NET}.{10 + index}"
        outside, inside = f"{self.prefix}v{index}", f"{self.prefix}e{index}"
        _run("ip", "netns", "add", namespace)
        self._resolv_conf(namespace, "nameserver 127.0.0.1\n")   # nothing leaves the pod
        _run("ip", "-n", self.controller, "link", "add", outside, "type", "veth", "peer",
             "name", inside, "netns", namespace)
        _run("ip", "-n", self.controller, "link", "set", outside, "master", "br0", "up")
        _run("ip", "-n", namespace, "addr", "add", f"{ip}/24", "dev", inside)
        _run("ip", "-n", namespace, "link", "set", inside, "up")
        _run("ip", "-n", namespace, "link", "set", "lo", "up")
        name = f"websocketload-agent-{index}"
        container = pod_container("StatefulSet", "websocketload-agent")
        env = container_env(container, {"metadata.name": name})
        command = [mounted(part, {SECRET_MOUNT: self.secrets})
                   for part in container_command(container, env)]
        assert command[0] == "python"
        agent = _start_in(namespace, [sys.executable, *command[1:]], env, name)
        self.pods[index] = (namespace, ip, agent)
        self._publish()
        return agent

    def remove_pod(self, index: int, freeze_first: bool = False) -> None:
        """The pod goes: out of the Service's name, then its agent stops (frozen first: it
        then stops answering without closing anything, as a pod cut off does), then its
        namespace."""
        namespace, _, agent = self.pods.pop(index)
        self._publish()
        if freeze_first:
            agent.process.send_signal(signal.SIGSTOP)
            self._frozen.append((namespace, agent))
        else:
            self._end(namespace, agent)

    def end_frozen(self) -> None:
        while self._frozen:
            namespace, agent = self._frozen.pop()
            self._end(namespace, agent)

    def _end(self, namespace: str, agent: AgentProcess) -> None:
        agent.process.send_signal(signal.SIGCONT)
        agent.stop()
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)

    def controller_run(self, folder: Path, **settings) -> tuple[subprocess.Popen, Path]:
        """Starts the Job's command in the controller's namespace, with the Job's environment
        (the run settings changed by `settings`, as a user edits websocketload-run)."""
        job = find(listed_resources(), "Job", "websocketload-controller")
        container = job["spec"]["template"]["spec"]["containers"][0]
        run_map = {**find(generated(), "ConfigMap", "websocketload-run")["data"], **settings}
        env = container_env(container, {"metadata.name": "websocketload-controller-test",
                                        "status.podIP": CONTROLLER_IP},
                            {_run_map_name(container): run_map})
        output = folder / "output"
        output.mkdir(parents=True)
        (output / ".copied").touch()   # what a user does once copied: the pod ends at once
        mounts = {"/suite": DEPLOY / "suite", "/output": output, SECRET_MOUNT: self.secrets}
        env = {key: mounted(value, mounts) for key, value in env.items()}
        command = [mounted(part, mounts) for part in container_command(container, env)]
        assert command == ["sh", str(DEPLOY / "suite" / "run-suite.sh")]
        environment = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                       "PYTHONPATH": str(ROOT / "libraries"), "HOME": str(folder),
                       "MPLCONFIGDIR": str(folder / "matplotlib"), **env}
        process = subprocess.Popen(["ip", "netns", "exec", self.controller, *command],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=environment, cwd=folder)
        return process, output

    def remove(self) -> None:
        for index in list(self.pods):
            namespace, _, agent = self.pods.pop(index)
            self._end(namespace, agent)
        self.end_frozen()
        if self.dns is not None and self.dns.poll() is None:
            self.dns.terminate()
            self.dns.wait(10)
        subprocess.run(["ip", "netns", "del", self.controller], capture_output=True, timeout=20)
        for folder in self._etc:
            shutil.rmtree(folder, ignore_errors=True)


def _run_map_name(container: dict) -> str:
    return container["envFrom"][0]["configMapRef"]["name"]


def _start_in(namespace: str, command: list[str], env: dict, name: str) -> AgentProcess:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "PYTHONPATH": str(ROOT / "libraries"), **env}
    process = subprocess.Popen(["ip", "netns", "exec", namespace, *command],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=environment, cwd=ROOT)
    line = _read_line(process, 20)
    if "ready at " not in line:
        process.kill()
        process.wait(5)
        raise RuntimeError(f"agent {name} did not start: {line!r} {process.stderr.read()!r}")
    return AgentProcess(process, line.split("ready at ")[1].split()[0], name, line.strip())


def _read_line(process: subprocess.Popen, timeout_s: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=0.2):
                return process.stdout.readline()
    return ""


def _finish(process: subprocess.Popen, timeout_s: float = 150) -> str:
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate(timeout=10)
        pytest.fail(f"the controller did not finish within {timeout_s} s: {out}")
    return out


def _tests(output: Path) -> dict:
    collector = _Tests()
    ExecutionResult(str(output / "output.xml")).suite.visit(collector)
    return collector.found


class _Tests(ResultVisitor):
    def __init__(self):
        self.found = {}

    def visit_test(self, test):
        self.found[test.name] = test


def _saved(output: Path) -> LoadResult:
    (path,) = list((output / "load-results").glob("*.json"))
    return LoadResult.from_dict(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = _cannot_run()
    if reason:
        pytest.skip(f"no stand-in cluster: {reason}")
    made = StandInCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield made
    finally:
        made.remove()


def test_two_agents_found_then_one_added_and_one_removed_between_two_runs(cluster, tmp_path):
    cluster.add_pod(0)
    cluster.add_pod(1)
    process, output = cluster.controller_run(tmp_path / "first")
    console = _finish(process)
    assert process.returncode == 0, console
    assert "robot exit code 0" in console
    for name in ("log.html", "report.html", "output.xml"):
        assert (output / name).is_file(), name
    first = _saved(output)
    assert [a["name"] for a in first.agents] == ["websocketload-agent-0", "websocketload-agent-1"]
    assert [a["uri"] for a in first.agents] == [f"http://{NET}.10:8270", f"http://{NET}.11:8270"]
    assert first.load_applied and first.received == first.sent > 0
    # scaled: a pod added, another gone; the next connect finds exactly those behind the name
    cluster.add_pod(2)
    cluster.remove_pod(0)
    assert cluster.resolve() == [f"{NET}.11", f"{NET}.12"]
    process, output = cluster.controller_run(tmp_path / "second")
    console = _finish(process)
    assert process.returncode == 0, console
    second = _saved(output)
    assert [a["name"] for a in second.agents] == ["websocketload-agent-1", "websocketload-agent-2"]
    assert second.load_applied


def test_a_run_waits_for_the_expected_agents_then_gives_up_naming_what_it_found(cluster,
                                                                                tmp_path):
    up = sorted(cluster.pods)
    assert len(up) == 2
    # three expected, two up: the run waits; a third pod comes up 3 s later and is used
    process, output = cluster.controller_run(tmp_path / "waits", EXPECTED_AGENTS="3")
    time.sleep(3)
    assert process.poll() is None, "the controller did not wait for the third agent"
    cluster.add_pod(3)
    console = _finish(process)
    assert process.returncode == 0, console
    assert len(_saved(output).agents) == 3
    # four expected within 3 s, three there: the run fails naming them and the name's answer
    began = time.monotonic()
    process, output = cluster.controller_run(tmp_path / "gives-up", EXPECTED_AGENTS="4",
                                             AGENT_WAIT="3 s")
    console = _finish(process)
    assert process.returncode == 1, console
    (test,) = _tests(output).values()
    assert test.status == "FAIL"
    ips = [cluster.pods[i][1] for i in sorted(cluster.pods)]
    assert test.message.startswith(
        "3 of 4 expected load agents behind dns:websocketload-agents:8270 answered within "
        "3 s; answered: " + ", ".join(f"websocketload-agent-{i} (http://{ip}:8270)"
                                      for i, ip in zip(sorted(cluster.pods), ips))), test.message
    assert test.message.endswith("dns:websocketload-agents:8270 had 3 address(es) at the last "
                                 "look: " + ", ".join(ips)), test.message
    assert time.monotonic() - began < 60


def test_an_agent_that_dies_mid_step_fails_the_step_by_name_the_others_results_saved(cluster,
                                                                                     tmp_path):
    survivors = sorted(cluster.pods)[:-1]
    doomed = sorted(cluster.pods)[-1]
    doomed_ip = cluster.pods[doomed][1]
    process, output = cluster.controller_run(tmp_path / "dies", AGENT_DURATION="6 s",
                                             EXPECTED_AGENTS=str(len(cluster.pods)))
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = _read_line(process, 5)
        lines.append(line)
        if "load agent(s)" in line and "[INFO] load on" in line:
            break
        assert line or process.poll() is None, "".join(lines)
    time.sleep(1.5)   # well into the step
    began = time.monotonic()
    cluster.remove_pod(doomed, freeze_first=True)   # out of DNS, and silent
    try:
        console = "".join(lines) + _finish(process)
    finally:
        cluster.end_frozen()
    # found lost by its name's answer after one unanswered poll, not after four
    assert time.monotonic() - began < 25, console
    assert process.returncode == 1, console
    (test,) = _tests(output).values()
    assert test.status == "FAIL"
    assert f"failed on 1 of {len(survivors) + 1} load agents (websocketload-agent-{doomed})" \
        in test.message, test.message
    assert f"load agent websocketload-agent-{doomed} (http://{doomed_ip}:8270) cannot be " \
           f"reached" in test.message
    assert "its address is no longer behind dns:websocketload-agents:8270 (its pod is gone?)" \
        in test.message, test.message
    kept = _saved(output)
    assert [a["name"] for a in kept.agents] == [f"websocketload-agent-{i}" for i in survivors]
    assert not kept.load_applied and kept.received > 0
    assert any(r.startswith(f"agent websocketload-agent-{doomed} failed")
               for r in kept.not_applied_reasons)
