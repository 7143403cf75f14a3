"""A runtime's annotations reach the PV and PVC its engine creates on a real API server.

``fluid.io/skip-check-mount-ready-target`` lands in the PV's volume attributes, where the
CSI plugin reads it back; ``data.fluid.io/metadataList`` labels and annotates the PV and
the PVC, without overriding the keys Fluid relies on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from engines_driver import Driver, EngineEnv

from fluid.api import constants
from fluid.csi import requests
from fluid.engines.base import RuntimeKey
from fluid.engines.jindo import engine as jindo
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

METADATA = [
    {"labels": {"team": "vision", "fluid.io/dataset-id": "spoofed"},
     "annotations": {"backup": "nightly"}, "selector": {"kind": "PersistentVolume"}},
    {"labels": {"fluid.io/node-publish-method": "symlink"},
     "selector": {"group": "", "kind": "PersistentVolume"}},
    {"labels": {"claimed-by": "trainer"}, "selector": {"kind": "PersistentVolumeClaim"}},
    {"labels": {"ignored": "yes"}, "selector": {"group": "apps", "kind": "PersistentVolumeClaim"}},
]


def _obj(kind: str, namespace: str, spec: dict[str, Any], **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "imagenet", "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": constants.API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


async def _volumes(kube: KubeClient, engine_env: EngineEnv, namespace: str,
                   **annotations: str) -> tuple[dict[str, Any], dict[str, Any], Driver]:
    await kube.create(_obj("Dataset", namespace, {"mounts": [
        {"mountPoint": "oss://bucket/imagenet", "name": "imagenet"}]}))
    await kube.create(_obj("JindoRuntime", namespace, {"replicas": 1}, **annotations))
    eng = jindo.factory(engine_env.deps(), RuntimeKey("JindoRuntime", namespace, "imagenet"))
    driver = Driver(kube, eng, kind="JindoRuntime", namespace=namespace, name="imagenet")
    await eng.create_volume(await driver.snap())
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{namespace}-imagenet")
    pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "imagenet", namespace)
    return pv, pvc, driver


async def _delete(driver: Driver) -> None:
    async def gone() -> bool:
        return await driver.engine.delete_volume(await driver.snap())
    await eventually(gone, timeout=30, interval=0.3, what="PV and PVC deleted")


def ours(annotations: dict[str, str]) -> dict[str, str]:
    """Annotations without those Kubernetes' PV controller adds when it binds the claim
    (``pv.kubernetes.io/bind-completed`` ...), which depend on whether it runs yet."""
    return {k: v for k, v in annotations.items() if "kubernetes.io/" not in k}


async def test_annotations_reach_the_pv_and_pvc(kube: KubeClient, namespace: str,
                                                engine_env: EngineEnv) -> None:
    pv, pvc, driver = await _volumes(
        kube, engine_env, namespace,
        **{"fluid.io/skip-check-mount-ready-target": "MountPod",
           constants.ANNOTATION_METADATA_LIST: json.dumps(METADATA)})
    try:
        attributes = pv["spec"]["csi"]["volumeAttributes"]
        assert attributes["fluid.io/skip-check-mount-ready-target"] == "MountPod"
        assert attributes["node_publish_method"] == "symlink"
        labels = pv["metadata"]["labels"]
        assert labels["team"] == "vision"
        assert labels["fluid.io/node-publish-method"] == "symlink"
        assert labels["fluid.io/dataset-id"] == f"{namespace}-imagenet"  # Fluid's key wins
        assert ours(pv["metadata"]["annotations"]) == {"CreatedBy": "fluid", "backup": "nightly"}
        assert pvc["metadata"]["labels"]["claimed-by"] == "trainer"
        assert "ignored" not in pvc["metadata"]["labels"]
        assert "team" not in pvc["metadata"]["labels"]
        assert ours(pvc["metadata"]["annotations"]) == {"CreatedBy": "fluid"}
        # The CSI plugin reads the attribute back: this volume needs no FUSE mount point.
        assert requests.parse_volume_context(attributes).require_mount_point is False
    finally:
        await _delete(driver)


async def test_without_annotations_the_mount_check_stays(kube: KubeClient, namespace: str,
                                                         engine_env: EngineEnv) -> None:
    pv, pvc, driver = await _volumes(kube, engine_env, namespace)
    try:
        attributes = pv["spec"]["csi"]["volumeAttributes"]
        assert "fluid.io/skip-check-mount-ready-target" not in attributes
        assert "node_publish_method" not in attributes
        assert requests.parse_volume_context(attributes).require_mount_point is True
        assert set(pvc["metadata"]["labels"]) == {
            f"fluid.io/s-{namespace}-imagenet", "fluid.io/dataset-id"}
    finally:
        await _delete(driver)
