"""deploy/kubernetes/ and deploy/Containerfile, checked without a cluster: every manifest
against the Kubernetes schemas (kubernetes-validate, which ships them: no network), the
kustomizations' references, the agents' command against the agent's own argument parser,
the resource sizing against the memory figures it is based on, and the Grafana
provisioning ConfigMap against monitoring/'s files. With kubectl on PATH, `kubectl
kustomize` builds each variant too and what it builds is validated the same way."""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from k8s_manifests import (DEPLOY, KUSTOMIZE_API, MADE_BY_HAND, ROOT, container_command,
                           documents, find, generated, kustomization, listed_resources,
                           pod_container, run_settings)
from WebSocketLoadLibrary.agents.agent_server import HEALTH_PATH, parse_args

KUBERNETES_VERSIONS = ("1.29", "1.37")   # the oldest of the schemas' range we claim, the newest
MONITORING = DEPLOY / "monitoring"
TLS = DEPLOY / "tls"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
# the figures behind the agents' memory (agents.yaml's comment, README "Agents on Kubernetes")
IDLE_AGENT_BYTES = 52e6
BYTES_PER_CONNECTION = 33e3
CONNECTIONS_PER_AGENT = 10_000
HEADROOM = 1.25


def validate(obj: dict) -> None:
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} against Kubernetes "
                        f"{version}: {error}")


def apply_json_patch(obj: dict, operations: list[dict]) -> dict:
    """The JSON patch `add` operations of a kustomize patch (all the tls component uses)."""
    obj = copy.deepcopy(obj)
    for operation in operations:
        assert operation["op"] == "add", operation
        *parents, last = operation["path"].strip("/").split("/")
        node = obj
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if last == "-":
            node.append(operation["value"])
        else:
            node[last] = operation["value"]
    return obj


def with_tls() -> list[dict]:
    """The base's objects with the tls component's patches and generators."""
    component = kustomization(TLS)
    assert component["kind"] == "Component"
    objects = listed_resources() + generated()
    for patch in component["patches"]:
        target = find(objects, patch["target"]["kind"], patch["target"]["name"])
        objects[objects.index(target)] = apply_json_patch(target, yaml.safe_load(patch["patch"]))
    tls_generated = generated(TLS)
    for made in tls_generated:
        if made["metadata"]["name"] == "websocketload-run":   # behavior: merge
            base = find(objects, "ConfigMap", "websocketload-run")
            base["data"].update(made["data"])
        else:
            objects.append(made)
    return objects


def test_every_manifest_validates_against_the_kubernetes_schemas():
    variants = {"deploy/kubernetes": listed_resources() + generated(),
                "deploy/kubernetes with tls": with_tls(),
                "deploy/kubernetes/monitoring": listed_resources(MONITORING)}
    kinds = set()
    for variant, objects in variants.items():
        assert objects, variant
        for obj in objects:
            validate(obj)
            kinds.add(obj["kind"])
    assert {"Namespace", "Service", "StatefulSet", "Job", "ConfigMap", "Secret", "Deployment",
            "Role", "RoleBinding", "ServiceAccount"} <= kinds
    # and a broken one is caught: the check is not a formality
    agents = find(listed_resources(), "StatefulSet", "websocketload-agent")
    for field, value in (("readinessProbe", {"httpGet": {"path": "/healthz"}}),   # no port
                         ("resource", {"limits": {"memory": "512Mi"}})):        # misspelt
        broken = copy.deepcopy(agents)
        broken["spec"]["template"]["spec"]["containers"][0][field] = value
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, "1.37", strict=True)


