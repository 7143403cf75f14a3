"""ThinRuntime end to end: a ThinRuntimeProfile, a Dataset and a ThinRuntime through Fluid's
Dataset and runtime controllers, on a real API server, scheduler, controller-manager and
kwok nodes.

The sample manifests (manifests/samples/thin-nfs.yaml: profile ``nfs``, Dataset and
ThinRuntime ``nfs-data``) are applied, with the runtime enabling its optional worker so
that scaling has something to scale and the Dataset taking a password from a Secret. The
flow is seed 004's: workloads created, pods scheduled and Ready, Dataset Bound, PVC
Bound; the FUSE config reaches the FUSE pod; scaling out and in; deletion leaves no
workload, PV, PVC or node label behind. The password appears only as a Secret file path,
never in a ConfigMap, an Event or a log line. Only the exec boundary into the FUSE pod is
a recorded fake, and its commands are asserted exactly.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from fluid.api import constants, kinds
from fluid.engines.base import EngineConfig, EngineSettings, RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "engines"))
from engines_driver import (
    component,
    dataset_and_pvc_bound,
    label_node,
    leftovers,
    namespace_text,
    ready_pods,
)

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
SAMPLE = Path(__file__).resolve().parents[2] / "manifests" / "samples" / "thin-nfs.yaml"
NAME = "nfs-data"
PASSWORD = "thin-e2e-password-do-not-leak"


def sample(namespace: str, profile: str) -> list[Obj]:
    """The sample, namespaced, with a unique profile name, a worker and a Secret option."""
    docs = [copy.deepcopy(d) for d in yaml.safe_load_all(SAMPLE.read_text()) if d]
    for doc in docs:
        if doc["kind"] == "ThinRuntimeProfile":
            doc["metadata"]["name"] = profile
            doc["spec"]["worker"] = {"image": "fluidcloudnative/nfs-worker", "imageTag": "v0.1"}
            continue
        doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "ThinRuntime":
            doc["spec"].update(profileName=profile, replicas=1, worker={"enabled": True})
        if doc["kind"] == "Dataset":
            doc["spec"]["mounts"][0]["encryptOptions"] = [{"name": "password", "valueFrom": {
                "secretKeyRef": {"name": "nfs-cred", "key": "password"}}}]
    return docs


@pytest.fixture
async def profile(kube: KubeClient) -> AsyncIterator[str]:
    name = f"nfs-{uuid.uuid4().hex[:8]}"
    yield name
    await kube.delete(kinds.THIN_RUNTIME_PROFILE.resource, name)


async def get(kube: KubeClient, kind: str, namespace: str) -> Obj:
    return await kube.get(kinds.BY_KIND[kind].resource, NAME, namespace)


async def wait_workers(kube: KubeClient, namespace: str, count: int) -> None:
    async def settled() -> bool:
        pods = await ready_pods(kube, namespace, component("thin", NAME, "worker"))
        status = (await get(kube, "ThinRuntime", namespace)).get("status") or {}
        return len(pods) == count and status.get("workerNumberReady") == count
    await eventually(settled, timeout=90, interval=0.3, what=f"{count} thin workers Ready")


async def test_thin_runtime_with_profile(kube: KubeClient, namespace: str, fluid_crds: list[str],
                                         workloads: list[str], profile: str) -> None:
    target = f"/runtime-mnt/thin/{namespace}/{NAME}/thin-fuse"
    executor = RecordingExecutor({
        ("df", "--block-size=1"): "Filesystem 1B-blocks Used Available Use% Mounted on\n"
                                  f"nfs-server:/exports/data 4096 2048 2048 50% {target}\n",
        ("bash", "-c"): "3\n"})
    settings = EngineSettings(executor=executor, resync_seconds=1.0, setup_retry_seconds=0.5,
                              config=EngineConfig(sync_retry_seconds=0.0))
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "nfs-cred", "namespace": namespace},
                       "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}})
    fuse_label = constants.fuse_label(namespace, NAME)

    with structlog.testing.capture_logs() as logs:
        async with running_controllers(kube, ["dataset", "reference", "runtime"], engines=settings):
            for doc in sample(namespace, profile):
                await kube.create(doc)
            await wait_workers(kube, namespace, 1)

            await eventually(lambda: dataset_and_pvc_bound(kube, namespace, NAME), timeout=60,
                             interval=0.3, what="Dataset and PVC Bound")

            config = json.loads((await kube.get(resources.CONFIGMAPS, f"{NAME}-fuse-conf",
                                                namespace))["data"]["config.json"])
            assert config["targetPath"] == target
            assert config["mounts"] == [{
                "mountPoint": "nfs://nfs-server.storage.svc:/exports/data", "name": "data",
                "options": {"password": "/etc/fluid/secrets/nfs-cred/password"}}]

            await label_node(kube, workloads[2], {fuse_label: "true"})
            fuse: list[Obj] = []

            async def fuse_ready() -> bool:
                nonlocal fuse
                fuse = await ready_pods(kube, namespace, component("thin", NAME, "fuse"))
                return len(fuse) == 1
            await eventually(fuse_ready, timeout=60, interval=0.3, what="FUSE pod Ready")
            container = fuse[0]["spec"]["containers"][0]
            assert container["image"] == "fluidcloudnative/nfs:v0.1"
            assert container["command"] == ["/usr/local/bin/entrypoint.sh"]
            assert {"name": "MOUNT_POINT", "value": target} in container["env"]

            async def metadata() -> bool:
                status = (await get(kube, "Dataset", namespace)).get("status") or {}
                return status.get("fileNum") == "3" and status.get("ufsTotal") == "2.00KiB"
            await eventually(metadata, timeout=60, interval=0.5, what="ufsTotal and fileNum")

            for replicas in (3, 1):
                await kube.merge_patch(kinds.THIN_RUNTIME.resource, NAME, namespace,
                                       {"spec": {"replicas": replicas}})
                await wait_workers(kube, namespace, replicas)

            text = await namespace_text(kube, namespace)
            await kube.delete(kinds.THIN_RUNTIME.resource, NAME, namespace)

            async def clean() -> bool:
                gone = await kube.get_or_none(kinds.THIN_RUNTIME.resource, NAME, namespace) is None
                return gone and not await leftovers(kube, runtime_type="thin",
                                                    namespace=namespace, name=NAME)
            await eventually(clean, timeout=60, interval=0.5, what="nothing left behind")
            assert (await get(kube, "Dataset", namespace))["status"]["phase"] == "NotBound"
            await label_node(kube, workloads[2], {fuse_label: None})

    assert await leftovers(kube, runtime_type="thin", namespace=namespace, name=NAME) == []
    fuse_pod = fuse[0]["metadata"]["name"]
    assert {(c.pod, c.container, c.command) for c in executor.calls if c.namespace == namespace} == {
        (fuse_pod, "thin-fuse", ("df", "--block-size=1")),
        (fuse_pod, "thin-fuse", ("bash", "-c", f"ls -lR {target} |grep ^- |wc -l")),
    }
    assert any(e.get("event") == "dataset_bound" for e in logs), "structlog output not captured"
    assert PASSWORD not in text
    assert PASSWORD not in repr(logs)
