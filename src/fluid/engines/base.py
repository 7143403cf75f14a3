"""The Engine protocol every runtime implements, and the shared steps that keep engines small.

Owns the contract between the generic runtime controller (``fluid.controllers.runtime``)
and the per-runtime engines (``fluid.engines.<runtime>``):

- ``Engine``: what the controller calls, once per runtime object and reconcile:
  ``validate`` → ``setup`` (until ready) → ``create_volume`` → ``sync`` (periodically);
  on deletion ``delete_volume`` (until done) → ``shutdown`` (until done) → ``close``.
- ``CacheEngine``: the shared implementation of that lifecycle (Fluid's TemplateEngine).
  An engine subclasses it and supplies ``render`` (the namespaced objects it runs:
  ConfigMaps, master/worker StatefulSets, the FUSE DaemonSet) plus optional hooks
  (``prepare_ufs``, ``ufs_usage``, ``cache_usage``, ``update_mounts``, ``clean_cache``,
  ``port_names``). The base class applies what ``render`` returns with server-side apply
  and ownerReferences, allocates host ports, reports component phases, binds the
  Dataset, creates the PV/PVC, labels cache nodes and tears it all down again.
- The collaborators an engine gets (``EngineDeps``): the client, a read-only
  ``ClusterView`` over the informer caches, the port allocator, an event sink, a
  ``PodExecutor`` for calls into runtime processes, and ``EngineConfig``.

Never imports another engine and never touches the runtime's finalizer, the Dataset's
finalizer or ownerReferences between Dataset and runtime: those are the controller's.
Calls into runtime processes go only through each engine's ``ops.py`` over a
``PodExecutor``, so tests may substitute ``RecordingExecutor`` at that one boundary.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import copy
import datetime
import posixpath
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import aiohttp
import attrs
import orjson
import structlog

from fluid.api import constants as c
from fluid.api import converter
from fluid.api.base import PodMetadata
from fluid.api.dataset import Dataset, EncryptOption, User
from fluid.api.kinds import BY_KIND, KindInfo
from fluid.api.mount_modes import mount_modes
from fluid.api.quantity import format_binary, parse_quantity
from fluid.api.runtime_common import InitUsersSpec
from fluid.kube import KubeClient, errors, resources
from fluid.kube.events import NORMAL, WARNING, EventSink
from fluid.kube.resources import Resource
from fluid.observability import metrics
from fluid.reconcile.informer import Informer
from fluid.scheduling import nodelabels, placement
from fluid.scheduling.ports import (
    PORTS_KEY,
    PORTS_LABEL,
    PORTS_OWNER_ANNOTATION,
    PortAllocator,
    format_ports,
    owner_key,
)

__all__ = [
    "CALCULATING",
    "CRITICAL_PRIORITY_CLASS",
    "CSI_DRIVER",
    "DEFAULT_CLEAN_ATTEMPTS",
    "DEFAULT_INIT_IMAGE",
    "HADOOP_FILES",
    "INIT_USERS_ROOT",
    "SECRET_ENV_PREFIX",
    "ApiPodExecutor",
    "CacheEngine",
    "CacheUsage",
    "ClusterView",
    "CommandFailed",
    "Engine",
    "EngineConfig",
    "EngineDeps",
    "EngineFactory",
    "EngineSettings",
    "ExecCall",
    "ExecResult",
    "HadoopConfig",
    "InformerView",
    "InitUsers",
    "MemoryView",
    "Obj",
    "PodExecutor",
    "RecordingExecutor",
    "RenderContext",
    "Responder",
    "RuntimeKey",
    "SecretEnv",
    "Snapshot",
    "UfsMount",
    "UfsUsage",
    "ValidationFailed",
    "add_pull_secrets",
    "api_gateway_endpoint",
    "apply_operator_settings",
    "cache_affinity",
    "component_phase",
    "fuse_host_pid",
    "hadoop_config",
    "hadoop_config_mount",
    "image_or_default",
    "init_users",
    "merged_pod_metadata",
    "mount_modes",
    "mount_secrets",
    "pod_template_spec",
    "read_hadoop_config",
    "set_condition",
    "user_volumes",
    "uses_host_network",
    "volume_metadata",
]

log = structlog.get_logger(__name__)

Obj = dict[str, Any]

CSI_DRIVER = "fuse.csi.fluid.io"
STORAGE_CLASS = "fluid"
UFS_ROOT = "/underFSStorage"
"""Where ``local://`` and ``pvc://`` mounts appear inside master and worker containers."""
CALCULATING = "[Calculating]"
"""``ufsTotal``/``fileNum`` while the metadata sync runs, as upstream shows it."""
NATIVE_SCHEMES = ("local://", "pvc://")
"""Mounts the engine turns into pod volumes instead of mounting through the runtime."""
DEFAULT_CLEAN_ATTEMPTS = 3
"""Failed cache cleanings before shutdown goes on without, when the runtime sets none."""

MANAGED_BY = "fluid"
LABEL_APP_NAME = "app.kubernetes.io/name"
LABEL_APP_INSTANCE = "app.kubernetes.io/instance"
LABEL_APP_COMPONENT = "app.kubernetes.io/component"
LABEL_APP_MANAGED_BY = "app.kubernetes.io/managed-by"


# -- identities and configuration ---------------------------------------------------------


