"""GooseFS ``spec.hadoopConfig`` against a real API server: the engine reads which Hadoop
files the user's ConfigMap holds (its keys only) and the applied master StatefulSet mounts
exactly those; a missing ConfigMap stops the apply with upstream's message."""

from __future__ import annotations

from typing import Any

import pytest
from engines_driver import Driver, EngineEnv

from fluid.api import constants
from fluid.engines.base import RuntimeKey, ValidationFailed
from fluid.engines.goosefs import engine as goosefs
from fluid.kube import KubeClient, resources

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


def _obj(kind: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": constants.API_VERSION, "kind": kind,
            "metadata": {"name": "warehouse", "namespace": namespace}, "spec": spec}


async def _setup(kube: KubeClient, engine_env: EngineEnv, namespace: str) -> Driver:
    await kube.create(_obj("Dataset", namespace, {"mounts": [
        {"mountPoint": "hdfs://namenode:8020/warehouse", "name": "wh"}]}))
    await kube.create(_obj("GooseFSRuntime", namespace,
                           {"replicas": 1, "hadoopConfig": "hdfs-conf"}))
    eng = goosefs.factory(engine_env.deps(), RuntimeKey("GooseFSRuntime", namespace, "warehouse"))
    return Driver(kube, eng, kind="GooseFSRuntime", namespace=namespace, name="warehouse")


async def test_the_files_in_the_configmap_are_mounted(kube: KubeClient, namespace: str,
                                                      engine_env: EngineEnv) -> None:
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "hdfs-conf", "namespace": namespace},
                       "data": {"core-site.xml": "<configuration/>", "other.txt": "x"}})
    driver = await _setup(kube, engine_env, namespace)
    try:
        assert isinstance(driver.engine, goosefs.GooseFSEngine)
        await driver.engine.apply_all(await driver.snap())
        master = await kube.get(resources.STATEFULSETS, "warehouse-master", namespace)
        volumes = {v["name"]: v for v in master["spec"]["template"]["spec"]["volumes"]}
        assert volumes["hdfs-confs"]["configMap"] == {
            "name": "hdfs-conf", "defaultMode": 420,
            "items": [{"key": "core-site.xml", "path": "core-site.xml"}]}
        config = await kube.get(resources.CONFIGMAPS, "warehouse-config", namespace)
        assert "-Dgoosefs.underfs.hdfs.configuration=/hdfs-config/core-site.xml " in \
            config["data"]["GOOSEFS_JAVA_OPTS"]
    finally:
        await driver.engine.close()


async def test_a_missing_configmap_is_reported(kube: KubeClient, namespace: str,
                                               engine_env: EngineEnv) -> None:
    driver = await _setup(kube, engine_env, namespace)
    try:
        with pytest.raises(ValidationFailed, match="specified hadoopConfig 'hdfs-conf' is not found"):
            await driver.engine.apply_all(await driver.snap())
        assert await kube.get_or_none(resources.STATEFULSETS, "warehouse-master", namespace) is None
    finally:
        await driver.engine.close()
