"""The objects an AlluxioRuntime runs, rendered as raw dicts (no I/O, no Helm).

Owns the Alluxio layout: ConfigMap ``<name>-config`` (``alluxio-site.properties``, and
``ALLUXIO_JAVA_OPTS`` with the client's view of the masters for pods that take the
ConfigMap as environment), one headless Service ``<name>-master-<i>`` per master, the
master StatefulSet ``<name>-master`` (containers ``alluxio-master``,
``alluxio-job-master`` and, with ``apiGateway.enabled``, ``api-gateway``), the worker
StatefulSet ``<name>-worker`` (``alluxio-worker`` and ``alluxio-job-worker``) and the FUSE
DaemonSet ``<name>-fuse``. Decides Alluxio properties (ports, root UFS, journal, tiered
store, replication, short-circuit, Hadoop files), turns tiered-store levels into worker
volumes (and, for short-circuit reads, FUSE volumes) at the dataset's own directory
``<path>/<ns>/<name>`` under each tier path, never the bare path that other runtimes on
the node also use, and ``local://``/``pvc://`` mounts
into volumes under ``/underFSStorage``; raises the worker's memory request to the MEM
tier; mounts the ``volumes`` each component's ``volumeMounts`` name; runs every process
as ``runAs`` with upstream's init-users containers; FUSE options follow the Dataset's
access modes and owner.

Several masters (``master.replicas`` > 1) run the embedded journal: the headless Service
``<name>-master`` that governs the StatefulSet gives each master the name
``<pod>.<name>-master.<ns>.svc``, every master has its own name as
``alluxio.master.hostname`` and the list of all of them (with the embedded-journal port)
as ``alluxio.master.embedded.journal.addresses``; workers, FUSE and the CLI find the
primary from that list, so nothing names ``master-0`` as the master.

Secret values never reach this module: a root UFS's ``encryptOptions`` become
``FLUID_SECRET_*`` variables of the master container (``secretKeyRef``) that
``ALLUXIO_MASTER_JAVA_OPTS`` names as ``-D...root.option.<key>=$(FLUID_SECRET_*)``, which
the kubelet expands when it starts the container. Labels, ownerReferences, placement and
host ports come in through the ``RenderContext`` built by ``fluid.engines.base``; this
module only lays them out. Called by ``engine.py`` and unit-tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from fluid.api import constants as c
from fluid.api.alluxio import AlluxioCompTemplateSpec, AlluxioFuseSpec, AlluxioRuntimeSpec
from fluid.api.dataset import Dataset, DatasetSpec, Mount
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import Level
from fluid.engines import base

__all__ = [
    "API_GATEWAY_CONTAINER",
    "DEFAULT_IMAGE",
    "DEFAULT_PORTS",
    "HADOOP_DIR",
    "JOURNAL_DIR",
    "MASTER_CONTAINER",
    "PORT_PROPERTIES",
    "RenderInput",
    "RestoreSource",
    "Tier",
    "alluxio_size",
    "api_gateway_enabled",
    "api_gateway_endpoint",
    "check",
    "fuse_args",
    "host_network",
    "journal_addresses",
    "master_domain",
    "master_replicas",
    "port_names",
    "properties",
    "render",
    "resolved_ports",
    "restore_source",
    "root_ufs",
    "short_circuit",
    "tier_volumes",
    "tiers",
    "worker_resources",
]

Obj = dict[str, Any]

DEFAULT_IMAGE = "alluxio/alluxio-dev"
DEFAULT_TAG = "2.9.0"
MASTER_CONTAINER = "alluxio-master"
CONFIG_MOUNT = "/opt/alluxio/conf"
JOURNAL_DIR = "/journal"
JOURNAL_SIZE = "30Gi"
"""The masters' journal: an emptyDir of this size at ``alluxio.master.journal.folder``, as upstream."""
API_GATEWAY_CONTAINER = "api-gateway"
HADOOP_DIR = "/hdfs-config"
"""Where master and worker containers see the ``hadoopConfig`` files (upstream's path)."""
HADOOP_VOLUME = "hdfs-confs"
NO_ISTIO = {"sidecar.istio.io/inject": "false"}
"""On every pod template, as upstream's charts: an injected proxy would break host networking."""
LIBFUSE_VERSION = "alluxio.fuse.jnifuse.libfuse.version"

PORT_PROPERTIES: dict[str, str] = {
    "master-rpc": "alluxio.master.rpc.port",
    "master-web": "alluxio.master.web.port",
    "worker-rpc": "alluxio.worker.rpc.port",
    "worker-web": "alluxio.worker.web.port",
    "job-master-rpc": "alluxio.job.master.rpc.port",
    "job-master-web": "alluxio.job.master.web.port",
    "job-worker-rpc": "alluxio.job.worker.rpc.port",
    "job-worker-data": "alluxio.job.worker.data.port",
    "job-worker-web": "alluxio.job.worker.web.port",
    "master-embedded": "alluxio.master.embedded.journal.port",
    "job-master-embedded": "alluxio.job.master.embedded.journal.port",
    "proxy-web": "alluxio.proxy.web.port",
}
"""Allocator port name -> the Alluxio property that sets it."""

DEFAULT_PORTS: dict[str, int] = {
    "master-rpc": 19998, "master-web": 19999, "worker-rpc": 29999, "worker-web": 30000,
    "job-master-rpc": 20001, "job-master-web": 20002, "job-worker-rpc": 30001,
    "job-worker-data": 30002, "job-worker-web": 30003, "master-embedded": 19200,
    "job-master-embedded": 20003, "proxy-web": 39999,
}
"""Alluxio's own defaults, used in container-network mode."""

