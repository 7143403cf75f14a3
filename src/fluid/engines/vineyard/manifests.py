"""What a VineyardRuntime looks like in the cluster: an etcd master with its headless
Service, vineyardd workers with theirs, the client DaemonSet and its RPC ConfigMap.

Owns the Vineyard facts: the master runs ``etcd`` (client port 2379, peer 2380; one
member per replica, peers ``<name>-master-<i>.<name>-master.<ns>``) unless
``master.endpoint.uri`` names an external etcd; each worker runs ``vineyardd`` with its
IPC socket ``vineyard-worker.sock`` in the host directory ``<root>/vineyard/<ns>/<name>``
(mounted at ``/var/run/vineyard``), shared memory ``--size`` from the MEM tier's quota
(default 4Gi), RPC port 9600, the etcd endpoint and prefix, and spilling to the second tier
when MEM sets ``high``/``low`` and another tier sets a ``path``; its memory request and
limit cover the quota plus 500Mi for vineyardd itself. The ``-fuse`` DaemonSet exposes the
socket under ``<root>/vineyard/<ns>/<name>/vineyard-fuse`` (options become upper-case env
vars: ``SIZE``, ``ETCD_ENDPOINT``, ``ETCD_PREFIX``...) with the workers' RPC endpoints
mounted from ConfigMap ``<name>-rpc-conf`` (``hostPID`` when the runtime's
``runtime.fluid.io/fuse.hostpid`` annotation says so). Components on the host network (the default,
as upstream) use ports from the shared allocator. Pure: no I/O. Called by
``fluid.engines.vineyard.engine`` and unit tests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from decimal import Decimal

import attrs

from fluid.api.base import PodMetadata
from fluid.api.constants import MediumType, NetworkMode, VolumeType
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import Level
from fluid.api.vineyard import (
    VineyardClientSocketSpec,
    VineyardCompTemplateSpec,
    VineyardMasterSpec,
    VineyardRuntime,
    VineyardRuntimeSpec,
)
from fluid.engines import base
from fluid.engines.base import Obj, RenderContext, uses_host_network

__all__ = [
    "DEFAULT_PORTS",
    "FUSE_DIR",
    "MOUNT_TYPE",
    "Images",
    "Ports",
    "RenderError",
    "RenderInput",
    "external_endpoint",
    "master_replicas",
    "memory_quota",
    "port_names",
    "render",
    "resolve_ports",
]

FUSE_DIR = "vineyard-fuse"
MOUNT_TYPE = "vineyard-fuse"
SOCKET_DIR = "/var/run/vineyard"
SOCKET = f"{SOCKET_DIR}/vineyard-worker.sock"
ETCD_DATA = "/etcd-data"
DEFAULT_QUOTA = "4Gi"
VINEYARDD_OVERHEAD = 500 * 2**20
"""Memory vineyardd needs beyond its shared-memory quota (upstream's 500Mi)."""

DEFAULT_PORTS: dict[str, int] = {
    "master-client": 2379, "master-peer": 2380, "worker-rpc": 9600, "worker-exporter": 9144,
}
"""Allocator name -> upstream default; the part after the dash is the ``ports`` key."""
_WORKER_OPTIONS = {"vineyardd.reserve.memory": "true", "etcd.prefix": "/vineyard",
                   "wait.etcd.timeout": "120"}
_FUSE_OPTIONS = {"size": "0", "etcd_prefix": "/vineyard"}


class RenderError(ValueError):
    """The runtime cannot be rendered; the message says what to fix."""


@attrs.frozen(kw_only=True)
class Images:
    master: str = "registry.aliyuncs.com/vineyard/vineyardd:v0.22.2"
    worker: str = "registry.aliyuncs.com/vineyard/vineyardd:v0.22.2"
    fuse: str = "registry.aliyuncs.com/vineyard/vineyard-fluid-fuse:v0.22.2"
    pull_policy: str = "IfNotPresent"


@attrs.frozen(kw_only=True)
class Ports:
    client: int
    peer: int
    rpc: int
    exporter: int


@attrs.frozen(kw_only=True)
class RenderInput:
    runtime: VineyardRuntime
    ctx: RenderContext
    images: Images = Images()

    @property
    def spec(self) -> VineyardRuntimeSpec:
        return self.runtime.spec or VineyardRuntimeSpec()

    @property
    def name(self) -> str:
        return self.runtime.name

    @property
    def namespace(self) -> str:
        return self.runtime.namespace


# -- decisions ------------------------------------------------------------------------------



def external_endpoint(spec: VineyardRuntimeSpec) -> str | None:
    """``master.endpoint.uri`` of an external etcd, or None when the master is deployed."""
    endpoint = spec.master.endpoint if spec.master else None
    return endpoint.uri if endpoint and endpoint.uri else None


def master_replicas(spec: VineyardRuntimeSpec) -> int:
    if external_endpoint(spec):
        return 0
    replicas = spec.master.replicas if spec.master else None
    return replicas if replicas and replicas > 0 else 1


def port_names(spec: VineyardRuntimeSpec) -> list[str]:
    """Host ports to allocate: the master's and the worker's when on the host network."""
    names = []
    if master_replicas(spec) and uses_host_network(spec.master.network_mode if spec.master else None):
        names += ["master-client", "master-peer"]
    if uses_host_network(spec.worker.network_mode if spec.worker else None):
        names += ["worker-rpc", "worker-exporter"]
    return names


def resolve_ports(spec: VineyardRuntimeSpec, allocated: Mapping[str, int]) -> Ports:
    """Allocated host ports first, then the component's ``ports`` map, then the defaults."""
    def pick(name: str, component: VineyardCompTemplateSpec | None) -> int:
        if name in allocated:
            return allocated[name]
        key = name.partition("-")[2]
        own = (component.ports if component else None) or {}
        return int(own.get(key, DEFAULT_PORTS[name]))
    return Ports(client=pick("master-client", spec.master), peer=pick("master-peer", spec.master),
                 rpc=pick("worker-rpc", spec.worker),
                 exporter=pick("worker-exporter", spec.worker))


def _levels(spec: VineyardRuntimeSpec) -> list[Level]:
    return list((spec.tieredstore.levels if spec.tieredstore else None) or [])


def _mem_level(spec: VineyardRuntimeSpec) -> Level | None:
    return next((lv for lv in _levels(spec) if lv.mediumtype == MediumType.MEM), None)


def memory_quota(spec: VineyardRuntimeSpec) -> str:
    """vineyardd's ``--size``: the MEM tier's quota; a runtime without one is refused."""
    if not _levels(spec):
        raise RenderError("spec.tieredstore.levels is empty: Vineyard needs a MEM level with a quota")
    level = _mem_level(spec)
    if level is None:
        raise RenderError("spec.tieredstore has no MEM level: Vineyard keeps objects in memory")
    return str(level.quota) if level.quota is not None else DEFAULT_QUOTA


def _spill_level(spec: VineyardRuntimeSpec) -> Level | None:
    """The tier vineyardd spills to: MEM sets high and low, and another tier has a path."""
    mem = _mem_level(spec)
    if mem is None or mem.high is None or mem.low is None:
        return None
    return next((lv for lv in _levels(spec) if lv.mediumtype != MediumType.MEM and lv.path), None)


def _mebibytes(value: Decimal | int) -> str:
    return f"{int(-(-Decimal(value) // 2**20))}Mi"


def worker_resources(spec: VineyardRuntimeSpec) -> Obj:
    """The worker's resources with memory request and limit at least quota + 500Mi."""
    worker = spec.worker
    resources: Obj = {k: dict(v) for k, v in ((worker.resources if worker else None) or {}).items()}
    needed = parse_quantity(memory_quota(spec)) + VINEYARDD_OVERHEAD
    for section in ("requests", "limits"):
        given = (resources.get(section) or {}).get("memory")
        if given is None or parse_quantity(given) < needed:
            resources.setdefault(section, {})["memory"] = _mebibytes(needed)
    return resources


# -- shared pieces -----------------------------------------------------------------------------


def _env(values: Mapping[str, str] | None) -> list[Obj]:
    return [{"name": k, "value": str(v)} for k, v in (values or {}).items()]


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _meta(inp: RenderInput, name: str, role: str) -> Obj:
    return {"name": name, "namespace": inp.namespace, "labels": {"role": role}}


def _template(inp: RenderInput, *, component: str, role: str, own: PodMetadata | None,
              pod_spec: Obj) -> Obj:
    labels, annotations = base.merged_pod_metadata(inp.spec.pod_metadata, own)
    return {
        "metadata": {"labels": {**labels, **inp.ctx.pod_labels(component), "role": role},
                     "annotations": {**annotations, "sidecar.istio.io/inject": "false"}},
        "spec": pod_spec,
    }


def _network(pod_spec: Obj, mode: NetworkMode | None) -> Obj:
    if uses_host_network(mode):
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return pod_spec


def _service(inp: RenderInput, *, component: str, role: str, ports: Mapping[str, int]) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(inp, f"{inp.name}-{component}", role),
        "spec": {"clusterIP": "None", "selector": inp.ctx.selector(component),
                 "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"}
                           for n, p in ports.items()]},
    }


