"""Reading deploy/kubernetes/ as kubectl would, for the tests: the kustomizations, the
resources they list, the objects their generators make, and what a container runs (its
command and environment, `$(VAR)` expanded, paths of its mounts mapped to local folders)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
KUSTOMIZE_API = "kustomize.config.k8s.io/"
# files a user creates by hand before `kubectl apply -k` (README, "Agents on Kubernetes")
MADE_BY_HAND = {"secrets/agent-secret", "secrets/tls.crt", "secrets/tls.key", "secrets/ca.crt"}


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization(folder: Path = DEPLOY) -> dict:
    return documents(folder / "kustomization.yaml")[0]


def listed_resources(folder: Path = DEPLOY) -> list[dict]:
    """The objects of the YAML files a kustomization lists (a listed folder: its own
    kustomization's), as written, before kustomize's transformations."""
    objects = []
    for entry in kustomization(folder).get("resources", []):
        path = (folder / entry).resolve()
        objects += listed_resources(path) if path.is_dir() else documents(path)
    return objects


def generated(folder: Path = DEPLOY, placeholder: str = "x" * 32) -> list[dict]:
    """The ConfigMaps and Secrets a kustomization's generators make (names without kustomize's
    hash suffix); a file made by hand that is missing holds `placeholder`."""
    made = []
    spec = kustomization(folder)
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in spec.get(key, []):
            data = {}
            for item in generator.get("files", []):
                name, _, path = item.rpartition("=") if "=" in item else ("", "", item)
                file = folder / path
                data[name or file.name] = (file.read_text() if file.exists()
                                           else placeholder if path in MADE_BY_HAND
                                           else file.read_text())
            for literal in generator.get("literals", []):
                name, _, value = literal.partition("=")
                data[name] = value
            obj = {"apiVersion": "v1", "kind": kind,
                   "metadata": {"name": generator["name"],
                                "labels": generator.get("options", {}).get("labels", {})},
                   "data": data}
            if kind == "Secret":
                import base64
                obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
                if "type" in generator:
                    obj["type"] = generator["type"]
            made.append(obj)
    return made


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def pod_container(kind: str, name: str, container: str | None = None) -> dict:
    spec = find(listed_resources(), kind, name)["spec"]["template"]["spec"]
    containers = spec["containers"]
    return containers[0] if container is None else next(c for c in containers
                                                        if c["name"] == container)


def run_settings() -> dict:
    """The controller's settings: the ConfigMap websocketload-run's literals."""
    return find(generated(), "ConfigMap", "websocketload-run")["data"]


def container_env(container: dict, fields: dict, config_maps: dict | None = None) -> dict:
    """What a container's environment is: its envFrom ConfigMaps (`config_maps` by name),
    then its env, values from `fields` for each fieldRef (by fieldPath)."""
    env = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = _expand(str(item["value"]), env)
        else:
            env[item["name"]] = fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def container_command(container: dict, env: dict) -> list[str]:
    return [_expand(str(part), env) for part in container.get("command", [])
            + container.get("args", [])]


def _expand(text: str, env: dict) -> str:
    """Kubernetes' $(VAR) in command, args and env values."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: env.get(m.group(1), m.group(0)), text)


def mounted(value: str, mounts: dict[str, Path]) -> str:
    """A path inside the container as the local folder standing in for its mount."""
    for mount_path, local in sorted(mounts.items(), key=lambda m: -len(m[0])):
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(local) + value[len(mount_path):]
    return value
