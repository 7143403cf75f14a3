"""End to end with the real API server, kube-scheduler, kube-controller-manager and kwok nodes:
the seeds' app pods land on the node holding the cache, plain pods are untouched,
serverless Jobs get the FUSE sidecar and complete (seed 002's Job, labelled only with the
platform key ``alibabacloud.com/fluid-sidecar-target: eci``, included), and pods keep being
created while the webhook is down.

The Fluid objects of a Bound dataset (Dataset/AlluxioRuntime status, PV, PVC, FUSE
DaemonSet, the node's cache label) are created here as the engines would, so that this
test does not depend on a runtime really caching data (kwok runs no containers).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "webhook"))

import webhook_env as wenv

from fluid.api import constants
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"


def seed(name: str, namespace: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((SEEDS / name).read_text())
    obj["metadata"]["namespace"] = namespace
    return obj


@contextlib.asynccontextmanager
async def cache_on(kube: KubeClient, node: str, labels: dict[str, str]) -> AsyncIterator[None]:
    """Label ``node`` as a cache node (as the runtime's node-label sync does), then unlabel it."""
    await kube.merge_patch(resources.NODES, node, None, {"metadata": {"labels": labels}})
    try:
        yield
    finally:
        await kube.merge_patch(
            resources.NODES, node, None, {"metadata": {"labels": dict.fromkeys(labels)}}
        )


@contextlib.asynccontextmanager
async def hbase(kube: KubeClient, namespace: str, name: str = "hbase") -> AsyncIterator[wenv.WebhookEnv]:
    """A Bound dataset ``name`` whose PVC is bound, and the webhook serving this namespace."""
    await wenv.create_bound_dataset(kube, namespace, name)

    async def pvc_bound() -> bool:
        pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, name, namespace)
        return bool(pvc.get("status", {}).get("phase") == "Bound")

    try:
        await eventually(pvc_bound, timeout=30, what="the dataset PVC bound by the PV controller")
        async with wenv.webhook_env(kube, namespace, [namespace]) as env:
            assert env.server is not None
            await wenv.wait_cached(env.server, namespace, name)
            yield env
    finally:
        await wenv.delete_pvs(kube, namespace, [name])


async def node_of(kube: KubeClient, namespace: str, name: str) -> str:
    found = ""

    async def running() -> bool:
        nonlocal found
        pod = await kube.get(resources.PODS, name, namespace)
        found = pod["spec"].get("nodeName") or ""
        return bool(found and pod.get("status", {}).get("phase") == "Running")

    await eventually(running, timeout=60, what=f"pod {name} running")
    return found


async def test_seed_app_pods_land_on_the_cache_node(
    kube: KubeClient, namespace: str, workloads: list[str], fluid_crds: list[str]
) -> None:
    cache_node = workloads[1]
    labels = {constants.common_label(namespace, "hbase"): "true", constants.LABEL_DATASET_NUM: "1"}
    async with hbase(kube, namespace) as env, cache_on(kube, cache_node, labels):
        app = seed("000-pod-nginx-hbase.yaml", namespace)
        await env.mutated(app)  # the API server now calls the webhook for this namespace
        for index in range(3):
            pod = seed("000-pod-nginx-hbase.yaml", namespace)
            pod["metadata"]["name"] = f"nginx-{index}"
            await kube.create(pod)
        for index in range(3):
            assert await node_of(kube, namespace, f"nginx-{index}") == cache_node


async def test_required_sched_label_pins_the_pod_to_the_cache(
    kube: KubeClient, namespace: str, workloads: list[str], fluid_crds: list[str]
) -> None:
    cache_node = workloads[2]
    labels = {constants.common_label(namespace, "fusedemo"): "true"}
    async with hbase(kube, namespace, "fusedemo") as env, cache_on(kube, cache_node, labels):
        app = seed("000-pod-nginx-fusedemo.yaml", namespace)
        stored = await env.mutated(app)
        terms = stored["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        assert {"key": f"fluid.io/s-{namespace}-fusedemo", "operator": "In", "values": ["true"]} in (
            terms[0]["matchExpressions"]
        )
        await kube.create(app)
        assert await node_of(kube, namespace, "nginx") == cache_node


async def test_plain_pod_is_untouched_and_runs(
    kube: KubeClient, namespace: str, workloads: list[str], fluid_crds: list[str]
) -> None:
    async with hbase(kube, namespace) as env:
        await env.mutated(seed("000-pod-nginx-hbase.yaml", namespace))
        plain = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "plain", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        created = await kube.create(plain)
        assert "affinity" not in created["spec"]
        assert not created["metadata"].get("annotations")
        assert not created["metadata"].get("labels")
        assert await node_of(kube, namespace, "plain") in workloads


def serverless_job(namespace: str) -> dict[str, Any]:
    pod = seed("000-pod-nginx-hbase.yaml", namespace)
    pod["metadata"]["labels"] = {"serverless.fluid.io/inject": "true"}
    pod["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "reader", "namespace": namespace},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": pod["metadata"]["labels"]}, "spec": pod["spec"]},
        },
    }


