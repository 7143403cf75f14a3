"""What a GooseFSRuntime looks like in the cluster: masters (with job masters) and their
Services, workers (with job workers), FUSE clients and the Java-options ConfigMap.

Owns the GooseFS facts: object and container names, the ``GOOSEFS_JAVA_OPTS`` /
``GOOSEFS_{MASTER,JOB_MASTER,WORKER,JOB_WORKER,FUSE}_JAVA_OPTS`` entries of ConfigMap
``<name>-config`` (``-Dkey=value`` lists), the root UFS
(``goosefs.master.mount.table.root.ufs``), replication, the embedded journal, tiered
store levels (``goosefs.worker.tieredstore.level<i>.*``, paths per dataset, quotas in
GooseFS units), default ports (master 19998/19999, job master 20001/20002, worker
29999/30000, job worker 30001/30002/30003, embedded journal 19200/20003) unless the
runtime sets them or host ports were allocated, FUSE arguments, the REST API gateway
(``apiGateway.enabled``: a ``proxy`` container in the master pod, port ``rest`` on the
master Services, ``goosefs.proxy.web.port``) and non-root runtimes (``runAs``: every
GooseFS container runs as that user, and ``init-users`` init containers, whose image
``initUsers`` sets, write its passwd/group files under ``/tmp/fluid/<ns>/<name>`` on the
host, mounted read-only at ``/etc/passwd`` and ``/etc/group``, chmod the tier paths and
the FUSE mount point).

Secret values never reach this module or the ConfigMap: a root mount's
``encryptOptions`` become env vars ``FLUID_SECRET_<n>`` (``valueFrom.secretKeyRef``) and
the options read ``-D<key>=${FLUID_SECRET_<n>}``, expanded by the image's entrypoint like
its own ``${GOOSEFS_*_HOSTNAME}``. Pure: no I/O. Called by
``fluid.engines.goosefs.engine`` and unit tests.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fluid.api import constants
from fluid.api.constants import MediumType, VolumeType
from fluid.api.dataset import Dataset, Mount
from fluid.api.goosefs import GooseFSCompTemplateSpec, GooseFSRuntime, GooseFSRuntimeSpec
from fluid.api.quantity import parse_quantity
from fluid.engines import base
from fluid.engines.base import (
    UFS_ROOT,
    Obj,
    RenderContext,
    SecretEnv,
    is_native,
    mount_path_in_namespace,
    mount_secrets,
)

__all__ = [
    "API_GATEWAY_PORT",
    "DEFAULT_PORTS",
    "FUSE_DIR",
    "Images",
    "RenderError",
    "RenderInput",
    "Rendered",
    "SecretEnv",
    "api_gateway_enabled",
    "api_gateway_endpoint",
    "encrypt_envs",
    "goosefs_size",
    "java_opts",
    "mount_secrets",
    "port_names",
    "render",
    "root_index",
    "root_ufs",
]

RUNTIME_TYPE = constants.RuntimeType.GOOSEFS.value
FUSE_DIR = "goosefs-fuse"
CONFIG_SUFFIX = "-config"
JOURNAL_DIR = "/journal"
API_GATEWAY_PORT = "api-gateway-rest"
API_GATEWAY_CONTAINER = "api-gateway"
HADOOP_DIR = "/hdfs-config"
"""Where masters and workers (and their job processes) see the ``hadoopConfig`` files."""
HADOOP_VOLUME = "hdfs-confs"
METRICS_LABEL = "goosefs_runtime_metrics"
"""The master Services' ``monitor`` label unless ``disablePrometheus`` (upstream's value)."""

DEFAULT_PORTS: dict[str, int] = {
    "master-rpc": 19998, "master-web": 19999, "master-embedded": 19200,
    "job-master-rpc": 20001, "job-master-web": 20002, "job-master-embedded": 20003,
    "worker-rpc": 29999, "worker-web": 30000,
    "job-worker-rpc": 30001, "job-worker-data": 30002, "job-worker-web": 30003,
    API_GATEWAY_PORT: 39999,
}
"""Port name -> upstream default; names are also the allocator's names."""
_PORT_PROPERTY = {
    "master-rpc": "goosefs.master.rpc.port", "master-web": "goosefs.master.web.port",
    "master-embedded": "goosefs.master.embedded.journal.port",
    "job-master-rpc": "goosefs.job.master.rpc.port", "job-master-web": "goosefs.job.master.web.port",
    "job-master-embedded": "goosefs.job.master.embedded.journal.port",
    "worker-rpc": "goosefs.worker.rpc.port", "worker-web": "goosefs.worker.web.port",
    "job-worker-rpc": "goosefs.job.worker.rpc.port", "job-worker-data": "goosefs.job.worker.data.port",
    "job-worker-web": "goosefs.job.worker.web.port",
    API_GATEWAY_PORT: "goosefs.proxy.web.port",
}
_PORT_COMPONENT = {  # which component's ``ports`` map may pin a port, and under which key
    "master-rpc": ("master", "rpc"), "master-web": ("master", "web"),
    "master-embedded": ("master", "embedded"),
    "job-master-rpc": ("job_master", "rpc"), "job-master-web": ("job_master", "web"),
    "job-master-embedded": ("job_master", "embedded"),
    "worker-rpc": ("worker", "rpc"), "worker-web": ("worker", "web"),
    "job-worker-rpc": ("job_worker", "rpc"), "job-worker-data": ("job_worker", "data"),
    "job-worker-web": ("job_worker", "web"),
    API_GATEWAY_PORT: ("api_gateway", "rest"),
}


