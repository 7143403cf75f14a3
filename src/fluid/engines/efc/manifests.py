"""What an EFCRuntime looks like in the cluster: the EFC master, the cache workers, the
FUSE DaemonSet and the ConfigMap listing the workers' endpoints.

Owns the EFC facts: the Dataset's first mount is a NAS (``nfs://<id>.<region>.nas.aliyuncs.com:/dir``)
or CPFS (``cpfs://<id>.<region>.cpfs.aliyuncs.com:/share...``) mount point; every
container runs ``/entrypoint.sh <role> ...`` with one comma-separated option string
(master: ``client_owner``/``assign_uuid`` ``<ns>-<name>-master``; worker: ``cache_media``,
``server_port``, ``cache_capacity_gb``, ``tmpfs``; FUSE: the cluster-cache switches while
workers run and ``assign_uuid <ns>-<name>-fuse``; ``protocol=nfs3`` for CPFS; then each
component's ``properties``). The worker caches in the first tier's first path under
``<path>/<ns>/<name>`` (at least 1Gi; a MEM tier's quota becomes the memory request and
must fit its limit), listens on RPC port 14555 or an allocated host port, and the master
and FUSE read the ready workers' ``ip:port`` list from ``<name>-worker-endpoints``
(``efc-worker-endpoints.json``). FUSE mounts under ``<root>/efc/<ns>/<name>/efc-fuse``.
Pure: no I/O. Called by ``fluid.engines.efc.engine`` and unit tests.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from fluid.api.base import PodMetadata
from fluid.api.constants import MediumType, NetworkMode, VolumeType
from fluid.api.dataset import Dataset
from fluid.api.efc import EFCCompTemplateSpec, EFCFuseSpec, EFCRuntime, EFCRuntimeSpec
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import Level, VersionSpec
from fluid.engines.base import (
    Obj,
    RenderContext,
    image_or_default,
    merged_pod_metadata,
    uses_host_network,
)

__all__ = [
    "FUSE_DIR",
    "MOUNT_TYPE",
    "WORKER_CONTAINER",
    "WORKER_RPC_PORT",
    "CacheTier",
    "Images",
    "MountInfo",
    "RenderError",
    "RenderInput",
    "cache_tier",
    "endpoints_json",
    "master_replicas",
    "mount_info",
    "port_names",
    "render",
    "rpc_port",
]

FUSE_DIR = "efc-fuse"
MOUNT_TYPE = "alifuse.aliyun-alinas-efc"
MASTER_MOUNT = "/efc/efc-master"
WORKER_CONTAINER = "efc-worker"
WORKER_RPC_PORT = 14555
ENDPOINTS_KEY = "efc-worker-endpoints.json"
_MOUNTED = "cat /proc/mounts | grep fuse.aliyun-alinas-efc"
MIN_WORKER_CACHE = 2**30
_NAS = re.compile(r"^(nfs://)([a-z0-9-]+)\.([a-z0-9-]+)\.nas\.aliyuncs\.com:")
_CPFS = re.compile(r"^(cpfs://)([a-z0-9-]+)\.([a-z0-9-]+)\.cpfs\.aliyuncs\.com:/share")


class RenderError(ValueError):
    """The runtime or dataset cannot be rendered; the message says what to fix."""


@attrs.frozen(kw_only=True)
class Images:
    master: str = "registry.cn-zhangjiakou.aliyuncs.com/nascache/efc-master:latest"
    worker: str = "registry.cn-zhangjiakou.aliyuncs.com/nascache/efc-worker:latest"
    fuse: str = "registry.cn-zhangjiakou.aliyuncs.com/nascache/efc-fuse:latest"
    pull_policy: str = "IfNotPresent"


@attrs.frozen(kw_only=True)
class MountInfo:
    """The Dataset's NAS/CPFS mount point, without its scheme and ending in ``/``."""

    mount_point: str
    scheme: str
    file_system_id: str
    service_addr: str


@attrs.frozen(kw_only=True)
class CacheTier:
    """The worker's cache: one path, its medium, volume type and quota in bytes."""

    path: str
    medium: MediumType
    volume_type: VolumeType
    quota_bytes: int


@attrs.frozen(kw_only=True)
class RenderInput:
    runtime: EFCRuntime
    dataset: Dataset
    ctx: RenderContext
    endpoints: Sequence[str] = ()
    """``ip:port`` of the ready workers."""
    images: Images = Images()

    @property
    def spec(self) -> EFCRuntimeSpec:
        return self.runtime.spec or EFCRuntimeSpec()

    @property
    def name(self) -> str:
        return self.runtime.name

    @property
    def namespace(self) -> str:
        return self.runtime.namespace