@attrs.frozen
class RuntimeKey:
    """Which runtime object an engine serves: its kind, namespace and name."""

    kind: str
    namespace: str
    name: str

    @property
    def info(self) -> KindInfo:
        return BY_KIND[self.kind]

    @property
    def resource(self) -> Resource:
        return self.info.resource

    @property
    def runtime_type(self) -> str:
        return str(self.info.runtime_type)

    @property
    def id(self) -> str:
        """``<ns>-<name>``: the engine id, PV name and ``fluid.io/dataset-id`` value."""
        return c.dataset_id(self.namespace, self.name)

    def cache_dir(self, root: str) -> str:
        """``<root>/<ns>/<name>``: this dataset's own directory under a tiered-store path, so
        that runtimes sharing a node (Shared placement) never share cache blocks (upstream's
        layout for every tier path)."""
        return posixpath.join(root, self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


AttrsImages = TypeVar("AttrsImages", bound=attrs.AttrsInstance)


@attrs.frozen(kw_only=True)
class EngineConfig:
    """Settings shared by every engine; each field says its unit and why the default."""

    mount_root: str = "/runtime-mnt"
    """Host directory under which FUSE clients mount (upstream ``MOUNT_ROOT``)."""
    sync_retry_seconds: float = 15.0
    """Minimum seconds between metadata syncs and cache reports (chart's 15 s)."""
    exec_timeout_seconds: float = 60.0
    """Per command run in a runtime pod; a UFS count on a big bucket can take a while."""
    pv_capacity: str = c.DEFAULT_PVC_STORAGE
    """PV/PVC capacity when the Dataset has no ``pvc.fluid.io/resources.requests.storage``."""
    schedule_exclude: Mapping[str, str] = attrs.field(factory=dict)
    """Nodes with these labels never get cache labels (``FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR``)."""
    images: Mapping[str, str] = attrs.field(factory=dict)
    """The operator's default images (``repo:tag``) by upstream env name, e.g.
    ``ALLUXIO_RUNTIME_IMAGE_ENV``; empty means each engine's built-in defaults. A runtime's
    own image fields always win. Read by ``fluid.engines.settings_env``."""
    image_pull_secrets: tuple[str, ...] = ()
    """Secret names (``IMAGE_PULL_SECRETS``) for runtime pods whose spec names none."""
    critical_fuse_pod: bool = True
    """FUSE pods get ``priorityClassName: system-node-critical`` (``CRITICAL_FUSE_POD``, the
    chart's default): evicting a FUSE client under node pressure breaks every app mount."""

    def default_images(self, builtin: AttrsImages, **env_by_field: str) -> AttrsImages:
        """``builtin`` (an engine's attrs class of default images) with every field whose env
        name the operator set replaced by the operator's image."""
        chosen = {f: self.images[env] for f, env in env_by_field.items() if self.images.get(env)}
        evolve: Callable[..., AttrsImages] = attrs.evolve  # generic: the plugin wants a class
        return evolve(builtin, **chosen) if chosen else builtin

    def spec_with_images(self, spec: Mapping[str, Any], **env_by_field: str) -> Obj:
        """A runtime spec whose image sections (``alluxioVersion=ALLUXIO_RUNTIME_IMAGE_ENV``)
        take ``image``/``imageTag`` from the operator's default where they leave them empty,
        field by field as upstream does; for engines whose defaults are module constants."""
        result = dict(spec)
        for field, env in env_by_field.items():
            default = self.images.get(env)
            if not default:
                continue
            repo, _, tag = default.rpartition(":")
            section = dict(result.get(field) or {})
            section["image"] = section.get("image") or repo
            section["imageTag"] = section.get("imageTag") or tag
            result[field] = section
        return result


class ValidationFailed(ValueError):
    """The runtime or Dataset spec is wrong in a way only the user can fix."""


RuntimeModel = TypeVar("RuntimeModel")


def structure_models(snap: Snapshot, runtime_cls: type[RuntimeModel]) -> tuple[RuntimeModel, Dataset]:
    """The runtime and its Dataset as API models; a spec that does not fit is ``ValidationFailed``."""
    try:
        return (converter.structure(snap.runtime, runtime_cls),
                converter.structure(snap.dataset or {}, Dataset))
    except converter.StructureError as exc:
        raise ValidationFailed(str(exc)) from None


# -- reading the cluster ------------------------------------------------------------------


class ClusterView(Protocol):
    """Read-only lookups over the informer caches. Returned dicts are shared: never mutate."""

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None: ...

    def select(
        self, res: Resource, namespace: str | None, labels: Mapping[str, str]
    ) -> list[Obj]: ...


def _matches(obj: Obj, namespace: str | None, labels: Mapping[str, str]) -> bool:
    meta = obj.get("metadata") or {}
    if namespace is not None and meta.get("namespace") != namespace:
        return False
    have = meta.get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


class InformerView:
    """``ClusterView`` over the Manager's shared informers (one per resource)."""

    def __init__(self, informers: Mapping[Resource, Informer]) -> None:
        self._informers = dict(informers)

    def _informer(self, res: Resource) -> Informer:
        try:
            return self._informers[res]
        except KeyError:
            raise KeyError(f"no informer for {res.key()} in this ClusterView") from None

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        key = f"{namespace}/{name}" if namespace and res.namespaced else name
        return self._informer(res).get(key)

    def select(
        self, res: Resource, namespace: str | None, labels: Mapping[str, str]
    ) -> list[Obj]:
        return [o for o in self._informer(res).store.objects() if _matches(o, namespace, labels)]


class MemoryView:
    """``ClusterView`` over plain lists: for unit tests of engines."""

    def __init__(self, objects: Iterable[tuple[Resource, Obj]] = ()) -> None:
        self.objects: dict[Resource, list[Obj]] = {}
        for res, obj in objects:
            self.add(res, obj)

    def add(self, res: Resource, obj: Obj) -> None:
        self.objects.setdefault(res, []).append(obj)

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        for obj in self.objects.get(res, []):
            meta = obj.get("metadata") or {}
            if meta.get("name") == name and (not res.namespaced or meta.get("namespace") == namespace):
                return obj
        return None

    def select(
        self, res: Resource, namespace: str | None, labels: Mapping[str, str]
    ) -> list[Obj]:
        return [o for o in self.objects.get(res, []) if _matches(o, namespace, labels)]


# -- calls into runtime processes -----------------------------------------------------------


@attrs.frozen
class ExecResult:
    stdout: str
    stderr: str = ""
    exit_code: int = 0


class CommandFailed(RuntimeError):
    """A command in a runtime pod exited non-zero or could not run."""

    def __init__(self, command: Sequence[str], result: ExecResult | None, reason: str = "") -> None:
        detail = reason or (result.stderr.strip() if result else "")
        code = result.exit_code if result else None
        super().__init__(f"{' '.join(command)!r} failed (exit {code}): {detail[:500]}")
        self.command = list(command)
        self.result = result


class PodExecutor(Protocol):
    """Runs a command in a container of a pod (the API's exec subresource, or a fake)."""

    async def exec(
        self, *, namespace: str, pod: str, container: str, command: Sequence[str],
        timeout: float,
    ) -> ExecResult: ...


_EXEC_PROTOCOL = "v4.channel.k8s.io"
_STDOUT, _STDERR, _ERROR = 1, 2, 3


class ApiPodExecutor:
    """``PodExecutor`` over the API server's ``pods/exec`` subresource (websocket, v4 channels).

    Uses the KubeClient's websocket call, so its session and credentials.
    """

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    async def exec(
        self, *, namespace: str, pod: str, container: str, command: Sequence[str],
        timeout: float,
    ) -> ExecResult:
        params: list[tuple[str, str]] = [("container", container), ("stdout", "true"),
                                         ("stderr", "true")]
        params += [("command", word) for word in command]
        path = resources.PODS.path(namespace, pod, "exec")
        try:
            async with asyncio.timeout(timeout):
                return await self._stream(path, params)
        except aiohttp.ClientResponseError as exc:
            raise CommandFailed(command, None, f"exec in {namespace}/{pod}: HTTP {exc.status} "
                                f"{exc.message}") from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise CommandFailed(command, None, f"exec in {namespace}/{pod}: {exc!r}") from exc

    async def _stream(self, path: str, params: list[tuple[str, str]]) -> ExecResult:
        stdout, stderr, status = bytearray(), bytearray(), b""
        ws = await self._client.websocket(path, params=params, protocols=(_EXEC_PROTOCOL,))
        async with ws:
            async for msg in ws:
                data = msg.data if isinstance(msg.data, bytes) else b""
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == _STDOUT:
                    stdout += payload
                elif channel == _STDERR:
                    stderr += payload
                elif channel == _ERROR:
                    status += payload
        return ExecResult(stdout.decode(errors="replace"), stderr.decode(errors="replace"),
                          _exit_code(status))


def _exit_code(status: bytes) -> int:
    """0 for ``Success``; the ExitCode cause of a ``Failure``; 1 if it names none."""
    if not status:
        return 0
    parsed = orjson.loads(status)
    if parsed.get("status") == "Success":
        return 0
    for cause in (parsed.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message") or 1)
    return 1


class ContainerExec:
    """Runs commands in one container of a runtime's pods; a non-zero exit is ``CommandFailed``.

    The common part of each engine's pod-exec ops (``ops.py``), which add the commands
    and the parsing of their output.
    """

    def __init__(self, executor: PodExecutor, *, namespace: str, container: str,
                 timeout: float) -> None:
        self._executor = executor
        self._namespace = namespace
        self._container = container
        self._timeout = timeout

    async def _run(self, pod: str, command: list[str]) -> str:
        result = await self._executor.exec(namespace=self._namespace, pod=pod,
                                           container=self._container, command=command,
                                           timeout=self._timeout)
        if result.exit_code != 0:
            raise CommandFailed(command, result)
        return result.stdout


def parse_df_used(output: str, mount_path: str) -> int:
    """The ``Used`` column of the ``df --block-size=1`` line mounted on ``mount_path``."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[5] == mount_path:
            return int(fields[2])
    raise ValueError(f"{mount_path} is not in the df output")


@attrs.frozen
class ExecCall:
    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]


Responder = Callable[[ExecCall], ExecResult | str | None]


class RecordingExecutor:
    """A fake ``PodExecutor`` for tests: records every call and answers from ``responders``.

    ``responders`` maps a command prefix (a tuple of argv words) to a function or a fixed
    stdout; the longest matching prefix answers. Unmatched commands succeed with empty
    output. ``calls`` lists every call in order, so tests assert the exact commands.
    """

    def __init__(self, responders: Mapping[tuple[str, ...], Responder | str] | None = None) -> None:
        self.calls: list[ExecCall] = []
        self.responders: dict[tuple[str, ...], Responder | str] = dict(responders or {})

    async def exec(
        self, *, namespace: str, pod: str, container: str, command: Sequence[str],
        timeout: float,
    ) -> ExecResult:
        call = ExecCall(namespace, pod, container, tuple(command))
        self.calls.append(call)
        best = max(
            (p for p in self.responders if call.command[: len(p)] == p), key=len, default=None
        )
        if best is None:
            return ExecResult("")
        answer = self.responders[best]
        result = answer if isinstance(answer, str) else answer(call)
        if result is None:
            return ExecResult("")
        return ExecResult(result) if isinstance(result, str) else result

    def commands(self, namespace: str | None = None) -> list[tuple[str, ...]]:
        return [c.command for c in self.calls if namespace is None or c.namespace == namespace]


# -- collaborators ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class EngineDeps:
    """Everything an engine may use, built once by the runtime controller."""

    client: KubeClient
    view: ClusterView
    ports: PortAllocator
    events: EventSink
    executor: PodExecutor
    config: EngineConfig = EngineConfig()


@attrs.frozen(kw_only=True)
class EngineSettings:
    """How the controller-manager builds engines; tests override fields (never patch).

    ``factories`` None means ``fluid.engines.registry``; ``ports`` None means an allocator
    over ``port_range`` rebuilt from the cluster; ``executor`` None means pod exec through
    the API server. ``resync_seconds`` is the periodic Sync of a ready runtime (upstream 90 s)
    and ``setup_retry_seconds`` how soon a runtime that is not ready yet is looked at again.
    """

    factories: Mapping[str, EngineFactory] | None = None
    ports: PortAllocator | None = None
    port_range: str = "20000-26000"
    executor: PodExecutor | None = None
    config: EngineConfig = EngineConfig()
    resync_seconds: float = 90.0
    setup_retry_seconds: float = 5.0


class Engine(Protocol):
    """What the runtime controller drives; one instance per runtime object.

    Every method is idempotent and level-based: it reads the current objects from the
    ``Snapshot`` and the cluster, and may be called again after any failure.
    """

    key: RuntimeKey

    def validate(self, snap: Snapshot) -> None:
        """Raise ``ValidationFailed`` naming what the user must fix."""

    async def setup(self, snap: Snapshot) -> bool:
        """Create config, master, workers and FUSE; prepare the UFS; bind the Dataset.

        Returns True once the runtime is ready and the Dataset is Bound.
        """

    async def create_volume(self, snap: Snapshot) -> None:
        """Create the PV ``<ns>-<name>`` and the PVC ``<name>`` bound to it."""

    async def sync(self, snap: Snapshot) -> None:
        """Apply spec changes (replicas, mounts), report status, sync metadata and node labels."""

    async def delete_volume(self, snap: Snapshot) -> bool:
        """Delete PVC then PV; False while pods still use them (call again later)."""

    async def shutdown(self, snap: Snapshot) -> bool:
        """Remove workloads, config, node labels and ports; True when all is gone."""

    async def close(self) -> None:
        """Forget in-process state (background tasks); the controller drops the engine."""


class EngineFactory(Protocol):
    def __call__(self, deps: EngineDeps, key: RuntimeKey) -> Engine: ...


# -- the snapshot an engine works from -------------------------------------------------------


@attrs.frozen
class Snapshot:
    """The runtime object and its Dataset (None when absent), as read for one reconcile."""

    runtime: Obj
    dataset: Obj | None

    @property
    def meta(self) -> Obj:
        return dict(self.runtime.get("metadata") or {})

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace", ""))

    @property
    def uid(self) -> str:
        return str(self.meta.get("uid", ""))

    @property
    def spec(self) -> Obj:
        return dict(self.runtime.get("spec") or {})

    @property
    def status(self) -> Obj:
        return dict(self.runtime.get("status") or {})

    @property
    def dataset_spec(self) -> Obj:
        return dict((self.dataset or {}).get("spec") or {})

    @property
    def dataset_status(self) -> Obj:
        return dict((self.dataset or {}).get("status") or {})

    @property
    def dataset_uid(self) -> str | None:
        uid = ((self.dataset or {}).get("metadata") or {}).get("uid")
        return str(uid) if uid else None

    @property
    def mounts(self) -> list[Obj]:
        return list(self.dataset_spec.get("mounts") or [])

    @property
    def placement(self) -> c.PlacementMode:
        value = self.dataset_spec.get("placement") or ""
        return c.PlacementMode.SHARED if value == "Shared" else c.PlacementMode.EXCLUSIVE

    @property
    def replicas(self) -> int:
        value = self.spec.get("replicas")
        return int(value) if isinstance(value, int) and value >= 0 else 1


# -- UFS mounts that become pod volumes -----------------------------------------------------


@attrs.frozen
class UfsMount:
    """A ``local://`` or ``pvc://`` mount as a volume plus where it appears in containers."""

    volume: Obj
    volume_mount: Obj

    @property
    def container_path(self) -> str:
        return str(self.volume_mount["mountPath"])


def mount_path_in_namespace(mount: Mapping[str, Any]) -> str:
    """The path of a mount inside the dataset: ``path`` if absolute, else ``/<name>``."""
    path = str(mount.get("path") or "")
    if path.startswith("/"):
        return path
    return "/" + str(mount.get("name") or "").lstrip("/")


def is_native(mount: Mapping[str, Any]) -> bool:
    return str(mount.get("mountPoint", "")).startswith(NATIVE_SCHEMES)


def ufs_mounts(mounts: Sequence[Mapping[str, Any]]) -> list[UfsMount]:
    """``local://`` → hostPath and ``pvc://claim[/sub]`` → PVC volumes under ``/underFSStorage``."""
    result = []
    for index, mount in enumerate(mounts):
        point = str(mount.get("mountPoint", ""))
        container_path = posixpath.normpath(UFS_ROOT + mount_path_in_namespace(mount))
        volume_mount: Obj = {"name": f"ufs-{index}", "mountPath": container_path}
        if mount.get("readOnly"):
            volume_mount["readOnly"] = True
        if point.startswith("local://"):
            volume: Obj = {"name": f"ufs-{index}",
                           "hostPath": {"path": "/" + point[len("local://"):].lstrip("/"),
                                        "type": "Directory"}}
        elif point.startswith("pvc://"):
            claim, _, sub_path = point[len("pvc://"):].partition("/")
            volume = {"name": f"ufs-{index}", "persistentVolumeClaim": {"claimName": claim}}
            if sub_path.strip("/"):
                volume_mount["subPath"] = sub_path.strip("/")
        else:
            continue
        result.append(UfsMount(volume, volume_mount))
    return result


# -- what render() gets ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RenderContext:
    """Everything the base class decided for ``render``: labels, ports, placement, paths."""

    key: RuntimeKey
    labels: dict[str, str]
    """Put on every rendered object (the base class adds them again if missing)."""
    ports: dict[str, int]
    """Host ports by name from the allocator (empty unless host network)."""
    replicas: int
    """Worker replicas."""
    worker_affinity: Obj
    """A core/v1 Affinity: placement (Exclusive/Shared), dataset nodeAffinity, FUSE preference."""
    tolerations: list[Obj]
    """The Dataset's tolerations, for master, worker and FUSE pods."""
    fuse_node_selector: dict[str, str]
    """``fluid.io/f-<ns>-<name>: "true"`` plus the runtime's fuse nodeSelector."""
    fuse_mount_path: str
    """Host directory of this dataset's FUSE mount: ``<root>/<type>/<ns>/<name>``."""
    ufs: list[UfsMount]
    """``local://``/``pvc://`` mounts as volumes for master and worker."""
    values_name: str
    """Name of the ConfigMap the base class writes (``<name>-<type>-values``)."""
    placement: str = c.PlacementMode.EXCLUSIVE.value
    """``Exclusive`` or ``Shared``: only worker pods carry it (``fluid.io/dataset-placement``)."""

    def selector(self, component: str) -> dict[str, str]:
        """matchLabels of a component's pods (``master``, ``worker``, ``fuse``)."""
        return {
            LABEL_APP_NAME: self.key.runtime_type,
            LABEL_APP_INSTANCE: self.key.name,
            LABEL_APP_COMPONENT: component,
        }

    def pod_labels(self, component: str) -> dict[str, str]:
        """Labels for a component's pod template; workers also carry the placement labels."""
        result = {**self.labels, **self.selector(component)}
        if component == "worker":
            result.update(self.worker_labels)
        return result

    @property
    def worker_labels(self) -> dict[str, str]:
        return placement.worker_pod_labels(self.key.namespace, self.key.name, self.placement)


# -- what the operator decides for every pod --------------------------------------------------

CRITICAL_PRIORITY_CLASS = "system-node-critical"
"""Built-in PriorityClass of FUSE pods when ``EngineConfig.critical_fuse_pod`` is on."""


def pod_template_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload's template (StatefulSet, DaemonSet, Job...), else None."""
    template = (obj.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return None
    spec: Obj = template.setdefault("spec", {})
    return spec


def add_pull_secrets(pod_spec: Obj, names: Sequence[str]) -> None:
    """Give a pod spec that names no ``imagePullSecrets`` the operator's (in place)."""
    if names and not pod_spec.get("imagePullSecrets"):
        pod_spec["imagePullSecrets"] = [{"name": name} for name in names]


def _is_fuse(obj: Obj) -> bool:
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return obj.get("kind") == "DaemonSet" and selector.get(LABEL_APP_COMPONENT) == "fuse"


def apply_operator_settings(obj: Obj, config: EngineConfig) -> Obj:
    """The operator's pull secrets on every pod template that names none, and the critical
    priority class on the FUSE DaemonSet's; engines render neither (pure, in place)."""
    spec = pod_template_spec(obj)
    if spec is None:
        return obj
    add_pull_secrets(spec, config.image_pull_secrets)
    if config.critical_fuse_pod and _is_fuse(obj):
        spec.setdefault("priorityClassName", CRITICAL_PRIORITY_CLASS)
    return obj


def cache_affinity(worker: Mapping[str, Any]) -> Obj:
    """``status.cacheAffinity``: the worker pods' node affinity with their nodeSelector ANDed
    into every required term (upstream's merge of the worker StatefulSet's template), so
    the webhook can steer app pods to the workers' zone or region."""
    pod = ((worker.get("spec") or {}).get("template") or {}).get("spec") or {}
    result: Obj = copy.deepcopy((pod.get("affinity") or {}).get("nodeAffinity") or {})
    required = result.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = [dict(t) for t in required.get("nodeSelectorTerms") or []]
    selector = [{"key": k, "operator": "In", "values": [str(v)]}
                for k, v in sorted((pod.get("nodeSelector") or {}).items())]
    if selector:
        terms = [{**t, "matchExpressions": [*(t.get("matchExpressions") or []), *selector]}
                 for t in terms] or [{"matchExpressions": selector}]
    result["requiredDuringSchedulingIgnoredDuringExecution"] = {**required, "nodeSelectorTerms": terms}
    return result



# -- pieces several engines' pods share -------------------------------------------------------


def api_gateway_endpoint(key: RuntimeKey, port: int) -> str:
    """``status.apiGateway.endpoint`` (the API GATEWAY column): master-0's Service and the
    REST gateway's port, as upstream reads it from that Service."""
    return f"{key.name}-master-0.{key.namespace}:{port}"


def user_volumes(volumes: Sequence[Mapping[str, Any]] | None,
                 mounts: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """The ``spec.volumes`` a component's ``volumeMounts`` name, each once, in mount order;
    a mount naming no volume is the user's mistake (upstream's "failed to find the volume")."""
    by_name = {v.get("name"): v for v in volumes or ()}
    chosen: dict[Any, Obj] = {}
    for mount in mounts:
        name = mount.get("name")
        if name not in by_name:
            raise ValidationFailed(f"failed to find the volume for volumeMount {name!r} "
                                   "in spec.volumes")
        chosen.setdefault(name, dict(by_name[name]))
    return list(chosen.values())


HADOOP_FILES = ("hdfs-site.xml", "core-site.xml")
"""The Hadoop files a ``spec.hadoopConfig`` ConfigMap may hold."""


@attrs.frozen(kw_only=True)
class HadoopConfig:
    """The ConfigMap named by ``spec.hadoopConfig`` and which of ``HADOOP_FILES`` it holds."""

    configmap: str
    files: tuple[str, ...]


def hadoop_config(name: str, data: Mapping[str, Any] | None) -> HadoopConfig:
    """Which Hadoop files ConfigMap ``name`` holds (``data`` None: not found); a ConfigMap
    that is missing or holds neither file is the user's mistake, worded as upstream's."""
    if data is None:
        raise ValidationFailed(f"specified hadoopConfig {name!r} is not found")
    files = tuple(f for f in HADOOP_FILES if f in data)
    if not files:
        raise ValidationFailed(f"neither hdfs-site.xml nor core-site.xml is found in the "
                               f"specified hadoopConfig ConfigMap {name!r}")
    return HadoopConfig(configmap=name, files=files)


async def read_hadoop_config(client: KubeClient, namespace: str,
                             name: str | None) -> HadoopConfig | None:
    """``hadoop_config`` of the runtime's ``spec.hadoopConfig`` (None when unset); only the
    ConfigMap's keys are kept."""
    if not name:
        return None
    found = await client.get_or_none(resources.CONFIGMAPS, name, namespace)
    return hadoop_config(name, None if found is None else found.get("data") or {})


def hadoop_config_mount(wanted: str | None, found: HadoopConfig | None, *, volume: str,
                        directory: str) -> tuple[list[Obj], list[Obj]]:
    """The volume holding the files ``found`` in ConfigMap ``wanted`` (``spec.hadoopConfig``)
    and its read-only mount at ``directory``; nothing when ``wanted`` is unset."""
    if not wanted:
        return [], []
    if found is None or found.configmap != wanted:
        raise ValidationFailed(f"specified hadoopConfig {wanted!r} has not been read")
    items = [{"key": f, "path": f} for f in found.files]
    return ([{"name": volume, "configMap": {"name": wanted, "items": items}}],
            [{"name": volume, "mountPath": directory, "readOnly": True}])


SECRET_ENV_PREFIX = "FLUID_SECRET_"


@attrs.frozen(kw_only=True)
class SecretEnv:
    """A Secret-backed mount option as a container variable (``valueFrom.secretKeyRef``), so
    that objects only ever hold the reference; commands and JVM options name the variable."""

    env_name: str
    option: str
    secret_name: str
    secret_key: str

    def to_env(self) -> Obj:
        return {"name": self.env_name, "valueFrom": {"secretKeyRef": {
            "name": self.secret_name, "key": self.secret_key}}}


def _secret_env(option: EncryptOption, env_name: str) -> SecretEnv:
    ref = option.value_from.secret_key_ref if option.value_from else None
    if ref is None or not ref.key:
        raise ValidationFailed(f"encryptOption {option.name!r} needs valueFrom.secretKeyRef "
                               "name and key")
    return SecretEnv(env_name=env_name, option=option.name, secret_name=ref.name,
                     secret_key=ref.key)


def mount_secrets(dataset: Dataset, index: int | None) -> list[SecretEnv]:
    """Secret-backed options of mount ``index`` (shared ones first; the mount's own win).

    Env names are ``FLUID_SECRET_S<i>`` for shared options and ``FLUID_SECRET_<m>_<i>``
    for mount ``m``'s own."""
    spec = dataset.spec
    found = {o.name: _secret_env(o, f"{SECRET_ENV_PREFIX}S{i}")
             for i, o in enumerate((spec.shared_encrypt_options if spec else None) or [])}
    mounts = (spec.mounts if spec else None) or []
    if index is not None:
        for i, option in enumerate(mounts[index].encrypt_options or []):
            found[option.name] = _secret_env(option, f"{SECRET_ENV_PREFIX}{index}_{i}")
    return list(found.values())


DEFAULT_INIT_IMAGE = "registry.cn-hangzhou.aliyuncs.com/fluid/init-users:v0.3.0-1467caa"
"""Upstream's init-users image; the operator's ``DEFAULT_INIT_IMAGE_ENV`` replaces it."""
INIT_USERS_ROOT = "/tmp/fluid"
"""Host directory holding each non-root runtime's passwd and group files."""


@attrs.frozen(kw_only=True)
class InitUsers:
    """A runtime that runs as ``spec.runAs`` and the ``initUsers`` image preparing for it, as
    upstream's charts do: ``init-users`` writes the user's passwd/group files under
    ``/tmp/fluid/<ns>/<name>`` on the host (and opens the tier paths to the user), each
    process mounts them read-only at ``/etc/passwd`` and ``/etc/group``, and ``init-fuse``
    opens the FUSE mount point's directory (as root)."""

    key: RuntimeKey
    uid: int
    gid: int
    user: str
    group: str
    image: str
    pull_policy: str
    env: Mapping[str, str] = attrs.field(factory=dict)
    resources: Obj = attrs.field(factory=dict)

    @property
    def directory(self) -> str:
        return posixpath.join(INIT_USERS_ROOT, self.key.namespace, self.key.name)

    @property
    def users_env(self) -> str:
        """``FLUID_INIT_USERS``: ``<uid>:<user>:<gid>,<gid>:<group>``."""
        return f"{self.uid}:{self.user}:{self.gid},{self.gid}:{self.group}"

    @property
    def security_context(self) -> Obj:
        return {"runAsUser": self.uid, "runAsGroup": self.gid}

    def volumes(self, *, with_dir: bool) -> list[Obj]:
        """hostPath volumes ``user`` and ``group`` (and ``dir``, which init-users writes into)."""
        found: list[Obj] = [{"name": "dir", "hostPath": {"path": self.directory,
                                                         "type": "DirectoryOrCreate"}}]
        found += [{"name": name, "hostPath": {"path": posixpath.join(self.directory, file),
                                              "type": "FileOrCreate"}}
                  for name, file in (("user", "passwd"), ("group", "group"))]
        return found if with_dir else found[1:]

    def passwd_mounts(self) -> list[Obj]:
        return [{"name": "user", "mountPath": "/etc/passwd", "readOnly": True},
                {"name": "group", "mountPath": "/etc/group", "readOnly": True}]

    def _container(self, *, name: str, args: list[str], env: Mapping[str, str],
                   mounts: list[Obj]) -> Obj:
        return {"name": name, "image": self.image, "imagePullPolicy": self.pull_policy,
                "command": ["/entrypoint.sh"], "args": args,
                "env": [{"name": k, "value": v} for k, v in {**env, **self.env}.items()],
                "resources": dict(self.resources), "volumeMounts": mounts}

    def init_users(self, tier_mounts: Sequence[Mapping[str, Any]] = ()) -> Obj:
        """``init-users``: write passwd/group; with tier mounts also chmod those paths."""
        env = {"FLUID_INIT_USERS": self.users_env}
        args = ["init_users"]
        if tier_mounts:
            env["FLUID_TIERSTORE_PATHS"] = ":".join(str(m["mountPath"]) for m in tier_mounts)
            args.append("chmod_tierpath")
        mounts = [{"name": "dir", "mountPath": "/tmp"},
                  {"name": "user", "mountPath": "/tmp/passwd"},
                  {"name": "group", "mountPath": "/tmp/group"}, *map(dict, tier_mounts)]
        return self._container(name="init-users", args=args, env=env, mounts=mounts)

    def init_fuse(self, *, host_dir: str, volume: str) -> Obj:
        """``init-fuse``: open the FUSE mount point's host directory (volume ``volume``)."""
        container = self._container(
            name="init-fuse", args=["chmod_fuse_mountpoint"],
            env={"FLUID_FUSE_MOUNTPOINT": host_dir},
            mounts=[{"name": volume, "mountPath": host_dir}])
        container["securityContext"] = {"runAsUser": 0, "runAsGroup": 0}
        return container


def merged_pod_metadata(*metadata: PodMetadata | None) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations of several ``podMetadata`` (the runtime's, then the
    component's), a later one winning on the same key."""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for meta in metadata:
        if meta is not None:
            labels.update(meta.labels or {})
            annotations.update(meta.annotations or {})
    return labels, annotations


def image_or_default(image: str | None, tag: str | None, default: str) -> str:
    """``image:tag`` as the runtime names them, each part it leaves empty taken from
    ``default`` (``repo:tag``)."""
    repo, _, default_tag = default.rpartition(":")
    return f"{image or repo}:{tag or default_tag}"


def init_users(*, key: RuntimeKey, run_as: User | None, spec: InitUsersSpec | None,
               default_image: str, pull_policy: str) -> InitUsers | None:
    """The runtime's ``InitUsers`` (None without ``runAs``): the ``initUsers`` image and tag
    where set, else ``default_image``'s (``repo:tag``)."""
    if run_as is None:
        return None
    spec = spec or InitUsersSpec()
    return InitUsers(
        key=key, uid=run_as.uid, gid=run_as.gid, user=run_as.user, group=run_as.group,
        image=image_or_default(spec.image, spec.image_tag, default_image),
        pull_policy=spec.image_pull_policy or pull_policy, env=dict(spec.env or {}),
        resources=dict(spec.resources or {}))



# -- status helpers ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def component_phase(*, desired: int, ready: int) -> c.RuntimePhase:
    """Upstream's rule: nothing wanted or all ready → Ready; some → PartialReady; none → NotReady."""
    if desired <= 0 or ready >= desired:
        return c.RuntimePhase.READY
    if ready > 0:
        return c.RuntimePhase.PARTIAL_READY
    return c.RuntimePhase.NOT_READY


def set_condition(
    conditions: Sequence[Obj], *, type_: str, status: str, reason: str, message: str,
    time_key: str = "lastUpdateTime",
) -> list[Obj]:
    """Conditions with ``type_`` set; the transition time changes only when the status does."""
    now = _now()
    result = []
    found = False
    for cond in conditions:
        if cond.get("type") == type_:
            found = True
            changed = cond.get("status") != status
            cond = {**cond, "status": status, "reason": reason, "message": message, time_key: now}
            if changed:
                cond["lastTransitionTime"] = now
        result.append(cond)
    if not found:
        result.append({"type": type_, "status": status, "reason": reason, "message": message,
                       time_key: now, "lastTransitionTime": now})
    return result


@attrs.frozen
class UfsUsage:
    """Total bytes and number of files in the under storage."""

    total_bytes: int
    file_count: int


@attrs.frozen
class CacheUsage:
    """What the runtime reports about its cache (bytes)."""

    capacity_bytes: int
    cached_bytes: int
    hit_ratio: str | None = None
    ratios: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    """Further ``cacheStates`` keys the runtime reports as they are (hit and throughput ratios)."""


def cache_states(usage: CacheUsage, ufs_total: str | None) -> dict[str, str]:
    """``status.cacheStates``: capacity, cached and (when the UFS size is known) percentage."""
    states = {
        "cacheCapacity": format_binary(usage.capacity_bytes),
        "cached": format_binary(usage.cached_bytes),
    }
    total = _parse_size(ufs_total)
    if total:
        states["cachedPercentage"] = f"{usage.cached_bytes * 100 / total:.1f}%"
    elif ufs_total and ufs_total != CALCULATING:
        states["cachedPercentage"] = "0.0%"
    if usage.hit_ratio is not None:
        states["cacheHitRatio"] = usage.hit_ratio
    states.update(usage.ratios)
    return states


def _parse_size(text: str | None) -> int:
    """Bytes of a size string such as ``3.31GiB`` (0 when unknown)."""
    if not text or text == CALCULATING:
        return 0
    value = text.strip().removesuffix("B")
    try:
        return int(parse_quantity(value or "0"))
    except ValueError:
        return 0


# -- what runtime annotations ask of the PV, PVC and FUSE pods ----------------------------------

ANNOTATION_SKIP_CHECK_MOUNT_READY = "fluid.io/skip-check-mount-ready-target"
"""Runtime annotation copied into the PV's volume attributes: the CSI plugin skips the
mount-ready check for the listed mount modes (``All``, ``MountPod``, ``Sidecar``, ``None``)."""
ANNOTATION_FUSE_HOST_PID = "runtime.fluid.io/fuse.hostpid"
"""Runtime annotation: ``true`` runs the FUSE pods in the host's PID namespace."""
LABEL_NODE_PUBLISH_METHOD = "fluid.io/node-publish-method"
"""A PV label from ``data.fluid.io/metadataList`` that upstream also passes to the CSI plugin."""
VOLUME_ATTR_PUBLISH_METHOD = "node_publish_method"
def uses_host_network(mode: c.NetworkMode | None) -> bool:
    """Whether a component with ``networkMode`` ``mode`` runs on the host network: unset and
    ``Default`` mean the host network, as upstream's ``IsHostNetwork``."""
    return mode in (None, c.NetworkMode.DEFAULT, c.NetworkMode.HOST_NETWORK)


def fuse_host_pid(annotations: Mapping[str, str] | None) -> bool:
    """Whether ``runtime.fluid.io/fuse.hostpid`` asks for ``hostPID`` (Go's ParseBool words)."""
    value = (annotations or {}).get(ANNOTATION_FUSE_HOST_PID, "")
    return value in ("1", "t", "T", "true", "TRUE", "True")


def volume_metadata(annotations: Mapping[str, str] | None, *, kind: str
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """Labels and annotations ``data.fluid.io/metadataList`` gives objects of core ``kind``.

    The annotation is a JSON list of ``{labels, annotations, selector: {group, kind}}``;
    entries for the core group (``group`` empty) and ``kind`` merge in order. A value that
    is not such a list is logged and ignored, as upstream does.
    """
    raw = (annotations or {}).get(c.ANNOTATION_METADATA_LIST)
    labels: dict[str, str] = {}
    notes: dict[str, str] = {}
    if not raw:
        return labels, notes
    try:
        entries = orjson.loads(raw)
        for entry in entries:
            selector = entry.get("selector") or {}
            if selector.get("group", "") != "" or selector.get("kind") != kind:
                continue
            labels.update({str(k): str(v) for k, v in (entry.get("labels") or {}).items()})
            notes.update({str(k): str(v) for k, v in (entry.get("annotations") or {}).items()})
    except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
        log.warning("metadata_list_ignored", annotation=c.ANNOTATION_METADATA_LIST, error=str(exc))
        return {}, {}
    return labels, notes


def _merge_metadata(obj: Obj, extra: tuple[dict[str, str], dict[str, str]]) -> None:
    meta = obj["metadata"]
    meta["labels"] = {**extra[0], **(meta.get("labels") or {})}
    meta["annotations"] = {**extra[1], **(meta.get("annotations") or {})}


# -- the shared lifecycle ----------------------------------------------------------------------


class CacheEngine(abc.ABC):
    """The lifecycle every cache runtime shares; subclasses render their objects and ops.

    Class attributes a subclass sets: ``runtime_type``, ``fuse_dir`` (last path element
    of the FUSE mount, e.g. ``alluxio-fuse``), ``mount_type`` (PV ``mount_type``),
    ``has_master``, ``supports_mount_update`` and ``owned_resources`` (kinds ``render``
    may return, deleted at shutdown by label).
    """

    runtime_type: ClassVar[c.RuntimeType]
    fuse_dir: ClassVar[str]
    mount_type: ClassVar[str]
    has_master: ClassVar[bool] = True
    supports_mount_update: ClassVar[bool] = False
    owned_resources: ClassVar[tuple[Resource, ...]] = (
        resources.STATEFULSETS, resources.DAEMONSETS, resources.SERVICES, resources.CONFIGMAPS,
    )

    def __init__(self, deps: EngineDeps, key: RuntimeKey) -> None:
        self.deps = deps
        self.key = key
        self.log = log.bind(runtime=str(key))
        self._metadata_task: asyncio.Task[UfsUsage | None] | None = None
        self._last_metadata_sync = 0.0
        self._last_cache_report = 0.0
        self._setup_started = time.monotonic()
        self._failed_cleans = 0

    # -- names --------------------------------------------------------------------------------

    @property
    def master_name(self) -> str:
        return f"{self.key.name}-master"

    @property
    def worker_name(self) -> str:
        return f"{self.key.name}-worker"

    @property
    def fuse_name(self) -> str:
        return f"{self.key.name}-fuse"

    @property
    def values_name(self) -> str:
        return f"{self.key.name}-{self.runtime_type.value}-values"

    @property
    def ports_owner(self) -> str:
        return owner_key(self.key.kind, self.key.namespace, self.key.name)

    def fuse_mount_path(self) -> str:
        """``<root>/<type>/<ns>/<name>``: mounted into the FUSE pods."""
        return posixpath.join(
            self.deps.config.mount_root, self.runtime_type.value, self.key.namespace, self.key.name
        )

    def fluid_path(self) -> str:
        """The PV's ``fluid_path``: the FUSE mount point on the host."""
        return posixpath.join(self.fuse_mount_path(), self.fuse_dir)

    # -- hooks for subclasses -------------------------------------------------------------------

    @abc.abstractmethod
    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        """Every namespaced object of the runtime (pure: no I/O)."""

    def port_names(self, snap: Snapshot) -> list[str]:
        """Names of the host ports to allocate (empty when not on the host network)."""
        return []

    def tiered_capacity(self, snap: Snapshot) -> nodelabels.Capacity:
        """Cache capacity per node from ``spec.tieredstore`` (used in node labels)."""
        return nodelabels.capacity_of_levels((snap.spec.get("tieredstore") or {}).get("levels"))

    def validate(self, snap: Snapshot) -> None:  # noqa: B027 - optional hook
        """Raise ``ValidationFailed``; the default accepts everything the webhook accepted."""

    async def prepare_ufs(self, snap: Snapshot) -> None:  # noqa: B027 - optional hook
        """Mount non-native UFS mounts through the runtime (called once the master is ready)."""

    async def ufs_usage(self, snap: Snapshot) -> UfsUsage | None:
        """Total size and file count of the UFS, or None when the engine cannot tell."""
        return None

    async def cache_usage(self, snap: Snapshot) -> CacheUsage | None:
        """What the runtime reports about its cache, or None."""
        return None

    async def update_mounts(  # noqa: B027 - optional hook
        self, snap: Snapshot, *, added: Sequence[Obj], removed: Sequence[Obj]
    ) -> None:
        """Apply mounts changed at run time (only if ``supports_mount_update``)."""

    async def clean_cache(self, snap: Snapshot) -> None:  # noqa: B027 - optional hook
        """Release cached data before shutdown; raising retries the shutdown later."""

    async def clean_within_attempts(self, snap: Snapshot,
                                    clean: Callable[[], Awaitable[None]]) -> None:
        """One attempt at ``clean``: a failed command retries the shutdown later, until
        ``cleanCachePolicy.maxRetryAttempts`` (default 3) attempts have failed; then it is
        logged and shutdown goes on, so deletion never wedges."""
        policy = snap.spec.get("cleanCachePolicy") or {}
        limit = int(policy.get("maxRetryAttempts") or DEFAULT_CLEAN_ATTEMPTS)
        try:
            await clean()
        except CommandFailed as exc:
            self._failed_cleans += 1
            if self._failed_cleans >= limit:
                self.log.warning("cache_clean_abandoned", attempts=self._failed_cleans,
                                 error=str(exc))
                return
            raise

    def hcfs(self, snap: Snapshot, ctx: RenderContext) -> Obj | None:
        """``status.hcfs`` of the Dataset, when the runtime serves an HCFS endpoint."""
        return None

    # -- the context render() receives --------------------------------------------------------

    def _labels(self, snap: Snapshot) -> dict[str, str]:
        return {
            LABEL_APP_NAME: self.runtime_type.value,
            LABEL_APP_INSTANCE: self.key.name,
            LABEL_APP_MANAGED_BY: MANAGED_BY,
            c.LABEL_MANAGED_BY: MANAGED_BY,
            c.LABEL_DATASET_ID: self.dataset_id_label(snap),
        }

    def dataset_id_label(self, snap: Snapshot) -> str:
        dataset_id = self.key.id
        if len(dataset_id) >= 63 and snap.dataset_uid:
            return snap.dataset_uid
        return dataset_id

    async def context(self, snap: Snapshot) -> RenderContext:
        """Decide labels, ports and placement, allocating host ports if needed."""
        names = self.port_names(snap)
        ports = await self.deps.ports.allocate(self.ports_owner, names) if names else {}
        fuse_selector = {c.fuse_label(self.key.namespace, self.key.name, uid=snap.dataset_uid): "true"}
        fuse_spec = snap.spec.get("fuse") or {}
        fuse_selector.update(fuse_spec.get("nodeSelector") or {})
        return RenderContext(
            key=self.key,
            labels=self._labels(snap),
            ports=ports,
            replicas=snap.replicas,
            worker_affinity=placement.worker_affinity(
                namespace=self.key.namespace, name=self.key.name,
                placement=snap.placement,
                node_affinity=(snap.dataset_spec.get("nodeAffinity") or {}).get("required"),
                fuse_label=c.fuse_label(self.key.namespace, self.key.name, uid=snap.dataset_uid),
            ),
            tolerations=list(snap.dataset_spec.get("tolerations") or []),
            fuse_node_selector=fuse_selector,
            fuse_mount_path=self.fuse_mount_path(),
            ufs=ufs_mounts(snap.mounts),
            values_name=self.values_name,
            placement=snap.placement.value,
        )

    # -- applying ----------------------------------------------------------------------------------

    def owner_reference(self, snap: Snapshot) -> Obj:
        return {
            "apiVersion": c.API_VERSION, "kind": self.key.kind, "name": self.key.name,
            "uid": snap.uid, "controller": True, "blockOwnerDeletion": True,
        }

    def values_configmap(self, snap: Snapshot, ctx: RenderContext) -> Obj:
        """The ``<name>-<type>-values`` ConfigMap: what was decided (ports) for rebuilds."""
        labels = dict(ctx.labels)
        annotations = {}
        data = {"runtime": self.runtime_type.value}
        if ctx.ports:
            labels[PORTS_LABEL] = "true"
            annotations[PORTS_OWNER_ANNOTATION] = self.ports_owner
            data[PORTS_KEY] = format_ports(ctx.ports)
        return {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.values_name, "namespace": self.key.namespace,
                         "labels": labels, "annotations": annotations},
            "data": data,
        }

    def _finish(self, obj: Obj, snap: Snapshot, ctx: RenderContext) -> Obj:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", self.key.namespace)
        meta["labels"] = {**ctx.labels, **(meta.get("labels") or {})}
        meta["ownerReferences"] = [self.owner_reference(snap)]
        return apply_operator_settings(obj, self.deps.config)

    def desired(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        """Every namespaced object as it will be applied: rendered, labelled, owned, and
        with the operator's pod settings (pure: no I/O)."""
        objects = [self.values_configmap(snap, ctx), *self.render(snap, ctx)]
        return [self._finish(obj, snap, ctx) for obj in objects]

    async def apply_all(self, snap: Snapshot) -> RenderContext:
        """Render and server-side apply every namespaced object; returns the context used."""
        ctx = await self.context(snap)
        for obj in self.desired(snap, ctx):
            await self.deps.client.apply(obj)
        return ctx

    # -- reading workloads --------------------------------------------------------------------

    def _statefulset_counts(self, name: str) -> tuple[int, int, int]:
        """(desired, scheduled, ready) of a StatefulSet from the cache; zeros when absent."""
        sts = self.deps.view.get(resources.STATEFULSETS, self.key.namespace, name)
        if sts is None:
            return 0, 0, 0
        desired = int((sts.get("spec") or {}).get("replicas", 1))
        status = sts.get("status") or {}
        current = int(status.get("currentReplicas") or status.get("replicas") or 0)
        return desired, current, int(status.get("readyReplicas") or 0)

    def _daemonset_counts(self) -> tuple[int, int, int, int]:
        ds = self.deps.view.get(resources.DAEMONSETS, self.key.namespace, self.fuse_name)
        status = (ds or {}).get("status") or {}
        return (
            int(status.get("desiredNumberScheduled") or 0),
            int(status.get("currentNumberScheduled") or 0),
            int(status.get("numberReady") or 0),
            int(status.get("numberAvailable") or 0),
        )

    def master_ready(self) -> bool:
        if not self.has_master:
            return True
        _, _, ready = self._statefulset_counts(self.master_name)
        return ready >= 1

    def workers_ready(self, snap: Snapshot) -> bool:
        """At least one worker ready, or none wanted (upstream accepts PartialReady)."""
        _, _, ready = self._statefulset_counts(self.worker_name)
        return snap.replicas == 0 or ready >= 1

    def component_status(self, snap: Snapshot) -> Obj:
        """Phases and counts of master, workers and FUSE, and the scale selector."""
        status: Obj = {}
        if self.has_master:
            m_desired, m_current, m_ready = self._statefulset_counts(self.master_name)
            status.update(
                masterPhase=component_phase(desired=m_desired, ready=m_ready).value,
                desiredMasterNumberScheduled=m_desired,
                currentMasterNumberScheduled=m_current,
                masterNumberReady=m_ready,
            )
        _, w_current, w_ready = self._statefulset_counts(self.worker_name)
        f_desired, f_current, f_ready, f_available = self._daemonset_counts()
        status.update(
            workerPhase=component_phase(desired=snap.replicas, ready=w_ready).value,
            desiredWorkerNumberScheduled=snap.replicas,
            currentWorkerNumberScheduled=w_current,
            workerNumberReady=w_ready,
            workerNumberAvailable=w_ready,
            workerNumberUnavailable=max(snap.replicas - w_ready, 0),
            fusePhase=c.RuntimePhase.READY.value,  # upstream: FUSE is lazy, always Ready
            desiredFuseNumberScheduled=f_desired,
            currentFuseNumberScheduled=f_current,
            fuseNumberReady=f_ready,
            fuseNumberAvailable=f_available,
            fuseNumberUnavailable=max(f_desired - f_available, 0),
            selector=",".join(
                f"{k}={v}" for k, v in sorted({
                    LABEL_APP_NAME: self.runtime_type.value,
                    LABEL_APP_INSTANCE: self.key.name,
                    LABEL_APP_COMPONENT: "worker",
                }.items())
            ),
            valueFile=self.values_name,
        )
        affinity = self._cache_affinity_status(snap)
        if affinity is not None:
            status["cacheAffinity"] = affinity
        return status

    def _cache_affinity_status(self, snap: Snapshot) -> Obj | None:
        """``cacheAffinity`` from the worker StatefulSet in the cache (None without one); a
        key the last status had and this one lacks is sent as null so the merge patch drops it."""
        worker = self.deps.view.get(resources.STATEFULSETS, self.key.namespace, self.worker_name)
        if worker is None:
            return None
        affinity = cache_affinity(worker)
        stale = set(snap.status.get("cacheAffinity") or {}) - set(affinity)
        return {**dict.fromkeys(sorted(stale)), **affinity}

    def _runtime_conditions(self, snap: Snapshot, status: Obj) -> list[Obj]:
        conds: list[Obj] = list(snap.status.get("conditions") or [])
        pairs = []
        if self.has_master:
            pairs.append((c.RuntimeConditionType.MASTER_READY, status["masterPhase"], "Master"))
        pairs.append((c.RuntimeConditionType.WORKERS_READY, status["workerPhase"], "Workers"))
        pairs.append((c.RuntimeConditionType.FUSES_READY, status["fusePhase"], "Fuses"))
        for type_, phase, what in pairs:
            ready = phase == c.RuntimePhase.READY
            conds = set_condition(
                conds, type_=type_.value, status="True" if ready else "False",
                reason=f"{what}{'Ready' if ready else 'NotReady'}",
                message=f"{what} {'are' if what != 'Master' else 'is'} "
                        f"{'ready' if ready else phase}.",
                time_key="lastProbeTime",
            )
        return conds

    async def patch_runtime_status(self, snap: Snapshot, extra: Obj | None = None) -> Obj:
        status = self.component_status(snap)
        status["conditions"] = self._runtime_conditions(snap, status)
        status.update(extra or {})
        current = snap.status
        if all(current.get(k) == v for k, v in status.items() if k != "conditions") and \
                _same_conditions(current.get("conditions"), status["conditions"]):
            return status
        await self.deps.client.patch_status(
            self.key.resource, self.key.name, self.key.namespace, status
        )
        return status

    # -- the Dataset -------------------------------------------------------------------------------

    async def patch_dataset_status(self, snap: Snapshot, status: Obj) -> None:
        if snap.dataset is None:
            return
        current = snap.dataset_status
        if all(current.get(k) == v for k, v in status.items()):
            return
        await self.deps.client.patch_status(
            resources_dataset(), self.key.name, self.key.namespace, status
        )

    def runtime_entry(self) -> Obj:
        return {"name": self.key.name, "namespace": self.key.namespace,
                "category": c.CATEGORY_ACCELERATE, "type": self.runtime_type.value,
                "masterReplicas": 1}

    async def bind_dataset(self, snap: Snapshot, ctx: RenderContext) -> None:
        """Phase Bound, this runtime in ``status.runtimes``, condition Ready, mounts recorded."""
        ds_status = snap.dataset_status
        conditions = set_condition(
            ds_status.get("conditions") or [], type_=c.DatasetConditionType.READY.value,
            status="True", reason="DatasetReady", message="The ddc runtime is ready.",
        )
        patch: Obj = {
            "phase": c.DatasetPhase.BOUND.value,
            "runtimes": [{**self.runtime_entry(), "masterReplicas": _master_replicas(snap)}],
            "conditions": conditions,
            "mounts": snap.mounts if not ds_status.get("mounts") else ds_status["mounts"],
        }
        hcfs = self.hcfs(snap, ctx)
        if hcfs:
            patch["hcfs"] = hcfs
        if ds_status.get("phase") == c.DatasetPhase.BOUND and ds_status.get("runtimes"):
            return
        await self.patch_dataset_status(snap, patch)
        await self.deps.events.record(
            snap.runtime, NORMAL, "DatasetBound",
            f"Dataset {self.key.namespace}/{self.key.name} is bound to {self.key.kind}.",
        )
        self.log.info("dataset_bound", runtime=self.runtime_type.value)

    # -- lifecycle: setup ------------------------------------------------------------------------

    async def setup(self, snap: Snapshot) -> bool:
        ctx = await self.apply_all(snap)
        if not self.master_ready():
            self.log.info("setup_waiting", step="master")
            await self.patch_runtime_status(snap)
            return False
        await self.prepare_ufs(snap)
        if not self.workers_ready(snap):
            self.log.info("setup_waiting", step="workers")
            await self.patch_runtime_status(snap)
            return False
        extra: Obj = {}
        if not snap.status.get("setupDuration"):
            extra["setupDuration"] = _duration(time.monotonic() - self._setup_started)
        extra["mountTime"] = snap.status.get("mountTime") or _now()
        await self.patch_runtime_status(snap, extra)
        await self.bind_dataset(snap, ctx)
        return True

    # -- lifecycle: volumes -------------------------------------------------------------------

    def _volume_labels(self, snap: Snapshot) -> dict[str, str]:
        return {
            c.common_label(self.key.namespace, self.key.name, uid=snap.dataset_uid): "true",
            c.LABEL_DATASET_ID: self.dataset_id_label(snap),
        }

    def _capacity(self, snap: Snapshot) -> str:
        annotations = ((snap.dataset or {}).get("metadata") or {}).get("annotations") or {}
        return str(annotations.get(c.ANNOTATION_PVC_STORAGE) or self.deps.config.pv_capacity)

    def _access_modes(self, snap: Snapshot) -> list[str]:
        return list(snap.dataset_spec.get("accessModes") or ["ReadOnlyMany"])

    def render_pv(self, snap: Snapshot) -> Obj:
        """The PV ``<ns>-<name>``: CSI ``fuse.csi.fluid.io`` with Fluid's volume attributes."""
        fuse_key = c.fuse_label(self.key.namespace, self.key.name, uid=snap.dataset_uid)
        pv: Obj = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": self.key.id, "labels": self._volume_labels(snap),
                         "annotations": {c.ANNOTATION_CREATED_BY: "fluid"}},
            "spec": {
                "accessModes": self._access_modes(snap),
                "capacity": {"storage": self._capacity(snap)},
                "storageClassName": STORAGE_CLASS,
                "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": self.key.namespace, "name": self.key.name},
                "csi": {
                    "driver": CSI_DRIVER,
                    "volumeHandle": self.key.id,
                    "volumeAttributes": {
                        "fluid_path": self.fluid_path(),
                        "mount_type": self.mount_type,
                        "runtime_name": self.key.name,
                        "runtime_namespace": self.key.namespace,
                        "mount_pod_node_selector_key": fuse_key,
                        "mount_pod_node_selector_value": "true",
                    },
                },
            },
        }
        self._pv_from_annotations(snap, pv)
        selector = (snap.spec.get("fuse") or {}).get("nodeSelector") or {}
        if selector:
            pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{
                "matchExpressions": [
                    {"key": k, "operator": "In", "values": [v]} for k, v in sorted(selector.items())
                ]}]}}
        return pv

    def _pv_from_annotations(self, snap: Snapshot, pv: Obj) -> None:
        """What the runtime's annotations add to its PV: the skip-check volume attribute and
        ``metadataList``'s PersistentVolume entries (Fluid's own keys win over them)."""
        runtime_notes = snap.meta.get("annotations") or {}
        attributes = pv["spec"]["csi"]["volumeAttributes"]
        if ANNOTATION_SKIP_CHECK_MOUNT_READY in runtime_notes:
            attributes[ANNOTATION_SKIP_CHECK_MOUNT_READY] = runtime_notes[
                ANNOTATION_SKIP_CHECK_MOUNT_READY]
        _merge_metadata(pv, volume_metadata(runtime_notes, kind="PersistentVolume"))
        if pv["metadata"]["labels"].get(LABEL_NODE_PUBLISH_METHOD) == "symlink":
            attributes[VOLUME_ATTR_PUBLISH_METHOD] = "symlink"

    def render_pvc(self, snap: Snapshot) -> Obj:
        """The PVC ``<name>`` in the Dataset's namespace, bound to the PV by ``volumeName``."""
        pvc: Obj = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": self.key.name, "namespace": self.key.namespace,
                         "labels": self._volume_labels(snap),
                         "annotations": {c.ANNOTATION_CREATED_BY: "fluid"}},
            "spec": {
                "accessModes": self._access_modes(snap),
                "resources": {"requests": {"storage": self._capacity(snap)}},
                "storageClassName": STORAGE_CLASS,
                "volumeName": self.key.id,
            },
        }
        runtime_notes = snap.meta.get("annotations") or {}
        _merge_metadata(pvc, volume_metadata(runtime_notes, kind="PersistentVolumeClaim"))
        return pvc

    async def create_volume(self, snap: Snapshot) -> None:
        client = self.deps.client
        if await client.get_or_none(resources.PERSISTENT_VOLUMES, self.key.id) is None:
            await _create_ignoring_exists(client, self.render_pv(snap))
            self.log.info("pv_created", pv=self.key.id)
        existing = await client.get_or_none(
            resources.PERSISTENT_VOLUME_CLAIMS, self.key.name, self.key.namespace
        )
        if existing is None:
            await _create_ignoring_exists(client, self.render_pvc(snap))
            self.log.info("pvc_created", pvc=self.key.name)

    async def delete_volume(self, snap: Snapshot) -> bool:
        """PVC first, then PV; only objects annotated ``CreatedBy: fluid`` are touched."""
        client = self.deps.client
        pvc = await client.get_or_none(
            resources.PERSISTENT_VOLUME_CLAIMS, self.key.name, self.key.namespace
        )
        if pvc is not None and _created_by_fluid(pvc):
            if not (pvc.get("metadata") or {}).get("deletionTimestamp"):
                await client.delete(resources.PERSISTENT_VOLUME_CLAIMS, self.key.name,
                                    self.key.namespace)
                self.log.info("pvc_deleting", pvc=self.key.name)
            else:
                await self._report_volume_users(snap)
            return False
        pv = await client.get_or_none(resources.PERSISTENT_VOLUMES, self.key.id)
        if pv is not None and _created_by_fluid(pv):
            if not (pv.get("metadata") or {}).get("deletionTimestamp"):
                await client.delete(resources.PERSISTENT_VOLUMES, self.key.id)
                self.log.info("pv_deleting", pv=self.key.id)
            return False
        return True

    def volume_users(self) -> list[str]:
        """Unfinished pods (from the cache) that use the dataset's PVC."""
        pods = self.deps.view.select(resources.PODS, self.key.namespace, {})
        return sorted(
            p["metadata"]["name"] for p in pods
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and any((v.get("persistentVolumeClaim") or {}).get("claimName") == self.key.name
                    for v in (p.get("spec") or {}).get("volumes") or ())
        )

    async def _report_volume_users(self, snap: Snapshot) -> None:
        users = self.volume_users()
        if users:
            self.log.info("pvc_in_use", pods=users)
            await self.warn(snap, "DeleteVolumeWaiting",
                            f"PVC {self.key.namespace}/{self.key.name} is still used by pods "
                            f"{', '.join(users)}; waiting for them to go.")

    # -- lifecycle: sync -----------------------------------------------------------------------

    def _permitted(self, last: float) -> bool:
        return time.monotonic() - last >= self.deps.config.sync_retry_seconds

    async def sync(self, snap: Snapshot) -> None:
        previous = self.deps.view.get(resources.STATEFULSETS, self.key.namespace, self.worker_name)
        ctx = await self.apply_all(snap)
        await self._record_scaling(snap, previous)
        ufs_total = await self.sync_metadata(snap)
        extra: Obj = {}
        usage = await self._cache_usage_throttled(snap)
        if usage is not None:
            extra["cacheStates"] = cache_states(usage, ufs_total)
            self._export_cache_metrics(usage, ufs_total)
        status = await self.patch_runtime_status(snap, extra)
        await self._sync_dataset(snap, ctx, status, extra.get("cacheStates"))
        await self.sync_node_labels(snap)

    def _export_cache_metrics(self, usage: CacheUsage, ufs_total: str | None) -> None:
        labels = (self.key.namespace, self.key.name)
        metrics.DATASET_CACHED_BYTES.labels(*labels).set(usage.cached_bytes)
        total = _parse_size(ufs_total)
        if total:
            metrics.DATASET_CACHED_PERCENTAGE.labels(*labels).set(usage.cached_bytes * 100 / total)

    def _forget_cache_metrics(self) -> None:
        for gauge in (metrics.DATASET_CACHED_BYTES, metrics.DATASET_CACHED_PERCENTAGE):
            with contextlib.suppress(KeyError):
                gauge.remove(self.key.namespace, self.key.name)

    async def _record_scaling(self, snap: Snapshot, previous: Obj | None) -> None:
        if previous is None:
            return
        before = int((previous.get("spec") or {}).get("replicas", snap.replicas))
        if before == snap.replicas:
            return
        scaled_out = snap.replicas > before
        type_ = (c.RuntimeConditionType.WORKERS_SCALED_OUT if scaled_out
                 else c.RuntimeConditionType.WORKERS_SCALED_IN)
        message = f"Runtime scaled {'out' if scaled_out else 'in'}: workers {before} -> {snap.replicas}."
        conditions = set_condition(
            snap.status.get("conditions") or [], type_=type_.value, status="True",
            reason=type_.value, message=message, time_key="lastProbeTime",
        )
        await self.deps.client.patch_status(
            self.key.resource, self.key.name, self.key.namespace, {"conditions": conditions}
        )
        snap.runtime.setdefault("status", {})["conditions"] = conditions
        await self.deps.events.record(snap.runtime, NORMAL, "Succeed", message)
        self.log.info("workers_scaled", before=before, after=snap.replicas)

    async def _cache_usage_throttled(self, snap: Snapshot) -> CacheUsage | None:
        if not self._permitted(self._last_cache_report) or not self.master_ready():
            return None
        self._last_cache_report = time.monotonic()
        try:
            return await self.cache_usage(snap)
        except CommandFailed as exc:
            self.log.warning("cache_report_failed", error=str(exc))
            return None

    def _auto_sync(self, snap: Snapshot) -> bool:
        policy = ((snap.spec.get("management") or {}).get("metadataSyncPolicy") or {})
        return policy.get("autoSync") is not False

    async def sync_metadata(self, snap: Snapshot) -> str | None:
        """Fill ``ufsTotal``/``fileNum`` in the background; returns the current ufsTotal."""
        ds_status = snap.dataset_status
        ufs_total: str | None = ds_status.get("ufsTotal")
        if snap.dataset is None or not self._auto_sync(snap):
            return ufs_total
        if self._metadata_task is not None and self._metadata_task.done():
            return await self._finish_metadata(snap) or ufs_total
        if ufs_total and ufs_total != CALCULATING:
            return ufs_total
        if self._metadata_task is None and self._permitted(self._last_metadata_sync):
            self._last_metadata_sync = time.monotonic()
            await self.patch_dataset_status(snap, {"ufsTotal": CALCULATING, "fileNum": CALCULATING})
            self._metadata_task = asyncio.create_task(self.ufs_usage(snap))
            # A quick answer is used at once; a failure is handled by _finish_metadata below.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._metadata_task), 0.5)
            if self._metadata_task.done():
                return await self._finish_metadata(snap) or CALCULATING
        return CALCULATING

    async def _finish_metadata(self, snap: Snapshot) -> str | None:
        task, self._metadata_task = self._metadata_task, None
        assert task is not None
        try:
            usage = task.result()
        except (CommandFailed, TimeoutError) as exc:
            self.log.warning("metadata_sync_failed", error=str(exc))
            await self.patch_dataset_status(snap, {"ufsTotal": "", "fileNum": ""})
            return None
        if usage is None:
            return None
        total = format_binary(usage.total_bytes)
        await self.patch_dataset_status(snap, {"ufsTotal": total, "fileNum": str(usage.file_count)})
        self.log.info("metadata_synced", ufs_total=total, file_num=usage.file_count)
        return total

    async def _sync_dataset(
        self, snap: Snapshot, ctx: RenderContext, status: Obj, states: dict[str, str] | None
    ) -> None:
        """Cache states, mount changes and health into the Dataset's status."""
        if snap.dataset is None:
            return
        patch: Obj = {}
        if states is not None:
            patch["cacheStates"] = states
        if self.supports_mount_update and self._mounts_changed(snap):
            await self._apply_mount_changes(snap)
            return
        healthy = status.get("workerPhase") != c.RuntimePhase.NOT_READY and (
            not self.has_master or status.get("masterPhase") != c.RuntimePhase.NOT_READY
        )
        phase = snap.dataset_status.get("phase")
        if not healthy and phase == c.DatasetPhase.BOUND:
            patch["phase"] = c.DatasetPhase.FAILED.value
            self.log.warning("runtime_unhealthy", worker_phase=status.get("workerPhase"),
                             master_phase=status.get("masterPhase"))
        elif healthy and phase == c.DatasetPhase.FAILED:
            patch["phase"] = c.DatasetPhase.BOUND.value
        if patch:
            await self.patch_dataset_status(snap, patch)

    def _mounts_changed(self, snap: Snapshot) -> bool:
        recorded = snap.dataset_status.get("mounts")
        return recorded is not None and _mount_keys(recorded) != _mount_keys(snap.mounts)

    async def _apply_mount_changes(self, snap: Snapshot) -> None:
        recorded = list(snap.dataset_status.get("mounts") or [])
        old, new = _mount_keys(recorded), _mount_keys(snap.mounts)
        added = [m for m in snap.mounts if _mount_key(m) not in old]
        removed = [m for m in recorded if _mount_key(m) not in new]
        conditions = set_condition(
            snap.dataset_status.get("conditions") or [], type_=c.DatasetConditionType.UPDATING.value,
            status="True", reason="DatasetUpdating", message="The ddc runtime is updating.",
        )
        await self.patch_dataset_status(
            snap, {"phase": c.DatasetPhase.UPDATING.value, "conditions": conditions}
        )
        await self.update_mounts(snap, added=added, removed=removed)
        conditions = set_condition(
            conditions, type_=c.DatasetConditionType.READY.value, status="True",
            reason="DatasetReady", message="The ddc runtime has updated completely.",
        )
        conditions = set_condition(
            conditions, type_=c.DatasetConditionType.UPDATING.value, status="False",
            reason="DatasetUpdated", message="The ddc runtime has updated completely.",
        )
        await self.deps.events.record(
            snap.runtime, NORMAL, "MountsUpdated",
            f"Mounted {len(added)} and unmounted {len(removed)} UFS path(s).",
        )
        await self.deps.client.patch_status(
            resources_dataset(), self.key.name, self.key.namespace,
            {"phase": c.DatasetPhase.BOUND.value, "conditions": conditions,
             "mounts": snap.mounts, "ufsTotal": "", "fileNum": ""},
        )
        await self.deps.client.patch_status(
            self.key.resource, self.key.name, self.key.namespace, {"mountTime": _now()}
        )
        self.log.info("mounts_updated", added=len(added), removed=len(removed))

    # -- node labels ---------------------------------------------------------------------------

    def label_set(self, snap: Snapshot) -> nodelabels.LabelSet:
        return nodelabels.LabelSet.for_runtime(
            runtime_type=self.runtime_type.value, namespace=self.key.namespace,
            name=self.key.name, uid=snap.dataset_uid,
            exclusive=snap.placement == c.PlacementMode.EXCLUSIVE,
            capacity=self.tiered_capacity(snap),
        )

    def worker_nodes(self) -> set[str]:
        """Nodes where a worker pod of this runtime is Ready."""
        pods = self.deps.view.select(resources.PODS, self.key.namespace, {
            LABEL_APP_NAME: self.runtime_type.value, LABEL_APP_INSTANCE: self.key.name,
            LABEL_APP_COMPONENT: "worker",
        })
        return {str(p["spec"]["nodeName"]) for p in pods
                if (p.get("spec") or {}).get("nodeName") and pod_ready(p)
                and not (p.get("metadata") or {}).get("deletionTimestamp")}

    async def sync_node_labels(self, snap: Snapshot) -> None:
        labels = self.label_set(snap)
        wanted = self.worker_nodes()
        exclude = self.deps.config.schedule_exclude
        labelled = {n["metadata"]["name"] for n in self.deps.view.select(
            resources.NODES, None, {labels.runtime_key: "true"})}
        for node in sorted(wanted - labelled):
            node_obj = self.deps.view.get(resources.NODES, None, node)
            node_labels = (node_obj or {}).get("metadata", {}).get("labels") or {}
            if exclude and all(node_labels.get(k) == v for k, v in exclude.items()):
                continue
            if await nodelabels.label_node(self.deps.client, node, labels):
                self.log.info("node_labelled", node=node)
        for node in sorted(labelled - wanted):
            if await nodelabels.unlabel_node(self.deps.client, node, labels):
                self.log.info("node_unlabelled", node=node)

    # -- lifecycle: shutdown -------------------------------------------------------------------

    async def shutdown(self, snap: Snapshot) -> bool:
        await self.clean_cache(snap)
        await self._cancel_metadata()
        client = self.deps.client
        labels = self.label_set(snap)
        nodes, _ = await client.list_all(resources.NODES, label_selector=labels.runtime_key)
        for node in nodes:
            await nodelabels.unlabel_node(client, node["metadata"]["name"], labels)
        selector = (f"{LABEL_APP_NAME}={self.runtime_type.value},"
                    f"{LABEL_APP_INSTANCE}={self.key.name},{LABEL_APP_MANAGED_BY}={MANAGED_BY}")
        for res in self.owned_resources:
            items, _ = await client.list_all(res, self.key.namespace, label_selector=selector)
            for item in items:
                await client.delete(res, item["metadata"]["name"], self.key.namespace)
        fuse_key = c.fuse_label(self.key.namespace, self.key.name, uid=snap.dataset_uid)
        fuse_nodes, _ = await client.list_all(resources.NODES, label_selector=fuse_key)
        for node in fuse_nodes:
            await nodelabels.remove_labels(client, node["metadata"]["name"], [fuse_key])
        released = await self.deps.ports.release(self.ports_owner)
        self._forget_cache_metrics()
        self.log.info("runtime_shut_down", nodes=len(nodes), ports_released=len(released))
        return True

    async def _cancel_metadata(self) -> None:
        task, self._metadata_task = self._metadata_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        await self._cancel_metadata()

    # -- events ------------------------------------------------------------------------------------

    async def warn(self, snap: Snapshot, reason: str, message: str) -> None:
        await self.deps.events.record(snap.runtime, WARNING, reason, message)


# -- small helpers --------------------------------------------------------------------------------


def resources_dataset() -> Resource:
    return BY_KIND["Dataset"].resource


def _master_replicas(snap: Snapshot) -> int:
    replicas = (snap.spec.get("master") or {}).get("replicas")
    return int(replicas) if isinstance(replicas, int) and replicas > 0 else 1


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _same_conditions(old: Any, new: list[Obj]) -> bool:
    """Equal ignoring timestamps (so an unchanged status is not re-patched every sync)."""
    def strip(conds: Any) -> list[tuple[Any, ...]]:
        return sorted((x.get("type"), x.get("status"), x.get("reason"), x.get("message"))
                      for x in conds or [])
    return strip(old) == strip(new)


def _mount_key(mount: Mapping[str, Any]) -> tuple[str, str]:
    return str(mount.get("mountPoint", "")), mount_path_in_namespace(mount)


def _mount_keys(mounts: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {_mount_key(m) for m in mounts}


def _created_by_fluid(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(c.ANNOTATION_CREATED_BY) == "fluid"


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Ready and not being deleted: a terminating worker no longer counts as a cache node."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


async def _create_ignoring_exists(client: KubeClient, obj: Obj) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await client.create(obj)
