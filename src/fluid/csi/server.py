"""The fluid-csi process: a grpc.aio server on a unix socket plus the FUSE recovery loop.

Owns composition and lifetime: builds the servicers with their collaborators (Linux
mounter, node labeler and pod events over one KubeClient, the state store, the shared
per-volume locks), listens on the CSI endpoint (removing a stale socket first), runs
recovery under a supervisor, and on SIGTERM/SIGINT stops accepting calls and lets running
ones finish within ``grace`` seconds. Never contains CSI logic itself. Called by
``fluid.cli.csi``; tests call ``build_server`` with fakes.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import grpc
import structlog

from fluid.csi import controller, events, identity, interceptor, labels, locks, node, state
from fluid.csi import recovery as recovery_mod
from fluid.csi.linux import LinuxMounter, ReadOnlyBind
from fluid.csi.mounts import Mounter
from fluid.csi.proto import csi_pb2_grpc
from fluid.kube import KubeClient

__all__ = ["CsiSettings", "build_server", "serve", "socket_path"]

log = structlog.get_logger(__name__)


@attrs.frozen
class CsiSettings:
    """What ``fluid-csi`` is told on its command line.

    ``grace`` (s, 10): how long SIGTERM waits for RPCs in flight, shorter than the
    DaemonSet's termination grace period (30 s) so the process exits on its own.
    ``recovery_period`` (s, 5): pause between recovery sweeps.
    """

    endpoint: str
    node_id: str
    state_dir: Path
    kubeconfig: str | None = None
    kube_api: bool = True
    recovery: bool = True
    recovery_period: float = 5.0
    stage_timeout: float = 60.0
    publish_timeout: float = 30.0
    grace: float = 10.0
    readonly_bind: ReadOnlyBind = ReadOnlyBind.ATOMIC


def socket_path(endpoint: str) -> str:
    """The filesystem path of ``unix:///path``, ``unix:/path`` or a bare ``/path``."""
    if endpoint.startswith("unix://"):
        path = endpoint[len("unix://") :]
    elif endpoint.startswith("unix:"):
        path = endpoint[len("unix:") :]
    else:
        path = endpoint
    if not path.startswith("/"):
        raise ValueError(f"endpoint must be an absolute unix socket path, got {endpoint!r}")
    return path


def build_server(
    *,
    node_servicer: node.NodeServicer,
    identity_servicer: identity.IdentityServicer,
    controller_servicer: controller.ControllerServicer | None = None,
    path: str,
) -> grpc.aio.Server:
    """A grpc.aio server with the CSI services and the error interceptor, bound to ``path``."""
    server = grpc.aio.server(interceptors=[interceptor.ErrorInterceptor()])
    add = csi_pb2_grpc  # generated, untyped registration functions
    add.add_IdentityServicer_to_server(identity_servicer, server)  # type: ignore[no-untyped-call]
    add.add_NodeServicer_to_server(node_servicer, server)  # type: ignore[no-untyped-call]
    if controller_servicer is not None:
        add.add_ControllerServicer_to_server(  # type: ignore[no-untyped-call]
            controller_servicer, server
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)  # a socket left by a previous run
    server.add_insecure_port(f"unix://{path}")
    return server


async def _supervise(name: str, run: Callable[[], Awaitable[None]], *, restart_after: float) -> None:
    """Run a long-lived loop; log an unexpected exit and start it again."""
    while True:
        try:
            await run()
            log.warning("task_exited", task=name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task_crashed", task=name)
        await asyncio.sleep(restart_after)


async def serve(
    settings: CsiSettings,
    *,
    mounter: Mounter | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set), then stop gracefully."""
    mounter = mounter or LinuxMounter(readonly_bind=settings.readonly_bind)
    store = state.StateStore(settings.state_dir)
    volume_locks = locks.KeyedLock()
    kube = await KubeClient.connect(settings.kubeconfig) if settings.kube_api else None
    labeler: labels.NodeLabeler = (
        labels.KubeNodeLabeler(kube) if kube else labels.NoopLabeler()
    )
    pod_events: events.PodEvents = (
        events.KubePodEvents(kube, node=settings.node_id) if kube else events.NoopPodEvents()
    )
    node_servicer = node.NodeServicer(
        node.NodeDeps(mounter=mounter, labeler=labeler, state=store, locks=volume_locks),
        node.NodeSettings(
            node_id=settings.node_id, stage_timeout=settings.stage_timeout,
            publish_timeout=settings.publish_timeout,
        ),
    )
    identity_servicer = identity.IdentityServicer(
        ready=lambda: os.access(settings.state_dir, os.W_OK)
    )
    path = socket_path(settings.endpoint)
    server = build_server(
        node_servicer=node_servicer, identity_servicer=identity_servicer,
        controller_servicer=controller.ControllerServicer(), path=path,
    )
    stop = stop or asyncio.Event()
    installed = _install_signal_handlers(stop)
    tasks: list[asyncio.Task[None]] = []
    await server.start()
    log.info("csi_serving", endpoint=path, node_id=settings.node_id, driver=identity.DRIVER_NAME,
             kube_api=settings.kube_api, recovery=settings.recovery)
    try:
        if settings.recovery:
            sweeper = recovery_mod.Recovery(
                mounter=mounter, store=store, locks=volume_locks, events=pod_events,
                period=settings.recovery_period,
            )
            tasks.append(asyncio.create_task(
                _supervise("fuse_recovery", sweeper.run, restart_after=settings.recovery_period),
                name="fuse_recovery",
            ))
        await stop.wait()
    finally:
        for signum in installed:
            asyncio.get_running_loop().remove_signal_handler(signum)
        await _shutdown(server, tasks, settings.grace)
        if kube is not None:
            await kube.close()


def _install_signal_handlers(stop: asyncio.Event) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            break
        installed.append(signum)
    return installed


async def _shutdown(server: grpc.aio.Server, tasks: list[asyncio.Task[None]], grace: float) -> None:
    log.info("csi_stopping", grace_s=grace)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await server.stop(grace)
    log.info("csi_stopped")
