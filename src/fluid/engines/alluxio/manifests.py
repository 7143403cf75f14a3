"""The objects an AlluxioRuntime runs, rendered as raw dicts (no I/O, no Helm).

Owns the Alluxio layout: ConfigMap ``<name>-config`` (``alluxio-site.properties``, and
``ALLUXIO_JAVA_OPTS`` with the client's view of the masters for pods that take the
ConfigMap as environment), one headless Service ``<name>-master-<i>`` per master, the
master StatefulSet ``<name>-master`` (containers ``alluxio-master`` and
``alluxio-job-master``), the worker StatefulSet ``<name>-worker`` (``alluxio-worker`` and
``alluxio-job-worker``) and the FUSE DaemonSet ``<name>-fuse``. Decides Alluxio
properties (ports, root UFS, journal, tiered store, replication), turns tiered-store
levels into worker volumes and ``local://``/``pvc://`` mounts into volumes under
``/underFSStorage``.

Several masters (``master.replicas`` > 1) run the embedded journal: the headless Service
``<name>-master`` that governs the StatefulSet gives each master the name
``<pod>.<name>-master.<ns>.svc``, every master has its own name as
``alluxio.master.hostname`` and the list of all of them (with the embedded-journal port)
as ``alluxio.master.embedded.journal.addresses``; workers, FUSE and the CLI find the
primary from that list, so nothing names ``master-0`` as the master.

Labels, ownerReferences, placement and host ports come in through the ``RenderContext``
built by ``fluid.engines.base``; this module only lays them out. Called by ``engine.py``
and unit-tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from fluid.api import constants as c
from fluid.api.alluxio import AlluxioCompTemplateSpec, AlluxioRuntimeSpec
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import Level
from fluid.engines import base

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_PORTS",
    "JOURNAL_DIR",
    "MASTER_CONTAINER",
    "PORT_PROPERTIES",
    "Tier",
    "alluxio_size",
    "host_network",
    "journal_addresses",
    "master_domain",
    "master_replicas",
    "port_names",
    "properties",
    "render",
    "root_ufs",
    "tiers",
]

Obj = dict[str, Any]

DEFAULT_IMAGE = "alluxio/alluxio-dev"
DEFAULT_TAG = "2.9.0"
MASTER_CONTAINER = "alluxio-master"
CONFIG_MOUNT = "/opt/alluxio/conf"
JOURNAL_DIR = "/journal"
JOURNAL_SIZE = "30Gi"
"""The masters' journal: an emptyDir of this size at ``alluxio.master.journal.folder``, as upstream."""

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
_SPEC_PORT_KEYS = {
    "master-rpc": ("master", "rpc"), "master-web": ("master", "web"),
    "worker-rpc": ("worker", "rpc"), "worker-web": ("worker", "web"),
    "job-master-rpc": ("jobMaster", "rpc"), "job-master-web": ("jobMaster", "web"),
    "job-worker-rpc": ("jobWorker", "rpc"), "job-worker-data": ("jobWorker", "data"),
    "job-worker-web": ("jobWorker", "web"), "master-embedded": ("master", "embeddedJournal"),
    "job-master-embedded": ("jobMaster", "embeddedJournal"), "proxy-web": ("apiGateway", "rest"),
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
    component, key = _SPEC_PORT_KEYS[name]
    comp = _component(spec, component)
    port = (comp.ports or {}).get(key) if comp else None
    return port if port else None


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
        if spec.api_gateway and spec.api_gateway.enabled:
            names.append("proxy-web")
    if host_network(spec.worker):
        names += _COMPONENT_PORTS["worker"]
    return names


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
    """One tiered-store level with its paths and per-path quota in bytes."""

    alias: str
    paths: tuple[str, ...]
    quotas: tuple[int, ...]
    volume_type: str
    high: str | None
    low: str | None
    volume_source: Obj | None = None


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
            alias=level.mediumtype.value, paths=paths, quotas=_split_quota(level, len(paths)),
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


def _tier_properties(spec: AlluxioRuntimeSpec) -> dict[str, str]:
    levels = tiers(spec)
    props = {"alluxio.worker.tieredstore.levels": str(len(levels))}
    for i, tier in enumerate(levels):
        prefix = f"alluxio.worker.tieredstore.level{i}"
        props[f"{prefix}.alias"] = tier.alias
        props[f"{prefix}.dirs.path"] = ",".join(tier.paths)
        props[f"{prefix}.dirs.quota"] = ",".join(alluxio_size(q) for q in tier.quotas)
        props[f"{prefix}.dirs.mediumtype"] = ",".join(tier.alias for _ in tier.paths)
        if tier.high:
            props[f"{prefix}.watermark.high.ratio"] = tier.high
        if tier.low:
            props[f"{prefix}.watermark.low.ratio"] = tier.low
    return props


def tier_volumes(spec: AlluxioRuntimeSpec) -> tuple[list[Obj], list[Obj]]:
    """Worker volumes and volumeMounts for every tier path (hostPath or emptyDir)."""
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    for i, tier in enumerate(tiers(spec)):
        for j, (path, quota) in enumerate(zip(tier.paths, tier.quotas, strict=True)):
            name = f"tier-{i}-{j}"
            if tier.volume_type == c.VolumeType.EMPTY_DIR:
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


# -- properties ------------------------------------------------------------------------------


def root_ufs(mounts: Sequence[Mapping[str, Any]]) -> tuple[str, Mapping[str, Any] | None]:
    """Alluxio's root UFS: a lone non-native mount at ``/`` is the root; else /underFSStorage."""
    if len(mounts) == 1:
        only = mounts[0]
        if not base.is_native(only) and base.mount_path_in_namespace(only) == "/":
            return str(only["mountPoint"]), only
    return base.UFS_ROOT, None


def properties(
    spec: AlluxioRuntimeSpec, *, ctx: base.RenderContext, mounts: Sequence[Mapping[str, Any]],
    shared_options: Mapping[str, str],
) -> dict[str, str]:
    """``alluxio-site.properties``: Fluid's decisions, then the user's ``properties`` on top."""
    name = ctx.key.name
    ports = resolved_ports(spec, ctx.ports)
    root, root_mount = root_ufs(mounts)
    props: dict[str, str] = {
        "alluxio.master.mount.table.root.ufs": root,
        "alluxio.master.journal.type": "EMBEDDED" if _ha(spec) else "UFS",
        "alluxio.master.journal.folder": JOURNAL_DIR,
        "alluxio.security.stale.channel.purge.interval": "365d",
        "alluxio.user.metrics.collection.enabled": "true",
        "alluxio.fuse.cached.paths.max": "1000000",
    }
    if _ha(spec):
        props["alluxio.master.embedded.journal.addresses"] = journal_addresses(
            spec, key=ctx.key, port=ports["master-embedded"])
    else:
        props["alluxio.master.hostname"] = f"{name}-master-0"
    if root_mount is not None:
        options = {**shared_options, **(root_mount.get("options") or {})}
        for key, value in sorted(options.items()):
            props[f"alluxio.master.mount.table.root.option.{key}"] = str(value)
        if root_mount.get("readOnly"):
            props["alluxio.master.mount.table.root.readonly"] = "true"
    for port_name, prop in PORT_PROPERTIES.items():
        props[prop] = str(ports[port_name])
    if spec.data and spec.data.replicas:
        props["alluxio.user.file.replication.max"] = str(max(spec.data.replicas, 1))
    props.update(_tier_properties(spec))
    props.update({k: str(v) for k, v in (spec.properties or {}).items()})
    return props


def _properties_file(props: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in sorted(props.items()))


# -- pods -------------------------------------------------------------------------------------


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


def _java_opts(component: AlluxioCompTemplateSpec | None, global_opts: Sequence[str]) -> str:
    opts = list(global_opts) + list((component.jvm_options if component else None) or [])
    opts += [f"-D{k}={v}" for k, v in sorted(((component.properties if component else None)
                                              or {}).items())]
    return " ".join(opts)


def _container(
    *, name: str, image: str, policy: str, args: list[str], ports: Mapping[str, int],
    env: list[Obj], mounts: list[Obj], resources: Obj | None,
) -> Obj:
    container: Obj = {
        "name": name, "image": image, "imagePullPolicy": policy, "args": args,
        "ports": [{"name": n[-15:], "containerPort": p, "protocol": "TCP"}
                  for n, p in ports.items()],
        "env": env,
        "volumeMounts": mounts,
    }
    if resources:
        container["resources"] = resources
    return container


def _pod_spec(
    *, host: bool, containers: list[Obj], volumes: list[Obj], ctx: base.RenderContext,
    node_selector: Mapping[str, str] | None, pull_secrets: Sequence[Any] | None,
) -> Obj:
    pod: Obj = {
        "hostNetwork": host,
        "dnsPolicy": "ClusterFirstWithHostNet" if host else "ClusterFirst",
        "containers": containers,
        "volumes": volumes,
        "tolerations": ctx.tolerations,
        "enableServiceLinks": False,
    }
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
    result: Obj = {"labels": labels}
    if annotations:
        result["annotations"] = annotations
    return result


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


_POD_NAME_ENV = "FLUID_POD_NAME"


def _client_env(spec: AlluxioRuntimeSpec, name: str) -> dict[str, str]:
    """Workers and FUSE: the single master's name; with several, none (the journal list)."""
    return {} if _ha(spec) else {"ALLUXIO_MASTER_HOSTNAME": f"{name}-master-0"}


def _master_env(
    spec: AlluxioRuntimeSpec, ctx: base.RenderContext, *, component: AlluxioCompTemplateSpec | None,
    java_opts: Mapping[str, str],
) -> list[Obj]:
    """A master container's environment: its own name as ``ALLUXIO_MASTER_HOSTNAME``
    (Alluxio's scripts make it ``-Dalluxio.master.hostname``), the user's env, its JVM options.

    With several masters each one's name is ``<pod>.<name>-master.<ns>.svc``, exactly as it
    appears in the journal addresses, from the pod's own name.
    """
    user = dict((component.env if component else None) or {})
    if not _ha(spec):
        return _env({"ALLUXIO_MASTER_HOSTNAME": f"{ctx.key.name}-master-0"}, user, java_opts)
    own: list[Obj] = [{"name": _POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    if "ALLUXIO_MASTER_HOSTNAME" not in user:  # $(VAR) sees only variables listed before it
        own.append({"name": "ALLUXIO_MASTER_HOSTNAME",
                    "value": f"$({_POD_NAME_ENV}).{master_domain(ctx.key)}"})
    return [*own, *_env(user, java_opts)]


def _master_ports(spec: AlluxioRuntimeSpec, ports: Mapping[str, int], *, job: bool) -> dict[str, int]:
    prefix = "job-master" if job else "master"
    result = {f"{prefix}-rpc": ports[f"{prefix}-rpc"], f"{prefix}-web": ports[f"{prefix}-web"]}
    if _ha(spec):
        result["job-embedded" if job else "embedded"] = ports[f"{prefix}-embedded"]
    return result


def _master(spec: AlluxioRuntimeSpec, ctx: base.RenderContext, restore: RestoreSource | None = None) -> Obj:
    name = ctx.key.name
    image, policy = _image(spec)
    ports = resolved_ports(spec, ctx.ports)
    conf_volume, conf_mount = _config_volume(name)
    mounts = [conf_mount, *(u.volume_mount for u in ctx.ufs)]
    extra_volumes: list[Obj] = [{"name": "alluxio-journal", "emptyDir": {"sizeLimit": JOURNAL_SIZE}}]
    if restore is not None:
        mounts.append({"name": "fluid-restore", "mountPath": RESTORE_DIR, "readOnly": True})
        extra_volumes.append(restore.volume)
    master = _container(
        name=MASTER_CONTAINER, image=image, policy=policy, args=["master-only", "--no-format"],
        ports=_master_ports(spec, ports, job=False),
        env=_master_env(spec, ctx, component=spec.master, java_opts={
            "ALLUXIO_MASTER_JAVA_OPTS": _java_opts(spec.master, spec.jvm_options or [])}),
        mounts=[*mounts, {"name": "alluxio-journal", "mountPath": JOURNAL_DIR}],
        resources=spec.master.resources if spec.master else None,
    )
    job_master = _container(
        name="alluxio-job-master", image=image, policy=policy, args=["job-master"],
        ports=_master_ports(spec, ports, job=True),
        env=_master_env(spec, ctx, component=spec.job_master, java_opts={
            "ALLUXIO_JOB_MASTER_JAVA_OPTS": _java_opts(spec.job_master, spec.jvm_options or [])}),
        mounts=mounts, resources=spec.job_master.resources if spec.job_master else None,
    )
    pod = _pod_spec(
        host=host_network(spec.master), containers=[master, job_master],
        volumes=[conf_volume, *(u.volume for u in ctx.ufs), *extra_volumes, *(spec.volumes or [])],
        ctx=ctx, node_selector=_master_node_selector(spec, restore),
        pull_secrets=spec.image_pull_secrets,
    )
    meta = _pod_metadata(ctx, "master", [spec.pod_metadata,
                                         spec.master.pod_metadata if spec.master else None])
    return _statefulset(name=f"{name}-master", ctx=ctx, component="master",
                        replicas=master_replicas(spec), pod_meta=meta, pod_spec=pod)


def _master_node_selector(
    spec: AlluxioRuntimeSpec, restore: RestoreSource | None
) -> Mapping[str, str] | None:
    selector = dict(spec.master.node_selector or {}) if spec.master else {}
    if restore is not None and restore.node_name and "hostPath" in restore.volume:
        selector["kubernetes.io/hostname"] = restore.node_name  # a local backup lives there
    return selector or None


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
    """``<name>-master-<i>`` per master (upstream's names; the HCFS endpoint uses master-0),
    and with several masters ``<name>-master``, the StatefulSet's governing Service."""
    resolved = resolved_ports(spec, ctx.ports)
    names = ["master-rpc", "master-web", "job-master-rpc", "job-master-web"]
    if _ha(spec):
        names += ["master-embedded", "job-master-embedded"]
    ports = {n: resolved[n] for n in names}
    services = [
        _headless_service(ctx, name=f"{ctx.key.name}-master-{i}", ports=ports, selector={
            **ctx.selector("master"), "statefulset.kubernetes.io/pod-name": f"{ctx.key.name}-master-{i}"})
        for i in range(master_replicas(spec))
    ]
    if _ha(spec):
        services.append(_headless_service(ctx, name=f"{ctx.key.name}-master",
                                          selector=ctx.selector("master"), ports=ports))
    return services


def _worker(spec: AlluxioRuntimeSpec, ctx: base.RenderContext) -> Obj:
    name = ctx.key.name
    image, policy = _image(spec)
    ports = resolved_ports(spec, ctx.ports)
    conf_volume, conf_mount = _config_volume(name)
    tier_vols, tier_mounts = tier_volumes(spec)
    mounts = [conf_mount, *tier_mounts, *(u.volume_mount for u in ctx.ufs)]
    env_common = _client_env(spec, name)
    worker = _container(
        name="alluxio-worker", image=image, policy=policy, args=["worker-only", "--no-format"],
        ports={k: ports[k] for k in ("worker-rpc", "worker-web")},
        env=_env(env_common, (spec.worker.env if spec.worker else None),
                 {"ALLUXIO_WORKER_JAVA_OPTS": _java_opts(spec.worker, spec.jvm_options or [])}),
        mounts=mounts, resources=spec.worker.resources if spec.worker else None,
    )
    job_worker = _container(
        name="alluxio-job-worker", image=image, policy=policy, args=["job-worker"],
        ports={k: ports[k] for k in ("job-worker-rpc", "job-worker-data", "job-worker-web")},
        env=_env(env_common, (spec.job_worker.env if spec.job_worker else None),
                 {"ALLUXIO_JOB_WORKER_JAVA_OPTS": _java_opts(spec.job_worker, spec.jvm_options or [])}),
        mounts=mounts, resources=spec.job_worker.resources if spec.job_worker else None,
    )
    pod = _pod_spec(
        host=host_network(spec.worker), containers=[worker, job_worker],
        volumes=[conf_volume, *tier_vols, *(u.volume for u in ctx.ufs), *(spec.volumes or [])],
        ctx=ctx, node_selector=spec.worker.node_selector if spec.worker else None,
        pull_secrets=spec.image_pull_secrets,
    )
    pod["affinity"] = ctx.worker_affinity
    meta = _pod_metadata(ctx, "worker", [spec.pod_metadata,
                                         spec.worker.pod_metadata if spec.worker else None])
    return _statefulset(name=f"{name}-worker", ctx=ctx, component="worker",
                        replicas=ctx.replicas, pod_meta=meta, pod_spec=pod)


def _fuse(spec: AlluxioRuntimeSpec, ctx: base.RenderContext, fluid_path: str) -> Obj:
    name = ctx.key.name
    image, policy = _fuse_image(spec)
    fuse = spec.fuse
    conf_volume, conf_mount = _config_volume(name)
    args = list((fuse.args if fuse else None) or [
        "fuse", "--fuse-opts=kernel_cache,ro,max_read=131072,attr_timeout=7200,"
        "entry_timeout=7200,nonempty,allow_other"])
    container = _container(
        name="alluxio-fuse", image=image, policy=policy, args=[*args, fluid_path, "/"],
        ports={}, env=_env(_client_env(spec, name),
                           fuse.env if fuse else None,
                           {"ALLUXIO_FUSE_JAVA_OPTS": " ".join(
                               [*(spec.jvm_options or []), *((fuse.jvm_options if fuse else None) or []),
                                *(f"-D{k}={v}" for k, v in sorted(((fuse.properties if fuse else None)
                                                                   or {}).items()))])}),
        mounts=[conf_mount, {"name": "fuse-device", "mountPath": "/dev/fuse"},
                {"name": "fuse-mount", "mountPath": ctx.fuse_mount_path,
                 "mountPropagation": "Bidirectional"}],
        resources=fuse.resources if fuse else None,
    )
    container["securityContext"] = {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}
    container["lifecycle"] = {"preStop": {"exec": {"command": [
        "/opt/alluxio/integration/fuse/bin/alluxio-fuse", "unmount", fluid_path]}}}
    host = fuse is None or fuse.network_mode != c.NetworkMode.CONTAINER_NETWORK
    pod = _pod_spec(
        host=host, containers=[container],
        volumes=[conf_volume,
                 {"name": "fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
                 {"name": "fuse-mount", "hostPath": {"path": ctx.fuse_mount_path,
                                                     "type": "DirectoryOrCreate"}}],
        ctx=ctx, node_selector=ctx.fuse_node_selector,
        pull_secrets=(fuse.image_pull_secrets if fuse else None) or spec.image_pull_secrets,
    )
    meta = _pod_metadata(ctx, "fuse", [spec.pod_metadata, fuse.pod_metadata if fuse else None])
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": f"{name}-fuse", "namespace": ctx.key.namespace},
        "spec": {
            "selector": {"matchLabels": ctx.selector("fuse")},
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


def render(
    spec: AlluxioRuntimeSpec, *, ctx: base.RenderContext, mounts: Sequence[Mapping[str, Any]],
    shared_options: Mapping[str, str], fluid_path: str, restore: RestoreSource | None = None,
) -> list[Obj]:
    """ConfigMap, master Services and StatefulSet, worker StatefulSet, FUSE DaemonSet."""
    props = properties(spec, ctx=ctx, mounts=mounts, shared_options=shared_options)
    if restore is not None:
        props["alluxio.master.journal.init.from.backup"] = restore.metadata_file
    return [
        _config(props, ctx),
        *_master_services(spec, ctx),
        _master(spec, ctx, restore),
        _worker(spec, ctx),
        _fuse(spec, ctx, fluid_path),
    ]