_COMPONENT_PORTS: dict[str, tuple[str, ...]] = {
    "master": ("master-rpc", "master-web", "job-master-rpc", "job-master-web"),
    "worker": ("worker-rpc", "worker-web", "job-worker-rpc", "job-worker-data", "job-worker-web"),
}
_SPEC_PORT_KEYS: dict[str, tuple[str, ...]] = {
    "master-rpc": ("master", "rpc"), "master-web": ("master", "web"),
    "worker-rpc": ("worker", "rpc"), "worker-web": ("worker", "web"),
    "job-master-rpc": ("jobMaster", "rpc"), "job-master-web": ("jobMaster", "web"),
    "job-worker-rpc": ("jobWorker", "rpc"), "job-worker-data": ("jobWorker", "data"),
    "job-worker-web": ("jobWorker", "web"), "master-embedded": ("master", "embeddedJournal"),
    "job-master-embedded": ("jobMaster", "embeddedJournal"),
    "proxy-web": ("apiGateway", "web", "rest"),  # upstream reads "web"; "rest" is its port's name
}
_MEDIUM_ORDER = {c.MediumType.MEM: 0, c.MediumType.SSD: 1, c.MediumType.HDD: 2}


# -- network and ports --------------------------------------------------------------------


def host_network(component: AlluxioCompTemplateSpec | None) -> bool:
    """Host network unless the component asks for ContainerNetwork (upstream's default)."""
    return component is None or component.network_mode != c.NetworkMode.CONTAINER_NETWORK


def master_replicas(spec: AlluxioRuntimeSpec) -> int:
    """``master.replicas``, 1 when unset; more than one means the embedded journal (HA)."""
    return (spec.master.replicas if spec.master and spec.master.replicas else None) or 1


def _ha(spec: AlluxioRuntimeSpec) -> bool:
    return master_replicas(spec) > 1


def master_domain(key: base.RuntimeKey) -> str:
    """The DNS domain of master pods: their governing headless Service."""
    return f"{key.name}-master.{key.namespace}.svc"


def journal_addresses(spec: AlluxioRuntimeSpec, *, key: base.RuntimeKey, port: int) -> str:
    """``alluxio.master.embedded.journal.addresses``: every master's name and ``port``."""
    domain = master_domain(key)
    return ",".join(f"{key.name}-master-{i}.{domain}:{port}" for i in range(master_replicas(spec)))


def _fixed_port(spec: AlluxioRuntimeSpec, name: str) -> int | None:
    """A port the user set in ``properties`` or ``<component>.ports``; never allocated."""
    value = (spec.properties or {}).get(PORT_PROPERTIES[name])
    if value and str(value).isdigit():
        return int(value)
    component, *keys = _SPEC_PORT_KEYS[name]
    ports = (comp.ports if (comp := _component(spec, component)) else None) or {}
    return next((ports[k] for k in keys if ports.get(k)), None)


def _component(spec: AlluxioRuntimeSpec, name: str) -> AlluxioCompTemplateSpec | None:
    return {
        "master": spec.master, "worker": spec.worker, "jobMaster": spec.job_master,
        "jobWorker": spec.job_worker, "apiGateway": spec.api_gateway,
    }[name]


def _wanted_ports(spec: AlluxioRuntimeSpec) -> list[str]:
    names: list[str] = []
    if host_network(spec.master):
        names += _COMPONENT_PORTS["master"]
        if _ha(spec):
            names += ["master-embedded", "job-master-embedded"]
        if api_gateway_enabled(spec):
            names.append("proxy-web")
    if host_network(spec.worker):
        names += _COMPONENT_PORTS["worker"]
    return names


def api_gateway_enabled(spec: AlluxioRuntimeSpec) -> bool:
    return bool(spec.api_gateway and spec.api_gateway.enabled)


def api_gateway_endpoint(spec: AlluxioRuntimeSpec, *, key: base.RuntimeKey,
                         allocated: Mapping[str, int]) -> str:
    """``status.apiGateway.endpoint``: master-0 and the gateway's port."""
    return base.api_gateway_endpoint(key, resolved_ports(spec, allocated)["proxy-web"])


def port_names(spec: AlluxioRuntimeSpec) -> list[str]:
    """Host ports to allocate: host-network components' ports the user did not fix."""
    return [n for n in _wanted_ports(spec) if _fixed_port(spec, n) is None]


def resolved_ports(spec: AlluxioRuntimeSpec, allocated: Mapping[str, int]) -> dict[str, int]:
    """Every port by name: the user's, else allocated, else Alluxio's default."""
    return {
        name: _fixed_port(spec, name) or allocated.get(name) or default
        for name, default in DEFAULT_PORTS.items()
    }


# -- tiered store -----------------------------------------------------------------------------


@attrs.frozen
class Tier:
    """One tiered-store level with the user's paths (``roots``) and per-path quota in bytes.

    The cache lives in each root's per-dataset directory (``dirs``), never in the root
    itself: two runtimes on one node would otherwise share, and corrupt, their blocks.
    """

    alias: str
    roots: tuple[str, ...]
    quotas: tuple[int, ...]
    volume_type: str
    high: str | None
    low: str | None
    volume_source: Obj | None = None

    def dirs(self, key: base.RuntimeKey) -> tuple[str, ...]:
        """``<root>/<ns>/<name>`` for every root: this dataset's cache directories."""
        return tuple(key.cache_dir(root) for root in self.roots)