class RenderError(ValueError):
    """The runtime or dataset cannot be rendered; the message says what to fix."""


@attrs.frozen(kw_only=True)
class Images:
    runtime: str = "ccr.ccs.tencentyun.com/qcloud/goosefs:v1.2.0"
    fuse: str = "ccr.ccs.tencentyun.com/qcloud/goosefs-fuse:v1.2.0"
    init_users: str = base.DEFAULT_INIT_IMAGE
    pull_policy: str = "IfNotPresent"


@attrs.frozen(kw_only=True)
class RenderInput:
    """The models plus what the shared lifecycle decided (``ctx``)."""

    runtime: GooseFSRuntime
    dataset: Dataset
    ctx: RenderContext
    images: Images = Images()
    hadoop: base.HadoopConfig | None = None
    """What the engine found in ``spec.hadoopConfig`` (required when that is set)."""

    @property
    def spec(self) -> GooseFSRuntimeSpec:
        return self.runtime.spec or GooseFSRuntimeSpec()


@attrs.frozen(kw_only=True)
class Rendered:
    config: dict[str, Any]
    services: list[dict[str, Any]]
    master: dict[str, Any]
    worker: dict[str, Any]
    fuse: dict[str, Any]

    def objects(self) -> list[Obj]:
        return [self.config, *self.services, self.master, self.worker, self.fuse]


# -- names, ports ----------------------------------------------------------------------------


def master_replicas(spec: GooseFSRuntimeSpec) -> int:
    return max((spec.master.replicas if spec.master else None) or 1, 1)


def _component(spec: GooseFSRuntimeSpec, attr: str) -> GooseFSCompTemplateSpec | None:
    comp: GooseFSCompTemplateSpec | None = getattr(spec, attr)
    return comp


def _pinned(spec: GooseFSRuntimeSpec, name: str) -> int | None:
    """A port the runtime sets itself (``<component>.ports`` or a ``properties`` key)."""
    attr, key = _PORT_COMPONENT[name]
    comp = _component(spec, attr)
    if comp is not None and comp.ports and key in comp.ports:
        return comp.ports[key]
    for props in ((comp.properties if comp else None), spec.properties):
        if props and _PORT_PROPERTY[name] in props:
            return int(props[_PORT_PROPERTY[name]])
    return None