def _statefulset(inp: RenderInput, *, component: str, replicas: int, template: Obj,
                 role: str) -> Obj:
    name = f"{inp.name}-{component}"
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(inp, name, role),
        "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                 "updateStrategy": {"type": "OnDelete"},
                 "selector": {"matchLabels": inp.ctx.selector(component)},
                 "template": template},
    }


def _master_host(inp: RenderInput, index: int) -> str:
    return f"{inp.name}-master-{index}.{inp.name}-master.{inp.namespace}"


def etcd_endpoint(inp: RenderInput, ports: Ports) -> str:
    """Where vineyardd finds etcd: the external endpoint, else every master member."""
    external = external_endpoint(inp.spec)
    if external:
        return f"http://{external}"
    return ",".join(f"http://{_master_host(inp, i)}:{ports.client}"
                    for i in range(master_replicas(inp.spec)))


def _user_volumes(inp: RenderInput,
                  component: VineyardCompTemplateSpec | None) -> tuple[list[Obj], list[Obj]]:
    mounts = [dict(m) for m in (component.volume_mounts if component else None) or []]
    try:
        return mounts, base.user_volumes(inp.spec.volumes, mounts)
    except base.ValidationFailed as exc:
        raise RenderError(str(exc)) from None


# -- the master: etcd --------------------------------------------------------------------------


