"""The FluidApp controller: stop a legacy FUSE sidecar once the app containers have exited.

In ``legacy`` sidecar mode the FUSE client is an ordinary container of the pod, so a Job
pod would run forever after its app container finished. This controller watches pods
the webhook injected (label ``done.sidecar.fluid.io/inject=true`` and a ``fluid-fuse-*``
container in ``spec.containers``) and, once the pod is Running, every non-FUSE container
has terminated and a FUSE container still runs, executes that container's ``preStop``
command (else ``umount $FLUID_FUSE_MOUNTPOINT``) in it, so the FUSE process exits and the
pod (and its Job) completes. "not mounted" and exit 137 count as done, as upstream.

Pods with ``restartPolicy: Always`` are left alone (their app never "finishes"), and so
are native sidecars (init containers with ``restartPolicy: Always``), which the kubelet
stops by itself. Never deletes or patches pods; its only action is the exec. Decides on
the shared (slim) pod cache and reads the full pod only for a pod that looks done. Registered
as ``fluidapp`` in ``fluid.controllers.CONTROLLERS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog

from fluid.api import pod_labels
from fluid.controllers import ControllerContext
from fluid.engines import base as engine_base
from fluid.kube import KubeClient, resources
from fluid.reconcile.controller import Controller, Request, Result
from fluid.reconcile.informer import Informer
from fluid.reconcile.manager import Manager
from fluid.reconcile.store import key_of

__all__ = ["FluidAppReconciler", "fuse_stop_command", "fuse_to_stop", "setup"]

log = structlog.get_logger(__name__)

EXEC_TIMEOUT = 30.0
"""Seconds for the unmount command: a FUSE client flushing before exit may take a while."""
RECHECK_AFTER = 30.0
"""Seconds before looking again at a pod whose FUSE container outlived its unmount."""
_DONE_EXIT_CODES = (0, 137)


def _is_fuse(container: Mapping[str, Any]) -> bool:
    return pod_labels.FUSE_CONTAINER_PREFIX in str(container.get("name", ""))


def _watched(pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    done = pod_labels.is_true((meta.get("labels") or {}).get(pod_labels.LABEL_DONE_INJECT))
    return done and any(
        _is_fuse(c) for c in spec.get("containers") or ())


def _mapper(pod: dict[str, Any]) -> Iterable[str]:
    return (key_of(pod),) if _watched(pod) else ()


def fuse_stop_command(container: Mapping[str, Any]) -> list[str] | None:
    """The container's ``preStop`` exec command, else ``umount <mount point>``, else None."""
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}
    if pre_stop.get("command"):
        return [str(word) for word in pre_stop["command"]]
    for env in container.get("env") or ():
        if env.get("name") == pod_labels.ENV_FUSE_MOUNTPOINT and env.get("value"):
            return ["umount", str(env["value"])]
    for mount in container.get("volumeMounts") or ():
        if str(mount.get("name", "")).endswith("-fuse-mount"):
            return ["umount", str(mount["mountPath"])]
    return None


def _running_fuse_after_app(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Running FUSE containers of a Running pod whose other containers all terminated."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if status.get("phase") != "Running":
        return []
    states = {s.get("name"): s.get("state") or {} for s in status.get("containerStatuses") or ()}
    containers = spec.get("containers") or ()
    if len(states) < 2 or any(c.get("name") not in states for c in containers):
        return []
    apps = [c for c in containers if not _is_fuse(c)]
    if not apps or not all("terminated" in states[c["name"]] for c in apps):
        return []
    return [c for c in containers if _is_fuse(c) and "running" in states[c["name"]]]


def fuse_to_stop(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The FUSE containers to stop in a (full) pod: none while it restarts containers Always."""
    if (pod.get("spec") or {}).get("restartPolicy", "Always") == "Always":
        return []
    return _running_fuse_after_app(pod)


def _done(result: engine_base.ExecResult) -> bool:
    output = (result.stdout + result.stderr).lower()
    return result.exit_code in _DONE_EXIT_CODES or "not mounted" in output


class FluidAppReconciler:
    """Unmounts a pod's FUSE sidecars once its app containers are done.

    The shared pod cache holds slim copies (no restart policy, lifecycle or env), enough
    to see that a pod is done; only then is the full pod read, once per finished pod.
    """

    def __init__(self, client: KubeClient, pods: Informer, executor: engine_base.PodExecutor) -> None:
        self._client = client
        self._pods = pods
        self._executor = executor

    async def reconcile(self, request: Request) -> Result:
        cached = self._pods.get(request.key)
        if cached is None or not _watched(cached) or not _running_fuse_after_app(cached):
            return Result()
        pod = await self._client.get_or_none(resources.PODS, request.name, request.namespace)
        if pod is None:
            return Result()
        to_stop = fuse_to_stop(pod)
        if not to_stop:
            return Result()
        for container in to_stop:
            await self._stop(pod, container)
        return Result(requeue_after=RECHECK_AFTER)

    async def _stop(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> None:
        name = str(container["name"])
        command: Sequence[str] | None = fuse_stop_command(container)
        if command is None:
            log.warning("fuse_sidecar_no_stop_command", container=name)
            return
        result = await self._executor.exec(
            namespace=pod["metadata"]["namespace"], pod=pod["metadata"]["name"], container=name,
            command=command, timeout=EXEC_TIMEOUT,
        )
        if not _done(result):
            raise engine_base.CommandFailed(command, result)
        log.info("fuse_sidecar_stopped", container=name, command=" ".join(command),
                 exit_code=result.exit_code)


def setup(manager: Manager, context: ControllerContext) -> None:
    """Register the controller on the shared pod informer; pod exec from ``context.engines``."""
    pods = manager.informer(resources.PODS)
    executor = context.engines.executor or engine_base.ApiPodExecutor(context.client)
    reconciler = FluidAppReconciler(context.client, pods, executor)
    controller = Controller("fluidapp", reconciler, workers=2)
    controller.watch(pods, mapper=_mapper)
    manager.add_controller(controller)
