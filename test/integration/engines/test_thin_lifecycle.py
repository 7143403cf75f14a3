"""The Thin engine through its lifecycle on a real API server with kwok nodes.

A cluster-scoped ThinRuntimeProfile and a ThinRuntime overriding it: FUSE DaemonSet and
config, optional workers scaled out and in, Dataset and PVC Bound, a ``pvc://`` mount whose
CSI publish Secret is copied per the profile's policy, and deletion leaving nothing
behind. Credentials reach the FUSE pod only as mounted Secret files.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from engines_driver import (
    Driver,
    EngineEnv,
    component,
    label_node,
    leftovers,
    namespace_text,
    wait_ready_pods,
)

from fluid.api import constants, kinds
from fluid.engines.base import RuntimeKey
from fluid.engines.thin import dispatch
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

PASSWORD = "nfs-pa55-do-not-leak"


@pytest.fixture
async def profile(kube: KubeClient) -> AsyncIterator[str]:
    name = f"nfs-{uuid.uuid4().hex[:8]}"
    await kube.create({
        "apiVersion": constants.API_VERSION, "kind": "ThinRuntimeProfile",
        "metadata": {"name": name},
        "spec": {"fileSystemType": "nfs",
                 "nodePublishSecretPolicy": "CopyNodePublishSecretAndMountIfNotExists",
                 "fuse": {"image": "fluidcloudnative/nfs", "imageTag": "v0.1",
                          "command": ["/usr/local/bin/entrypoint.sh"],
                          "options": {"vers": "4"}},
                 "worker": {"image": "fluidcloudnative/nfs-worker", "imageTag": "v0.1"}},
    })
    yield name
    await kube.delete(kinds.THIN_RUNTIME_PROFILE.resource, name)


def _runtime(namespace: str, profile: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": constants.API_VERSION, "kind": "ThinRuntime",
            "metadata": {"name": "nfs-data", "namespace": namespace},
            "spec": {"profileName": profile, **spec}}


async def _config(kube: KubeClient, namespace: str) -> dict[str, Any]:
    cm = await kube.get(resources.CONFIGMAPS, "nfs-data-fuse-conf", namespace)
    config: dict[str, Any] = json.loads(cm["data"]["config.json"])
    return config


async def test_thin_runtime_lifecycle(kube: KubeClient, namespace: str, engine_env: EngineEnv,
                                      workloads: list[str], profile: str) -> None:
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "nfs-cred", "namespace": namespace},
                       "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}})
    await kube.create({"apiVersion": constants.API_VERSION, "kind": "Dataset",
                       "metadata": {"name": "nfs-data", "namespace": namespace},
                       "spec": {"mounts": [{
                           "mountPoint": "nfs://nfs-server.storage.svc:/exports/data",
                           "name": "data",
                           "encryptOptions": [{"name": "password", "valueFrom": {
                               "secretKeyRef": {"name": "nfs-cred", "key": "password"}}}]}]}})
    await kube.create(_runtime(namespace, profile, replicas=1, worker={"enabled": True},
                               fuse={"args": ["--verbose"]}))
    eng = dispatch.factory(engine_env.deps(), RuntimeKey("ThinRuntime", namespace, "nfs-data"))
    driver = Driver(kube, eng, kind="ThinRuntime", namespace=namespace, name="nfs-data")
    target = f"/runtime-mnt/thin/{namespace}/nfs-data/thin-fuse"
    engine_env.executor.responders.update({
        ("df", "--block-size=1"): f"Filesystem 1B-blocks Used Available Use% Mounted on\n"
                                  f"nfs-server:/exports/data 1000 600 400 60% {target}\n",
        ("bash", "-c"): "5\n"})

    with structlog.testing.capture_logs() as logs:
        await driver.setup()
        await wait_ready_pods(kube, namespace, component("thin", "nfs-data", "worker"), 1)
        ds = await kube.get(kinds.DATASET.resource, "nfs-data", namespace)
        assert ds["status"]["phase"] == "Bound"
        assert ds["status"]["runtimes"][0]["type"] == "thin"

        config = await _config(kube, namespace)
        assert config["targetPath"] == target
        assert config["mounts"][0]["options"] == {"password": "/etc/fluid/secrets/nfs-cred/password"}

        await label_node(kube, workloads[1], {constants.fuse_label(namespace, "nfs-data"): "true"})
        fuse = await wait_ready_pods(kube, namespace, component("thin", "nfs-data", "fuse"), 1)
        container = fuse[0]["spec"]["containers"][0]
        assert container["image"] == "fluidcloudnative/nfs:v0.1"
        assert container["args"] == ["--verbose"]
        assert {"name": "MOUNT_POINT", "value": target} in container["env"]
        assert {"name": "MOUNT_OPTIONS", "value": "vers=4"} in container["env"]

        async def pvc_bound() -> bool:
            pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "nfs-data", namespace)
            return pvc.get("status", {}).get("phase") == "Bound"
        await eventually(pvc_bound, timeout=30, what="PVC Bound")

        for replicas in (2, 1):
            await kube.merge_patch(kinds.THIN_RUNTIME.resource, "nfs-data", namespace,
                                   {"spec": {"replicas": replicas}})
            await driver.sync()
            await wait_ready_pods(kube, namespace, component("thin", "nfs-data", "worker"), replicas)

        async def metadata_synced() -> bool:
            await driver.sync()
            ds = await kube.get(kinds.DATASET.resource, "nfs-data", namespace)
            return ds["status"].get("fileNum") == "5"
        await eventually(metadata_synced, timeout=30, interval=0.5, what="ufsTotal/fileNum synced")

        text = await namespace_text(kube, namespace)
        await kube.delete(kinds.THIN_RUNTIME.resource, "nfs-data", namespace)
        await driver.teardown()

    assert await leftovers(kube, runtime_type="thin", namespace=namespace, name="nfs-data") == []
    assert {(c.pod, c.container, c.command) for c in engine_env.executor.calls} <= {
        (fuse[0]["metadata"]["name"], "thin-fuse", ("df", "--block-size=1")),
        (fuse[0]["metadata"]["name"], "thin-fuse",
         ("bash", "-c", f"ls -lR {target} |grep ^- |wc -l")),
    }
    assert len(engine_env.executor.calls) >= 2
    assert PASSWORD not in text
    assert PASSWORD not in repr(logs)
    assert any(e.get("event") == "dataset_bound" for e in logs)


async def _csi_claim(kube: KubeClient, namespace: str) -> None:
    """A CSI PV (with a publish Secret in another namespace) bound to claim ``shared``."""
    pv = f"pv-{namespace}"
    await kube.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                       "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                                "storageClassName": "manual", "mountOptions": ["vers=4.1"],
                                "claimRef": {"namespace": namespace, "name": "shared"},
                                "csi": {"driver": "nas.csi.example.com", "volumeHandle": pv,
                                        "volumeAttributes": {"server": "nas.example.com"},
                                        "nodePublishSecretRef": {"name": "nas-auth",
                                                                 "namespace": "default"}}}})
    await kube.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": "shared", "namespace": namespace},
                       "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "manual",
                                "volumeName": pv, "resources": {"requests": {"storage": "1Gi"}}}})

    async def bound() -> bool:
        pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "shared", namespace)
        return pvc.get("status", {}).get("phase") == "Bound"
    await eventually(bound, timeout=30, what="claim shared Bound")


async def test_thin_pvc_mount_copies_publish_secret(kube: KubeClient, namespace: str,
                                                    engine_env: EngineEnv, profile: str) -> None:
    auth = f"nas-auth-{namespace}"
    await kube.apply({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "nas-auth", "namespace": "default",
                                   "labels": {"test": auth}},
                      "data": {"token": base64.b64encode(b"nas-token").decode()}})
    await _csi_claim(kube, namespace)
    await kube.create({"apiVersion": constants.API_VERSION, "kind": "Dataset",
                       "metadata": {"name": "nfs-data", "namespace": namespace},
                       "spec": {"mounts": [{"mountPoint": "pvc://shared/sub", "name": "vol"}]}})
    await kube.create(_runtime(namespace, profile))
    eng = dispatch.factory(engine_env.deps(), RuntimeKey("ThinRuntime", namespace, "nfs-data"))
    driver = Driver(kube, eng, kind="ThinRuntime", namespace=namespace, name="nfs-data")

    await driver.setup()

    config = await _config(kube, namespace)
    assert config["persistentVolumeAttrs"]["shared"]["volumeAttributes"] == {"server": "nas.example.com"}
    assert config["persistentVolumeMountOptions"] == {"shared": ["vers=4.1"]}
    copy = await kube.get(resources.SECRETS, "nfs-data-thin-publish-secret", namespace)
    assert copy["data"]["token"] == base64.b64encode(b"nas-token").decode()
    fuse = await kube.get(resources.DAEMONSETS, "nfs-data-fuse", namespace)
    mounts = fuse["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "nfs-data-thin-publish-secret", "mountPath": "/etc/fluid/secrets/nas-auth",
            "readOnly": True} in mounts
    pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "shared", namespace)
    assert pvc["metadata"]["labels"][constants.LABEL_MANAGED_BY] == "nfs-data"

    await kube.delete(kinds.THIN_RUNTIME.resource, "nfs-data", namespace)
    await driver.teardown()

    assert await leftovers(kube, runtime_type="thin", namespace=namespace, name="nfs-data") == []
    assert await kube.get_or_none(resources.SECRETS, "nfs-data-thin-publish-secret", namespace) is None
    pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "shared", namespace)
    assert constants.LABEL_MANAGED_BY not in (pvc["metadata"].get("labels") or {})
    await kube.delete(resources.PERSISTENT_VOLUMES, f"pv-{namespace}")
    await kube.delete(resources.SECRETS, "nas-auth", "default")
