"""What a JindoRuntime looks like in the cluster (JindoCache): masters, workers, FUSE
clients, their Services and the INI-style configuration files.

Owns the JindoCache facts: object names (``<name>-jindofs-...``), the configuration files
in ConfigMap ``<name>-jindofs-config`` (``jindocache.cfg`` with sections
``[jindocache-common]``, ``[jindocache-server]``, ``[jindocache-worker]``, ``[common]``,
``[jindocache-client]``; ``cacheset.xml``; ``jindosdk.cfg``), the namespace RPC address
in ``<name>-jindofs-client-config``, the default server/worker/FUSE properties, cache sets
per mount (``metaPolicy``, ``cacheStrategy``, read/write policies and replicas), tiered
store paths and quotas (``1Gi`` -> ``1g``), FUSE arguments, and ports (master rpc 8101,
worker rpc 6101, raft 8103, FUSE metrics 10001 unless allocated in host network).

Credentials never enter a ConfigMap: ``fs.<type>.accessKeyId`` / ``accessKeySecret``
encrypt options are projected from their Secrets into ``/token``, ``spec.secret`` (a
whole Secret, e.g. an STS token) is mounted there too, and the properties name the JSON
secret provider (``secrets:///token/``). ``spec.hadoopConfig`` mounts the user's
``hdfs-site.xml`` / ``core-site.xml`` (which of them exist, the engine reads and passes in
``RenderInput.hadoop``); ``spec.runAs`` sets the master's and workers' user and group and
an init container hands them their cache directories; ``spec.user`` is ``RUN_AS_USER``.
Pure: no I/O. Called by ``fluid.engines.jindo.engine`` and unit tests.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

import attrs

from fluid.api import constants, pod_labels
from fluid.api.constants import MediumType, VolumeType
from fluid.api.dataset import Dataset, EncryptOption, Mount
from fluid.api.jindo import JindoCompTemplateSpec, JindoFuseSpec, JindoRuntime, JindoRuntimeSpec
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import Level
from fluid.engines.base import (
    UFS_ROOT,
    HadoopConfig,
    Obj,
    RenderContext,
    fuse_host_pid,
    hadoop_config_mount,
    mount_modes,
    mount_path_in_namespace,
)

__all__ = [
    "CACHE_DIRS_INIT",
    "DEFAULT_FUSE_METRICS_PORT",
    "DEFAULT_MASTER_RPC_PORT",
    "DEFAULT_RAFT_PORT",
    "DEFAULT_WORKER_RPC_PORT",
    "FUSE_CONTAINER",
    "FUSE_METRICS_PORT_NAME",
    "MASTER_CONTAINER",
    "SCRAPE_ANNOTATION",
    "WORKER_CONTAINER",
    "Images",
    "Ports",
    "RenderError",
    "RenderInput",
    "Rendered",
    "fuse_metrics_port",
    "fuse_name",
    "master_name",
    "master_replicas",
    "port_names",
    "render",
    "run_as",
    "scrape_fuse_pods",
    "secret_schemes",
    "token_properties",
    "validate",
    "worker_name",
]

RUNTIME_TYPE = constants.RuntimeType.JINDO.value
ENGINE_IMPL = "jindocache"
CHART = "jindofs"
MASTER_CONTAINER = "jindofs-master"
WORKER_CONTAINER = "jindofs-worker"
FUSE_CONTAINER = "jindofs-fuse"
DEFAULT_MASTER_RPC_PORT = 8101
DEFAULT_WORKER_RPC_PORT = 6101
DEFAULT_RAFT_PORT = 8103
DEFAULT_FUSE_METRICS_PORT = 10001
HA_MASTERS = 3
FUSE_MOUNT_DIR = "/jfs"
FUSE_MOUNT_PATH = "/jfs/jindofs-fuse"
TOKEN_DIR = "/token"
TOKEN_VOLUME = "jindofs-secret-token"
TOKEN_URI = f"secrets://{TOKEN_DIR}/"
HADOOP_VOLUME = "hdfs-confs"
CACHE_DIRS_INIT = "init-cache-dirs"
ROOT: Mapping[str, int] = {"runAsUser": 0, "runAsGroup": 0}
SECRET_PROVIDER = "com.aliyun.jindodata.oss.auth.CustomCredentialsProvider"
SECRET_FORMAT = "JSON"
DEFAULT_CACHE_PATH = "/dev/shm/"
DEFAULT_QUOTA = "1Gi"
_UFS_SCHEMES = ("oss", "s3", "cos", "obs", "hdfs", "dls")
_OBJECT_STORES = ("oss", "s3", "cos", "obs", "dls")


class RenderError(ValueError):
    """The runtime or dataset cannot be rendered; the message says what to fix."""


@attrs.frozen(kw_only=True)
class Images:
    """Default images (the controller's ``JINDO_SMARTDATA_IMAGE_ENV`` and
    ``JINDO_FUSE_IMAGE_ENV`` override them; the runtime's fields override both)."""

    smartdata: str = "registry.cn-shanghai.aliyuncs.com/jindofs/smartdata:6.9.1-202509151826"
    fuse: str = "registry.cn-shanghai.aliyuncs.com/jindofs/jindo-fuse:6.9.1-202509151826"
    pull_policy: str = "Always"


@attrs.frozen(kw_only=True)
class Ports:
    master_rpc: int = DEFAULT_MASTER_RPC_PORT
    worker_rpc: int = DEFAULT_WORKER_RPC_PORT
    raft: int | None = None
    fuse_metrics: int | None = None


PORT_MASTER_RPC = "master-rpc"
PORT_WORKER_RPC = "worker-rpc"
PORT_RAFT = "master-raft"
PORT_FUSE_METRICS = "fuse-metrics"
FUSE_METRICS_PORT_NAME = "jindo-metrics"
"""The FUSE container's port for its metrics, when ``fuse.metrics.enabled``."""
SCRAPE_ANNOTATION = pod_labels.ANNOTATION_FUSE_METRICS_SCRAPE


@attrs.frozen(kw_only=True)
class RenderInput:
    """The models plus what the shared lifecycle decided (``ctx``: labels, host ports,
    replicas, placement affinity, tolerations, FUSE node selector and host directory,
    ``local://``/``pvc://`` volumes)."""

    runtime: JindoRuntime
    dataset: Dataset
    ctx: RenderContext
    images: Images = Images()
    hadoop: HadoopConfig | None = None
    """What the engine found in ``spec.hadoopConfig`` (required when that is set)."""

    @property
    def spec(self) -> JindoRuntimeSpec:
        return self.runtime.spec or JindoRuntimeSpec()

    @property
    def ports(self) -> Ports:
        """Allocated host ports, else upstream's defaults (container network)."""
        got = self.ctx.ports
        ha = master_replicas(self.runtime) == HA_MASTERS
        return Ports(master_rpc=got.get(PORT_MASTER_RPC, DEFAULT_MASTER_RPC_PORT),
                     worker_rpc=got.get(PORT_WORKER_RPC, DEFAULT_WORKER_RPC_PORT),
                     raft=got.get(PORT_RAFT, DEFAULT_RAFT_PORT) if ha else None,
                     fuse_metrics=got.get(PORT_FUSE_METRICS, DEFAULT_FUSE_METRICS_PORT))


@attrs.frozen(kw_only=True)
class Rendered:
    config: dict[str, Any]
    client_config: dict[str, Any]
    services: list[dict[str, Any]]
    master: dict[str, Any]
    worker: dict[str, Any]
    fuse: dict[str, Any]

    def objects(self) -> list[Obj]:
        """In apply order: configuration and Services before the pods."""
        return [self.config, self.client_config, *self.services, self.master, self.worker,
                self.fuse]


# -- names ---------------------------------------------------------------------------------


def full_name(name: str) -> str:
    return f"{name}-{CHART}"


def master_name(name: str) -> str:
    return f"{full_name(name)}-master"


def worker_name(name: str) -> str:
    return f"{full_name(name)}-worker"


def fuse_name(name: str) -> str:
    return f"{full_name(name)}-fuse"


FUSE_DIR = "jindofs-fuse"
"""The FUSE mount under the host directory (``/jfs/jindofs-fuse`` inside the pod)."""


def master_replicas(runtime: JindoRuntime) -> int:
    """One master, or three for Raft HA; any other count falls back to one, as upstream."""
    master = runtime.spec.master if runtime.spec else None
    return HA_MASTERS if master and master.replicas == HA_MASTERS else 1


def fuse_metrics_enabled(runtime: JindoRuntime) -> bool:
    fuse = runtime.spec.fuse if runtime.spec else None
    return bool(fuse and fuse.metrics and fuse.metrics.enabled)


def scrape_fuse_pods(runtime: JindoRuntime) -> bool:
    """Whether ``fuse.metrics.scrapeTarget`` (default ``None``) selects the FUSE DaemonSet's
    pods (``MountPod``) for Prometheus."""
    fuse = runtime.spec.fuse if runtime.spec else None
    target = (fuse.metrics.scrape_target if fuse and fuse.metrics else None) or "None"
    try:
        return "MountPod" in mount_modes(target)
    except ValueError as exc:
        raise RenderError(f"spec.fuse.metrics.scrapeTarget: {exc}") from None


def fuse_metrics_port(inp: RenderInput, args: Sequence[str]) -> int:
    """The FUSE metrics port, 0 when ``fuse.metrics.enabled`` is off: a ``-ometrics_port=``
    in ``fuse.args`` wins over the allocated (host network) or default port."""
    if not fuse_metrics_enabled(inp.runtime):
        return 0
    given = [a.removeprefix("-ometrics_port=") for a in args if a.startswith("-ometrics_port=")]
    if not given:
        return inp.ports.fuse_metrics or DEFAULT_FUSE_METRICS_PORT
    try:
        return int(given[-1])
    except ValueError:
        raise RenderError(f"spec.fuse.args: -ometrics_port={given[-1]} is not a port") from None


def port_names(runtime: JindoRuntime) -> list[str]:
    """Host ports a host-network runtime needs: master/worker rpc, raft (HA), FUSE metrics."""
    if not host_network(runtime):
        return []
    names = [PORT_MASTER_RPC, PORT_WORKER_RPC]
    if master_replicas(runtime) == HA_MASTERS:
        names.append(PORT_RAFT)
    if fuse_metrics_enabled(runtime):
        names.append(PORT_FUSE_METRICS)
    return names


def host_network(runtime: JindoRuntime) -> bool:
    mode = runtime.spec.networkmode if runtime.spec else None
    return mode in (None, constants.NetworkMode.DEFAULT, constants.NetworkMode.HOST_NETWORK)


# -- tiered store --------------------------------------------------------------------------


@attrs.frozen
class Tier:
    paths: tuple[str, ...]
    quotas: tuple[str, ...]
    """As the runtime wrote them (``10Gi``), one per path."""
    medium: MediumType
    volume_type: VolumeType
    high: str
    low: str


def jindo_size(quantity: str) -> str:
    """``10Gi`` -> ``10g``, ``512Mi`` -> ``512m``; anything else becomes whole megabytes."""
    match = re.fullmatch(r"(\d+)(Gi|Mi)", quantity)
    if match:
        return match[1] + match[2][0].lower()
    return f"{int(parse_quantity(quantity)) // 2**20}m"


def tier_of(spec: JindoRuntimeSpec) -> Tier:
    levels = (spec.tieredstore.levels if spec.tieredstore else None) or []
    level: Level | None = levels[0] if levels else None
    if level is None:
        return Tier((DEFAULT_CACHE_PATH,), (DEFAULT_QUOTA,), MediumType.MEM,
                    VolumeType.HOST_PATH, "0.8", "0.6")
    paths = tuple(p for p in (level.path or DEFAULT_CACHE_PATH).split(",") if p)
    if level.quota_list:
        quotas = tuple(level.quota_list.split(","))
        if len(quotas) != len(paths):
            raise RenderError("tieredstore: quotaList needs exactly one quota per path")
    elif level.quota is not None:
        quotas = (str(level.quota),) * len(paths)
    else:
        raise RenderError("tieredstore: set quota or quotaList")
    return Tier(paths, quotas, level.mediumtype, level.volume_type or VolumeType.HOST_PATH,
                level.high or "0.8", level.low or "0.6")


def cache_paths(tier: Tier, namespace: str, name: str) -> list[str]:
    """Each tier path gets a per-dataset sub-directory: ``<path>/<ns>/<name>/jindocache``."""
    return [f"{p.rstrip('/')}/{namespace}/{name}/{ENGINE_IMPL}" for p in tier.paths]


# -- mounts, cache sets and credentials ----------------------------------------------------


@attrs.frozen
class MountFacts:
    cachesets: list[dict[str, Any]]
    file_store: dict[str, str]
    """Endpoints and plain options for ``[jindocache-common]`` (never Secret values)."""
    projections: list[dict[str, Any]]
    """Secret projections into ``/token``."""
    provider_types: set[str]
    bucket_tokens: dict[str, str]


def _scheme(mount_point: str) -> str:
    return mount_point.split("://", 1)[0] if "://" in mount_point else ""


def _bucket(mount_point: str) -> str:
    bucket = mount_point.split("://", 1)[1].split("/", 1)[0]
    if not bucket:
        raise RenderError(f"mountPoint {mount_point!r} names no bucket")
    return bucket


def _cacheset(mount: Mount, path: str) -> dict[str, Any]:
    options = mount.options or {}
    meta = options.get("metaPolicy", "ONCE")
    if meta not in ("ONCE", "ALWAYS"):
        raise RenderError(f"mount {mount.name!r}: metaPolicy must be ONCE or ALWAYS, not {meta!r}")
    strategy = "DISTRIBUTED"
    if options.get("cacheStrategy") == "DHT":
        if meta != "ONCE":
            raise RenderError(f"mount {mount.name!r}: cacheStrategy DHT needs metaPolicy ONCE")
        strategy = "DHT"
    write = options.get("writePolicy", "WRITE_AROUND")
    if write not in ("WRITE_AROUND", "WRITE_THROUGH", "CACHE_ONLY"):
        write = "WRITE_AROUND"
    if write == "CACHE_ONLY" and meta != "ONCE":
        raise RenderError(f"mount {mount.name!r}: writePolicy CACHE_ONLY needs metaPolicy ONCE")
    replicas = {}
    for key in ("readCacheReplica", "writeCacheReplica"):
        value = options.get(key, "1")
        if not value.isdigit():
            raise RenderError(f"mount {mount.name!r}: {key} {value!r} is not a number")
        replicas[key] = int(value)
    return {"name": mount.name or "", "path": path, "cacheStrategy": strategy,
            "metaPolicy": meta, "readPolicy": "CACHE_ASIDE", "writePolicy": write, **replicas}


def _merged(mount: Mount, dataset: Dataset) -> Mount:
    spec = dataset.spec
    return attrs.evolve(
        mount,
        options={**((spec.shared_options if spec else None) or {}), **(mount.options or {})},
        encrypt_options=[*((spec.shared_encrypt_options if spec else None) or []),
                         *(mount.encrypt_options or [])])


def _secret_ref(option: EncryptOption, mount_point: str) -> tuple[str, str]:
    ref = option.value_from.secret_key_ref if option.value_from else None
    if ref is None or not ref.name or not ref.key:
        raise RenderError(f"encryptOption {option.name} for mount {mount_point} must reference "
                          "both secret name and key")
    return ref.name, ref.key


def _project(projections: list[dict[str, Any]], secret: str, key: str, path: str) -> None:
    for projection in projections:
        for item in projection["secret"]["items"]:
            if item["path"] == path and (projection["secret"]["name"], item["key"]) != (secret, key):
                raise RenderError(f"two Secrets project the same credential file {path}")
    for projection in projections:
        if projection["secret"]["name"] == secret:
            if {"key": key, "path": path} not in projection["secret"]["items"]:
                projection["secret"]["items"].append({"key": key, "path": path})
            return
    projections.append({"secret": {"name": secret, "items": [{"key": key, "path": path}]}})


def _credential_file(option: str, scheme: str) -> str | None:
    if option == f"fs.{scheme}.accessKeyId":
        return "AccessKeyId"
    if option == f"fs.{scheme}.accessKeySecret":
        return "AccessKeySecret"
    return None


def _endpoints(scheme: str, options: Mapping[str, str], bucket: str | None,
               store: dict[str, str]) -> None:
    if scheme == "oss" and bucket:
        endpoint = options.get("fs.oss.endpoint")
        if not endpoint:
            raise RenderError("oss endpoint can not be empty: set the fs.oss.endpoint option")
        store[f"jindocache.oss.bucket.{bucket}.endpoint"] = endpoint
        if "dls" in endpoint:
            store[f"jindocache.oss.bucket.{bucket}.data.lake.storage.enable"] = "true"
        for suffix in ("accessKeyId", "accessKeySecret"):
            if options.get(f"fs.oss.{suffix}"):  # written in plain options by the user
                store[f"jindocache.oss.bucket.{bucket}.{suffix}"] = options[f"fs.oss.{suffix}"]
    elif scheme == "hdfs":
        for key, value in options.items():
            store[key.replace("fs", "jindocache", 1)] = value
    else:
        for suffix in ("endpoint", "region"):
            if options.get(f"fs.{scheme}.{suffix}"):
                store[f"jindocache.{scheme}.{suffix}"] = options[f"fs.{scheme}.{suffix}"]


def _read_only(dataset: Dataset) -> bool:
    """Explicitly ReadOnlyMany (FUSE args and client properties, as upstream)."""
    return "ReadOnlyMany" in ((dataset.spec.access_modes if dataset.spec else None) or [])


def _ufs_read_only(dataset: Dataset) -> bool:
    """pvc:// volumes are read-only unless the dataset asks for write access."""
    modes = (dataset.spec.access_modes if dataset.spec else None) or []
    return not modes or "ReadOnlyMany" in modes


def mount_facts(dataset: Dataset) -> MountFacts:
    facts = MountFacts([], {}, [], set(), {})
    for raw in (dataset.spec.mounts if dataset.spec else None) or []:
        mount = _merged(raw, dataset)
        options = mount.options or {}
        scheme = _scheme(mount.mount_point)
        path = mount.mount_point
        if scheme in ("pvc", "local"):  # a pod volume under /underFSStorage (ctx.ufs)
            path = "local://" + posixpath.normpath(UFS_ROOT + mount_path_in_namespace(
                {"name": mount.name, "path": mount.path}))
        facts.cachesets.append(_cacheset(mount, path))
        if scheme not in _UFS_SCHEMES:
            continue
        bucket = _bucket(mount.mount_point) if scheme == "oss" else None
        _endpoints(scheme, options, bucket, facts.file_store)
        for option in mount.encrypt_options or []:
            secret, key = _secret_ref(option, mount.mount_point)
            file = _credential_file(option.name, scheme)
            if file is None:
                raise RenderError(f"encryptOption {option.name!r} is not supported for "
                                  f"{scheme}://; use fs.{scheme}.accessKeyId or accessKeySecret")
            if bucket:
                _project(facts.projections, secret, key, f"{bucket}/{file}")
                facts.bucket_tokens[bucket] = f"secrets://{TOKEN_DIR}/{bucket}/"
            else:
                _project(facts.projections, secret, key, file)
                facts.provider_types.add(scheme)
    return facts


def secret_schemes(spec: JindoRuntimeSpec, dataset: Dataset) -> list[str]:
    """The object stores ``spec.secret`` authenticates: each one mounted, else ``oss``."""
    if not spec.secret:
        return []
    mounts = (dataset.spec.mounts if dataset.spec else None) or []
    schemes = sorted({s for m in mounts if (s := _scheme(m.mount_point)) in _OBJECT_STORES})
    return schemes or ["oss"]


def _provider_schemes(facts: MountFacts, secret_schemes: Sequence[str]) -> list[str]:
    return sorted(facts.provider_types | set(secret_schemes)
                  | ({"oss"} if facts.bucket_tokens else set()))


def _bucket_providers(prefix: str, facts: MountFacts) -> dict[str, str]:
    """Each OSS bucket's own credential files (``/token/<bucket>/``), under ``prefix``."""
    properties: dict[str, str] = {}
    for bucket, uri in sorted(facts.bucket_tokens.items()):
        key = f"{prefix}.oss.bucket.{bucket}"
        properties.update({f"{key}.credentials.provider": SECRET_PROVIDER,
                           f"{key}.provider.endpoint": uri, f"{key}.provider.format": SECRET_FORMAT})
    return properties


def _provider_properties(facts: MountFacts, secret_schemes: Sequence[str]) -> dict[str, str]:
    """Client (SDK and FUSE) properties pointing each scheme at the files under /token."""
    properties: dict[str, str] = {}
    for scheme in _provider_schemes(facts, secret_schemes):
        properties[f"fs.{scheme}.credentials.provider"] = SECRET_PROVIDER
        properties[f"aliyun.{scheme}.provider.url"] = TOKEN_URI
        properties[f"fs.{scheme}.provider.endpoint"] = TOKEN_URI
        properties[f"fs.{scheme}.provider.format"] = SECRET_FORMAT
    properties.update(_bucket_providers("fs", facts))
    for bucket, uri in sorted(facts.bucket_tokens.items()):
        properties[f"aliyun.oss.bucket.{bucket}.provider.url"] = uri
    return properties


def token_properties(facts: MountFacts, secret_schemes: Sequence[str]) -> dict[str, str]:
    """The ``[jindocache-common]``/``[common]`` credential properties (names, never values)."""
    schemes = _provider_schemes(facts, secret_schemes)
    if not schemes:
        return {"default.credential.provider": "none"}
    properties = {"default.credential.provider": TOKEN_URI}
    for scheme in schemes:
        properties[f"jindocache.{scheme}.provider.endpoint"] = TOKEN_URI
        properties[f"jindocache.{scheme}.provider.format"] = SECRET_FORMAT
    properties.update(_bucket_providers("jindocache", facts))
    return properties


def _check_secret(spec: JindoRuntimeSpec, facts: MountFacts) -> None:
    """``spec.secret`` fills /token with its keys: encrypt options may not write there too."""
    if spec.secret and facts.provider_types:
        raise RenderError(f"spec.secret {spec.secret!r} and the encryptOptions of "
                          f"{', '.join(sorted(facts.provider_types))}:// mounts would both "
                          "write /token/AccessKeyId; use one of them")


def validate(runtime: JindoRuntime, dataset: Dataset | None) -> None:
    """Everything ``render`` would reject in the runtime and Dataset, without rendering."""
    spec = runtime.spec or JindoRuntimeSpec()
    tier_of(spec)
    scrape_fuse_pods(runtime)
    if dataset is not None:
        _check_secret(spec, mount_facts(dataset))


# -- properties ----------------------------------------------------------------------------


def master_properties(inp: RenderInput, meta_path: str) -> dict[str, str]:
    spec = inp.runtime.spec or JindoRuntimeSpec()
    properties = {
        "namespace.cluster.id": "local",
        "namespace.oss.copy.size": "1073741824",
        "namespace.filelet.threads": "200",
        "namespace.blocklet.threads": "100",
        "namespace.long-running.threads": "20",
        "namespace.filelet.cache.size": "100000",
        "namespace.blocklet.cache.size": "1000000",
        "namespace.filelet.atime.enable": "false",
        "namespace.permission.root.inode.perm.bits": "511",
        "namespace.delete.scan.interval.second": "20",
        "namespace.delete.scan.batch.size": "5000",
        "namespace.backend.type": "rocksdb",
        "namespace.rpc.port": str(inp.ports.master_rpc),
        "namespace.meta-dir": f"{meta_path}/server",
    }
    if master_replicas(inp.runtime) == HA_MASTERS:
        properties["namespace.backend.type"] = "raft"
        properties["namespace.backend.raft.initial-conf"] = ",".join(
            f"{master_name(inp.runtime.name)}-{i}:{inp.ports.raft or DEFAULT_RAFT_PORT}:0"
            for i in range(HA_MASTERS))
    properties.update((spec.master.properties if spec.master else None) or {})
    return properties


def worker_properties(inp: RenderInput, tier: Tier, data_paths: list[str]) -> dict[str, str]:
    spec = inp.runtime.spec or JindoRuntimeSpec()
    quotas = ",".join(jindo_size(q) for q in tier.quotas)
    properties = {
        "storage.cluster.id": "local",
        "storage.compaction.enable": "false",
        "storage.compaction.period.minute": "2",
        "storage.maintainence.period.minute": "2",
        "storage.compaction.threshold": "16",
        "storage.cache.filelet.worker.threads": "200",
        "storage.address": "localhost",
        "storage.rpc.port": str(inp.ports.worker_rpc),
        "storage.data-dirs": ",".join(data_paths),
        "storage.data-dirs.capacities": quotas,
        "storage.watermark.high.ratio": tier.high,
        "storage.watermark.low.ratio": tier.low,
    }
    if tier.medium is MediumType.MEM:
        properties["storage.ram.cache.size"] = quotas
        properties["storage.slicelet.buffer.size"] = quotas
    properties.update((spec.worker.properties if spec.worker else None) or {})
    return properties


def fuse_properties(inp: RenderInput, tier: Tier, facts: MountFacts) -> dict[str, str]:
    spec = inp.runtime.spec or JindoRuntimeSpec()
    properties = {
        "fs.jindocache.request.user": "root",
        "fs.jindocache.tmp.data.dir": "/tmp",
        "fs.jindocache.client.metrics.enable": "true",
        "fs.jindocache.rpc.timeout": "30000",
        "fs.oss.download.queue.size": "16",
        "fs.oss.download.thread.concurrency": "32",
        "fs.s3.download.queue.size": "16",
        "fs.s3.download.thread.concurrency": "32",
        "fs.xengine": "jindocache",
        "jindofsx.read.readahead.prefetcher.version": "default",
        "fs.jindocache.storage.rpc.port": str(inp.ports.worker_rpc),
        "fs.jindocache.ram.cache.enable": "true" if tier.medium is MediumType.MEM else "false",
    }
    if _read_only(inp.dataset):
        properties["fs.jindocache.read.only.enable"] = "true"
    for key, value in facts.file_store.items():
        properties[key.replace("jindocache", "fs", 1)] = value
    properties.update(_provider_properties(facts, secret_schemes(spec, inp.dataset)))
    properties.update((spec.fuse.properties if spec.fuse else None) or {})
    return properties


def log_properties(spec: JindoRuntimeSpec) -> tuple[dict[str, str], dict[str, str]]:
    server = {"application.report.on": "true", "metric.report.on": "true",
              "logger.dir": "/tmp/jindocache-log", "logger.cleanner.enable": "true",
              "logger.consolelogger": "true", "logger.jnilogger": "false",
              "logger.sync": "false", "logger.verbose": "0", **(spec.log_config or {})}
    fuse = {"logger.dir": "/tmp/fuse-log", "logger.consolelogger": "true", "logger.level": "2",
            "logger.cleaner.enable": "true", "logger.sync": "false", "logger.verbose": "0",
            "hadoopConf.enable": "false",
            **((spec.fuse.log_config if spec.fuse else None) or {})}
    return server, fuse


def fuse_args(runtime: JindoRuntime, dataset: Dataset) -> list[str]:
    spec = runtime.spec or JindoRuntimeSpec()
    fuse = spec.fuse or JindoFuseSpec()
    mounts = (dataset.spec.mounts if dataset.spec else None) or []
    if fuse.args:
        args = list(fuse.args)
    elif _read_only(dataset):
        args = ["-okernel_cache", "-oro", "-oattr_timeout=7200", "-oentry_timeout=7200",
                "-onegative_timeout=7200"]
    else:
        args = ["-oauto_cache", "-oattr_timeout=0", "-oentry_timeout=0", "-onegative_timeout=0"]
    if not fuse.args and len(mounts) <= 1:
        args.append("-ono_symlink")
    master, worker = spec.master, spec.worker
    if master and master.disabled and worker and worker.disabled and mounts:
        args.append(f"-ouri={mounts[0].mount_point}")
    return args


def _ini(sections: Sequence[tuple[str, Mapping[str, str]]]) -> str:
    lines: list[str] = []
    for title, values in sections:
        lines.append(f"[{title}]")
        lines += [f"{k} = {v}" for k, v in sorted(values.items())]
        lines.append("")
    return "\n".join(lines)


def cacheset_xml(cachesets: list[dict[str, Any]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<cachesets>"]
    for c in sorted(cachesets, key=lambda c: str(c["name"])):
        lines += [
            "  <cacheset>",
            f"    <name>{escape(str(c['name']))}</name>",
            f"    <path>{escape(str(c['path']))}</path>",
            f"    <cacheStrategy>{c['cacheStrategy']}</cacheStrategy>",
            f"    <metaPolicy><type>{c['metaPolicy']}</type></metaPolicy>",
            f"    <readPolicy>{c['readPolicy']}</readPolicy>",
            f"    <readCacheReplica>{c['readCacheReplica']}</readCacheReplica>",
            f"    <writePolicy>{c['writePolicy']}</writePolicy>",
            f"    <writeCacheReplica>{c['writeCacheReplica']}</writeCacheReplica>",
            "  </cacheset>",
        ]
    lines.append("</cachesets>")
    return "\n".join(lines) + "\n"


def rpc_address(inp: RenderInput) -> str:
    namespace, name = inp.runtime.namespace, inp.runtime.name
    return ",".join(f"{master_name(name)}-{i}.{namespace}:{inp.ports.master_rpc}"
                    for i in range(master_replicas(inp.runtime)))


# -- objects -------------------------------------------------------------------------------


def _meta(inp: RenderInput, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """Name and labels; the lifecycle adds namespace, common labels and ownerReferences."""
    return {"name": name, "namespace": inp.runtime.namespace,
            "labels": {**inp.ctx.labels, **labels}}


def _split_image(image: str) -> tuple[str, str]:
    repo, _, tag = image.rpartition(":")
    return repo, tag


def _image(default: str, repo: str | None, tag: str | None) -> str:
    default_repo, default_tag = _split_image(default)
    return f"{repo or default_repo}:{tag or default_tag}"


def _env(*maps: Mapping[str, str] | None) -> list[dict[str, Any]]:
    merged: dict[str, str] = {}
    for m in maps:
        merged.update(m or {})
    return [{"name": k, "value": v} for k, v in merged.items()]


def _config_mounts(*files: str) -> list[dict[str, Any]]:
    return [{"name": "bigboot-config", "mountPath": f"/{f}", "subPath": f} for f in files]


def _token_volume(inp: RenderInput, facts: MountFacts
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``/token``: the whole ``spec.secret`` and the encrypt options' projected keys."""
    secret = inp.spec.secret
    if not secret and not facts.projections:
        return [], []
    if secret and not facts.projections:
        volume: dict[str, Any] = {"name": TOKEN_VOLUME, "secret": {"secretName": secret}}
    else:
        sources = [*([{"secret": {"name": secret}}] if secret else []), *facts.projections]
        volume = {"name": TOKEN_VOLUME, "projected": {"sources": sources}}
    return [volume], [{"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": True}]


def _hadoop_volume(inp: RenderInput) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The user's Hadoop files from ``spec.hadoopConfig``, each at ``/<file>``."""
    volumes, _ = hadoop_config_mount(inp.spec.hadoop_config, inp.hadoop, volume=HADOOP_VOLUME,
                                     directory="/")
    files = inp.hadoop.files if volumes and inp.hadoop else ()
    return volumes, [{"name": HADOOP_VOLUME, "mountPath": f"/{f}", "subPath": f, "readOnly": True}
                     for f in files]


def _shared_volumes(inp: RenderInput, facts: MountFacts
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What master, workers and FUSE all mount: credentials, Hadoop files, local UFS."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for more_volumes, more_mounts in (_token_volume(inp, facts), _hadoop_volume(inp), _ufs(inp)):
        volumes += more_volumes
        mounts += more_mounts
    return volumes, mounts


def _ufs(inp: RenderInput) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``local://`` and ``pvc://`` mounts as volumes (read-only unless the Dataset writes)."""
    read_only = _ufs_read_only(inp.dataset)
    mounts = [{**u.volume_mount, **({"readOnly": True} if read_only else {})}
              for u in inp.ctx.ufs]
    return [dict(u.volume) for u in inp.ctx.ufs], mounts


def _data_volume(name: str, path: str, tier: Tier) -> dict[str, Any]:
    if tier.volume_type is VolumeType.EMPTY_DIR:
        medium = "Memory" if tier.medium is MediumType.MEM else ""
        return {"name": name, "emptyDir": {"medium": medium} if medium else {}}
    return {"name": name, "hostPath": {"path": path, "type": "DirectoryOrCreate"}}


def _data_volumes(paths: Sequence[str], tier: Tier
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes, mounts = [], []
    for index, raw in enumerate(paths, start=1):
        path = raw.rstrip("/") or "/"
        name = f"datavolume-{index}"
        volumes.append(_data_volume(name, path, tier))
        mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def _pod_metadata(spec: JindoRuntimeSpec, comp: JindoCompTemplateSpec | JindoFuseSpec | None
                  ) -> tuple[dict[str, str], dict[str, str]]:
    labels = {**(spec.labels or {}), **((spec.pod_metadata.labels if spec.pod_metadata else None)
                                        or {})}
    annotations = dict((spec.pod_metadata.annotations if spec.pod_metadata else None) or {})
    if comp is not None:
        labels.update(comp.labels or {})
        labels.update((comp.pod_metadata.labels if comp.pod_metadata else None) or {})
        annotations.update((comp.pod_metadata.annotations if comp.pod_metadata else None) or {})
    return labels, annotations


def _pull_secrets(spec: JindoRuntimeSpec, comp: JindoCompTemplateSpec | JindoFuseSpec | None
                  ) -> list[dict[str, Any]]:
    chosen = (comp.image_pull_secrets if comp else None) or spec.image_pull_secrets or []
    return [{"name": s.name} for s in chosen]


def _pod_spec(inp: RenderInput, *, comp: JindoCompTemplateSpec | JindoFuseSpec | None,
              containers: list[dict[str, Any]], volumes: list[dict[str, Any]],
              node_selector: Mapping[str, str], tolerations: list[dict[str, Any]],
              security: Mapping[str, int] = ROOT,
              init_containers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    spec = inp.runtime.spec or JindoRuntimeSpec()
    hn = host_network(inp.runtime)
    pod: dict[str, Any] = {
        "hostNetwork": hn,
        "dnsPolicy": "ClusterFirstWithHostNet" if hn else "ClusterFirst",
        "enableServiceLinks": False,
        "nodeSelector": dict(node_selector),
        "tolerations": tolerations,
        "restartPolicy": "Always",
        "securityContext": dict(security),
        **({"initContainers": list(init_containers)} if init_containers else {}),
        "containers": containers,
        "volumes": [*volumes, *[dict(v) for v in spec.volumes or []
                                if any(m.get("name") == v.get("name")
                                       for c in containers for m in c.get("volumeMounts", []))]],
    }
    secrets = _pull_secrets(spec, comp)
    if secrets:
        pod["imagePullSecrets"] = secrets
    return pod


def _tolerations(inp: RenderInput, comp: JindoCompTemplateSpec | JindoFuseSpec | None
                 ) -> list[dict[str, Any]]:
    base = [dict(t) for t in (inp.dataset.spec.tolerations if inp.dataset.spec else None) or []]
    return base + [dict(t) for t in (comp.tolerations if comp else None) or []]


def _workload(inp: RenderInput, *, kind: str, name: str, component: str,
              pod_spec: dict[str, Any], comp: JindoCompTemplateSpec | JindoFuseSpec | None,
              replicas: int | None = None) -> dict[str, Any]:
    spec = inp.runtime.spec or JindoRuntimeSpec()
    role = f"{CHART}-{component}"
    pod_labels, annotations = _pod_metadata(spec, comp)
    body: dict[str, Any] = {
        "selector": {"matchLabels": inp.ctx.selector(component)},
        "template": {
            "metadata": {"labels": {**pod_labels, **inp.ctx.pod_labels(component), "role": role},
                         "annotations": {**annotations, "sidecar.istio.io/inject": "false"}},
            "spec": pod_spec,
        },
    }
    if kind == "StatefulSet":
        body.update({"replicas": replicas or 0, "serviceName": name,
                     "podManagementPolicy": "Parallel"})
    body["updateStrategy"] = {"type": "OnDelete" if kind == "DaemonSet" else "RollingUpdate"}
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": _meta(inp, name, {"role": role}), "spec": body}


def _smartdata(inp: RenderInput) -> tuple[str, str]:
    """Image and pull policy of masters and workers (``jindoVersion`` over the defaults)."""
    version = inp.spec.jindo_version
    image = _image(inp.images.smartdata, version.image if version else None,
                   version.image_tag if version else None)
    return image, (version.image_pull_policy if version else None) or inp.images.pull_policy


def run_as(spec: JindoRuntimeSpec) -> dict[str, int]:
    """The master's and workers' pod securityContext: ``runAs``, else root (as upstream)."""
    user = spec.run_as
    if user is None:
        return dict(ROOT)
    return {"runAsUser": user.uid, "runAsGroup": user.gid, "fsGroup": user.gid}


def _cache_dirs_init(inp: RenderInput, paths: Sequence[str],
                     mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With ``runAs``: a root init container creating the cache directories for that user.

    Only the per-dataset directories are chowned, never the tier's root path; the paths
    are arguments of the script, never spliced into it."""
    user = inp.spec.run_as
    if user is None:
        return []
    image, pull_policy = _smartdata(inp)
    script = f'mkdir -p "$@" && chown -R {int(user.uid)}:{int(user.gid)} "$@"'
    return [{"name": CACHE_DIRS_INIT, "image": image, "imagePullPolicy": pull_policy,
             "command": ["sh", "-c", script, CACHE_DIRS_INIT, *paths],
             "securityContext": dict(ROOT), "volumeMounts": mounts}]


def _user_env(spec: JindoRuntimeSpec) -> dict[str, str]:
    """``spec.user``: the user Jindo's entrypoint runs the processes as."""
    return {"RUN_AS_USER": spec.user} if spec.user else {}


def _master(inp: RenderInput, tier: Tier, meta_path: str, facts: MountFacts) -> dict[str, Any]:
    spec = inp.spec
    master = spec.master
    data_vols, data_mounts = _data_volumes([meta_path], tier)
    shared_vols, shared_mounts = _shared_volumes(inp, facts)
    ports = [{"name": "rpc", "containerPort": inp.ports.master_rpc}]
    env = {"CLIENT_NAMESPACE_RPC_ADDRESS": rpc_address(inp), **_user_env(spec)}
    if master_replicas(inp.runtime) == HA_MASTERS:
        ports.append({"name": "raft", "containerPort": inp.ports.raft or DEFAULT_RAFT_PORT})
    image, pull_policy = _smartdata(inp)
    container = {
        "name": MASTER_CONTAINER,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["/entrypoint.sh"],
        "args": ["master"],
        "env": _env(env, master.env if master else None),
        "ports": ports,
        "resources": dict((master.resources if master else None) or {}),
        "volumeMounts": [*_config_mounts("jindocache.cfg", "cacheset.xml", "jindosdk.cfg"),
                         *data_mounts, *shared_mounts,
                         *[dict(m) for m in (master.volume_mounts if master else None) or []]],
    }
    pod = _pod_spec(inp, comp=master, containers=[container],
                    volumes=[*data_vols, *shared_vols, _config_volume(inp)],
                    node_selector=(master.node_selector if master else None) or {},
                    tolerations=_tolerations(inp, master), security=run_as(spec),
                    init_containers=_cache_dirs_init(inp, [meta_path], data_mounts))
    return _workload(inp, kind="StatefulSet", name=master_name(inp.runtime.name),
                     component="master", pod_spec=pod, comp=master,
                     replicas=master_replicas(inp.runtime))


def _config_volume(inp: RenderInput) -> dict[str, Any]:
    return {"name": "bigboot-config",
            "configMap": {"name": f"{full_name(inp.runtime.name)}-config"}}


def _worker(inp: RenderInput, tier: Tier, paths: Sequence[str],
            facts: MountFacts) -> dict[str, Any]:
    spec = inp.spec
    worker = spec.worker
    name = inp.runtime.name
    data_vols, data_mounts = _data_volumes(list(tier.paths), tier)
    shared_vols, shared_mounts = _shared_volumes(inp, facts)
    image, pull_policy = _smartdata(inp)
    container = {
        "name": WORKER_CONTAINER,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["/entrypoint.sh"],
        "args": ["worker"],
        "env": _env({"STORAGE_NAMESPACE_RPC_ADDRESS": rpc_address(inp), **_user_env(spec)},
                    worker.env if worker else None),
        "ports": [{"name": "rpc", "containerPort": inp.ports.worker_rpc}],
        "resources": dict((worker.resources if worker else None) or {}),
        "volumeMounts": [*_config_mounts("jindocache.cfg", "jindosdk.cfg"), *data_mounts,
                         *shared_mounts,
                         *[dict(m) for m in (worker.volume_mounts if worker else None) or []]],
    }
    pod = _pod_spec(inp, comp=worker, containers=[container],
                    volumes=[*data_vols, *shared_vols, _config_volume(inp)],
                    node_selector=(worker.node_selector if worker else None) or {},
                    tolerations=_tolerations(inp, worker), security=run_as(spec),
                    init_containers=_cache_dirs_init(inp, paths, data_mounts))
    if inp.ctx.worker_affinity:
        pod["affinity"] = dict(inp.ctx.worker_affinity)
    return _workload(inp, kind="StatefulSet", name=worker_name(name), component="worker",
                     pod_spec=pod, comp=worker, replicas=inp.ctx.replicas)


def _fuse(inp: RenderInput, tier: Tier, facts: MountFacts) -> dict[str, Any]:
    """The FUSE client stays root whatever ``runAs`` says: mounting needs it."""
    spec = inp.spec
    fuse = spec.fuse or JindoFuseSpec()
    namespace, name = inp.runtime.namespace, inp.runtime.name
    data_vols, data_mounts = _data_volumes(list(tier.paths), tier)
    shared_vols, shared_mounts = _shared_volumes(inp, facts)
    host_path = inp.ctx.fuse_mount_path
    args = fuse_args(inp.runtime, inp.dataset)
    metrics_port = fuse_metrics_port(inp, args)
    if not any(a.startswith("-ometrics_port=") for a in args):
        args.append(f"-ometrics_port={metrics_port}")
    container: dict[str, Any] = {
        "name": FUSE_CONTAINER,
        "image": _image(inp.images.fuse, fuse.image, fuse.image_tag),
        "imagePullPolicy": fuse.image_pull_policy or inp.images.pull_policy,
        "command": ["/entrypoint.sh"],
        "args": args,
        "env": _env({"CLIENT_NAMESPACE_RPC_ADDRESS": rpc_address(inp),
                     "FLUID_FUSE_MOUNTPOINT": FUSE_MOUNT_PATH,
                     "FLUID_RUNTIME_TYPE": RUNTIME_TYPE, "FLUID_RUNTIME_NS": namespace,
                     "FLUID_RUNTIME_NAME": name, **_user_env(spec)}, fuse.env),
        "resources": dict(fuse.resources or {}),
        "securityContext": {"privileged": True},
        "lifecycle": {"preStop": {"exec": {"command": ["/prestop.sh"]}}},
        "volumeMounts": [
            {"name": "jindofs-fuse-device", "mountPath": "/dev/fuse"},
            {"name": "jindofs-fuse-mount", "mountPath": FUSE_MOUNT_DIR,
             "mountPropagation": "Bidirectional"},
            *_config_mounts("jindocache.cfg", "jindosdk.cfg"),
            *data_mounts, *shared_mounts,
        ],
    }
    if metrics_port:
        container["ports"] = [{"name": FUSE_METRICS_PORT_NAME, "containerPort": metrics_port}]
    node_selector = dict(inp.ctx.fuse_node_selector)
    pod = _pod_spec(inp, comp=fuse, containers=[container], volumes=[
        {"name": "jindofs-fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
        {"name": "jindofs-fuse-mount", "hostPath": {"path": host_path, "type": "DirectoryOrCreate"}},
        *data_vols, *shared_vols, _config_volume(inp)],
        node_selector=node_selector, tolerations=[{"operator": "Exists"}])
    if fuse_host_pid(inp.runtime.annotations):
        pod["hostPID"] = True
    daemonset = _workload(inp, kind="DaemonSet", name=fuse_name(name), component="fuse",
                          pod_spec=pod, comp=fuse)
    _scrape_annotation(daemonset["spec"]["template"]["metadata"]["annotations"],
                       scrape=scrape_fuse_pods(inp.runtime))
    return daemonset


def _scrape_annotation(annotations: dict[str, str], *, scrape: bool) -> None:
    """``prometheus.fuse.fluid.io/scrape: "true"`` when the scrape target selects the FUSE
    pods; a value other than ``true`` the user put in ``podMetadata`` is left alone."""
    if annotations.get(SCRAPE_ANNOTATION, "true") != "true":
        return
    if scrape:
        annotations[SCRAPE_ANNOTATION] = "true"
    else:
        annotations.pop(SCRAPE_ANNOTATION, None)


def _services(inp: RenderInput) -> list[dict[str, Any]]:
    name = inp.runtime.name
    ha = master_replicas(inp.runtime) == HA_MASTERS
    services = []
    for index in range(master_replicas(inp.runtime)):
        ports = [{"name": "rpc", "port": inp.ports.master_rpc}]
        if ha:
            ports.append({"name": "raft", "port": inp.ports.raft or DEFAULT_RAFT_PORT})
        pod = f"{master_name(name)}-{index}"
        selector: dict[str, str] = {**inp.ctx.selector("master"),
                                    "statefulset.kubernetes.io/pod-name": pod}
        services.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": _meta(inp, pod, {"role": f"{CHART}-master"}),
            "spec": {"clusterIP": "None", "ports": ports, "selector": selector},
        })
    return services


def render(inp: RenderInput) -> Rendered:
    """Every object of a JindoRuntime; raises RenderError on a user's mistake."""
    spec = inp.runtime.spec or JindoRuntimeSpec()
    namespace, name = inp.runtime.namespace, inp.runtime.name
    tier = tier_of(spec)
    paths = cache_paths(tier, namespace, name)
    facts = mount_facts(inp.dataset)
    _check_secret(spec, facts)
    tokens = token_properties(facts, secret_schemes(spec, inp.dataset))
    server_log, fuse_log = log_properties(spec)
    client_props = fuse_properties(inp, tier, facts)
    address = rpc_address(inp)
    jindocache_cfg = _ini([
        ("jindocache-common", {**server_log, **tokens, **facts.file_store}),
        ("jindocache-server", master_properties(inp, paths[0])),
        ("jindocache-worker", worker_properties(inp, tier, paths)),
        ("common", {**fuse_log, **tokens}),
        ("jindocache-client", {"fs.jindocache.namespace.rpc.address": address, **client_props}),
    ])
    jindosdk_cfg = _ini([
        ("common", {**fuse_log, **tokens}),
        ("jindosdk", {"fs.jindocache.namespace.rpc.address": address, **client_props}),
    ])
    labels = {"role": f"{CHART}-config"}
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": _meta(inp, f"{full_name(name)}-config", labels),
              "data": {"jindocache.cfg": jindocache_cfg,
                       "cacheset.xml": cacheset_xml(facts.cachesets),
                       "jindosdk.cfg": jindosdk_cfg}}
    client_config = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": _meta(inp, f"{full_name(name)}-client-config", labels),
                     "data": {"STORAGE_NAMESPACE_RPC_ADDRESS": address,
                              "CLIENT_NAMESPACE_RPC_ADDRESS": address}}
    return Rendered(config=config, client_config=client_config, services=_services(inp),
                    master=_master(inp, tier, paths[0], facts),
                    worker=_worker(inp, tier, paths, facts), fuse=_fuse(inp, tier, facts))