def _split_quota(level: Level, count: int) -> tuple[int, ...]:
    if level.quota_list:
        quotas = [int(parse_quantity(q)) for q in level.quota_list.split(",") if q.strip()]
        return tuple(quotas[:count]) + (quotas[-1],) * max(count - len(quotas), 0)
    total = int(parse_quantity(level.quota)) if level.quota is not None else 0
    return (total // count,) * count


def tiers(spec: AlluxioRuntimeSpec) -> list[Tier]:
    """Levels in tier order (MEM, SSD, HDD), paths split, quota split equally over paths."""
    levels = sorted((spec.tieredstore.levels if spec.tieredstore else None) or [],
                    key=lambda lv: _MEDIUM_ORDER[lv.mediumtype])
    result = []
    for level in levels:
        paths = tuple(p.strip() for p in (level.path or "/dev/shm").split(",") if p.strip())
        result.append(Tier(
            alias=level.mediumtype.value, roots=paths, quotas=_split_quota(level, len(paths)),
            volume_type=(level.volume_type or c.VolumeType.HOST_PATH).value,
            high=level.high, low=level.low, volume_source=level.volume_source,
        ))
    return result


def alluxio_size(size: int) -> str:
    """Bytes in Alluxio's units (binary, spelt KB/MB/GB/TB): ``2Gi`` -> ``2GB``."""
    for unit, factor in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    if size >= 2**20:
        return f"{Decimal(size) / 2**20:.0f}MB"
    return f"{size}B"


def _tier_properties(spec: AlluxioRuntimeSpec, key: base.RuntimeKey) -> dict[str, str]:
    levels = tiers(spec)
    props = {"alluxio.worker.tieredstore.levels": str(len(levels))}
    for i, tier in enumerate(levels):
        prefix = f"alluxio.worker.tieredstore.level{i}"
        props[f"{prefix}.alias"] = tier.alias
        props[f"{prefix}.dirs.path"] = ",".join(tier.dirs(key))
        props[f"{prefix}.dirs.quota"] = ",".join(alluxio_size(q) for q in tier.quotas)
        props[f"{prefix}.dirs.mediumtype"] = ",".join(tier.alias for _ in tier.roots)
        if tier.high:
            props[f"{prefix}.watermark.high.ratio"] = tier.high
        if tier.low:
            props[f"{prefix}.watermark.low.ratio"] = tier.low
    return props


def short_circuit(spec: AlluxioRuntimeSpec) -> bool:
    """Short-circuit reads (FUSE reading the worker's tier files itself) unless any level
    is an emptyDir, which FUSE pods cannot see (upstream's rule)."""
    return all(t.volume_type != c.VolumeType.EMPTY_DIR for t in tiers(spec))


def tier_volumes(spec: AlluxioRuntimeSpec, *, key: base.RuntimeKey,
                 host_only: bool = False) -> tuple[list[Obj], list[Obj]]:
    """Volumes and volumeMounts for every tier path (hostPath or emptyDir), both at the
    dataset's own directory ``<path>/<ns>/<name>`` (on the host, and in the container where
    the properties point); ``host_only`` keeps the hostPath ones (what FUSE mounts for
    short-circuit reads)."""
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    for i, tier in enumerate(tiers(spec)):
        for j, (path, quota) in enumerate(zip(tier.dirs(key), tier.quotas, strict=True)):
            name = f"tier-{i}-{j}"
            if tier.volume_type == c.VolumeType.EMPTY_DIR:
                if host_only:
                    continue
                source = dict(tier.volume_source or {}).get("emptyDir") or {}
                if not source:
                    source = {"medium": "Memory"} if tier.alias == "MEM" else {}
                    source["sizeLimit"] = str(quota)
                volumes.append({"name": name, "emptyDir": source})
            else:
                volumes.append({"name": name,
                                "hostPath": {"path": path, "type": "DirectoryOrCreate"}})
            mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def _quantity(size: int) -> str:
    """Bytes as a Kubernetes quantity in the largest binary unit that divides them."""
    for unit, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def worker_resources(spec: AlluxioRuntimeSpec) -> Obj | None:
    """The worker container's resources with its memory request raised to the MEM tier's
    quota, which lives in the worker's memory (upstream's rule); a memory limit below the
    quota can never hold the tier and is the user's mistake."""
    resources: Obj = dict((spec.worker.resources if spec.worker else None) or {})
    memory = sum(q for t in tiers(spec) if t.alias == c.MediumType.MEM for q in t.quotas)
    if not memory:
        return resources or None
    limit = (resources.get("limits") or {}).get("memory")
    if limit is not None and 0 < parse_quantity(limit) < memory:
        raise base.ValidationFailed(
            f"spec.worker.resources.limits.memory: the memory tieredStore's size "
            f"{_quantity(memory)} is greater than worker limits memory {limit}")
    requests = dict(resources.get("requests") or {})
    current = requests.get("memory")
    if current is None or parse_quantity(current) < memory:
        requests["memory"] = _quantity(memory)
    return {**resources, "requests": requests}


# -- what render() gets ----------------------------------------------------------------------


RESTORE_DIR = "/fluid-restore"
"""Where the master sees a Dataset's ``dataRestoreLocation``."""


@attrs.frozen
class RestoreSource:
    """A DataBackup to start from instead of scanning the UFS (``dataRestoreLocation``)."""

    volume: Obj
    node_name: str | None
    metadata_file: str
    info_file: str


def restore_source(dataset_spec: Mapping[str, Any], *, name: str, namespace: str) -> RestoreSource | None:
    """The backup a Dataset asks to be restored from: ``pvc://<claim>/<subpath>`` or
    ``local://<host dir>`` (then on ``nodeName``, where the backup was written)."""
    location = dataset_spec.get("dataRestoreLocation") or {}
    path = str(location.get("path") or "")
    directory = RESTORE_DIR
    if path.startswith("pvc://"):
        claim, _, subpath = path.removeprefix("pvc://").partition("/")
        volume: Obj = {"name": "fluid-restore",
                       "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
        directory = f"{RESTORE_DIR}/{subpath.strip('/')}".rstrip("/")
    elif path.startswith("local://"):
        volume = {"name": "fluid-restore",
                  "hostPath": {"path": path.removeprefix("local://"), "type": "Directory"}}
    else:
        return None
    return RestoreSource(
        volume=volume, node_name=location.get("nodeName") or None,
        metadata_file=f"{directory}/" + c.BACKUP_METADATA_FILE.format(name=name, namespace=namespace),
        info_file=f"{directory}/" + c.BACKUP_INFO_FILE.format(name=name, namespace=namespace),
    )


@attrs.frozen(kw_only=True)
class RenderInput:
    """The runtime spec, its Dataset, and what the shared lifecycle and the engine decided."""

    spec: AlluxioRuntimeSpec
    ctx: base.RenderContext
    dataset: Dataset
    fluid_path: str
    """The FUSE mount point on the host (``<fuse_mount_path>/alluxio-fuse``)."""
    restore: RestoreSource | None = None
    hadoop: base.HadoopConfig | None = None
    """What the engine found in ``spec.hadoopConfig`` (required when that is set)."""
    fuse_host_pid: bool = False
    """``runtime.fluid.io/fuse.hostpid``: FUSE pods share the node's PID namespace."""

    @property
    def dataset_spec(self) -> DatasetSpec:
        return self.dataset.spec or DatasetSpec()

    @property
    def users(self) -> base.InitUsers | None:
        """``runAs`` and the init-users image (the operator's default already in ``spec``)."""
        return base.init_users(key=self.ctx.key, run_as=self.spec.run_as,
                               spec=self.spec.init_users, default_image=base.DEFAULT_INIT_IMAGE,
                               pull_policy="IfNotPresent")


# -- properties ------------------------------------------------------------------------------


def root_ufs(mounts: Sequence[Mapping[str, Any]]) -> tuple[str, Mapping[str, Any] | None]:
    """Alluxio's root UFS: a lone non-native mount at ``/`` is the root; else /underFSStorage."""
    if len(mounts) == 1:
        only = mounts[0]
        if not base.is_native(only) and base.mount_path_in_namespace(only) == "/":
            return str(only["mountPoint"]), only
    return base.UFS_ROOT, None


def _root_mount(spec: DatasetSpec | None) -> Mount | None:
    """The Dataset's mount that is the root UFS (``root_ufs``'s rule), if any."""
    mounts = (spec.mounts if spec else None) or []
    raw = [{"mountPoint": m.mount_point, "name": m.name, "path": m.path} for m in mounts]
    return mounts[0] if root_ufs(raw)[1] is not None else None


def _root_secrets(dataset: Dataset) -> list[base.SecretEnv]:
    """The root UFS's Secret-backed options (shared ones, then its own); none without one."""
    return base.mount_secrets(dataset, 0) if _root_mount(dataset.spec) else []


def _root_options(inp: RenderInput, mount: Mount) -> dict[str, str]:
    """``…root.option.<k>`` for sharedOptions and the mount's options; keys that an
    encryptOption sets are left to the master's JVM options (their values are Secrets)."""
    secret = {s.option for s in _root_secrets(inp.dataset)}
    options = {**(inp.dataset_spec.shared_options or {}), **(mount.options or {})}
    props = {f"alluxio.master.mount.table.root.option.{k}": str(v)
             for k, v in sorted(options.items()) if k not in secret}
    if mount.read_only:
        props["alluxio.master.mount.table.root.readonly"] = "true"
    return props


def properties(inp: RenderInput) -> dict[str, str]:
    """``alluxio-site.properties``: Fluid's decisions, then the user's ``properties`` on top."""
    spec = inp.spec
    ports = resolved_ports(spec, inp.ctx.ports)
    root_mount = _root_mount(inp.dataset_spec)
    props: dict[str, str] = {
        "alluxio.master.mount.table.root.ufs": root_mount.mount_point if root_mount else base.UFS_ROOT,
        "alluxio.master.journal.type": "EMBEDDED" if _ha(spec) else "UFS",
        "alluxio.master.journal.folder": JOURNAL_DIR,
        "alluxio.security.stale.channel.purge.interval": "365d",
        "alluxio.user.metrics.collection.enabled": "true",
        "alluxio.fuse.cached.paths.max": "1000000",
    }
    if _ha(spec):
        props["alluxio.master.embedded.journal.addresses"] = journal_addresses(
            spec, key=inp.ctx.key, port=ports["master-embedded"])
    else:
        props["alluxio.master.hostname"] = f"{inp.ctx.key.name}-master-0"
    if root_mount is not None:
        props.update(_root_options(inp, root_mount))
    for port_name, prop in PORT_PROPERTIES.items():
        if port_name != "proxy-web" or api_gateway_enabled(spec):
            props[prop] = str(ports[port_name])
    if spec.data and spec.data.replicas:
        props["alluxio.user.file.replication.max"] = str(max(spec.data.replicas, 1))
    props.update(_tier_properties(spec, inp.ctx.key))
    props.update(_following_properties(inp))
    props.update({k: str(v) for k, v in (spec.properties or {}).items()})
    return props


def _following_properties(inp: RenderInput) -> dict[str, str]:
    """What follows other choices: short-circuit off with an emptyDir tier, the Hadoop
    files, and user/group translation by FUSE when no owner's ids are in its options."""
    props: dict[str, str] = {}
    if not short_circuit(inp.spec):
        props["alluxio.user.short.circuit.enabled"] = "false"
    if inp.hadoop is not None:
        props["alluxio.underfs.hdfs.configuration"] = ":".join(
            f"{HADOOP_DIR}/{f}" for f in inp.hadoop.files)
    if not _owner_opts(inp):
        props["alluxio.fuse.user.group.translation.enabled"] = "true"
    return props


def _properties_file(props: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in sorted(props.items()))


# -- containers -------------------------------------------------------------------------------


def _image(spec: AlluxioRuntimeSpec) -> tuple[str, str]:
    version = spec.alluxio_version
    image = (version.image if version else None) or DEFAULT_IMAGE
    tag = (version.image_tag if version else None) or DEFAULT_TAG
    return f"{image}:{tag}", (version.image_pull_policy if version else None) or "IfNotPresent"


def _fuse_image(spec: AlluxioRuntimeSpec) -> tuple[str, str]:
    main, policy = _image(spec)
    fuse = spec.fuse
    if fuse and fuse.image:
        return f"{fuse.image}:{fuse.image_tag or DEFAULT_TAG}", fuse.image_pull_policy or policy
    return main, policy


def _env(*maps: Mapping[str, str] | None) -> list[Obj]:
    merged: dict[str, str] = {}
    for m in maps:
        merged.update(m or {})
    return [{"name": k, "value": str(v)} for k, v in sorted(merged.items())]


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _process_env(first: Sequence[Obj], *maps: Mapping[str, str] | None) -> list[Obj]:
    """``first`` (variables that ``$(VAR)`` in later values use: Kubernetes expands only
    variables listed before), then ``maps`` merged and sorted; a name set in ``maps``
    replaces the one in ``first``."""
    later = {k for m in maps for k in (m or {})}
    return [*(e for e in first if e["name"] not in later), *_env(*maps)]


def _java_opts(component: AlluxioCompTemplateSpec | AlluxioFuseSpec | None,
               global_opts: Sequence[str], *, own: Sequence[str] = ()) -> str:
    """``own`` (hostnames, Secret references), the runtime's and the component's JVM
    options, then the component's ``properties`` as ``-D``."""
    opts = [*own, *global_opts, *((component.jvm_options if component else None) or [])]
    opts += [f"-D{k}={v}" for k, v in sorted(((component.properties if component else None)
                                              or {}).items())]
    return " ".join(opts)


def _container(
    inp: RenderInput, *, name: str, image: tuple[str, str], args: list[str],
    ports: Mapping[str, int], env: list[Obj], mounts: list[Obj], resources: Obj | None,
) -> Obj:
    """An Alluxio process; with ``runAs`` it runs as that user and sees its passwd/group."""
    container: Obj = {
        "name": name, "image": image[0], "imagePullPolicy": image[1], "args": args,
        "ports": [{"name": n[-15:], "containerPort": p, "protocol": "TCP"}
                  for n, p in ports.items()],
        "env": env,
        "volumeMounts": mounts,
    }
    if resources:
        container["resources"] = resources
    users = inp.users
    if users is not None:
        container["securityContext"] = users.security_context
        container["volumeMounts"] = [*mounts, *users.passwd_mounts()]
    return container


def _user_mounts(*components: AlluxioCompTemplateSpec | AlluxioFuseSpec | None) -> list[Obj]:
    """The components' ``volumeMounts`` (a job process also gets its main process's)."""
    found: dict[str, Obj] = {}
    for comp in components:
        for mount in (comp.volume_mounts if comp else None) or []:
            found.setdefault(str(mount.get("mountPath")), dict(mount))
    return list(found.values())


def _hadoop_mount(inp: RenderInput) -> tuple[list[Obj], list[Obj]]:
    """The ``hadoopConfig`` files found in the ConfigMap, under ``/hdfs-config``."""
    return base.hadoop_config_mount(inp.spec.hadoop_config, inp.hadoop, volume=HADOOP_VOLUME,
                                    directory=HADOOP_DIR)


# -- pods -------------------------------------------------------------------------------------


def _pod_spec(
    inp: RenderInput, *, host: bool, containers: list[Obj], volumes: list[Obj],
    node_selector: Mapping[str, str] | None, pull_secrets: Sequence[Any] | None,
    init_containers: Sequence[Obj] = (),
) -> Obj:
    """The pod; ``volumes`` plus the ``spec.volumes`` its containers' mounts name."""
    mounted = [m for x in containers for m in x["volumeMounts"]]
    named = {v["name"] for v in volumes}
    wanted = [m for m in mounted if m["name"] not in named]
    pod: Obj = {
        "hostNetwork": host,
        "dnsPolicy": "ClusterFirstWithHostNet" if host else "ClusterFirst",
        "containers": containers,
        "volumes": [*volumes, *base.user_volumes(inp.spec.volumes, wanted)],
        "tolerations": inp.ctx.tolerations,
        "enableServiceLinks": False,
    }
    if init_containers:
        pod["initContainers"] = list(init_containers)
    if node_selector:
        pod["nodeSelector"] = dict(node_selector)
    if pull_secrets:
        pod["imagePullSecrets"] = [{"name": s.name} for s in pull_secrets if s.name]
    return pod


def _pod_metadata(
    ctx: base.RenderContext, component: str, extra: Any,
) -> Obj:
    labels = ctx.pod_labels(component)
    annotations: dict[str, str] = {}
    for meta in extra:
        if meta is not None:
            labels = {**(meta.labels or {}), **labels}
            annotations.update(meta.annotations or {})
    return {"labels": {**labels, **NO_ISTIO}, "annotations": {**annotations, **NO_ISTIO}}


def _config_volume(name: str) -> tuple[Obj, Obj]:
    return ({"name": "alluxio-conf", "configMap": {"name": f"{name}-config"}},
            {"name": "alluxio-conf", "mountPath": CONFIG_MOUNT})


def _statefulset(
    *, name: str, ctx: base.RenderContext, component: str, replicas: int, pod_meta: Obj,
    pod_spec: Obj,
) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ctx.key.namespace},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": ctx.selector(component)},
            "template": {"metadata": pod_meta, "spec": pod_spec},
        },
    }