# -- decisions ----------------------------------------------------------------------------------


def mount_info(dataset: Dataset) -> MountInfo:
    """The first mount as EFC reads it; anything but a NAS or CPFS address is refused."""
    mounts = (dataset.spec.mounts if dataset.spec else None) or []
    if not mounts:
        raise RenderError("the Dataset has no mount: EFC caches one NAS or CPFS file system")
    point = mounts[0].mount_point.strip()
    point = point if point.endswith("/") else point + "/"
    for pattern in (_NAS, _CPFS):
        found = pattern.match(point)
        if found:
            scheme, fs_id, addr = found.groups()
            return MountInfo(mount_point=point[len(scheme):], scheme=scheme,
                             file_system_id=fs_id.split("-")[0] if scheme == "nfs://" else fs_id,
                             service_addr=addr)
    raise RenderError(f"mountPoint {point!r} is neither nfs://<id>.<region>.nas.aliyuncs.com:/<dir> "
                      "nor cpfs://<id>.<region>.cpfs.aliyuncs.com:/share/<dir>")



def _enabled(component: EFCCompTemplateSpec | None) -> bool:
    return not (component and component.disabled)


def master_replicas(spec: EFCRuntimeSpec) -> int:
    if not _enabled(spec.master):
        return 0
    replicas = spec.master.replicas if spec.master else None
    return replicas if replicas and replicas > 0 else 1


def port_names(spec: EFCRuntimeSpec) -> list[str]:
    """Only the worker's RPC port is allocated, and only on the host network."""
    return ["worker-rpc"] if uses_host_network(spec.worker.network_mode if spec.worker else None) else []


def _first_level(spec: EFCRuntimeSpec) -> Level | None:
    """The fastest tier (MEM before SSD before HDD), the only one EFC's worker uses."""
    levels = (spec.tieredstore.levels if spec.tieredstore else None) or []
    order = list(MediumType)
    return min(levels, key=lambda lv: order.index(lv.mediumtype), default=None)


def cache_tier(runtime: EFCRuntime) -> CacheTier:
    """The worker's cache: the first tier's first path under ``<ns>/<name>``, else upstream's
    default (1Gi of memory in ``/cache_dir/<ns>/<name>``)."""
    level = _first_level(runtime.spec or EFCRuntimeSpec())
    suffix = f"{runtime.namespace}/{runtime.name}"
    if level is None:
        return CacheTier(path=f"/cache_dir/{suffix}", medium=MediumType.MEM,
                         volume_type=VolumeType.EMPTY_DIR, quota_bytes=MIN_WORKER_CACHE)
    if not level.path:
        raise RenderError("spec.tieredstore.levels[0].path is empty: the EFC worker needs a cache path")
    quota = int(parse_quantity(level.quota)) if level.quota is not None else MIN_WORKER_CACHE
    if quota < MIN_WORKER_CACHE:
        raise RenderError(f"the worker's cache quota {level.quota} is below the minimum 1Gi")
    return CacheTier(path=posixpath.join(level.path.split(",")[0], suffix), medium=level.mediumtype,
                     volume_type=level.volume_type or VolumeType.HOST_PATH, quota_bytes=quota)


def rpc_port(ctx: RenderContext) -> int:
    """The worker's RPC port: allocated on the host network, else upstream's 14555."""
    return ctx.ports.get("worker-rpc", WORKER_RPC_PORT)


def endpoints_json(endpoints: Sequence[str]) -> str:
    return json.dumps({"containerendpoints": list(endpoints)}, separators=(",", ":"))


# -- options --------------------------------------------------------------------------------


def _options(head: Sequence[str], properties: Mapping[str, str] | None) -> str:
    return ",".join([*head, *(f"{k}={v}" for k, v in (properties or {}).items())])


def master_options(inp: RenderInput, info: MountInfo) -> str:
    owner = f"{inp.namespace}-{inp.name}-master"
    head = ["protocol=nfs3"] if info.scheme == "cpfs://" else []
    head += [f"client_owner={owner}", f"assign_uuid={owner}"]
    return _options(head, inp.spec.master.properties if inp.spec.master else None)


def worker_options(inp: RenderInput, tier: CacheTier, port: int) -> str:
    head = [f"cache_media={tier.path}", f"server_port={port}",
            f"cache_capacity_gb={tier.quota_bytes // MIN_WORKER_CACHE}"]
    if tier.medium == MediumType.MEM:
        head.append("tmpfs=true")
    return _options(head, inp.spec.worker.properties if inp.spec.worker else None)