def _master(inp: RenderInput, ports: Ports) -> Obj:
    master = inp.spec.master or VineyardMasterSpec()
    replicas = master_replicas(inp.spec)
    service = f"{inp.name}-master"
    peers = ",".join(f"{service}-{i}=http://{_master_host(inp, i)}:{ports.peer}"
                     for i in range(replicas))
    own = f"$(POD_NAME).{service}.{inp.namespace}"
    mounts, volumes = _user_volumes(inp, master)
    if not mounts:
        mounts, volumes = [{"name": "etcd-data", "mountPath": ETCD_DATA}], [
            {"name": "etcd-data", "emptyDir": {}}]
    container: Obj = {
        "name": "vineyard-master",
        "image": base.image_or_default(master.image, master.image_tag, inp.images.master),
        "imagePullPolicy": master.image_pull_policy or inp.images.pull_policy,
        "securityContext": {"runAsUser": 1001, "runAsNonRoot": True, "privileged": False},
        "command": [
            "etcd", "--name=$(POD_NAME)",
            f"--initial-advertise-peer-urls=http://{own}:{ports.peer}",
            f"--listen-peer-urls=http://0.0.0.0:{ports.peer}",
            f"--advertise-client-urls=http://{own}:{ports.client}",
            f"--listen-client-urls=http://0.0.0.0:{ports.client}",
            f"--initial-cluster-token={inp.name}", "--initial-cluster-state=new",
            f"--initial-cluster={peers}", f"--data-dir={ETCD_DATA}",
        ],
        "env": [_field_env("POD_NAME", "metadata.name"), *_env(master.env)],
        "ports": [{"name": "client", "containerPort": ports.client, "protocol": "TCP"},
                  {"name": "peer", "containerPort": ports.peer, "protocol": "TCP"}],
        "resources": dict(master.resources or {}),
        "volumeMounts": mounts,
    }
    pod_spec = _network({
        "enableServiceLinks": False, "nodeSelector": dict(master.node_selector or {}),
        "tolerations": [dict(t) for t in inp.ctx.tolerations],
        "containers": [container], "volumes": volumes,
    }, master.network_mode)
    template = _template(inp, component="master", role="vineyard-master",
                         own=master.pod_metadata, pod_spec=pod_spec)
    return _statefulset(inp, component="master", replicas=replicas, template=template,
                        role="vineyard-master")


# -- the workers: vineyardd -----------------------------------------------------------------