def api_gateway_enabled(spec: GooseFSRuntimeSpec) -> bool:
    return bool(spec.api_gateway and spec.api_gateway.enabled)


def api_gateway_endpoint(runtime: GooseFSRuntime, allocated: Mapping[str, int]) -> str | None:
    """``status.apiGateway.endpoint``: master-0's Service and its ``rest`` port, if enabled."""
    spec = runtime.spec or GooseFSRuntimeSpec()
    if not api_gateway_enabled(spec):
        return None
    key = base.RuntimeKey("GooseFSRuntime", runtime.namespace, runtime.name)
    return base.api_gateway_endpoint(key, ports_of(spec, allocated)[API_GATEWAY_PORT])


def _wanted_ports(spec: GooseFSRuntimeSpec) -> list[str]:
    names = [n for n in DEFAULT_PORTS if not n.endswith("-embedded") and n != API_GATEWAY_PORT]
    if api_gateway_enabled(spec):
        names.append(API_GATEWAY_PORT)
    if master_replicas(spec) > 1:
        names += ["master-embedded", "job-master-embedded"]
    return names


def port_names(spec: GooseFSRuntimeSpec) -> list[str]:
    """Host ports to allocate: every port the runtime does not pin (GooseFS runs on the
    host network)."""
    return [n for n in _wanted_ports(spec) if _pinned(spec, n) is None]


def ports_of(spec: GooseFSRuntimeSpec, allocated: Mapping[str, int]) -> dict[str, int]:
    return {n: _pinned(spec, n) or allocated.get(n) or DEFAULT_PORTS[n]
            for n in _wanted_ports(spec)}


# -- properties --------------------------------------------------------------------------------


def goosefs_size(quantity: str | int) -> str:
    """``10Gi`` -> ``10GB``; GooseFS reads binary units spelled without the ``i``."""
    text = str(quantity)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTPE])i", text)
    if match:
        return f"{match[1]}{match[2]}B"
    return f"{int(parse_quantity(text))}B"


def root_index(mounts: Sequence[Mount]) -> int | None:
    """The mount serving as root UFS: a non-native mount at ``/``, if any."""
    for index, mount in enumerate(mounts):
        at_root = mount_path_in_namespace({"name": mount.name, "path": mount.path}) == "/"
        if at_root and not is_native({"mountPoint": mount.mount_point}):
            return index
    return None


def root_ufs(mounts: Sequence[Mount]) -> tuple[str, Mount | None]:
    """The root UFS: a non-native mount at ``/``, else the local ``/underFSStorage``."""
    index = root_index(mounts)
    if index is None:
        return UFS_ROOT, None
    return mounts[index].mount_point, mounts[index]


def encrypt_envs(dataset: Dataset) -> list[SecretEnv]:
    """Every Secret-backed option of the Dataset, as env vars for every container."""
    mounts = (dataset.spec.mounts if dataset.spec else None) or []
    found: dict[str, SecretEnv] = {}
    for index in [None, *range(len(mounts))]:
        for env in mount_secrets(dataset, index):
            found[env.env_name] = env
    return sorted(found.values(), key=lambda e: e.env_name)


def _tier_levels(inp: RenderInput) -> list[dict[str, str]]:
    levels = (inp.spec.tieredstore.levels if inp.spec.tieredstore else None) or []
    order = {MediumType.MEM: 0, MediumType.SSD: 1, MediumType.HDD: 2}
    found = []
    for level_no, level in enumerate(sorted(levels, key=lambda lv: order[lv.mediumtype])):
        paths = [p for p in (level.path or "/dev/shm").split(",") if p]
        if level.quota_list:
            quotas = level.quota_list.split(",")
            if len(quotas) != len(paths):
                raise RenderError("tieredstore: quotaList needs exactly one quota per path")
        elif level.quota is not None:
            each = parse_quantity(level.quota) / len(paths)
            quotas = [str(int(each))] * len(paths)
        else:
            raise RenderError("tieredstore: set quota or quotaList")
        found.append({
            "level": str(level_no),
            "alias": level.mediumtype.value,
            "mediumtype": ",".join([level.mediumtype.value] * len(paths)),
            "path": ",".join(posixpath.join(p, inp.runtime.namespace, inp.runtime.name)
                             for p in paths),
            "quota": ",".join(goosefs_size(q) for q in quotas),
            "high": level.high or "0.95",
            "low": level.low or "0.7",
            "volume_type": (level.volume_type or VolumeType.HOST_PATH).value,
        })
    return found


