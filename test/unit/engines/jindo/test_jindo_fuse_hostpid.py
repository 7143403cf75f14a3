"""``runtime.fluid.io/fuse.hostpid`` on a JindoRuntime: its FUSE pods share the host's PID
namespace; masters and workers never do."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.jindo import JindoRuntime
from fluid.engines.jindo import manifests

DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "logs", "namespace": "ops"},
    "spec": {"mounts": [{"mountPoint": "oss://lake/logs/", "name": "logs",
                         "options": {"fs.oss.endpoint": "oss-cn-beijing-internal.aliyuncs.com"}}]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
    "metadata": {"name": "logs", "namespace": "ops"},
    "spec": {"replicas": 1},
}


def _render(annotations: dict[str, str] | None) -> manifests.Rendered:
    runtime = copy.deepcopy(RUNTIME)
    if annotations is not None:
        runtime["metadata"]["annotations"] = annotations
    ctx = render_context(kind="JindoRuntime", namespace="ops", name="logs",
                         runtime_type="jindo", replicas=1)
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, JindoRuntime),
        dataset=converter.structure(DATASET, Dataset), ctx=ctx))


@pytest.mark.parametrize("value", ["true", "True", "1"])
def test_the_annotation_puts_fuse_in_the_host_pid_namespace(value: str) -> None:
    out = _render({"runtime.fluid.io/fuse.hostpid": value})
    assert out.fuse["spec"]["template"]["spec"]["hostPID"] is True
    for workload in (out.master, out.worker):
        assert "hostPID" not in workload["spec"]["template"]["spec"]


@pytest.mark.parametrize("annotations", [None, {"runtime.fluid.io/fuse.hostpid": "false"},
                                         {"runtime.fluid.io/fuse.hostpid": "on"}])
def test_without_a_true_annotation_fuse_keeps_its_own_pid_namespace(
    annotations: dict[str, str] | None,
) -> None:
    assert "hostPID" not in _render(annotations).fuse["spec"]["template"]["spec"]