def fuse_options(inp: RenderInput, info: MountInfo) -> str:
    head = ["protocol=nfs3"] if info.scheme == "cpfs://" else []
    if _enabled(inp.spec.worker):
        head += ["g_tier_EnableClusterCache=true", "g_tier_EnableClusterCachePrefetch=true"]
    head.append(f"assign_uuid={inp.namespace}-{inp.name}-fuse")
    return _options(head, inp.spec.fuse.properties if inp.spec.fuse else None)


# -- objects -----------------------------------------------------------------------------------


def _image(version: VersionSpec | None, default: str) -> str:
    return image_or_default(version.image if version else None,
                            version.image_tag if version else None, default)


def _container(inp: RenderInput, *, role: str, version: VersionSpec | None, image: str,
               args: list[str]) -> Obj:
    """An EFC container: its image, and ``/entrypoint.sh <role> <args...>``."""
    return {"name": f"efc-{role}", "image": _image(version, image),
            "imagePullPolicy": (version.image_pull_policy if version else None)
            or inp.images.pull_policy,
            "command": ["/entrypoint.sh"], "args": [role, *args]}


def _meta(inp: RenderInput, name: str, role: str) -> Obj:
    return {"name": name, "namespace": inp.namespace, "labels": {"role": role}}


def _template(inp: RenderInput, *, component: str, own: PodMetadata | None, pod_spec: Obj) -> Obj:
    labels, annotations = merged_pod_metadata(inp.spec.pod_metadata, own)
    return {"metadata": {"labels": {**labels, **inp.ctx.pod_labels(component), "role": f"efc-{component}"},
                         "annotations": {**annotations, "sidecar.istio.io/inject": "false"}},
            "spec": pod_spec}


def _pod_spec(inp: RenderInput, *, mode: NetworkMode | None, node_selector: Mapping[str, str],
              containers: list[Obj], volumes: list[Obj]) -> Obj:
    spec: Obj = {"enableServiceLinks": False, "nodeSelector": dict(node_selector),
                 "tolerations": [dict(t) for t in inp.ctx.tolerations],
                 "containers": containers, "volumes": volumes}
    if uses_host_network(mode):
        spec.update(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    return spec


_ENDPOINTS_VOLUME = {"name": "efc-worker-endpoints", "mountPath": "/etc/efc"}


def _master(inp: RenderInput, info: MountInfo) -> Obj:
    master = inp.spec.master or EFCCompTemplateSpec()
    container = {
        **_container(inp, role="master", version=master.version, image=inp.images.master,
                     args=[info.mount_point, MASTER_MOUNT, master_options(inp, info)]),
        "resources": dict(master.resources or {}),
        "securityContext": {"privileged": False},
        "lifecycle": {"preStop": {"exec": {"command": [
            "sh", "-c", f"/entrypoint.sh stop_master {MASTER_MOUNT}"]}}},
        "volumeMounts": [_ENDPOINTS_VOLUME, {"name": "mem", "mountPath": "/dev/shm"},
                         {"name": "efc-sock", "mountPath": "/var/run/efc"}],
    }
    pod_spec = _pod_spec(inp, mode=master.network_mode, node_selector=master.node_selector or {},
                         containers=[container], volumes=[
                             {"name": "efc-worker-endpoints",
                              "configMap": {"name": f"{inp.name}-worker-endpoints"}},
                             {"name": "mem", "emptyDir": {"medium": "Memory"}},
                             {"name": "efc-sock", "emptyDir": {}}])
    pod_spec["terminationGracePeriodSeconds"] = 90
    return _statefulset(inp, component="master", replicas=master_replicas(inp.spec),
                        template=_template(inp, component="master", own=master.pod_metadata,
                                           pod_spec=pod_spec))


def _cache_volume(tier: CacheTier) -> Obj:
    name = tier.medium.value.lower()
    if tier.volume_type == VolumeType.EMPTY_DIR:
        empty: Obj = {"sizeLimit": f"{tier.quota_bytes // 2**20}Mi"}
        if tier.medium == MediumType.MEM:
            empty["medium"] = "Memory"
        return {"name": name, "emptyDir": empty}
    return {"name": name, "hostPath": {"path": tier.path, "type": "DirectoryOrCreate"}}


def worker_resources(worker: EFCCompTemplateSpec, tier: CacheTier) -> Obj:
    """A MEM cache's quota is the least memory request; a limit below it is refused."""
    resources: Obj = {k: dict(v) for k, v in (worker.resources or {}).items()}
    if tier.medium != MediumType.MEM:
        return resources
    limit = (resources.get("limits") or {}).get("memory")
    if limit is not None and parse_quantity(limit) < tier.quota_bytes:
        raise RenderError(f"the worker's memory cache ({tier.quota_bytes // 2**20}Mi) is larger "
                          f"than its memory limit {limit}")
    request = (resources.get("requests") or {}).get("memory")
    if request is None or parse_quantity(request) < Decimal(tier.quota_bytes):
        resources.setdefault("requests", {})["memory"] = f"{tier.quota_bytes // 2**20}Mi"
    return resources


def _worker(inp: RenderInput, port: int) -> Obj:
    worker = inp.spec.worker or EFCCompTemplateSpec()
    tier = cache_tier(inp.runtime)
    volume = _cache_volume(tier)
    container = {
        **_container(inp, role="worker", version=worker.version, image=inp.images.worker,
                     args=[worker_options(inp, tier, port)]),
        "resources": worker_resources(worker, tier),
        "ports": [{"name": "rpc", "containerPort": port, "protocol": "TCP"}],
        "volumeMounts": [{"name": volume["name"], "mountPath": tier.path}],
    }
    pod_spec = _pod_spec(inp, mode=worker.network_mode, node_selector=worker.node_selector or {},
                         containers=[container], volumes=[volume])
    if inp.ctx.worker_affinity:
        pod_spec["affinity"] = dict(inp.ctx.worker_affinity)
    replicas = inp.ctx.replicas if _enabled(worker) else 0
    return _statefulset(inp, component="worker", replicas=replicas,
                        template=_template(inp, component="worker", own=worker.pod_metadata,
                                           pod_spec=pod_spec))


def _statefulset(inp: RenderInput, *, component: str, replicas: int, template: Obj) -> Obj:
    name = f"{inp.name}-{component}"
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": _meta(inp, name, f"efc-{component}"),
            "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": inp.ctx.selector(component)},
                     "template": template}}


