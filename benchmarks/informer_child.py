"""The measured process of informer_memory.py: a Manager with the pod and node informers
(and the indexes controllers use), reporting RSS and sync time as one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from typing import Any

from fluid.kube import KubeClient, resources, slim
from fluid.observability import logging as fluid_logging
from fluid.reconcile.manager import Manager, ManagerConfig


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def claims(pod: dict[str, Any]) -> list[str]:
    namespace = pod["metadata"]["namespace"]
    return [
        f"{namespace}/{v['persistentVolumeClaim']['claimName']}"
        for v in pod.get("spec", {}).get("volumes") or ()
        if "persistentVolumeClaim" in v
    ]


async def main(kubeconfig: str) -> None:
    baseline = rss_mb()
    client = await KubeClient.connect(kubeconfig)
    manager = Manager(client, ManagerConfig(health_port=None, transforms=slim.TRANSFORMS))
    pods = manager.informer(resources.PODS)
    pods.add_indexer("pvc", claims)
    pods.add_indexer("node", lambda p: [p["spec"].get("nodeName") or ""])
    manager.informer(resources.NODES)
    started = time.monotonic()
    task = asyncio.create_task(manager.run())
    while not manager.ready:
        await asyncio.sleep(0.05)
    sync = time.monotonic() - started
    gc.collect()
    print(json.dumps({"sync_seconds": sync, "rss_mb": rss_mb(), "baseline_mb": baseline,
                      "pods": len(pods.store)}))
    manager.stop()
    await task
    await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    fluid_logging.configure(json=True)
    asyncio.run(main(parser.parse_args().kubeconfig))