def _spill(inp: RenderInput) -> tuple[list[str], list[Obj], list[Obj]]:
    """vineyardd's spill flags, the tier's volume and its mount (all empty without one)."""
    level = _spill_level(inp.spec)
    mem = _mem_level(inp.spec)
    if level is None or mem is None or not level.path:
        return [], [], []
    path = level.path.split(",")[0]
    name = level.mediumtype.value.lower()
    if level.volume_type == VolumeType.EMPTY_DIR:
        volume: Obj = {"name": name, "emptyDir": dict(
            (level.volume_source or {}).get("emptyDir") or {})}
    else:
        volume = {"name": name, "hostPath": {"path": path, "type": "DirectoryOrCreate"}}
    flags = ["--spill_path", path, "--spill_lower_rate", str(mem.low),
             "--spill_upper_rate", str(mem.high)]
    return flags, [volume], [{"name": name, "mountPath": path}]


def worker_command(inp: RenderInput, ports: Ports) -> list[str]:
    options = {**_WORKER_OPTIONS, **((inp.spec.worker.options if inp.spec.worker else None) or {})}
    command = ["/usr/local/bin/vineyardd", "--socket", SOCKET, "--size", memory_quota(inp.spec)]
    if str(options["vineyardd.reserve.memory"]).lower() == "true":
        command.append("--reserve_memory")
    command += ["--meta_timeout", str(options["wait.etcd.timeout"]),
                "--etcd_prefix", str(options["etcd.prefix"]),
                "--etcd_endpoint", etcd_endpoint(inp, ports),
                "--rpc_socket_port", str(ports.rpc)]
    return command + _spill(inp)[0]


def _worker_env(inp: RenderInput, worker: VineyardCompTemplateSpec) -> list[Obj]:
    return [
        {"name": "VINEYARDD_NAME", "value": f"{inp.name}-vineyardd"},
        {"name": "VINEYARDD_NAMESPACE", "value": inp.namespace},
        _field_env("MY_NODE_NAME", "spec.nodeName"),
        _field_env("MY_POD_NAME", "metadata.name"),
        _field_env("MY_POD_NAMESPACE", "metadata.namespace"),
        _field_env("MY_UID", "metadata.uid"),
        _field_env("MY_POD_IP", "status.podIP"),
        _field_env("MY_HOST_NAME", "status.podIP"),
        _field_env("USER", "metadata.name"),
        *_env(worker.env),
    ]


def _worker(inp: RenderInput, ports: Ports) -> Obj:
    worker = inp.spec.worker or VineyardCompTemplateSpec()
    _, spill_volumes, spill_mounts = _spill(inp)
    mounts, volumes = _user_volumes(inp, worker)
    container: Obj = {
        "name": "vineyard-worker",
        "image": base.image_or_default(worker.image, worker.image_tag, inp.images.worker),
        "imagePullPolicy": worker.image_pull_policy or inp.images.pull_policy,
        "command": worker_command(inp, ports),
        "env": _worker_env(inp, worker),
        "resources": worker_resources(inp.spec),
        "ports": [{"name": "rpc", "containerPort": ports.rpc, "protocol": "TCP"}],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", f"rm -f {SOCKET}"]}}},
        "livenessProbe": {"tcpSocket": {"port": ports.rpc}, "periodSeconds": 60},
        "readinessProbe": {"exec": {"command": ["ls", SOCKET]}, "initialDelaySeconds": 15,
                           "periodSeconds": 10, "failureThreshold": 10},
        "volumeMounts": [{"name": "vineyard-socket", "mountPath": SOCKET_DIR},
                         *spill_mounts, *mounts],
    }
    pod_spec = _network({
        "enableServiceLinks": False, "nodeSelector": dict(worker.node_selector or {}),
        "tolerations": [dict(t) for t in inp.ctx.tolerations],
        "containers": [container],
        "volumes": [{"name": "vineyard-socket",
                     "hostPath": {"path": inp.ctx.fuse_mount_path, "type": "DirectoryOrCreate"}},
                    *spill_volumes, *volumes],
    }, worker.network_mode)
    if inp.ctx.worker_affinity:
        pod_spec["affinity"] = dict(inp.ctx.worker_affinity)
    template = _template(inp, component="worker", role="vineyard-worker",
                         own=worker.pod_metadata, pod_spec=pod_spec)
    return _statefulset(inp, component="worker", replicas=inp.ctx.replicas, template=template,
                        role="vineyard-worker")


