"""A test-only controller that knows nothing of Fluid: it copies ConfigMap ``data.input``
into the annotation ``test.fluid.io/seen`` and records each reconcile's start and end.

Used by the framework's integration tests, in-process and as a subprocess
(``python configmap_controller.py ...``) for the leader-election test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from fluid.kube import KubeClient, resources
from fluid.reconcile.controller import Controller, Request, Result
from fluid.reconcile.informer import Informer
from fluid.reconcile.leaderelection import LeaderElectionConfig
from fluid.reconcile.manager import LeadershipLost, Manager, ManagerConfig

SEEN = "test.fluid.io/seen"


class CopyInput:
    """Reconciler: annotation := data.input; optional journal of (identity, key, start, end)."""

    def __init__(
        self, client: KubeClient, informer: Informer, *, identity: str = "",
        journal: Path | None = None, work_seconds: float = 0.0,
    ) -> None:
        self.client = client
        self.informer = informer
        self.identity = identity
        self.journal = journal
        self.work_seconds = work_seconds
        self.calls: list[str] = []
        self.in_flight: set[str] = set()
        self.overlaps = 0

    def _record(self, event: str, key: str) -> None:
        if self.journal is None:
            return
        line = f"{self.identity} {event} {key} {time.time():.6f}\n"
        fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    async def reconcile(self, request: Request) -> Result:
        if request.key in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(request.key)
        self._record("start", request.key)
        try:
            self.calls.append(request.key)
            if self.work_seconds:
                await asyncio.sleep(self.work_seconds)
            obj = self.informer.get(request.key)
            if obj is None:
                return Result()
            wanted = (obj.get("data") or {}).get("input")
            annotations = obj["metadata"].get("annotations") or {}
            if wanted is not None and annotations.get(SEEN) != wanted:
                await self.client.merge_patch(
                    resources.CONFIGMAPS, request.name, request.namespace,
                    {"metadata": {"annotations": {SEEN: wanted}}},
                )
            return Result()
        finally:
            self._record("end", request.key)
            self.in_flight.discard(request.key)


def build(
    client: KubeClient, namespace: str, config: ManagerConfig, **kwargs: object
) -> tuple[Manager, CopyInput]:
    manager = Manager(client, config)
    informer = manager.informer(resources.CONFIGMAPS, namespace=namespace)
    reconciler = CopyInput(client, informer, **kwargs)  # type: ignore[arg-type]
    controller = Controller("configmap-copy", reconciler, workers=4)
    controller.watch(informer)
    manager.add_controller(controller)
    return manager, reconciler


async def _main(args: argparse.Namespace) -> int:
    client = await KubeClient.connect(args.kubeconfig)
    election = LeaderElectionConfig(
        name=args.lease, namespace=args.namespace, identity=args.identity,
        lease_duration=args.lease_duration, renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
    )
    manager, _ = build(
        client, args.namespace, ManagerConfig(health_port=None, leader_election=election),
        identity=args.identity, journal=Path(args.journal), work_seconds=0.05,
    )
    try:
        await manager.run(handle_signals=True)
    except LeadershipLost:
        return 1
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for flag in ("kubeconfig", "namespace", "identity", "journal", "lease"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    sys.exit(asyncio.run(_main(parser.parse_args())))