_POD_NAME_ENV = "FLUID_POD_NAME"


def _client_env(spec: AlluxioRuntimeSpec, name: str) -> dict[str, str]:
    """Workers, FUSE and the gateway: the single master's name; with several, none (the
    journal list)."""
    return {} if _ha(spec) else {"ALLUXIO_MASTER_HOSTNAME": f"{name}-master-0"}


def _master_env(
    inp: RenderInput, *, component: AlluxioCompTemplateSpec | None, java_opts: Mapping[str, str],
    secrets: Sequence[base.SecretEnv] = (),
) -> list[Obj]:
    """A master container's environment: its own name as ``ALLUXIO_MASTER_HOSTNAME``
    (Alluxio's scripts make it ``-Dalluxio.master.hostname``), Secret-backed variables, the
    user's env, its JVM options.

    With several masters each one's name is ``<pod>.<name>-master.<ns>.svc``, exactly as it
    appears in the journal addresses, from the pod's own name.
    """
    own = (f"$({_POD_NAME_ENV}).{master_domain(inp.ctx.key)}" if _ha(inp.spec)
           else f"{inp.ctx.key.name}-master-0")
    first = [_field_env(_POD_NAME_ENV, "metadata.name")] if _ha(inp.spec) else []
    first += [{"name": "ALLUXIO_MASTER_HOSTNAME", "value": own}, *(s.to_env() for s in secrets)]
    return _process_env(first, (component.env if component else None), java_opts)


