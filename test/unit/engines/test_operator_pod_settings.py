"""The operator's settings in what every engine applies: default images (env vs the runtime's
spec), ``IMAGE_PULL_SECRETS`` on every runtime pod, and the critical priority class on the
FUSE pods only. Each engine renders through ``CacheEngine.desired`` (what ``apply_all``
applies); Thin, whose render needs its profile read from the API, through its manifests and
the same base step (its engine is covered against the API server in the integration test)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.thin import ThinRuntime, ThinRuntimeProfile
from fluid.engines import base
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.goosefs import engine as goosefs
from fluid.engines.jindo import engine as jindo
from fluid.engines.juicefs import engine as juicefs
from fluid.engines.thin import manifests as thin_manifests
from fluid.scheduling.ports import PortAllocator, PortRange

sys.path.insert(0, str(Path(__file__).resolve().parent / "juicefs"))

from engine_render_ctx import render_context

Obj = dict[str, Any]
NS, NAME = "team", "data"
MEM = {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi"}]}


@attrs.frozen(kw_only=True)
class Case:
    """One engine: its factory, a minimal runtime and Dataset, and where images come from."""

    kind: str
    factory: Any
    runtime_spec: Obj
    mounts: list[Obj]
    runtime_env: str
    fuse_env: str
    version_field: str

    @property
    def env(self) -> dict[str, str]:
        return {self.runtime_env: f"op.registry/{self.kind.lower()}-runtime:op-1",
                self.fuse_env: f"op.registry/{self.kind.lower()}-fuse:op-2"}


_JUICEFS_MOUNT = {"name": "jfs", "mountPoint": "juicefs:///", "options": {"bucket": "http://b"},
                  "encryptOptions": [{"name": k, "valueFrom": {"secretKeyRef": {"name": "s", "key": k}}}
                                     for k in ("metaurl", "access-key", "secret-key")]}
CASES = [
    Case(kind="AlluxioRuntime", factory=AlluxioEngine, runtime_spec={"tieredstore": MEM},
         mounts=[{"name": "web", "mountPoint": "https://mirrors.example.com/hbase/"}],
         runtime_env="ALLUXIO_RUNTIME_IMAGE_ENV", fuse_env="ALLUXIO_FUSE_IMAGE_ENV",
         version_field="alluxioVersion"),
    Case(kind="JindoRuntime", factory=jindo.factory, runtime_spec={"tieredstore": MEM},
         mounts=[{"name": "oss", "mountPoint": "oss://bucket/data",
                  "options": {"fs.oss.endpoint": "oss-cn-hangzhou.aliyuncs.com"}}],
         runtime_env="JINDO_SMARTDATA_IMAGE_ENV", fuse_env="JINDO_FUSE_IMAGE_ENV",
         version_field="jindoVersion"),
    Case(kind="GooseFSRuntime", factory=goosefs.factory, runtime_spec={"tieredstore": MEM},
         mounts=[{"name": "cos", "mountPoint": "cosn://bucket/"}],
         runtime_env="GOOSEFS_RUNTIME_IMAGE_ENV", fuse_env="GOOSEFS_FUSE_IMAGE_ENV",
         version_field="goosefsVersion"),
    # JuiceFS's FUSE runs the edition's default image, as its workers do.
    Case(kind="JuiceFSRuntime", factory=juicefs.factory, runtime_spec={"tieredstore": MEM},
         mounts=[_JUICEFS_MOUNT], runtime_env="JUICEFS_CE_IMAGE_ENV",
         fuse_env="JUICEFS_CE_IMAGE_ENV", version_field="juicefsVersion"),
]


def snapshot(case: Case, spec: Obj | None = None) -> base.Snapshot:
    meta = {"name": NAME, "namespace": NS, "uid": "uid-1"}
    return base.Snapshot(
        runtime={"apiVersion": "data.fluid.io/v1alpha1", "kind": case.kind, "metadata": meta,
                 "spec": {**case.runtime_spec, **(spec or {})}},
        dataset={"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": meta,
                 "spec": {"mounts": case.mounts}})


async def desired(case: Case, config: base.EngineConfig, spec: Obj | None = None) -> list[Obj]:
    deps = base.EngineDeps(client=None, view=base.MemoryView(),  # type: ignore[arg-type]
                           ports=PortAllocator(PortRange(30000, 30999)), events=None,  # type: ignore[arg-type]
                           executor=base.RecordingExecutor(), config=config)
    engine = case.factory(deps, base.RuntimeKey(case.kind, NS, NAME))
    snap = snapshot(case, spec)
    return list(engine.desired(snap, await engine.context(snap)))


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if base.pod_template_spec(o) is not None]


def fuse_and_others(objects: list[Obj]) -> tuple[Obj, list[Obj]]:
    fuse = [o for o in workloads(objects) if o["kind"] == "DaemonSet"]
    assert len(fuse) == 1
    return fuse[0], [o for o in workloads(objects) if o["kind"] != "DaemonSet"]


def images(workload: Obj) -> set[str]:
    spec = workload["spec"]["template"]["spec"]
    return {c["image"] for c in [*spec.get("initContainers", []), *spec["containers"]]}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_fuse_pods_are_critical_and_every_pod_gets_the_pull_secrets(case: Case) -> None:
    config = base.EngineConfig(image_pull_secrets=("regcred", "mirror"))
    fuse, others = fuse_and_others(await desired(case, config))

    assert fuse["spec"]["template"]["spec"]["priorityClassName"] == "system-node-critical"
    assert others
    assert all("priorityClassName" not in o["spec"]["template"]["spec"] for o in others)
    for workload in (fuse, *others):
        assert workload["spec"]["template"]["spec"]["imagePullSecrets"] == [
            {"name": "regcred"}, {"name": "mirror"}], workload["metadata"]["name"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_critical_fuse_pod_off_and_no_secrets_render_neither(case: Case) -> None:
    objects = await desired(case, base.EngineConfig(critical_fuse_pod=False))
    for workload in workloads(objects):
        spec = workload["spec"]["template"]["spec"]
        assert "priorityClassName" not in spec
        assert "imagePullSecrets" not in spec


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_default_images_come_from_the_operator(case: Case) -> None:
    builtin_fuse, builtin_others = fuse_and_others(await desired(case, base.EngineConfig()))
    fuse, others = fuse_and_others(await desired(case, base.EngineConfig(images=case.env)))

    assert images(fuse) == {case.env[case.fuse_env]} != images(builtin_fuse)
    for workload, builtin in zip(others, builtin_others, strict=True):
        assert images(workload) == {case.env[case.runtime_env]} != images(builtin)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_the_runtime_spec_wins_over_the_operator(case: Case) -> None:
    spec = {case.version_field: {"image": "mine/runtime", "imageTag": "v9"},
            "fuse": {"image": "mine/fuse", "imageTag": "v8"}}
    fuse, others = fuse_and_others(await desired(case, base.EngineConfig(images=case.env), spec))
    assert images(fuse) == {"mine/fuse:v8"}
    assert all(images(o) == {"mine/runtime:v9"} for o in others)


async def test_a_tag_alone_in_the_spec_keeps_the_operators_repository() -> None:
    case = CASES[0]
    _, others = fuse_and_others(await desired(
        case, base.EngineConfig(images=case.env), {"alluxioVersion": {"imageTag": "2.9.4"}}))
    assert all(images(o) == {"op.registry/alluxioruntime-runtime:2.9.4"} for o in others)


async def test_pull_secrets_the_runtime_names_win() -> None:
    case = CASES[0]
    objects = await desired(case, base.EngineConfig(image_pull_secrets=("regcred",)),
                            {"imagePullSecrets": [{"name": "team-registry"}]})
    for workload in workloads(objects):
        assert workload["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "team-registry"}]


def test_thin_fuse_pods_through_the_same_step() -> None:
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "ThinRuntime",
               "metadata": {"name": NAME, "namespace": NS}, "spec": {"profileName": "nfs"}}
    profile = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "ThinRuntimeProfile",
               "metadata": {"name": "nfs"},
               "spec": {"fileSystemType": "nfs", "fuse": {"image": "nfs-fuse", "imageTag": "v1"}}}
    dataset = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
               "metadata": {"name": NAME, "namespace": NS},
               "spec": {"mounts": [{"name": "d", "mountPoint": "nfs://server:/export"}]}}
    rendered = thin_manifests.render(thin_manifests.RenderInput(
        runtime=converter.structure(runtime, ThinRuntime),
        profile=converter.structure(profile, ThinRuntimeProfile),
        dataset=converter.structure(dataset, Dataset),
        ctx=render_context(kind="ThinRuntime", namespace=NS, name=NAME, runtime_type="thin")))
    config = base.EngineConfig(image_pull_secrets=("regcred",))
    fuse, _ = fuse_and_others([base.apply_operator_settings(o, config) for o in rendered.objects()])
    assert fuse["spec"]["template"]["spec"]["priorityClassName"] == "system-node-critical"
    assert fuse["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert images(fuse) == {"nfs-fuse:v1"}


def test_operator_settings_leave_objects_without_pods_alone() -> None:
    config = base.EngineConfig(image_pull_secrets=("regcred",))
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}
    assert base.apply_operator_settings(dict(configmap), config) == configmap
    a_daemonset_that_is_not_fuse = {"kind": "DaemonSet", "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/component": "worker"}},
        "template": {"spec": {"containers": []}}}}
    spec = base.apply_operator_settings(a_daemonset_that_is_not_fuse, config)["spec"]["template"]["spec"]
    assert "priorityClassName" not in spec
