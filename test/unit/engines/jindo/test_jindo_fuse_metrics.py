"""JindoRuntime ``spec.fuse.metrics``: the FUSE metrics port (argument and container port)
and the ``prometheus.fuse.fluid.io/scrape`` annotation ``scrapeTarget`` puts on FUSE pods."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.jindo import JindoRuntime
from fluid.engines import base
from fluid.engines.jindo import engine, manifests

SCRAPE = "prometheus.fuse.fluid.io/scrape"
DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "logs", "namespace": "ops"},
    "spec": {"mounts": [{"mountPoint": "oss://lake/logs/", "name": "logs",
                         "options": {"fs.oss.endpoint": "oss-cn-beijing-internal.aliyuncs.com"}}]},
}


def _runtime(fuse: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"replicas": 1, **spec}
    if fuse is not None:
        body["fuse"] = fuse
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
            "metadata": {"name": "logs", "namespace": "ops"}, "spec": body}


def _fuse(runtime: dict[str, Any], ports: dict[str, int] | None = None) -> dict[str, Any]:
    ctx = render_context(kind="JindoRuntime", namespace="ops", name="logs",
                         runtime_type="jindo", replicas=1, ports=ports or {})
    out = manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, JindoRuntime),
        dataset=converter.structure(DATASET, Dataset), ctx=ctx))
    return out.fuse


def _container(fuse: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = fuse["spec"]["template"]["spec"]["containers"][0]
    return container


def _annotations(fuse: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = fuse["spec"]["template"]["metadata"]["annotations"]
    return found


def test_metrics_off_means_port_zero_and_no_container_port() -> None:
    fuse = _fuse(_runtime())
    assert "-ometrics_port=0" in _container(fuse)["args"]
    assert "ports" not in _container(fuse)
    assert SCRAPE not in _annotations(fuse)


def test_enabled_metrics_use_the_allocated_host_port() -> None:
    fuse = _fuse(_runtime({"metrics": {"enabled": True}}), ports={"fuse-metrics": 14123})
    assert "-ometrics_port=14123" in _container(fuse)["args"]
    assert _container(fuse)["ports"] == [{"name": "jindo-metrics", "containerPort": 14123}]


def test_enabled_metrics_in_container_network_use_the_default_port() -> None:
    fuse = _fuse(_runtime({"metrics": {"enabled": True}}, networkmode="ContainerNetwork"))
    assert "-ometrics_port=10001" in _container(fuse)["args"]
    assert _container(fuse)["ports"] == [{"name": "jindo-metrics", "containerPort": 10001}]


def test_a_port_in_fuse_args_wins_and_is_exposed_only_when_enabled() -> None:
    args = ["-oauto_cache", "-ometrics_port=9300"]
    enabled = _fuse(_runtime({"args": args, "metrics": {"enabled": True}}),
                    ports={"fuse-metrics": 14123})
    assert _container(enabled)["args"] == args
    assert _container(enabled)["ports"] == [{"name": "jindo-metrics", "containerPort": 9300}]
    disabled = _fuse(_runtime({"args": args}))
    assert _container(disabled)["args"] == args
    assert "ports" not in _container(disabled)


@pytest.mark.parametrize(("target", "scraped"), [
    ("MountPod", True), ("All", True), ("Sidecar,MountPod", True),
    ("Sidecar", False), ("None", False), (None, False),
])
def test_scrape_target_selects_the_fuse_pods(target: str | None, scraped: bool) -> None:
    metrics: dict[str, Any] = {"enabled": True}
    if target is not None:
        metrics["scrapeTarget"] = target
    annotations = _annotations(_fuse(_runtime({"metrics": metrics})))
    assert (annotations.get(SCRAPE) == "true") is scraped
    assert annotations["sidecar.istio.io/inject"] == "false"


def test_a_users_own_scrape_annotation_is_kept() -> None:
    fuse = {"metrics": {"enabled": True, "scrapeTarget": "MountPod"},
            "podMetadata": {"annotations": {SCRAPE: "false"}}}
    assert _annotations(_fuse(_runtime(fuse)))[SCRAPE] == "false"
    fuse["metrics"] = {"enabled": True, "scrapeTarget": "None"}
    assert _annotations(_fuse(_runtime(copy.deepcopy(fuse))))[SCRAPE] == "false"


def test_an_unknown_scrape_target_is_refused_by_validation() -> None:
    runtime = _runtime({"metrics": {"enabled": True, "scrapeTarget": "Everything"}})
    eng = engine.JindoEngine(
        base.EngineDeps(client=None, view=base.MemoryView(), ports=None,  # type: ignore[arg-type]
                        events=None, executor=None),  # type: ignore[arg-type]
        base.RuntimeKey("JindoRuntime", "ops", "logs"))
    with pytest.raises(base.ValidationFailed, match="scrapeTarget: unsupported mount mode"):
        eng.validate(base.Snapshot(runtime, copy.deepcopy(DATASET)))