def test_every_file_a_kustomization_names_is_there_and_every_manifest_is_named():
    named = set()
    for folder in (DEPLOY, TLS, MONITORING):
        spec = kustomization(folder)
        assert spec["apiVersion"].startswith(KUSTOMIZE_API)
        for entry in spec.get("resources", []) + spec.get("components", []):
            assert (folder / entry).exists(), (folder, entry)
            named.add((folder / entry).resolve())
        for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
            for item in generator.get("files", []):
                path = item.rpartition("=")[2]
                if path in MADE_BY_HAND:   # made by the user, never committed
                    ignored = subprocess.run(["git", "check-ignore", "-q", str(folder / path)],
                                             cwd=ROOT, timeout=10)
                    assert ignored.returncode == 0, f"{folder / path} is not git-ignored"
                else:
                    assert (folder / path).is_file(), (folder, path)
    manifests = {p.resolve() for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert manifests - named == set(), "manifests no kustomization lists"
    # the tls component is offered in the base, commented out
    assert re.search(r"^# components:\n#   - tls$", (DEPLOY / "kustomization.yaml").read_text(),
                     re.M)


def test_the_agents_run_the_agents_own_command_behind_a_headless_service():
    objects = listed_resources()
    service = find(objects, "Service", "websocketload-agents")
    agents = find(objects, "StatefulSet", "websocketload-agent")
    pod = agents["spec"]["template"]
    agent = pod_container("StatefulSet", "websocketload-agent")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert agents["spec"]["serviceName"] == "websocketload-agents"
    assert agents["spec"]["podManagementPolicy"] == "Parallel"
    spread = pod["spec"]["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    # the command is the agent's, with arguments its own parser takes
    command = container_command(agent, {"POD_NAME": "websocketload-agent-0"})
    assert command[:4] == ["python", "-m", "WebSocketLoadLibrary", "agent"]
    args = parse_args(command[4:])
    assert (args.host, args.name) == ("0.0.0.0", "websocketload-agent-0")
    port = agent["ports"][0]
    assert args.port == port["containerPort"] == service["spec"]["ports"][0]["port"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    secret_mount = next(m for m in agent["volumeMounts"] if m["name"] == "agent-secret")
    assert args.secret_file.startswith(secret_mount["mountPath"] + "/")
    probe = agent["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == (HEALTH_PATH, port["name"])
    # the controller finds them by the Service's name and port
    assert run_settings()["LOAD_AGENTS"] == f"dns:websocketload-agents:{args.port}"
    assert int(run_settings()["EXPECTED_AGENTS"]) == kustomization()["replicas"][0]["count"]
    # the image runs the same command and user
    containerfile = CONTAINERFILE.read_text()
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", containerfile, re.M).group(1)
    assert yaml.safe_load(entrypoint) == agent["command"]
    user = re.search(r"^USER (\d+):(\d+)$", containerfile, re.M).groups()
    for workload in (pod, find(objects, "Job", "websocketload-controller")["spec"]["template"]):
        context = workload["spec"]["securityContext"]
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user
        assert context["runAsNonRoot"] is True


def test_no_secret_is_built_into_the_image():
    containerfile = CONTAINERFILE.read_text()
    assert not re.search(r"^(ARG|ENV)\b.*(SECRET|TOKEN|PASSWORD|KEY)", containerfile, re.M | re.I)
    assert not re.search(r"^COPY\b.*(secret|\.pem|\.key|\.crt)", containerfile, re.M | re.I)
    ignore = [line.strip() for line in
              (ROOT / "deploy" / "Containerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"      # nothing goes in unless named, and deploy/ is not named
    assert not any(line.startswith("!deploy") for line in ignore)


def test_the_agents_memory_is_sized_from_the_memory_per_connection_figures():
    resources = pod_container("StatefulSet", "websocketload-agent")["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    budget = (IDLE_AGENT_BYTES + CONNECTIONS_PER_AGENT * BYTES_PER_CONNECTION) * HEADROOM
    limit = _bytes(resources["limits"]["memory"])
    assert budget <= limit < budget * 1.25, (budget, limit)
    assert resources["requests"]["cpu"] == "1"
    readme = (ROOT / "README.md").read_text()
    assert "| memory per connection, generator / mock server | 25.3 KB" in readme


def test_the_grafana_configmap_is_the_provisioning_of_monitoring():
    sys.path.insert(0, str(MONITORING))
    try:
        import make_provisioning
    finally:
        sys.path.remove(str(MONITORING))
    assert (MONITORING / "grafana-provisioning.yaml").read_text() == \
        make_provisioning.configmap_text(), "run deploy/kubernetes/monitoring/make_provisioning.py"
    data = find(listed_resources(MONITORING), "ConfigMap",
                "websocketload-grafana-provisioning")["data"]
    compose = documents(ROOT / "monitoring" / "compose.yaml")[0]
    grafana = pod_container_of(MONITORING, "Deployment", "websocketload-monitoring", "grafana")
    volumes = {v["name"]: v for v in find(listed_resources(MONITORING), "Deployment",
                                          "websocketload-monitoring")
               ["spec"]["template"]["spec"]["volumes"]}
    in_pod = {}
    for mount in grafana["volumeMounts"]:
        config_map = volumes[mount["name"]].get("configMap")
        for item in (config_map or {}).get("items", []):
            in_pod[f"{mount['mountPath']}/{item['path']}"] = data[item["key"]]
    in_compose = {}
    for volume in compose["services"]["grafana"]["volumes"]:
        source, target = volume.split(":")[:2]
        local = (ROOT / "monitoring" / source).resolve()
        files = [local] if local.is_file() else sorted(local.iterdir())
        for file in files:
            path = target if local.is_file() else f"{target}/{file.name}"
            in_compose[path] = file.read_text()
    assert in_pod == in_compose


def pod_container_of(folder, kind: str, name: str, container: str) -> dict:
    spec = find(listed_resources(folder), kind, name)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == container)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="no promtool (Debian's prometheus package, which .ci/run installs)")
def test_both_prometheus_configurations_pass_promtool(tmp_path):
    configs = {"monitoring/prometheus.yml": (ROOT / "monitoring" / "prometheus.yml").read_text(),
               "the cluster's": find(listed_resources(MONITORING), "ConfigMap",
                                     "websocketload-prometheus")["data"]["prometheus.yml"]}
    for what, text in configs.items():
        path = tmp_path / "prometheus.yml"
        path.write_text(text)
        check = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True,
                               text=True, timeout=30)
        if "field kubernetes_sd_configs not found" in check.stdout + check.stderr:
            # Debian builds Prometheus without Kubernetes discovery: check the rest
            data = yaml.safe_load(text)
            for job in data["scrape_configs"]:
                job.pop("kubernetes_sd_configs")
                job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
            path.write_text(yaml.safe_dump(data))
            check = subprocess.run(["promtool", "check", "config", str(path)],
                                   capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, (what, check.stdout, check.stderr)


@pytest.mark.skipif(shutil.which("kubectl") is None,
                    reason="no kubectl: its kustomize build is checked where it is installed")
def test_kubectl_kustomize_builds_what_was_validated(tmp_path):
    copy_of = tmp_path / "kubernetes"
    shutil.copytree(DEPLOY, copy_of)
    for path in MADE_BY_HAND:
        for folder in (copy_of, copy_of / "tls"):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text("x" * 32)
    (copy_of / "kustomization.yaml").write_text(
        (copy_of / "kustomization.yaml").read_text().replace("# components:\n#   - tls",
                                                             "components:\n  - tls"))
    builds = {}
    for name, folder in (("tls", copy_of), ("monitoring", copy_of / "monitoring")):
        built = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True,
                               text=True, timeout=60)
        assert built.returncode == 0, built.stderr
        builds[name] = [d for d in yaml.safe_load_all(built.stdout) if d]
    (copy_of / "kustomization.yaml").write_text((DEPLOY / "kustomization.yaml").read_text())
    built = subprocess.run(["kubectl", "kustomize", str(copy_of)], capture_output=True,
                           text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    builds["base"] = [d for d in yaml.safe_load_all(built.stdout) if d]
    for name, objects in builds.items():
        names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        for obj in objects:
            validate(obj)
            if obj["kind"] != "Namespace":
                assert obj["metadata"].get("namespace") == "loadtest", (name, obj["kind"])
            for ref in _references(obj):
                assert ref in names, (name, ref)
    agents = find(builds["base"], "StatefulSet", "websocketload-agent")
    assert agents["spec"]["template"]["spec"]["containers"][0]["image"] == "websocketload:0.2.0"
    tls_agent = find(builds["tls"], "StatefulSet", "websocketload-agent")
    assert "--tls-cert" in tls_agent["spec"]["template"]["spec"]["containers"][0]["args"]
    run = next(o for o in builds["tls"] if o["metadata"]["name"].startswith("websocketload-run"))
    assert run["data"]["LOAD_AGENTS"] == "dns:https://websocketload-agents:8270"


def _references(obj: dict) -> list[tuple[str, str]]:
    """The ConfigMaps and Secrets a workload mounts or reads its environment from."""
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    refs = []
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            refs.append(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.append(("Secret", volume["secret"]["secretName"]))
    for container in spec.get("containers", []):
        for source in container.get("envFrom", []):
            refs.append(("ConfigMap", source["configMapRef"]["name"]))
    return refs


def _bytes(quantity: str) -> float:
    units = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "K": 1e3, "M": 1e6, "G": 1e9}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity).groups()
    return float(number) * units.get(unit, 1)
