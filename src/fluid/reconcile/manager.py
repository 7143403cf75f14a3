"""Manager: owns the shared informers, the health/metrics server, leader election and controllers.

Start order (as controller-runtime's): health and metrics server; runnables that every
replica runs (webhook server, ...); informers, then wait for their caches; readiness turns
green; leader election; controllers start only on the leader. Losing the lease stops the
manager with ``LeadershipLost`` (the process exits and restarts as a standby), because a
replica that kept reconciling after losing the lease could race the new leader.

Knows nothing of Fluid's kinds; ``fluid.cli`` composes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import attrs
import prometheus_client
import structlog
from aiohttp import web

from fluid.kube import KubeClient
from fluid.kube.resources import Resource
from fluid.reconcile.controller import Controller
from fluid.reconcile.informer import Informer
from fluid.reconcile.leaderelection import LeaderElectionConfig, LeaderElector

__all__ = ["LeadershipLost", "Manager", "ManagerConfig"]

log = structlog.get_logger(__name__)

Runnable = Callable[[], Coroutine[Any, Any, None]]


class LeadershipLost(RuntimeError):
    """The Lease was lost; the process must stop reconciling at once."""


@attrs.frozen
class ManagerConfig:
    """``health_port`` serves /healthz, /readyz and /metrics (0 picks a free port; None: off)."""

    health_host: str = "0.0.0.0"
    transforms: Mapping[Resource, Callable[[dict[str, Any]], dict[str, Any]]] = attrs.field(factory=dict)
    """Per-resource cache transforms (e.g. slim pods); every informer of that resource uses it."""
    health_port: int | None = 8080
    leader_election: LeaderElectionConfig | None = None
    cache_sync_timeout: float = 120.0
    shutdown_timeout: float = 30.0
    freeze_heap_after_sync: bool = False
    """``gc.freeze()`` once the caches synced: the synced objects are long-lived, so the
    cyclic collector's full passes stop walking them (with 10,000 cached pods a full pass
    is a pause of tens of milliseconds on the event loop that serves the webhook). Cache
    entries are acyclic JSON, so reference counting still frees them when replaced."""


class Manager:
    """Composition root of the reconcile machinery."""

    def __init__(self, client: KubeClient, config: ManagerConfig | None = None) -> None:
        self.client = client
        self.config = config or ManagerConfig()
        self._informers: dict[tuple[Resource, str | None, str | None], Informer] = {}
        self._controllers: list[Controller] = []
        self._runnables: list[tuple[str, Runnable]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._synced = False
        self._stopping = asyncio.Event()
        self.elector = (
            LeaderElector(client, self.config.leader_election)
            if self.config.leader_election
            else None
        )
        self.health_port: int | None = None

    # -- composition -------------------------------------------------------------------------------

    def informer(
        self, resource: Resource, *, namespace: str | None = None,
        label_selector: str | None = None, **kwargs: Any,
    ) -> Informer:
        """The shared informer for a resource (and namespace and selector); created on first use.

        Callers asking for the same resource, namespace and label selector share one cache;
        a different selector gets its own informer.
        """
        key = (resource, namespace, label_selector)
        if key not in self._informers:
            transform = self.config.transforms.get(resource)
            if transform is not None:
                kwargs.setdefault("transform", transform)
            self._informers[key] = Informer(
                self.client, resource, namespace=namespace, label_selector=label_selector, **kwargs
            )
        return self._informers[key]

    def add_controller(self, controller: Controller) -> None:
        self._controllers.append(controller)

    def add_runnable(self, name: str, runnable: Runnable) -> None:
        """A long-running coroutine every replica runs (not only the leader), e.g. the webhook."""
        self._runnables.append((name, runnable))

    @property
    def ready(self) -> bool:
        return self._synced

    @property
    def is_leader(self) -> bool:
        return self.elector is None or self.elector.is_leader

    def stop(self) -> None:
        """Ask ``run`` to shut down gracefully (what SIGTERM does)."""
        self._stopping.set()

    # -- running -----------------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> None:
        """Run until ``stop()`` (or SIGTERM/SIGINT when ``handle_signals``); raise if the lease is lost."""
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        runner = await self._start_health_server()
        try:
            for name, runnable in self._runnables:
                self._supervise(name, runnable())
            for informer in self._informers.values():
                self._supervise(f"informer:{informer.resource.key()}", informer.run())
            await self._wait_for_caches()
            leader = self._supervise("leader", self._lead())
            stopping = asyncio.create_task(self._stopping.wait())
            done, _ = await asyncio.wait({leader, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if leader in done and not self._stopping.is_set():
                leader.result()
                raise LeadershipLost("lost the leader lease")
        finally:
            await self._shutdown(runner)

    async def _lead(self) -> None:
        if self.elector is None:
            await self._run_controllers()
            await asyncio.Event().wait()  # without election we lead until stopped
            return
        await self.elector.run(self._run_controllers)

    async def _run_controllers(self) -> None:
        log.info("controllers_starting", count=len(self._controllers))
        await asyncio.gather(*(c.run() for c in self._controllers))

    async def _wait_for_caches(self) -> None:
        waits = [i.wait_for_sync() for i in self._informers.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), self.config.cache_sync_timeout)
        except TimeoutError:
            pending = [i.resource.key() for i in self._informers.values() if not i.has_synced]
            raise RuntimeError(f"caches did not sync within timeout: {pending}") from None
        self._synced = True
        if self.config.freeze_heap_after_sync:
            gc.collect()
            gc.freeze()
        log.info("caches_synced", informers=len(self._informers), frozen_objects=gc.get_freeze_count())

    def _supervise(self, name: str, coro: Awaitable[None]) -> asyncio.Task[None]:
        """Every long-lived task goes through here so an unexpected exit is logged."""

        async def wrapper() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task_crashed", task=name)
                raise

        task = asyncio.create_task(wrapper(), name=name)
        self._tasks.append(task)
        return task

    async def _shutdown(self, runner: web.AppRunner | None) -> None:
        log.info("manager_stopping")
        if self.elector is not None:
            await self.elector.release()
        for task in reversed(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.config.shutdown_timeout)
        self._tasks.clear()
        if runner is not None:
            await runner.cleanup()
        log.info("manager_stopped")

    # -- health and metrics ------------------------------------------------------------------------

    async def _start_health_server(self) -> web.AppRunner | None:
        if self.config.health_port is None:
            return None
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.health_host, self.config.health_port)
        await site.start()
        with contextlib.suppress(AttributeError, IndexError, TypeError):
            self.health_port = runner.addresses[0][1]
        return runner

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _: web.Request) -> web.Response:
        if self._synced:
            return web.Response(text="ok")
        return web.Response(status=503, text="caches not synced")

    async def _metrics(self, _: web.Request) -> web.Response:
        body = prometheus_client.generate_latest()
        return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})