def _master_ports(spec: AlluxioRuntimeSpec, ports: Mapping[str, int], *, job: bool) -> dict[str, int]:
    prefix = "job-master" if job else "master"
    result = {f"{prefix}-rpc": ports[f"{prefix}-rpc"], f"{prefix}-web": ports[f"{prefix}-web"]}
    if _ha(spec):
        result["job-embedded" if job else "embedded"] = ports[f"{prefix}-embedded"]
    return result


def _master(inp: RenderInput) -> Obj:
    spec, name, restore = inp.spec, inp.ctx.key.name, inp.restore
    image = _image(spec)
    conf_volume, conf_mount = _config_volume(name)
    hadoop_volumes, hadoop_mounts = _hadoop_mount(inp)
    mounts = [conf_mount, *(u.volume_mount for u in inp.ctx.ufs), *hadoop_mounts]
    volumes: list[Obj] = [conf_volume, *(u.volume for u in inp.ctx.ufs), *hadoop_volumes,
                          {"name": "alluxio-journal", "emptyDir": {"sizeLimit": JOURNAL_SIZE}}]
    own_mounts = [*mounts, {"name": "alluxio-journal", "mountPath": JOURNAL_DIR}]
    if restore is not None:
        own_mounts.append({"name": "fluid-restore", "mountPath": RESTORE_DIR, "readOnly": True})
        volumes.append(restore.volume)
    secrets = _root_secrets(inp.dataset)
    root_opts = [f"-Dalluxio.master.mount.table.root.option.{s.option}=$({s.env_name})"
                 for s in secrets]
    master = _container(
        inp, name=MASTER_CONTAINER, image=image, args=["master-only", "--no-format"],
        ports=_master_ports(spec, resolved_ports(spec, inp.ctx.ports), job=False),
        env=_master_env(inp, component=spec.master, secrets=secrets, java_opts={
            "ALLUXIO_MASTER_JAVA_OPTS": _java_opts(spec.master, spec.jvm_options or [],
                                                   own=root_opts)}),
        mounts=[*own_mounts, *_user_mounts(spec.master)],
        resources=spec.master.resources if spec.master else None,
    )
    job_master = _container(
        inp, name="alluxio-job-master", image=image, args=["job-master"],
        ports=_master_ports(spec, resolved_ports(spec, inp.ctx.ports), job=True),
        env=_master_env(inp, component=spec.job_master, java_opts={
            "ALLUXIO_JOB_MASTER_JAVA_OPTS": _java_opts(spec.job_master, spec.jvm_options or [])}),
        mounts=[*mounts, *_user_mounts(spec.master, spec.job_master)],
        resources=spec.job_master.resources if spec.job_master else None,
    )
    users = inp.users
    pod = _pod_spec(
        inp, host=host_network(spec.master),
        containers=[master, job_master, *_api_gateway(inp, mounts)],
        volumes=[*volumes, *(users.volumes(with_dir=True) if users else [])],
        node_selector=_master_node_selector(spec, restore),
        pull_secrets=spec.image_pull_secrets,
        init_containers=[users.init_users()] if users else [],
    )
    affinity = _master_affinity(inp)
    if affinity:
        pod["affinity"] = affinity
    meta = _pod_metadata(inp.ctx, "master", [spec.pod_metadata,
                                             spec.master.pod_metadata if spec.master else None])
    return _statefulset(name=f"{name}-master", ctx=inp.ctx, component="master",
                        replicas=master_replicas(spec), pod_meta=meta, pod_spec=pod)


