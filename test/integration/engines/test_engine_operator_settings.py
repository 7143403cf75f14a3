"""Every engine applies the operator's settings, against a real API server with kwok nodes.

For each runtime kind the engine, built with an ``EngineConfig`` read from an environment
(as the controller-manager builds it), applies its objects once: the FUSE DaemonSet asks
for ``system-node-critical`` and the FUSE pod the DaemonSet controller creates runs at that
class's priority (so the API server accepts the class in a user namespace), every runtime
workload names the operator's pull secrets, images come from the environment where the
runtime names none, and the PV's FUSE path lies under ``MOUNT_ROOT``. Only the exec
boundary is faked.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
from engines_driver import Driver, EngineEnv, component, label_node, wait_ready_pods

from fluid.api import constants, kinds
from fluid.engines import base, settings_env
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.goosefs import engine as goosefs
from fluid.engines.jindo import engine as jindo
from fluid.engines.juicefs import engine as juicefs
from fluid.engines.thin.engine import ThinEngine
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
NAME = "opdata"
SYSTEM_NODE_CRITICAL = 2000001000
"""The priority of the built-in ``system-node-critical`` class."""
ENV = {
    "MOUNT_ROOT": "/var/lib/fluid-op",
    "IMAGE_PULL_SECRETS": "regcred,mirror-cred",
    "ALLUXIO_RUNTIME_IMAGE_ENV": "op.local/alluxio:op-1",
    "ALLUXIO_FUSE_IMAGE_ENV": "op.local/alluxio-fuse:op-1",
    "JINDO_SMARTDATA_IMAGE_ENV": "op.local/smartdata:op-1",
    "JINDO_FUSE_IMAGE_ENV": "op.local/jindo-fuse:op-1",
    "GOOSEFS_RUNTIME_IMAGE_ENV": "op.local/goosefs:op-1",
    "GOOSEFS_FUSE_IMAGE_ENV": "op.local/goosefs-fuse:op-1",
    "JUICEFS_CE_IMAGE_ENV": "op.local/juicefs:ce-op-1",
}
MEM = {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}


@attrs.frozen(kw_only=True)
class Case:
    kind: str
    factory: Callable[[base.EngineDeps, base.RuntimeKey], Any]
    mounts: list[Obj]
    runtime_spec: Obj
    runtime_image: str | None
    """What master/worker containers run (None: no image from the environment applies)."""
    fuse_image: str


CASES = [
    Case(kind="AlluxioRuntime", factory=AlluxioEngine,
         mounts=[{"name": "web", "mountPoint": "https://mirrors.example.com/hbase/"}],
         runtime_spec={"tieredstore": MEM}, runtime_image=ENV["ALLUXIO_RUNTIME_IMAGE_ENV"],
         fuse_image=ENV["ALLUXIO_FUSE_IMAGE_ENV"]),
    Case(kind="JindoRuntime", factory=jindo.factory,
         mounts=[{"name": "oss", "mountPoint": "oss://bucket/data",
                  "options": {"fs.oss.endpoint": "oss-cn-hangzhou.aliyuncs.com"}}],
         runtime_spec={"tieredstore": MEM}, runtime_image=ENV["JINDO_SMARTDATA_IMAGE_ENV"],
         fuse_image=ENV["JINDO_FUSE_IMAGE_ENV"]),
    Case(kind="GooseFSRuntime", factory=goosefs.factory,
         mounts=[{"name": "cos", "mountPoint": "cosn://bucket/"}],
         runtime_spec={"tieredstore": MEM}, runtime_image=ENV["GOOSEFS_RUNTIME_IMAGE_ENV"],
         fuse_image=ENV["GOOSEFS_FUSE_IMAGE_ENV"]),
    Case(kind="JuiceFSRuntime", factory=juicefs.factory,
         mounts=[{"name": "jfs", "mountPoint": "juicefs:///", "options": {"bucket": "http://b"},
                  "encryptOptions": [{"name": k, "valueFrom": {"secretKeyRef": {"name": "jfs", "key": k}}}
                                     for k in ("metaurl", "access-key", "secret-key")]}],
         runtime_spec={"tieredstore": MEM}, runtime_image=ENV["JUICEFS_CE_IMAGE_ENV"],
         fuse_image=ENV["JUICEFS_CE_IMAGE_ENV"]),
    Case(kind="ThinRuntime", factory=ThinEngine,
         mounts=[{"name": "nfs", "mountPoint": "nfs://server:/export"}],
         runtime_spec={}, runtime_image=None, fuse_image="op.local/nfs-fuse:profile"),
]


@pytest.fixture
async def thin_profile(kube: KubeClient, fluid_crds: list[str]) -> AsyncIterator[str]:
    name = f"nfs-{uuid.uuid4().hex[:8]}"
    await kube.create({"apiVersion": constants.API_VERSION, "kind": "ThinRuntimeProfile",
                       "metadata": {"name": name},
                       "spec": {"fileSystemType": "nfs",
                                "fuse": {"image": "op.local/nfs-fuse", "imageTag": "profile"}}})
    yield name
    await kube.delete(kinds.THIN_RUNTIME_PROFILE.resource, name)


async def create_runtime(kube: KubeClient, namespace: str, case: Case, profile: str) -> None:
    secret = {k: base64.b64encode(b"not-a-secret").decode() for k in ("metaurl", "access-key", "secret-key")}
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "jfs", "namespace": namespace}, "data": secret})
    meta = {"name": NAME, "namespace": namespace}
    await kube.create({"apiVersion": constants.API_VERSION, "kind": "Dataset", "metadata": meta,
                       "spec": {"mounts": case.mounts}})
    spec = {**case.runtime_spec, "replicas": 1}
    if case.kind == "ThinRuntime":
        spec["profileName"] = profile
    await kube.create({"apiVersion": constants.API_VERSION, "kind": case.kind, "metadata": meta,
                       "spec": spec})


def pod_images(pod_spec: Obj) -> set[str]:
    return {c["image"] for c in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_engine_applies_the_operator_settings(
    kube: KubeClient, namespace: str, engine_env: EngineEnv, workloads: list[str],
    thin_profile: str, case: Case,
) -> None:
    config = settings_env.engine_config(ENV)
    deps = attrs.evolve(engine_env.deps(), config=config)
    engine = case.factory(deps, base.RuntimeKey(case.kind, namespace, NAME))
    runtime_type = str(kinds.BY_KIND[case.kind].runtime_type)
    await create_runtime(kube, namespace, case, thin_profile)
    snapshot = Driver(kube, engine, kind=case.kind, namespace=namespace, name=NAME).snap

    await engine.apply_all(await snapshot())
    await engine.create_volume(await snapshot())

    secrets = [{"name": "regcred"}, {"name": "mirror-cred"}]
    selector = ",".join(f"{k}={v}" for k, v in sorted(
        {"app.kubernetes.io/instance": NAME, "app.kubernetes.io/name": runtime_type}.items()))
    daemonsets, _ = await kube.list_all(resources.DAEMONSETS, namespace, label_selector=selector)
    statefulsets, _ = await kube.list_all(resources.STATEFULSETS, namespace, label_selector=selector)
    assert len(daemonsets) == 1
    fuse_spec = daemonsets[0]["spec"]["template"]["spec"]
    assert fuse_spec["priorityClassName"] == "system-node-critical"
    assert fuse_spec["imagePullSecrets"] == secrets
    assert pod_images(fuse_spec) == {case.fuse_image}
    assert statefulsets or case.kind == "ThinRuntime"
    for sts in statefulsets:
        spec = sts["spec"]["template"]["spec"]
        assert "priorityClassName" not in spec
        assert spec["imagePullSecrets"] == secrets
        assert pod_images(spec) == {case.runtime_image}
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{namespace}-{NAME}")
    assert pv["spec"]["csi"]["volumeAttributes"]["fluid_path"].startswith(
        f"/var/lib/fluid-op/{runtime_type}/{namespace}/{NAME}/")

    # The FUSE pod, as the DaemonSet controller creates it once the CSI plugin labels a node.
    await label_node(kube, workloads[0], {constants.fuse_label(namespace, NAME): "true"})
    fuse_pods = await wait_ready_pods(kube, namespace, component(runtime_type, NAME, "fuse"), 1)
    assert fuse_pods[0]["spec"]["priority"] == SYSTEM_NODE_CRITICAL

    async def volume_deleted() -> bool:
        return bool(await engine.delete_volume(await snapshot()))

    await eventually(volume_deleted, timeout=30, interval=0.3, what="PV and PVC deleted")
    assert await engine.shutdown(await snapshot())
    nodes, _ = await kube.list_all(resources.NODES, label_selector=constants.fuse_label(namespace, NAME))
    assert nodes == []