def java_opts(inp: RenderInput, ports: Mapping[str, int]) -> dict[str, str]:
    """The ``GOOSEFS_*_JAVA_OPTS`` entries of ``<name>-config``."""
    spec, name = inp.spec, inp.runtime.name
    mounts = (inp.dataset.spec.mounts if inp.dataset.spec else None) or []
    root, root_mount = root_ufs(mounts)
    secrets = mount_secrets(inp.dataset, root_index(mounts)) if root_mount else []
    common: dict[str, str] = {
        "goosefs.master.journal.type": "EMBEDDED",
        "goosefs.master.journal.folder": JOURNAL_DIR,
        "goosefs.security.stale.channel.purge.interval": "365d",
        "goosefs.master.mount.table.root.ufs": root,
        "goosefs.user.file.replication.max": str(max((spec.data.replicas if spec.data else 0)
                                                     or 1, 1)),
        "goosefs.fuse.user.group.translation.enabled": "true",
    }
    if master_replicas(spec) == 1:
        common["goosefs.master.hostname"] = f"{name}-master-0"
    else:
        common["goosefs.master.embedded.journal.addresses"] = ",".join(
            f"{name}-master-{i}:{ports['master-embedded']}" for i in range(master_replicas(spec)))
    levels = _tier_levels(inp)
    if levels:
        common["goosefs.worker.tieredstore.levels"] = str(len(levels))
    for lv in levels:
        prefix = f"goosefs.worker.tieredstore.level{lv['level']}"
        common.update({f"{prefix}.alias": lv["alias"], f"{prefix}.dirs.mediumtype": lv["mediumtype"],
                       f"{prefix}.dirs.path": lv["path"], f"{prefix}.dirs.quota": lv["quota"],
                       f"{prefix}.watermark.high.ratio": lv["high"],
                       f"{prefix}.watermark.low.ratio": lv["low"]})
    for port_name, port in ports.items():
        common[_PORT_PROPERTY[port_name]] = str(port)
    spec_options = {**((inp.dataset.spec.shared_options if inp.dataset.spec else None) or {}),
                    **((root_mount.options if root_mount else None) or {})}
    common.update(spec_options)
    common.update({s.option: f"${{{s.env_name}}}" for s in secrets})
    if inp.hadoop is not None:
        common["goosefs.underfs.hdfs.configuration"] = ":".join(
            f"{HADOOP_DIR}/{f}" for f in inp.hadoop.files)
    common.update(spec.properties or {})

    def component(attr: str, extra: Mapping[str, str]) -> str:
        comp = _component(spec, attr)
        props = {**extra, **((comp.properties if comp else None) or {})}
        return _join(props, (comp.jvm_options if comp else None) or [])

    fuse = spec.fuse
    return {
        "GOOSEFS_JAVA_OPTS": _join({**common, "goosefs.user.hostname": "${GOOSEFS_CLIENT_HOSTNAME}"},
                                   spec.jvm_options or []),
        "GOOSEFS_MASTER_JAVA_OPTS": component(
            "master", {"goosefs.master.hostname": "${GOOSEFS_MASTER_HOSTNAME}"}),
        "GOOSEFS_JOB_MASTER_JAVA_OPTS": component(
            "job_master", {"goosefs.master.hostname": "${GOOSEFS_MASTER_HOSTNAME}"}),
        "GOOSEFS_WORKER_JAVA_OPTS": component(
            "worker", {"goosefs.worker.hostname": "${GOOSEFS_WORKER_HOSTNAME}"}),
        "GOOSEFS_JOB_WORKER_JAVA_OPTS": component(
            "job_worker", {"goosefs.worker.hostname": "${GOOSEFS_WORKER_HOSTNAME}"}),
        "GOOSEFS_FUSE_JAVA_OPTS": _join((fuse.properties if fuse else None) or {},
                                        (fuse.jvm_options if fuse else None) or []),
    }