# -- the clients: socket and RPC endpoints on each application node --------------------------


def rpc_conf(inp: RenderInput, ports: Ports) -> Obj:
    """ConfigMap ``<name>-rpc-conf``: every worker's RPC endpoint."""
    endpoints = ",".join(f"{inp.name}-worker-{i}.{inp.name}-worker.{inp.namespace}:{ports.rpc}"
                         for i in range(inp.ctx.replicas))
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta(inp, f"{inp.name}-rpc-conf", "vineyard-rpc-conf"),
            "data": {"VINEYARD_RPC_ENDPOINT": endpoints}}


def fuse_options(inp: RenderInput, ports: Ports) -> dict[str, str]:
    first = etcd_endpoint(inp, ports).split(",")[0]
    fuse = inp.spec.fuse
    return {**_FUSE_OPTIONS, "etcd_endpoint": first, **((fuse.options if fuse else None) or {})}


def _fuse(inp: RenderInput, ports: Ports) -> Obj:
    fuse = inp.spec.fuse or VineyardClientSocketSpec()
    host_dir = inp.ctx.fuse_mount_path
    target = posixpath.join(host_dir, FUSE_DIR)
    container: Obj = {
        "name": "vineyard-fuse",
        "image": base.image_or_default(fuse.image, fuse.image_tag, inp.images.fuse),
        "imagePullPolicy": fuse.image_pull_policy or inp.images.pull_policy,
        "securityContext": {"privileged": True},
        "env": [
            {"name": "MOUNT_DIR", "value": host_dir},
            {"name": "FUSE_DIR", "value": target},
            {"name": "RPC_CONF_DIR", "value": f"{target}/rpc-conf"},
            {"name": "PRESTOP_MARKER", "value": "/tmp/prestop-marker"},
            *({"name": k.upper(), "value": str(v)} for k, v in fuse_options(inp, ports).items()),
            *_env(fuse.env),
        ],
        "lifecycle": {"preStop": {"exec": {"command": [
            "sh", "-c", f"touch /tmp/prestop-marker && {{ rm {target}/vineyard.sock || true; }}"
                        f" && umount {target}/rpc-conf"]}}},
        "resources": dict(fuse.resources or {}),
        "volumeMounts": [
            {"name": "vineyard-fuse-mount", "mountPath": host_dir,
             "mountPropagation": "Bidirectional"},
            {"name": "vineyard-rpc-conf", "mountPath": f"{target}/rpc-conf"},
        ],
    }
    pod_spec = _network({
        "enableServiceLinks": False, "nodeSelector": dict(inp.ctx.fuse_node_selector),
        "tolerations": [{"operator": "Exists"}], "terminationGracePeriodSeconds": 60,
        "restartPolicy": "Always", "hostPID": base.fuse_host_pid(inp.runtime.annotations),
        "containers": [container],
        "volumes": [
            {"name": "vineyard-fuse-mount", "hostPath": {"path": host_dir, "type": "DirectoryOrCreate"}},
            {"name": "vineyard-rpc-conf", "configMap": {"name": f"{inp.name}-rpc-conf"}},
        ],
    }, fuse.network_mode)
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": _meta(inp, f"{inp.name}-fuse", "vineyard-fuse"),
        "spec": {"updateStrategy": {"type": "OnDelete"},
                 "selector": {"matchLabels": inp.ctx.selector("fuse")},
                 "template": _template(inp, component="fuse", role="vineyard-fuse",
                                       own=fuse.pod_metadata, pod_spec=pod_spec)},
    }


def render(inp: RenderInput) -> list[Obj]:
    """Every namespaced object of the runtime; raises RenderError on a user's mistake."""
    ports = resolve_ports(inp.spec, inp.ctx.ports)
    objects: list[Obj] = []
    if master_replicas(inp.spec):
        objects += [_service(inp, component="master", role="vineyard-master",
                             ports={"client": ports.client, "peer": ports.peer}),
                    _master(inp, ports)]
    objects += [
        _service(inp, component="worker", role="vineyard-worker",
                 ports={"rpc": ports.rpc, "metrics": ports.exporter}),
        _worker(inp, ports),
        rpc_conf(inp, ports),
        _fuse(inp, ports),
    ]
    return objects
