"""manifests/csi agrees with the plugin: driver name, socket paths, propagation, flags."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from fluid.cli import csi as cli
from fluid.csi import identity

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests" / "csi"


def _objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        objects.extend(d for d in yaml.safe_load_all((MANIFESTS / resource).read_text()) if d)
    return objects


def _one(kind: str) -> dict[str, Any]:
    (obj,) = [o for o in _objects() if o["kind"] == kind]
    return obj


def _container(name: str) -> dict[str, Any]:
    spec = _one("DaemonSet")["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == name]
    return container


def _host_path(volume_name: str) -> str:
    spec = _one("DaemonSet")["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == volume_name]
    return str(volume["hostPath"]["path"])


def _flag(args: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return value


def test_csidriver_matches_the_plugin() -> None:
    driver = _one("CSIDriver")
    assert driver["metadata"]["name"] == identity.DRIVER_NAME
    assert driver["spec"]["attachRequired"] is False
    assert driver["spec"]["podInfoOnMount"] is True


def test_registrar_and_plugin_agree_on_the_socket() -> None:
    plugin_args = _container("fluid-csi")["args"]
    registrar_args = _container("node-driver-registrar")["args"]
    endpoint = _flag(plugin_args, "endpoint")
    assert endpoint == "unix://" + _flag(registrar_args, "csi-address")
    plugin_dir = _host_path("plugin-dir")
    mount = [m for m in _container("fluid-csi")["volumeMounts"] if m["name"] == "plugin-dir"]
    inside = endpoint.removeprefix("unix://")
    on_host = plugin_dir + inside.removeprefix(mount[0]["mountPath"])
    assert _flag(registrar_args, "kubelet-registration-path") == on_host
    assert plugin_dir.endswith("/" + identity.DRIVER_NAME)


@pytest.mark.parametrize("volume", ["kubelet-dir", "runtime-mnt"])
def test_shared_host_dirs_are_bidirectional_at_the_same_path(volume: str) -> None:
    (mount,) = [m for m in _container("fluid-csi")["volumeMounts"] if m["name"] == volume]
    assert mount["mountPropagation"] == "Bidirectional"
    assert mount["mountPath"] == _host_path(volume)


def test_plugin_is_privileged_and_its_flags_parse() -> None:
    container = _container("fluid-csi")
    assert container["securityContext"]["privileged"] is True
    args = [a.replace("$(NODE_ID)", "node-1") for a in container["args"]]
    settings = cli.settings_from_args(cli.parse_args(shlex.split(" ".join(args))))
    assert settings.node_id == "node-1"
    assert str(settings.state_dir).startswith("/csi/")  # on the plugin-dir hostPath
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_rbac_covers_what_the_plugin_calls() -> None:
    rules = {
        (resource, verb)
        for rule in _one("ClusterRole")["rules"]
        for resource in rule["resources"] for verb in rule["verbs"]
    }
    assert {("nodes", "patch"), ("pods", "list"), ("events", "create"), ("datasets", "get")} <= rules
    binding = _one("ClusterRoleBinding")
    account = _one("ServiceAccount")
    assert binding["subjects"] == [{
        "kind": "ServiceAccount", "name": account["metadata"]["name"],
        "namespace": account["metadata"]["namespace"],
    }]
    template = _one("DaemonSet")["spec"]["template"]["spec"]
    assert template["serviceAccountName"] == account["metadata"]["name"]
