"""Informer memory and sync time with 10,000 pods on 500 nodes (kwok keeps them cheap).

Starts a local control plane with kwok, creates the nodes and pods (bound straight to
nodes, so kwok marks them Running with full status), then starts a separate process that
runs the Manager with shared informers for pods and nodes and the indexes controllers use,
and prints that process's RSS once its caches synced, and how long the sync took.

    python benchmarks/informer_memory.py [--pods 10000] [--nodes 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from fluid.kube import KubeClient, resources
from fluid.testing import controlplane

CHILD = Path(__file__).with_name("informer_child.py")


def pod(namespace: str, index: int, node: str) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"app-{index}", "namespace": namespace,
            "labels": {"app": "bench", "shard": str(index % 50)},
            "annotations": {"fluid.io/bench": "true"},
        },
        "spec": {
            "nodeName": node,
            "containers": [{
                "name": "main", "image": "registry.invalid/train:1",
                "command": ["python", "train.py", "--data", "/data"],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"ds-{index % 20}"}}],
        },
    }


async def populate(plane: controlplane.LocalControlPlane, pods: int, nodes: list[str]) -> None:
    client = await KubeClient.connect(plane.kubeconfig)
    sem = asyncio.Semaphore(32)
    namespaces = [f"bench-{i}" for i in range(10)]
    for ns in namespaces:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    async def one(i: int) -> None:
        async with sem:
            await client.create(pod(namespaces[i % 10], i, nodes[i % len(nodes)]))

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(pods)))
    print(f"created {pods} pods in {time.monotonic() - started:.1f}s", file=sys.stderr)

    async def running() -> int:
        items, _ = await client.list_all(resources.PODS, field_selector="status.phase=Running")
        return len(items)

    deadline = time.monotonic() + 600
    while (count := await running()) < pods and time.monotonic() < deadline:
        print(f"  {count}/{pods} pods Running", file=sys.stderr)
        await asyncio.sleep(5)
    await client.close()


def measure(kubeconfig: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, str(CHILD), "--kubeconfig", kubeconfig],
        capture_output=True, text=True, check=False, timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measured process failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=500)
    args = parser.parse_args()
    with controlplane.running() as plane:
        names = plane.start_workloads(nodes=args.nodes, timeout=300)
        asyncio.run(populate(plane, args.pods, names))
        result = measure(plane.kubeconfig)
    print(f"pods={args.pods} nodes={args.nodes}")
    print(f"cache_sync_seconds={result['sync_seconds']:.2f}")
    print(f"rss_after_sync_mb={result['rss_mb']:.1f} (baseline before informers {result['baseline_mb']:.1f})")
    print(f"target: rss <= 250 MB -> {'OK' if result['rss_mb'] <= 250 else 'OVER'}")


if __name__ == "__main__":
    main()
