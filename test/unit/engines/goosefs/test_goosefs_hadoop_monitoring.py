"""GooseFS ``spec.hadoopConfig`` and ``spec.disablePrometheus``, as upstream's chart had them.

The Hadoop files the engine found in the ConfigMap are mounted read-only under
``/hdfs-config`` in the master, job master, worker and job worker containers (not FUSE)
and named in ``goosefs.underfs.hdfs.configuration``; the master Services carry
``monitor: goosefs_runtime_metrics`` unless Prometheus is disabled.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.goosefs import GooseFSRuntime
from fluid.engines import base
from fluid.engines.goosefs import manifests

DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "warehouse", "namespace": "bi"},
    "spec": {"mounts": [{"mountPoint": "hdfs://namenode:8020/warehouse", "name": "wh"}]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "GooseFSRuntime",
    "metadata": {"name": "warehouse", "namespace": "bi"},
    "spec": {"replicas": 1, "hadoopConfig": "hdfs-conf"},
}
BOTH = base.HadoopConfig(configmap="hdfs-conf", files=("hdfs-site.xml", "core-site.xml"))
CORE = base.HadoopConfig(configmap="hdfs-conf", files=("core-site.xml",))


def _render(runtime: dict[str, Any] = RUNTIME, *,
            hadoop: base.HadoopConfig | None = BOTH) -> manifests.Rendered:
    ctx = render_context(kind="GooseFSRuntime", namespace="bi", name="warehouse",
                         runtime_type="goosefs", replicas=1)
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, GooseFSRuntime),
        dataset=converter.structure(DATASET, Dataset), ctx=ctx, hadoop=hadoop))


def _without(key: str) -> dict[str, Any]:
    runtime = copy.deepcopy(RUNTIME)
    del runtime["spec"][key]
    return runtime


def _containers(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in workload["spec"]["template"]["spec"]["containers"]}


def _volumes(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}


def _opts(out: manifests.Rendered) -> str:
    value: str = out.config["data"]["GOOSEFS_JAVA_OPTS"]
    return value


@pytest.mark.parametrize(("found", "items"), [
    (BOTH, [{"key": "hdfs-site.xml", "path": "hdfs-site.xml"},
            {"key": "core-site.xml", "path": "core-site.xml"}]),
    (CORE, [{"key": "core-site.xml", "path": "core-site.xml"}]),
])
def test_the_files_found_are_mounted_in_masters_and_workers(
    found: base.HadoopConfig, items: list[dict[str, str]]
) -> None:
    out = _render(hadoop=found)
    for workload, names in ((out.master, ("goosefs-master", "goosefs-job-master")),
                            (out.worker, ("goosefs-worker", "goosefs-job-worker"))):
        assert _volumes(workload)["hdfs-confs"] == {
            "name": "hdfs-confs", "configMap": {"name": "hdfs-conf", "items": items}}
        for name in names:
            assert {"name": "hdfs-confs", "mountPath": "/hdfs-config", "readOnly": True} in \
                _containers(workload)[name]["volumeMounts"]
    assert "hdfs-confs" not in _volumes(out.fuse)


def test_the_ufs_configuration_names_the_mounted_files() -> None:
    assert ("-Dgoosefs.underfs.hdfs.configuration="
            "/hdfs-config/hdfs-site.xml:/hdfs-config/core-site.xml") in _opts(_render())
    assert "-Dgoosefs.underfs.hdfs.configuration=/hdfs-config/core-site.xml " in \
        _opts(_render(hadoop=CORE))


def test_spec_properties_may_override_the_ufs_configuration() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["properties"] = {"goosefs.underfs.hdfs.configuration": "/etc/own.xml"}
    opts = _opts(_render(runtime))
    assert "-Dgoosefs.underfs.hdfs.configuration=/etc/own.xml" in opts
    assert "/hdfs-config/" not in opts


def test_without_hadoop_config_nothing_is_mounted() -> None:
    out = _render(_without("hadoopConfig"), hadoop=None)
    assert "hdfs-confs" not in _volumes(out.master)
    assert "hdfs-confs" not in _volumes(out.worker)
    assert "goosefs.underfs.hdfs.configuration" not in _opts(out)


@pytest.mark.parametrize("found", [None, base.HadoopConfig(configmap="other", files=("core-site.xml",))])
def test_rendering_needs_the_configmap_read_first(found: base.HadoopConfig | None) -> None:
    with pytest.raises(base.ValidationFailed, match="'hdfs-conf' has not been read"):
        _render(hadoop=found)


def test_master_services_are_labelled_for_prometheus_unless_disabled() -> None:
    services = _render().services
    assert services
    assert all(s["metadata"]["labels"]["monitor"] == "goosefs_runtime_metrics" for s in services)
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["disablePrometheus"] = True
    assert all("monitor" not in s["metadata"]["labels"] for s in _render(runtime).services)