def _api_gateway(inp: RenderInput, mounts: list[Obj]) -> list[Obj]:
    """Alluxio's REST proxy next to the masters (``apiGateway.enabled``), port ``rest``."""
    spec = inp.spec
    gateway = spec.api_gateway
    if gateway is None or not gateway.enabled:
        return []
    port = resolved_ports(spec, inp.ctx.ports)["proxy-web"]
    return [_container(
        inp, name=API_GATEWAY_CONTAINER, image=_image(spec), args=["proxy"],
        ports={"rest": port},
        env=_env(_client_env(spec, inp.ctx.key.name), gateway.env, {
            "ALLUXIO_PROXY_JAVA_OPTS": _java_opts(gateway, spec.jvm_options or [])}),
        mounts=[*mounts, *_user_mounts(gateway)], resources=gateway.resources,
    )]


def _master_node_selector(
    spec: AlluxioRuntimeSpec, restore: RestoreSource | None
) -> Mapping[str, str] | None:
    selector = dict(spec.master.node_selector or {}) if spec.master else {}
    if restore is not None and restore.node_name and "hostPath" in restore.volume:
        selector["kubernetes.io/hostname"] = restore.node_name  # a local backup lives there
    return selector or None


def _master_affinity(inp: RenderInput) -> Obj | None:
    """With ``local://`` mounts the masters read host directories too: they go where the
    Dataset's ``nodeAffinity`` lets the cache go (upstream's rule)."""
    mounts = inp.dataset_spec.mounts or []
    required = (inp.dataset_spec.node_affinity.required
                if inp.dataset_spec.node_affinity else None)
    if not required or not any(m.mount_point.startswith("local://") for m in mounts):
        return None
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": dict(required)}}