def _join(properties: Mapping[str, str], jvm_options: Sequence[str]) -> str:
    return " ".join([*(f"-D{k}={v}" for k, v in sorted(properties.items())), *jvm_options])


# -- objects -------------------------------------------------------------------------------


def _meta(inp: RenderInput, name: str, role: str) -> dict[str, Any]:
    return {"name": name, "namespace": inp.runtime.namespace,
            "labels": {**inp.ctx.labels, "role": role}}


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _env(extra: Mapping[str, str] | None, secrets: Sequence[SecretEnv],
         *fields: tuple[str, str]) -> list[dict[str, Any]]:
    return [*(_field_env(n, p) for n, p in fields),
            *({"name": k, "value": v} for k, v in (extra or {}).items()),
            *(s.to_env() for s in secrets)]


def _container(inp: RenderInput, *, name: str, image: str, args: list[str],
               env: list[dict[str, Any]], ports: list[dict[str, Any]],
               resources: Mapping[str, Any] | None, mounts: list[dict[str, Any]]
               ) -> dict[str, Any]:
    """A GooseFS process; with ``runAs`` it runs as that user and sees its passwd/group."""
    container = {"name": name, "image": image, "imagePullPolicy": inp.images.pull_policy,
                 "command": ["/entrypoint.sh"], "args": args, "env": env,
                 "envFrom": [{"configMapRef": {"name": f"{inp.runtime.name}{CONFIG_SUFFIX}"}}],
                 "ports": ports, "resources": dict(resources or {}), "volumeMounts": mounts}
    users = _users(inp)
    if users is not None:
        container["securityContext"] = users.security_context
        container["volumeMounts"] = [*mounts, *users.passwd_mounts()]
    return container


# -- non-root runtimes: runAs and initUsers ----------------------------------------------------


def _users(inp: RenderInput) -> base.InitUsers | None:
    return base.init_users(key=inp.ctx.key, run_as=inp.spec.run_as, spec=inp.spec.init_users,
                           default_image=inp.images.init_users, pull_policy=inp.images.pull_policy)


def _users_volumes(inp: RenderInput, *, with_dir: bool) -> list[dict[str, Any]]:
    users = _users(inp)
    return users.volumes(with_dir=with_dir) if users else []


