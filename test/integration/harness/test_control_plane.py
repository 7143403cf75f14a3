"""The local control plane itself: fake nodes are Ready and labelled, workloads get pods that
are scheduled and become Ready, Jobs complete. Everything later issues build on this."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

LABELS = ("kubernetes.io/hostname", "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type")


def pod_template(app: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]},
    }


async def ready_pods(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    pods = (await kube.list(resources.PODS, namespace, label_selector=f"app={app}"))["items"]
    return [
        p for p in pods
        if p["spec"].get("nodeName")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]


async def test_nodes_are_ready_with_realistic_labels(kube: KubeClient, workloads: list[str]) -> None:
    for name in workloads:
        node = await kube.get(resources.NODES, name)
        assert all(label in node["metadata"]["labels"] for label in LABELS)
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True"


async def test_statefulset_daemonset_and_job_run(
    kube: KubeClient, namespace: str, workloads: list[str]
) -> None:
    await eventually(
        lambda: kube.get_or_none(resources.SERVICE_ACCOUNTS, "default", namespace),
        what="default service account",
    )
    await kube.create({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "sts", "namespace": namespace},
        "spec": {"replicas": 2, "serviceName": "sts", "selector": {"matchLabels": {"app": "sts"}},
                 "template": pod_template("sts")},
    })
    await kube.create({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "ds", "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": pod_template("ds")},
    })
    job_template = pod_template("job")
    job_template["spec"]["restartPolicy"] = "Never"
    await kube.create({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "job", "namespace": namespace},
        "spec": {"template": job_template, "backoffLimit": 0},
    })

    async def sts_ready() -> bool:
        return len(await ready_pods(kube, namespace, "sts")) == 2

    async def ds_everywhere() -> bool:
        return {p["spec"]["nodeName"] for p in await ready_pods(kube, namespace, "ds")} == set(workloads)

    async def job_complete() -> bool:
        job = await kube.get(resources.JOBS, "job", namespace)
        return any(
            c["type"] == "Complete" and c["status"] == "True"
            for c in job.get("status", {}).get("conditions", [])
        )

    await eventually(sts_ready, timeout=60, what="StatefulSet pods Ready")
    await eventually(ds_everywhere, timeout=60, what="a DaemonSet pod Ready on every node")
    await eventually(job_complete, timeout=60, what="Job Complete")
    sts = await kube.get(resources.STATEFULSETS, "sts", namespace)
    assert sts["status"].get("readyReplicas") == 2