async def test_serverless_job_gets_the_sidecar_and_completes(
    kube: KubeClient, namespace: str, workloads: list[str], fluid_crds: list[str]
) -> None:
    async with hbase(kube, namespace) as env:
        probe = seed("000-pod-nginx-hbase.yaml", namespace)
        probe["metadata"]["labels"] = {"serverless.fluid.io/inject": "true"}
        await env.mutated(probe, check=lambda p: p["spec"].get("initContainers"))
        await kube.create(serverless_job(namespace))

        pods: list[dict[str, Any]] = []

        async def job_pod() -> bool:
            nonlocal pods
            pods = (await kube.list(resources.PODS, namespace, label_selector="job-name=reader"))[
                "items"
            ]
            return bool(pods)

        await eventually(job_pod, timeout=30, what="the Job's pod")
        spec = pods[0]["spec"]
        assert spec["initContainers"][0]["name"] == "fluid-fuse-0"
        assert spec["initContainers"][0]["restartPolicy"] == "Always"
        volume = next(v for v in spec["volumes"] if v["name"] == "hbase-vol")
        assert volume["hostPath"]["path"] == wenv.objs.fluid_path(namespace, "hbase")

        async def complete() -> bool:
            status = (await kube.get(resources.JOBS, "reader", namespace)).get("status", {})
            return any(
                c.get("type") == "Complete" and c.get("status") == "True"
                for c in status.get("conditions") or ()
            )

        await eventually(complete, timeout=60, what="the Job Complete")


async def test_with_the_webhook_stopped_plain_pods_are_created_and_run(
    kube: KubeClient, namespace: str, workloads: list[str], fluid_crds: list[str]
) -> None:
    async with hbase(kube, namespace) as env:
        await env.mutated(seed("000-pod-nginx-hbase.yaml", namespace))
        await env.stop()
        plain = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "plain", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        await kube.create(plain)
        app = seed("000-pod-nginx-hbase.yaml", namespace)
        created = await kube.create(app)
        assert "affinity" not in created["spec"], "admitted unmutated while the webhook is down"
        assert await node_of(kube, namespace, "plain") in workloads


PLATFORM_KEY = "alibabacloud.com/fluid-sidecar-target"


async def test_seed002_platform_labelled_job_gets_the_sidecar_and_completes(
    kube: KubeClient, namespace: str, workloads: list[str], fluid_crds: list[str]
) -> None:
    """Seed 002's Job as written (ECI platform label, no serverless.fluid.io/inject), with the
    controller's platform key set as on that platform; its dataset jfsdemo Bound to a
    JuiceFSRuntime."""
    await wenv.create_bound_dataset(kube, namespace, "jfsdemo", runtime_type="juicefs")

    async def pvc_bound() -> bool:
        pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "jfsdemo", namespace)
        return bool(pvc.get("status", {}).get("phase") == "Bound")

    try:
        await eventually(pvc_bound, timeout=30, what="the jfsdemo PVC bound by the PV controller")
        async with wenv.webhook_env(kube, namespace, [namespace], platform_key=PLATFORM_KEY) as env:
            assert env.server is not None
            await wenv.wait_cached(env.server, namespace, "jfsdemo", runtime_type="juicefs")
            job = seed("002_serverless-job-juicefs-app.yaml", namespace)
            probe = {"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": "probe", "namespace": namespace,
                                  "labels": dict(job["spec"]["template"]["metadata"]["labels"])},
                     "spec": job["spec"]["template"]["spec"]}
            await env.mutated(probe, check=lambda p: p["spec"].get("initContainers"))
            await kube.create(job)

            pods: list[dict[str, Any]] = []

            async def job_pod() -> bool:
                nonlocal pods
                pods = (await kube.list(resources.PODS, namespace,
                                        label_selector="job-name=juicefs-app"))["items"]
                return bool(pods)

            await eventually(job_pod, timeout=30, what="the seed Job's pod")
            pod = pods[0]
            assert pod["metadata"]["labels"][PLATFORM_KEY] == "eci"
            assert pod["metadata"]["labels"]["done.sidecar.fluid.io/inject"] == "true"
            sidecar = pod["spec"]["initContainers"][0]
            assert sidecar["name"] == "fluid-fuse-0"
            assert sidecar["restartPolicy"] == "Always"
            volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "demo")
            assert volume["hostPath"]["path"] == wenv.objs.fluid_path(namespace, "jfsdemo", "juicefs")
            app = next(c for c in pod["spec"]["containers"] if c["name"] == "juicefs-app")
            assert app["volumeMounts"][0]["mountPropagation"] == "HostToContainer"

            async def complete() -> bool:
                status = (await kube.get(resources.JOBS, "juicefs-app", namespace)).get("status", {})
                return any(c.get("type") == "Complete" and c.get("status") == "True"
                           for c in status.get("conditions") or ())

            await eventually(complete, timeout=60, what="the seed Job Complete")
    finally:
        await wenv.delete_pvs(kube, namespace, ["jfsdemo"])