def _fuse(inp: RenderInput, info: MountInfo) -> Obj:
    fuse = inp.spec.fuse or EFCFuseSpec()
    container = {
        **_container(inp, role="fuse", version=fuse.version, image=inp.images.fuse,
                     args=[info.mount_point, f"/efc/{FUSE_DIR}", fuse_options(inp, info)]),
        "env": [{"name": "FLUID_RUNTIME_TYPE", "value": "efc"},
                {"name": "FLUID_RUNTIME_NS", "value": inp.namespace},
                {"name": "FLUID_RUNTIME_NAME", "value": inp.name}],
        "resources": dict(fuse.resources or {}),
        "securityContext": {"privileged": True},
        "readinessProbe": {"exec": {"command": ["sh", "-c", _MOUNTED]},
                           "periodSeconds": 1, "initialDelaySeconds": 5},
        "lifecycle": {"preStop": {"exec": {"command": [
            "sh", "-c", f"/entrypoint.sh stop_fuse /efc/{FUSE_DIR}"]}}},
        "volumeMounts": [
            {"name": "efc-fuse-mount", "mountPath": "/efc", "mountPropagation": "Bidirectional"},
            _ENDPOINTS_VOLUME, {"name": "efc-shm", "mountPath": "/dev/shm"},
            {"name": "efc-sock", "mountPath": "/var/run/efc"},
        ],
    }
    pod_spec = _pod_spec(inp, mode=fuse.network_mode, node_selector=inp.ctx.fuse_node_selector,
                         containers=[container], volumes=[
                             {"name": "efc-fuse-mount",
                              "hostPath": {"path": inp.ctx.fuse_mount_path, "type": "DirectoryOrCreate"}},
                             {"name": "efc-worker-endpoints",
                              "configMap": {"name": f"{inp.name}-worker-endpoints"}},
                             {"name": "efc-shm", "emptyDir": {"medium": "Memory"}},
                             {"name": "efc-sock", "hostPath": {"path": "/runtime-mnt/efc-sock",
                                                               "type": "DirectoryOrCreate"}}])
    pod_spec["terminationGracePeriodSeconds"] = 90
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": _meta(inp, f"{inp.name}-fuse", "efc-fuse"),
            "spec": {"updateStrategy": {"type": "OnDelete"},
                     "selector": {"matchLabels": inp.ctx.selector("fuse")},
                     "template": _template(inp, component="fuse", own=fuse.pod_metadata,
                                           pod_spec=pod_spec)}}


def render(inp: RenderInput) -> list[Obj]:
    """Every namespaced object of the runtime; raises RenderError on a user's mistake."""
    info = mount_info(inp.dataset)
    return [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": _meta(inp, f"{inp.name}-worker-endpoints", "efc-worker-endpoints"),
         "data": {ENDPOINTS_KEY: endpoints_json(inp.endpoints)}},
        _master(inp, info),
        _worker(inp, rpc_port(inp.ctx)),
        _fuse(inp, info),
    ]