def _headless_service(
    ctx: base.RenderContext, *, name: str, selector: Mapping[str, str], ports: Mapping[str, int],
) -> Obj:
    """A headless Service; not-ready masters resolve too, for journal peers finding each other."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ctx.key.namespace},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": dict(selector),
            "ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports.items()],
        },
    }


def _master_services(spec: AlluxioRuntimeSpec, ctx: base.RenderContext) -> list[Obj]:
    """``<name>-master-<i>`` per master (upstream's names; the HCFS endpoint and the API
    gateway's use master-0), and with several masters ``<name>-master``, the StatefulSet's
    governing Service."""
    resolved = resolved_ports(spec, ctx.ports)
    names = ["master-rpc", "master-web", "job-master-rpc", "job-master-web"]
    if _ha(spec):
        names += ["master-embedded", "job-master-embedded"]
    ports = {n: resolved[n] for n in names}
    if api_gateway_enabled(spec):
        ports["rest"] = resolved["proxy-web"]  # upstream's status reads the port named rest
    services = [
        _headless_service(ctx, name=f"{ctx.key.name}-master-{i}", ports=ports, selector={
            **ctx.selector("master"), "statefulset.kubernetes.io/pod-name": f"{ctx.key.name}-master-{i}"})
        for i in range(master_replicas(spec))
    ]
    if _ha(spec):
        services.append(_headless_service(ctx, name=f"{ctx.key.name}-master",
                                          selector=ctx.selector("master"), ports=ports))
    return services


def _worker_env(spec: AlluxioRuntimeSpec, name: str, *, job: bool) -> list[Obj]:
    """The node's address as ``ALLUXIO_WORKER_HOSTNAME`` (and, off the host network, the
    pod's as ``ALLUXIO_WORKER_CONTAINER_HOSTNAME``), named in the JVM options as upstream."""
    first = [_field_env("ALLUXIO_WORKER_HOSTNAME", "status.hostIP")]
    own = ["-Dalluxio.worker.hostname=$(ALLUXIO_WORKER_HOSTNAME)"]
    if not job and not host_network(spec.worker):
        first.append(_field_env("ALLUXIO_WORKER_CONTAINER_HOSTNAME", "status.podIP"))
        own.append("-Dalluxio.worker.container.hostname=$(ALLUXIO_WORKER_CONTAINER_HOSTNAME)")
    component = spec.job_worker if job else spec.worker
    variable = "ALLUXIO_JOB_WORKER_JAVA_OPTS" if job else "ALLUXIO_WORKER_JAVA_OPTS"
    return _process_env(first, _client_env(spec, name), component.env if component else None,
                        {variable: _java_opts(component, spec.jvm_options or [], own=own)})


def _worker(inp: RenderInput) -> Obj:
    spec, name = inp.spec, inp.ctx.key.name
    image = _image(spec)
    ports = resolved_ports(spec, inp.ctx.ports)
    conf_volume, conf_mount = _config_volume(name)
    tier_vols, tier_mounts = tier_volumes(spec, key=inp.ctx.key)
    hadoop_volumes, hadoop_mounts = _hadoop_mount(inp)
    mounts = [conf_mount, *tier_mounts, *(u.volume_mount for u in inp.ctx.ufs), *hadoop_mounts]
    worker = _container(
        inp, name="alluxio-worker", image=image, args=["worker-only", "--no-format"],
        ports={k: ports[k] for k in ("worker-rpc", "worker-web")},
        env=_worker_env(spec, name, job=False),
        mounts=[*mounts, *_user_mounts(spec.worker)], resources=worker_resources(spec),
    )
    job_worker = _container(
        inp, name="alluxio-job-worker", image=image, args=["job-worker"],
        ports={k: ports[k] for k in ("job-worker-rpc", "job-worker-data", "job-worker-web")},
        env=_worker_env(spec, name, job=True),
        mounts=[*mounts, *_user_mounts(spec.worker, spec.job_worker)],
        resources=spec.job_worker.resources if spec.job_worker else None,
    )
    users = inp.users
    pod = _pod_spec(
        inp, host=host_network(spec.worker), containers=[worker, job_worker],
        volumes=[conf_volume, *tier_vols, *(u.volume for u in inp.ctx.ufs), *hadoop_volumes,
                 *(users.volumes(with_dir=True) if users else [])],
        node_selector=spec.worker.node_selector if spec.worker else None,
        pull_secrets=spec.image_pull_secrets,
        init_containers=[users.init_users(tier_mounts)] if users else [],
    )
    pod["affinity"] = inp.ctx.worker_affinity
    meta = _pod_metadata(inp.ctx, "worker", [spec.pod_metadata,
                                             spec.worker.pod_metadata if spec.worker else None])
    return _statefulset(name=f"{name}-worker", ctx=inp.ctx, component="worker",
                        replicas=inp.ctx.replicas, pod_meta=meta, pod_spec=pod)


_FUSE_OPTS = {  # (read-only, libfuse 3) -> upstream's default FUSE options
    (True, False): "kernel_cache,ro,max_read=131072,attr_timeout=7200,entry_timeout=7200,nonempty",
    (False, False): "kernel_cache,rw,max_read=131072",
    (True, True): "kernel_cache,ro,attr_timeout=7200,entry_timeout=7200",
    (False, True): "kernel_cache,rw",
}


def _owner_opts(inp: RenderInput) -> str:
    """``uid=,gid=`` of the Dataset's owner when the FUSE arguments carry options."""
    owner = inp.dataset_spec.owner
    fuse = inp.spec.fuse
    if owner is None or (fuse is not None and fuse.args and len(fuse.args) < 2):
        return ""
    return f"uid={owner.uid},gid={owner.gid}"


def fuse_args(inp: RenderInput) -> list[str]:
    """``fuse --fuse-opts=… <mount point> /``: read-only when the Dataset's access modes
    include ReadOnlyMany (the default), read-write otherwise; libfuse 2 options unless the
    properties choose libfuse 3 (Alluxio's own default is 2); the owner's ids and
    ``allow_other`` added to the options, as upstream does also to the user's ``args``."""
    spec, fuse = inp.spec, inp.spec.fuse
    args = list((fuse.args if fuse else None) or [])
    if not args:
        read_only = "ReadOnlyMany" in (inp.dataset_spec.access_modes or ["ReadOnlyMany"])
        props = {**(spec.properties or {}), **((fuse.properties if fuse else None) or {})}
        args = ["fuse", "--fuse-opts=" + _FUSE_OPTS[read_only, props.get(LIBFUSE_VERSION) == "3"]]
    if len(args) > 1:
        owner = _owner_opts(inp)
        args[1] += f",{owner}" if owner else ""
        args[1] += "" if "allow_" in args[1] else ",allow_other"
    return [*args, inp.fluid_path, "/"]


def _fuse_env(inp: RenderInput) -> list[Obj]:
    """The node's address as ``ALLUXIO_CLIENT_HOSTNAME``, the client's hostname in the JVM
    options (upstream's), the master's name and the FUSE JVM options."""
    spec, fuse = inp.spec, inp.spec.fuse
    own = ["-Dalluxio.user.hostname=$(ALLUXIO_CLIENT_HOSTNAME)"]
    return _process_env([_field_env("ALLUXIO_CLIENT_HOSTNAME", "status.hostIP")],
                        _client_env(spec, inp.ctx.key.name), fuse.env if fuse else None,
                        {"ALLUXIO_FUSE_JAVA_OPTS": _java_opts(fuse, spec.jvm_options or [],
                                                              own=own)})


def _fuse(inp: RenderInput) -> Obj:
    spec, name, fuse = inp.spec, inp.ctx.key.name, inp.spec.fuse
    conf_volume, conf_mount = _config_volume(name)
    tier_vols, tier_mounts = (tier_volumes(spec, key=inp.ctx.key, host_only=True)
                              if short_circuit(spec) else ([], []))
    container = _container(
        inp, name="alluxio-fuse", image=_fuse_image(spec), args=fuse_args(inp), ports={},
        env=_fuse_env(inp),
        mounts=[conf_mount, {"name": "fuse-device", "mountPath": "/dev/fuse"},
                {"name": "fuse-mount", "mountPath": inp.ctx.fuse_mount_path,
                 "mountPropagation": "Bidirectional"}, *tier_mounts, *_user_mounts(fuse)],
        resources=fuse.resources if fuse else None,
    )
    container["securityContext"] = {**container.get("securityContext", {}), "privileged": True,
                                    "capabilities": {"add": ["SYS_ADMIN"]}}
    container["lifecycle"] = {"preStop": {"exec": {"command": [
        "/opt/alluxio/integration/fuse/bin/alluxio-fuse", "unmount", inp.fluid_path]}}}
    host = fuse is None or fuse.network_mode != c.NetworkMode.CONTAINER_NETWORK
    users = inp.users
    pod = _pod_spec(
        inp, host=host, containers=[container],
        volumes=[conf_volume,
                 {"name": "fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
                 {"name": "fuse-mount", "hostPath": {"path": inp.ctx.fuse_mount_path,
                                                     "type": "DirectoryOrCreate"}},
                 *tier_vols, *(users.volumes(with_dir=False) if users else [])],
        node_selector=inp.ctx.fuse_node_selector,
        pull_secrets=(fuse.image_pull_secrets if fuse else None) or spec.image_pull_secrets,
        init_containers=[users.init_fuse(host_dir=inp.ctx.fuse_mount_path, volume="fuse-mount")]
        if users else [],
    )
    if inp.fuse_host_pid:
        pod["hostPID"] = True
    meta = _pod_metadata(inp.ctx, "fuse", [spec.pod_metadata, fuse.pod_metadata if fuse else None])
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": f"{name}-fuse", "namespace": inp.ctx.key.namespace},
        "spec": {
            "selector": {"matchLabels": inp.ctx.selector("fuse")},
            "updateStrategy": {"type": "OnDelete"},
            "template": {"metadata": meta, "spec": pod},
        },
    }


_CLIENT_PROPERTIES = ("alluxio.master.hostname", "alluxio.master.embedded.journal.addresses",
                      *PORT_PROPERTIES.values())
"""What a client outside the runtime's pods needs to find the (primary) master."""


def _client_java_opts(props: Mapping[str, str], ctx: base.RenderContext) -> str:
    """``ALLUXIO_JAVA_OPTS`` for pods that take the ConfigMap as environment (DataLoad)."""
    client = {k: props[k] for k in _CLIENT_PROPERTIES if k in props}
    if client.get("alluxio.master.hostname") == f"{ctx.key.name}-master-0":
        client["alluxio.master.hostname"] += f".{ctx.key.namespace}"
    return " ".join(f"-D{k}={v}" for k, v in sorted(client.items()))


def _config(props: Mapping[str, str], ctx: base.RenderContext) -> Obj:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{ctx.key.name}-config", "namespace": ctx.key.namespace},
        "data": {"alluxio-site.properties": _properties_file(props),
                 "ALLUXIO_JAVA_OPTS": _client_java_opts(props, ctx)},
    }


def check(spec: AlluxioRuntimeSpec, dataset: Dataset) -> None:
    """The user's mistakes rendering would meet, found without rendering: a memory limit
    below the MEM tier, a ``volumeMount`` naming no volume, an ``encryptOption`` of the
    root UFS without its Secret key."""
    worker_resources(spec)
    for comp in (spec.master, spec.job_master, spec.worker, spec.job_worker, spec.api_gateway,
                 spec.fuse):
        base.user_volumes(spec.volumes, _user_mounts(comp))
    _root_secrets(dataset)


def render(inp: RenderInput) -> list[Obj]:
    """ConfigMap, master Services and StatefulSet, worker StatefulSet, FUSE DaemonSet."""
    props = properties(inp)
    if inp.restore is not None:
        props["alluxio.master.journal.init.from.backup"] = inp.restore.metadata_file
    return [
        _config(props, inp.ctx),
        *_master_services(inp.spec, inp.ctx),
        _master(inp),
        _worker(inp),
        _fuse(inp),
    ]