def _init_users(inp: RenderInput, tier_mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With ``runAs``: write passwd/group for the user (and, on workers, chmod the tiers)."""
    users = _users(inp)
    return [users.init_users(tier_mounts)] if users else []


def _init_fuse(inp: RenderInput, host_dir: str) -> list[dict[str, Any]]:
    """With ``runAs``: open the FUSE mount point's directory to the user (as root)."""
    users = _users(inp)
    return [users.init_fuse(host_dir=host_dir, volume="goosefs-fuse-mount")] if users else []


def _tier_volumes(inp: RenderInput) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes, mounts = [], []
    for lv in _tier_levels(inp):
        for index, path in enumerate(lv["path"].split(",")):
            name = f"tiered-{lv['alias'].lower()}-{index}"
            if lv["volume_type"] == VolumeType.EMPTY_DIR.value:
                medium = {"medium": "Memory"} if lv["alias"] == MediumType.MEM.value else {}
                volumes.append({"name": name, "emptyDir": medium})
            else:
                volumes.append({"name": name, "hostPath": {"path": path,
                                                           "type": "DirectoryOrCreate"}})
            mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def _hadoop(inp: RenderInput) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``spec.hadoopConfig``: the files found, read-only under ``/hdfs-config``."""
    return base.hadoop_config_mount(inp.spec.hadoop_config, inp.hadoop, volume=HADOOP_VOLUME,
                                    directory=HADOOP_DIR)


def _ufs(inp: RenderInput) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [dict(u.volume) for u in inp.ctx.ufs], [dict(u.volume_mount) for u in inp.ctx.ufs]


def _pod(inp: RenderInput, component: str, containers: list[dict[str, Any]],
         volumes: list[dict[str, Any]], node_selector: Mapping[str, str],
         annotations: Mapping[str, str] | None,
         init_containers: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet",
        "enableServiceLinks": False, "nodeSelector": dict(node_selector),
        "tolerations": [dict(t) for t in inp.ctx.tolerations]
        if component != "fuse" else [{"operator": "Exists"}],
        "restartPolicy": "Always", "containers": containers, "volumes": volumes}
    if init_containers:
        spec["initContainers"] = init_containers
    return {
        "metadata": {"labels": {**inp.ctx.pod_labels(component), "role": f"goosefs-{component}"},
                     "annotations": {**(annotations or {}), "sidecar.istio.io/inject": "false"}},
        "spec": spec,
    }


def _statefulset(inp: RenderInput, component: str, replicas: int,
                 template: dict[str, Any]) -> dict[str, Any]:
    name = f"{inp.runtime.name}-{component}"
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": _meta(inp, name, f"goosefs-{component}"),
            "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": inp.ctx.selector(component)},
                     "template": template}}


def _master(inp: RenderInput, ports: Mapping[str, int], secrets: Sequence[SecretEnv]) -> dict[str, Any]:
    spec = inp.spec
    version = spec.goosefs_version
    image = base.image_or_default(version.image if version else None,
                                  version.image_tag if version else None, inp.images.runtime)
    ufs_vols, ufs_mounts = _ufs(inp)
    hadoop_vols, hadoop_mounts = _hadoop(inp)
    ufs_vols, ufs_mounts = [*ufs_vols, *hadoop_vols], [*ufs_mounts, *hadoop_mounts]
    journal = {"name": "goosefs-journal", "mountPath": JOURNAL_DIR}
    hostname = ("GOOSEFS_MASTER_HOSTNAME", "status.podIP")
    master, job = spec.master, spec.job_master
    containers = [
        _container(inp, name="goosefs-master", image=image, args=["master-only", "--no-format"],
                   env=_env(master.env if master else None, secrets, hostname),
                   ports=[{"name": "rpc", "containerPort": ports["master-rpc"]},
                          {"name": "web", "containerPort": ports["master-web"]}],
                   resources=master.resources if master else None,
                   mounts=[journal, *ufs_mounts]),
        _container(inp, name="goosefs-job-master", image=image, args=["job-master"],
                   env=_env(job.env if job else None, secrets, hostname),
                   ports=[{"name": "job-rpc", "containerPort": ports["job-master-rpc"]},
                          {"name": "job-web", "containerPort": ports["job-master-web"]}],
                   resources=job.resources if job else None, mounts=[journal, *ufs_mounts]),
        *_api_gateway(inp, image, ports, secrets),
    ]
    volumes = [{"name": "goosefs-journal", "emptyDir": {}}, *ufs_vols,
               *_users_volumes(inp, with_dir=True)]
    template = _pod(inp, "master", containers, volumes,
                    (master.node_selector if master else None) or {},
                    master.annotations if master else None, _init_users(inp, []))
    return _statefulset(inp, "master", master_replicas(spec), template)


def _api_gateway(inp: RenderInput, image: str, ports: Mapping[str, int],
                 secrets: Sequence[SecretEnv]) -> list[dict[str, Any]]:
    """The REST proxy next to the master (``apiGateway.enabled``)."""
    gateway = inp.spec.api_gateway
    if gateway is None or not gateway.enabled:
        return []
    return [{
        "name": API_GATEWAY_CONTAINER, "image": image, "imagePullPolicy": inp.images.pull_policy,
        "command": ["/entrypoint.sh"], "args": ["proxy"],
        "env": _env(gateway.env, secrets, ("GOOSEFS_MASTER_HOSTNAME", "status.podIP")),
        "envFrom": [{"configMapRef": {"name": f"{inp.runtime.name}{CONFIG_SUFFIX}"}}],
        "ports": [{"name": "rest", "containerPort": ports[API_GATEWAY_PORT]}],
        "resources": dict(gateway.resources or {}),
    }]


def _worker(inp: RenderInput, ports: Mapping[str, int], secrets: Sequence[SecretEnv]) -> dict[str, Any]:
    spec = inp.spec
    version = spec.goosefs_version
    image = base.image_or_default(version.image if version else None,
                                  version.image_tag if version else None, inp.images.runtime)
    tier_vols, tier_mounts = _tier_volumes(inp)
    ufs_vols, ufs_mounts = _ufs(inp)
    hadoop_vols, hadoop_mounts = _hadoop(inp)
    ufs_vols, ufs_mounts = [*ufs_vols, *hadoop_vols], [*ufs_mounts, *hadoop_mounts]
    hostname = ("GOOSEFS_WORKER_HOSTNAME", "status.hostIP")
    worker, job = spec.worker, spec.job_worker
    containers = [
        _container(inp, name="goosefs-worker", image=image, args=["worker-only", "--no-format"],
                   env=_env(worker.env if worker else None, secrets, hostname),
                   ports=[{"name": "rpc", "containerPort": ports["worker-rpc"]},
                          {"name": "web", "containerPort": ports["worker-web"]}],
                   resources=worker.resources if worker else None,
                   mounts=[*tier_mounts, *ufs_mounts]),
        _container(inp, name="goosefs-job-worker", image=image, args=["job-worker"],
                   env=_env(job.env if job else None, secrets, hostname),
                   ports=[{"name": "job-rpc", "containerPort": ports["job-worker-rpc"]},
                          {"name": "job-data", "containerPort": ports["job-worker-data"]},
                          {"name": "job-web", "containerPort": ports["job-worker-web"]}],
                   resources=job.resources if job else None, mounts=[*tier_mounts, *ufs_mounts]),
    ]
    template = _pod(inp, "worker", containers,
                    [*tier_vols, *ufs_vols, *_users_volumes(inp, with_dir=True)],
                    (worker.node_selector if worker else None) or {},
                    worker.annotations if worker else None, _init_users(inp, tier_mounts))
    if inp.ctx.worker_affinity:
        template["spec"]["affinity"] = dict(inp.ctx.worker_affinity)
    return _statefulset(inp, "worker", inp.ctx.replicas, template)


def fuse_args(inp: RenderInput, mount_path: str) -> list[str]:
    fuse = inp.spec.fuse
    if fuse and fuse.args:
        args = list(fuse.args)
    else:
        read_only = "ReadOnlyMany" in ((inp.dataset.spec.access_modes if inp.dataset.spec
                                        else None) or ["ReadOnlyMany"])
        opts = ("kernel_cache,ro,attr_timeout=7200,entry_timeout=7200" if read_only
                else "kernel_cache,attr_timeout=0,entry_timeout=0")
        args = ["fuse", f"--fuse-opts={opts}"]
    owner = inp.dataset.spec.owner if inp.dataset.spec else None
    last = args[-1]
    if owner is not None and last.startswith("--fuse-opts="):
        last = f"{last},uid={owner.uid},gid={owner.gid}"
    if last.startswith("--fuse-opts=") and "allow_" not in last:
        last = f"{last},allow_other"
    return [*args[:-1], last, mount_path, "/"]


def _fuse(inp: RenderInput, secrets: Sequence[SecretEnv]) -> dict[str, Any]:
    fuse = inp.spec.fuse
    host_dir = inp.ctx.fuse_mount_path
    mount_path = posixpath.join(host_dir, FUSE_DIR)
    tier_vols, tier_mounts = _tier_volumes(inp)
    env = _env({"MOUNT_POINT": mount_path, "FLUID_RUNTIME_TYPE": RUNTIME_TYPE,
                "FLUID_RUNTIME_NS": inp.runtime.namespace, "FLUID_RUNTIME_NAME": inp.runtime.name,
                **((fuse.env if fuse else None) or {})}, secrets,
               ("GOOSEFS_CLIENT_HOSTNAME", "status.hostIP"))
    container = _container(
        inp, name="goosefs-fuse",
        image=base.image_or_default(fuse.image if fuse else None, fuse.image_tag if fuse else None,
                                    inp.images.fuse),
        args=fuse_args(inp, mount_path), env=env, ports=[],
        resources=fuse.resources if fuse else None,
        mounts=[{"name": "goosefs-fuse-device", "mountPath": "/dev/fuse"},
                {"name": "goosefs-fuse-mount", "mountPath": host_dir,
                 "mountPropagation": "Bidirectional"}, *tier_mounts])
    container["securityContext"] = {**container.get("securityContext", {}), "privileged": True,
                                    "capabilities": {"add": ["SYS_ADMIN"]}}
    container["lifecycle"] = {"preStop": {"exec": {"command": ["umount", "-l", mount_path]}}}
    volumes = [{"name": "goosefs-fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
               {"name": "goosefs-fuse-mount", "hostPath": {"path": host_dir, "type": "DirectoryOrCreate"}},
               *tier_vols, *_users_volumes(inp, with_dir=False)]
    template = _pod(inp, "fuse", [container], volumes, inp.ctx.fuse_node_selector,
                    fuse.annotations if fuse else None, _init_fuse(inp, host_dir))
    name = f"{inp.runtime.name}-fuse"
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(inp, name, "goosefs-fuse"),
            "spec": {"updateStrategy": {"type": "OnDelete"},
                     "selector": {"matchLabels": inp.ctx.selector("fuse")}, "template": template}}


def _services(inp: RenderInput, ports: Mapping[str, int]) -> list[dict[str, Any]]:
    services = []
    for index in range(master_replicas(inp.spec)):
        pod = f"{inp.runtime.name}-master-{index}"
        service_ports = [{"name": "rpc", "port": ports["master-rpc"]},
                         {"name": "web", "port": ports["master-web"]},
                         {"name": "job-rpc", "port": ports["job-master-rpc"]},
                         {"name": "job-web", "port": ports["job-master-web"]}]
        if API_GATEWAY_PORT in ports:
            service_ports.append({"name": "rest", "port": ports[API_GATEWAY_PORT]})
        if "master-embedded" in ports:
            service_ports += [{"name": "embedded", "port": ports["master-embedded"]},
                              {"name": "job-embedded", "port": ports["job-master-embedded"]}]
        selector: dict[str, str] = {**inp.ctx.selector("master"),
                                    "statefulset.kubernetes.io/pod-name": pod}
        meta = _meta(inp, pod, "goosefs-master")
        if not inp.spec.disable_prometheus:
            meta["labels"]["monitor"] = METRICS_LABEL
        services.append({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                         "spec": {"clusterIP": "None", "ports": service_ports,
                                  "selector": selector}})
    return services


def render(inp: RenderInput) -> Rendered:
    """Every object of a GooseFSRuntime; raises RenderError on a user's mistake."""
    ports = ports_of(inp.spec, inp.ctx.ports)
    secrets = encrypt_envs(inp.dataset)
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": _meta(inp, f"{inp.runtime.name}{CONFIG_SUFFIX}", "goosefs-config"),
              "data": java_opts(inp, ports)}
    return Rendered(config=config, services=_services(inp, ports),
                    master=_master(inp, ports, secrets), worker=_worker(inp, ports, secrets),
                    fuse=_fuse(inp, secrets))
