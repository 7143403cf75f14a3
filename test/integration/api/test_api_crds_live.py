"""The generated CRDs as the API server serves them: names, columns, defaults, subresources."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fluid.api import kinds
from fluid.kube import KubeClient
from fluid.testing import wait

pytestmark = pytest.mark.cluster


def _dataset(namespace: str, name: str = "hbase") -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"mounts": [{"mountPoint": "https://mirrors.example.org/hbase/",
                                 "name": "hbase"}]}}


def _alluxio(namespace: str, name: str = "hbase") -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 2, "tieredstore": {"levels": [
                {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi"}]}}}


async def test_discovery_lists_every_kind_with_upstream_names(
    kube: KubeClient, fluid_crds: list[str]
) -> None:
    served: dict[str, Any] = {}

    async def discovery_lists_all() -> bool:
        # Discovery may trail the CRDs' Established condition by a moment.
        found = orjson.loads(await kube.request("GET", "/apis/data.fluid.io/v1alpha1"))
        served.clear()
        served.update({r["name"]: r for r in found["resources"]})
        return all(info.plural in served for info in kinds.ALL)

    await wait.eventually(discovery_lists_all, timeout=20, what="discovery of every Fluid kind")
    for info in kinds.ALL:
        resource = served[info.plural]
        assert resource["kind"] == info.kind
        assert resource["namespaced"] is info.namespaced
        assert tuple(resource.get("shortNames", ())) == info.short_names
        assert f"{info.plural}/status" in served
        assert (f"{info.plural}/scale" in served) is (info.scale is not None)


def _table(table: dict[str, Any]) -> tuple[list[str], list[str], dict[str, Any]]:
    columns = table["columnDefinitions"]
    shown = [c["name"] for c in columns if c.get("priority", 0) == 0]
    wide = [c["name"] for c in columns if c.get("priority", 0) != 0]
    (row,) = table["rows"]
    return shown, wide, dict(zip([c["name"] for c in columns], row["cells"], strict=True))


async def test_kubectl_get_dataset_columns(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    await kube.create(_dataset(namespace))
    await kube.patch_status(kinds.DATASET.resource, "hbase", namespace, {
        "phase": "Bound", "ufsTotal": "3.41GiB", "fileNum": "42",
        "cacheStates": {"cached": "1.31GiB", "cacheCapacity": "4.00GiB",
                        "cachedPercentage": "38.4%", "cacheHitRatio": "0.0%"},
    })
    shown, wide, cells = _table(await kube.table(kinds.DATASET.resource, namespace))
    assert [name.upper() for name in shown] == [
        "NAME", "UFS TOTAL SIZE", "CACHED", "CACHE CAPACITY", "CACHED PERCENTAGE", "PHASE", "AGE"]
    assert wide == ["HCFS URL", "TOTAL FILES", "CACHE HIT RATIO"]
    assert (cells["Ufs Total Size"], cells["Cached"], cells["Cache Capacity"],
            cells["Cached Percentage"], cells["Phase"], cells["TOTAL FILES"]) == (
        "3.41GiB", "1.31GiB", "4.00GiB", "38.4%", "Bound", "42")


async def test_kubectl_get_alluxioruntime_columns_scale_and_defaults(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    res = kinds.ALLUXIO_RUNTIME.resource
    created = await kube.create(_alluxio(namespace))
    assert created["spec"]["tieredstore"]["levels"][0]["volumeType"] == "hostPath"
    await kube.patch_status(res, "hbase", namespace, {
        "masterPhase": "Ready", "workerPhase": "PartialReady", "fusePhase": "Ready",
        "currentWorkerNumberScheduled": 1, "workerNumberReady": 1,
        "desiredWorkerNumberScheduled": 2, "selector": "app=alluxio,release=hbase",
    })
    shown, wide, cells = _table(await kube.table(res, namespace))
    assert [name.upper() for name in shown] == [
        "NAME", "MASTER PHASE", "WORKER PHASE", "FUSE PHASE", "AGE"]
    assert "READY WORKERS" in [name.upper() for name in wide]
    assert (cells["Master Phase"], cells["Worker Phase"], cells["Ready Workers"]) == (
        "Ready", "PartialReady", 1)

    scale = await kube.get(res, "hbase", namespace)  # the object, then its scale view
    path = res.path(namespace, "hbase", "scale")
    view = orjson.loads(await kube.request("GET", path))
    assert (view["spec"]["replicas"], view["status"]["replicas"],
            view["status"]["selector"]) == (2, 1, "app=alluxio,release=hbase")
    await kube.merge_patch(res, "hbase", namespace, {"spec": {"replicas": 3}},
                           subresource="scale")
    scale = await kube.get(res, "hbase", namespace)
    assert scale["spec"]["replicas"] == 3


async def test_kubectl_get_dataload_columns_and_policy_default(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    res = kinds.DATA_LOAD.resource
    created = await kube.create({
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
        "metadata": {"name": "spark", "namespace": namespace},
        "spec": {"dataset": {"name": "spark", "namespace": namespace},
                 "target": [{"path": "/spark-3.3.1"}]},
    })
    assert created["spec"]["policy"] == "Once"
    await kube.patch_status(res, "spark", namespace, {
        "phase": "Complete", "duration": "2m1s", "conditions": []})
    shown, _, cells = _table(await kube.table(res, namespace))
    assert [name.upper() for name in shown] == ["NAME", "DATASET", "PHASE", "AGE", "DURATION"]
    assert (cells["Dataset"], cells["Phase"], cells["Duration"]) == ("spark", "Complete", "2m1s")


async def test_status_is_a_subresource(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    with_status = {**_dataset(namespace, "sneaky"), "status": {"phase": "Bound"}}
    created = await kube.create(with_status)
    assert "phase" not in (created.get("status") or {})
