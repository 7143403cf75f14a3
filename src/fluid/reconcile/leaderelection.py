"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go does it.

Owns one Lease record: acquiring it, renewing it, noticing its loss and releasing it on
graceful shutdown. It knows nothing of what the leader does; the Manager starts
controllers when ``run`` reports leadership and stops the process when it is lost.

Expiry is judged on the local monotonic clock from when this replica last saw the record
change, never by comparing the remote renewTime with the local wall clock (clock skew
between replicas would otherwise decide who leads).
"""

from __future__ import annotations

import asyncio
import datetime
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import attrs
import structlog

from fluid.kube import KubeClient, errors, resources
from fluid.observability import metrics

__all__ = ["LeaderElectionConfig", "LeaderElector"]

log = structlog.get_logger(__name__)


@attrs.frozen
class LeaderElectionConfig:
    """Durations in seconds; the defaults are client-go's (15 s lease, 10 s renew, 2 s retry).

    A standby takes over at most ``lease_duration`` after the leader stops renewing; the
    leader gives up if it cannot renew within ``renew_deadline``, which must be shorter
    than the lease so that it stops before anyone else may start.
    """

    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __attrs_post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if not self.renew_deadline > 1.2 * self.retry_period:
            raise ValueError("renew_deadline must be greater than 1.2 * retry_period")
        if not self.identity:
            raise ValueError("identity must not be empty")


def _now_micro() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Acquires, renews and releases the Lease; ``run`` returns when leadership is lost."""

    def __init__(self, client: KubeClient, config: LeaderElectionConfig) -> None:
        self._client = client
        self.config = config
        self._observed_record: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._lease: dict[str, Any] | None = None
        self._leading = asyncio.Event()
        self._gauge = metrics.LEADER.labels(config.name)

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    async def wait_leading(self) -> None:
        await self._leading.wait()

    async def run(self, on_started_leading: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Block until leading, call ``on_started_leading`` in a task, renew until lost."""
        await self._acquire()
        task: asyncio.Task[None] | None = (
            asyncio.create_task(on_started_leading()) if on_started_leading else None
        )
        try:
            await self._renew_loop()
        finally:
            self._leading.clear()
            self._gauge.set(0)
            if task:
                task.cancel()
        log.warning("leader_lost", lease=self.config.name, identity=self.config.identity)

    async def release(self) -> None:
        """Give the lease up at once (graceful shutdown) so a standby need not wait it out."""
        if not self._leading.is_set() or self._lease is None:
            return
        lease = dict(self._lease)
        spec = dict(lease.get("spec") or {})
        spec.update(holderIdentity=None, leaseDurationSeconds=1, renewTime=_now_micro())
        lease["spec"] = spec
        try:
            await asyncio.wait_for(
                self._client.replace(lease, res=resources.LEASES), self.config.retry_period
            )
            log.info("leader_released", lease=self.config.name, identity=self.config.identity)
        except (errors.ApiError, OSError, TimeoutError) as exc:
            log.warning("leader_release_failed", lease=self.config.name, error=str(exc))
        self._leading.clear()
        self._gauge.set(0)

    # -- internals -------------------------------------------------------------------------------

    def _jittered_retry(self) -> float:
        return self.config.retry_period * (1 + random.random() * 0.2)

    async def _acquire(self) -> None:
        log.info("leader_acquiring", lease=self.config.name, identity=self.config.identity)
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self._jittered_retry())
        self._leading.set()
        self._gauge.set(1)
        log.info("leader_acquired", lease=self.config.name, identity=self.config.identity)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.retry_period)
            deadline = time.monotonic() + self.config.renew_deadline
            renewed = False
            while time.monotonic() < deadline:
                try:
                    renewed = await asyncio.wait_for(
                        self._try_acquire_or_renew(), max(deadline - time.monotonic(), 0.01)
                    )
                except TimeoutError:
                    renewed = False
                if renewed:
                    break
                await asyncio.sleep(min(self._jittered_retry(), max(deadline - time.monotonic(), 0)))
            if not renewed:
                return

    async def _try_acquire_or_renew(self) -> bool:
        try:
            current = await self._client.get_or_none(
                resources.LEASES, self.config.name, self.config.namespace
            )
        except (errors.ApiError, OSError) as exc:
            log.warning("leader_get_failed", lease=self.config.name, error=str(exc))
            return False
        now = time.monotonic()
        if current is None:
            return await self._write(self._new_lease(None, transitions=0), create=True)
        spec = current.get("spec") or {}
        record = {k: spec.get(k) for k in ("holderIdentity", "renewTime", "leaseTransitions")}
        if record != self._observed_record:
            self._observed_record = record
            self._observed_at = now
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        i_hold = holder == self.config.identity
        if holder and not i_hold and now < self._observed_at + duration:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if i_hold else 1)
        lease = self._new_lease(current, transitions=transitions)
        if i_hold and spec.get("acquireTime"):
            lease["spec"]["acquireTime"] = spec["acquireTime"]
        return await self._write(lease, create=False)

    def _new_lease(self, current: dict[str, Any] | None, *, transitions: int) -> dict[str, Any]:
        now = _now_micro()
        metadata: dict[str, Any] = {"name": self.config.name, "namespace": self.config.namespace}
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.config.identity,
                "leaseDurationSeconds": round(self.config.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    async def _write(self, lease: dict[str, Any], *, create: bool) -> bool:
        try:
            if create:
                written = await self._client.create(lease, res=resources.LEASES)
            else:
                written = await self._client.replace(lease, res=resources.LEASES)
        except (errors.Conflict, errors.AlreadyExists):
            return False
        except (errors.ApiError, OSError) as exc:
            log.warning("leader_write_failed", lease=self.config.name, error=str(exc))
            return False
        self._lease = written
        spec = written.get("spec") or {}
        self._observed_record = {
            k: spec.get(k) for k in ("holderIdentity", "renewTime", "leaseTransitions")
        }
        self._observed_at = time.monotonic()
        return True
