"""A webhook under test: a Manager running ``fluid.webhook.setup`` on a loopback port,
with the production webhook configurations registered under unique names, their
``clientConfig`` switched to ``url`` and their namespaceSelector narrowed to the test's
namespaces (other tests in the session never reach this webhook).

Shared by the integration and e2e webhook tests; it creates the Fluid objects a Bound
dataset has (as the engines create them) through the real API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "webhook"))

import webhook_objects as objs

from fluid.kube import KubeClient, errors, resources, slim
from fluid.reconcile import Manager, ManagerConfig
from fluid.testing.controlplane import free_port
from fluid.testing.wait import eventually
from fluid.webhook import configuration, setup

Obj = dict[str, Any]


def scoped(config: Obj, namespaces: Sequence[str]) -> Obj:
    for webhook in config["webhooks"]:
        webhook["namespaceSelector"] = {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}
            ]
        }
    return config


class WebhookEnv:
    """The running webhook, its configuration names, and helpers to talk to it."""

    def __init__(
        self,
        kube: KubeClient,
        fluid_namespace: str,
        namespaces: Sequence[str],
        *,
        check_interval: float,
        cert_secret: str,
        platform_key: str = "",
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.kube = kube
        self.fluid_namespace = fluid_namespace
        self.namespaces = list(namespaces)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.mutating_name = f"fluid-pod-admission-webhook-{suffix}"
        self.validating_name = f"fluid-validating-webhook-{suffix}"
        self.config = setup.WebhookConfig(
            host="127.0.0.1",
            port=self.port,
            cert_secret=cert_secret,
            mutating_configs=(self.mutating_name,),
            validating_configs=(self.validating_name,),
            check_interval=check_interval,
            serverless_platform_key=platform_key,
        )
        self.manager: Manager | None = None
        self.server: setup.WebhookServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def register(self) -> None:
        mutating = configuration.mutating_configuration(
            namespace=self.fluid_namespace, url=self.url, name=self.mutating_name
        )
        validating = configuration.validating_configuration(
            namespace=self.fluid_namespace, url=self.url, name=self.validating_name
        )
        await self.kube.create(scoped(mutating, self.namespaces))
        await self.kube.create(scoped(validating, self.namespaces))

    async def unregister(self) -> None:
        await self.kube.delete(resources.MUTATING_WEBHOOKS, self.mutating_name)
        await self.kube.delete(resources.VALIDATING_WEBHOOKS, self.validating_name)

    async def start(self) -> setup.WebhookServer:
        """Start a Manager serving the webhook; returns once it serves TLS."""
        manager = Manager(self.kube, ManagerConfig(health_port=None, transforms=slim.TRANSFORMS))
        context = _Context(self.kube, self.fluid_namespace)
        server = setup.setup(manager, context, config=self.config)
        task = asyncio.create_task(manager.run())
        self.manager, self.server, self._task = manager, server, task
        await eventually(
            lambda: server.serving.is_set() or task.done(), timeout=60, what="webhook serving"
        )
        if task.done():
            task.result()
        return server

    async def stop(self) -> None:
        if self.manager is not None and self._task is not None:
            self.manager.stop()
            await asyncio.wait_for(self._task, 30)
        self.manager = self.server = self._task = None

    async def ca_bundle(self, kind: resources.Resource, name: str) -> str | None:
        config = await self.kube.get(kind, name)
        bundles = {(w.get("clientConfig") or {}).get("caBundle") for w in config["webhooks"]}
        return bundles.pop() if len(bundles) == 1 else None

    async def mutated(self, pod: Obj, *, check: Any = None, timeout: float = 30) -> Obj:
        """Dry-run create ``pod`` until the API server has called the webhook (its config
        informer lags a new configuration); returns the object as it would be stored."""
        result: Obj = {}

        async def attempt() -> bool:
            nonlocal result
            result = await self.kube.create(pod, dry_run=True)
            return bool(check(result)) if check else _touched(result)

        await eventually(
            attempt, timeout=timeout, interval=0.2, what="the API server calling the webhook"
        )
        return result


def _touched(pod: Obj) -> bool:
    return "fluid.io/datasets-in-use" in (pod["metadata"].get("annotations") or {})


class _Context:
    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace


@contextlib.asynccontextmanager
async def webhook_env(
    kube: KubeClient,
    fluid_namespace: str,
    namespaces: Sequence[str],
    *,
    check_interval: float = 600.0,
    cert_secret: str = "fluid-webhook-certs",
    start: bool = True,
    platform_key: str = "",
) -> AsyncIterator[WebhookEnv]:
    env = WebhookEnv(
        kube, fluid_namespace, namespaces, check_interval=check_interval, cert_secret=cert_secret,
        platform_key=platform_key,
    )
    await env.register()
    try:
        if start:
            await env.start()
        yield env
    finally:
        await env.stop()
        await env.unregister()


async def ensure_service_account(kube: KubeClient, ns: str) -> None:
    """Pods need the ``default`` ServiceAccount (no kube-controller-manager makes it here)."""
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": ns},
            }
        )


async def create_bound_dataset(kube: KubeClient, ns: str, name: str, **runtime_kwargs: Any) -> None:
    """Dataset + runtime (with status; AlluxioRuntime unless ``runtime_type`` says otherwise),
    PV, PVC and FUSE DaemonSet, as after binding."""
    await ensure_service_account(kube, ns)
    dataset, runtime, pvc, pv, daemonset = objs.bound_dataset(ns, name, **runtime_kwargs)
    for obj in (dataset, runtime):
        status = obj.pop("status")
        obj["metadata"].pop("uid", None)
        await kube.create(obj)
        if status:
            await kube.patch_status(resources.resource_of(obj), name, ns, status)
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create(pv)
    await kube.create(pvc)
    await kube.create(daemonset)


async def delete_pvs(kube: KubeClient, ns: str, names: Sequence[str]) -> None:
    for name in names:
        await kube.delete(resources.PERSISTENT_VOLUMES, f"{ns}-{name}")


async def wait_cached(
    server: setup.WebhookServer, ns: str, name: str, runtime_type: str = "alluxio"
) -> None:
    """Until the webhook's caches hold the dataset's Bound status and its PVC/PV/DaemonSet."""

    def ready() -> bool:
        caches = server.caches
        dataset = caches.datasets.get(f"{ns}/{name}") or {}
        return (
            (dataset.get("status") or {}).get("phase") == "Bound"
            and caches.pvcs.get(f"{ns}/{name}") is not None
            and caches.pvs.get(f"{ns}-{name}") is not None
            and caches.daemonsets.get(f"{ns}/{name}-fuse") is not None
            and caches.runtimes[runtime_type].get(f"{ns}/{name}") is not None
        )

    await eventually(ready, timeout=30, what=f"webhook caches holding {ns}/{name}")
