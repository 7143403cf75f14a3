"""What a JuiceFSRuntime looks like in the cluster: worker StatefulSet, FUSE DaemonSet and
their mount scripts, rendered from the runtime and its Dataset.

Owns the JuiceFS facts Fluid users rely on: edition detection (a ``metaurl`` encrypt
option means the community edition, otherwise enterprise), the ``juicefs format`` /
``juicefs auth`` / ``juicefs quota set`` commands, the ``mount.juicefs`` command line
and its ``-o`` options (cache dirs and sizes from the tiered store, metrics port,
read-only defaults, enterprise cache groups), and the object names
(``<name>-worker``, ``<name>-fuse``, ``<name>-worker-script``, ``<name>-fuse-script``).

Pure: no I/O, no clock, no environment. Secret values never reach this module: every
``encryptOption`` becomes an env var with ``valueFrom.secretKeyRef`` and scripts refer to
it as ``"${NAME}"``, so neither ConfigMaps nor logs ever hold a credential.
Called by ``fluid.engines.juicefs.engine`` and by unit tests.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from fluid.api import constants, converter
from fluid.api.constants import FuseCleanPolicy, VolumeType
from fluid.api.dataset import Dataset, EncryptOption, Mount
from fluid.api.juicefs import JuiceFSRuntime, JuiceFSRuntimeSpec
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import EnvVar, Level
from fluid.engines.base import (
    Obj,
    RenderContext,
    image_or_default,
    merged_pod_metadata,
    uses_host_network,
)

__all__ = [
    "COMMUNITY_CLI",
    "COMMUNITY_MOUNT",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_METRICS_PORT",
    "ENTERPRISE_CLI",
    "ENTERPRISE_MOUNT",
    "FUSE_CONTAINER",
    "WORKER_CONTAINER",
    "Edition",
    "Images",
    "JuiceFSConfig",
    "RenderError",
    "RenderInput",
    "Rendered",
    "SecretEnv",
    "edition_of",
    "format_command",
    "fuse_mount_options",
    "fuse_name",
    "mount_command",
    "parse_config",
    "render",
    "worker_mount_options",
    "worker_name",
]

RUNTIME_TYPE = constants.RuntimeType.JUICEFS.value
WORKER_CONTAINER = "juicefs-worker"
FUSE_CONTAINER = "juicefs-fuse"
WORKER_ROLE = "juicefs-worker"
FUSE_ROLE = "juicefs-fuse"
COMMUNITY_MOUNT = "/bin/mount.juicefs"
ENTERPRISE_MOUNT = "/sbin/mount.juicefs"
COMMUNITY_CLI = "/usr/local/bin/juicefs"
ENTERPRISE_CLI = "/usr/bin/juicefs"
DEFAULT_CACHE_DIR = "/var/jfsCache"
DEFAULT_METRICS_PORT = 9567
SCRIPT_DIR = "/root/script"
READ_ONLY_CACHE_SECONDS = "7200"
"""Attribute/entry cache timeout for read-only datasets: nothing changes under them."""

# Option names with a meaning of their own (upstream's spellings).
OPT_STORAGE = "storage"
OPT_BUCKET = "bucket"
OPT_BUCKET2 = "bucket2"
OPT_QUOTA = "quota"
OPT_METAURL = "metaurl"
OPT_ACCESS_KEY = "access-key"
OPT_SECRET_KEY = "secret-key"
OPT_TOKEN = "token"
OPT_ACCESS_KEY2 = "access-key2"
OPT_SECRET_KEY2 = "secret-key2"

_WELL_KNOWN_SECRETS = {
    OPT_METAURL: "METAURL",
    OPT_ACCESS_KEY: "ACCESS_KEY",
    OPT_SECRET_KEY: "SECRET_KEY",
    OPT_TOKEN: "TOKEN",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MIB = 2**20
_GIB = 2**30


class RenderError(ValueError):
    """The runtime or dataset cannot be rendered; the message says what to fix."""


class Edition(enum.StrEnum):
    COMMUNITY = "community"
    ENTERPRISE = "enterprise"


@attrs.frozen(kw_only=True)
class Images:
    """Default images per edition (the controller's ``JUICEFS_CE_IMAGE_ENV`` /
    ``JUICEFS_EE_IMAGE_ENV`` override them; the runtime's own fields override both)."""

    community: str = "juicedata/mount:ce-v1.3.0"
    enterprise: str = "juicedata/mount:ee-5.2.10-eb0a8b3"
    pull_policy: str = "IfNotPresent"


@attrs.frozen(kw_only=True)
class SecretEnv:
    """An env var read from a Secret key: the only way a credential reaches a pod."""

    env_name: str
    option: str
    secret_name: str
    secret_key: str

    def to_env(self) -> dict[str, Any]:
        return {
            "name": self.env_name,
            "valueFrom": {"secretKeyRef": {"name": self.secret_name, "key": self.secret_key}},
        }


@attrs.frozen(kw_only=True)
class CacheDir:
    path: str
    volume_type: VolumeType = VolumeType.HOST_PATH
    volume_source: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class JuiceFSConfig:
    """What the Dataset's first mount says about the file system (no secret values)."""

    edition: Edition
    name: str
    storage: str | None
    bucket: str | None
    options: Mapping[str, str]
    """Plain options from ``sharedOptions`` and the mount (minus storage/bucket/quota)."""
    secrets: tuple[SecretEnv, ...]
    sub_path: str
    quota: str | None

    @property
    def source(self) -> str:
        """The first argument of format/mount: the meta URL (community) or the volume name."""
        if self.edition is Edition.COMMUNITY:
            return '"${METAURL}"'
        return shlex.quote(self.name)

    def secret(self, option: str) -> SecretEnv | None:
        return next((s for s in self.secrets if s.option == option), None)

    @property
    def extra_secrets(self) -> tuple[SecretEnv, ...]:
        return tuple(s for s in self.secrets if s.option not in _WELL_KNOWN_SECRETS)


PORT_WORKER_METRICS = "worker-metrics"
PORT_FUSE_METRICS = "fuse-metrics"


@attrs.frozen(kw_only=True)
class RenderInput:
    """The runtime and Dataset models plus what the shared lifecycle decided (``ctx``:
    labels, host ports, replicas, placement affinity, tolerations, FUSE node selector and
    host mount directory)."""

    runtime: JuiceFSRuntime
    dataset: Dataset
    ctx: RenderContext
    images: Images = Images()

    @property
    def worker_metrics_port(self) -> int | None:
        return self.ctx.ports.get(PORT_WORKER_METRICS)

    @property
    def fuse_metrics_port(self) -> int | None:
        return self.ctx.ports.get(PORT_FUSE_METRICS)


@attrs.frozen(kw_only=True)
class Rendered:
    worker: dict[str, Any]
    fuse: dict[str, Any]
    worker_script: dict[str, Any]
    fuse_script: dict[str, Any]
    config: JuiceFSConfig

    def objects(self) -> list[Obj]:
        """In apply order: scripts before the workloads that mount them."""
        return [self.worker_script, self.fuse_script, self.worker, self.fuse]


# -- names and paths ---------------------------------------------------------------------------


def worker_name(name: str) -> str:
    return f"{name}-worker"


def fuse_name(name: str) -> str:
    return f"{name}-fuse"


FUSE_DIR = "juicefs-fuse"


def fuse_mount_path(host_dir: str) -> str:
    """Where JuiceFS mounts the dataset (under the host directory the FUSE pod shares with
    the node); the CSI plugin bind-mounts it into pods."""
    return f"{host_dir.rstrip('/')}/{FUSE_DIR}"


# -- what the dataset says ---------------------------------------------------------------------


def edition_of(dataset: Dataset) -> Edition:
    """Community when a ``metaurl`` encrypt option is given (shared or on the first mount)."""
    spec = dataset.spec
    mounts = (spec.mounts if spec else None) or []
    options = list((spec.shared_encrypt_options if spec else None) or [])
    if mounts:
        options += mounts[0].encrypt_options or []
    return Edition.COMMUNITY if any(o.name == OPT_METAURL for o in options) else Edition.ENTERPRISE


def sub_path_of(mount_point: str) -> str:
    """``juicefs:///a/b`` -> ``/a/b``; the sub-directory of the volume to mount."""
    head, sep, rest = mount_point.partition("juicefs://")
    if not sep or head:
        raise RenderError(f"mountPoint {mount_point!r} must look like juicefs:///<subdir>")
    return rest or "/"


def _secret_env(option: EncryptOption) -> SecretEnv:
    ref = option.value_from.secret_key_ref if option.value_from else None
    if ref is None or not ref.key:
        raise RenderError(f"encryptOption {option.name!r} needs valueFrom.secretKeyRef name and key")
    env_name = _WELL_KNOWN_SECRETS.get(option.name) or option.name.replace("-", "_").upper()
    if not _ENV_NAME.match(env_name):
        raise RenderError(f"encryptOption {option.name!r} cannot be an environment variable name")
    return SecretEnv(env_name=env_name, option=option.name, secret_name=ref.name,
                     secret_key=ref.key)


def parse_config(dataset: Dataset) -> JuiceFSConfig:
    """Read the first mount (and the shared options) of a JuiceFS Dataset."""
    spec = dataset.spec
    mounts = (spec.mounts if spec else None) or []
    if not mounts:
        raise RenderError("the Dataset has no mounts; JuiceFS needs one juicefs:/// mount")
    mount: Mount = mounts[0]
    plain = {**((spec.shared_options if spec else None) or {}), **(mount.options or {})}
    storage = plain.pop(OPT_STORAGE, None)
    bucket = plain.pop(OPT_BUCKET, None)
    quota = (mount.options or {}).get(OPT_QUOTA)
    plain.pop(OPT_QUOTA, None)
    by_option: dict[str, SecretEnv] = {}
    for option in [*((spec.shared_encrypt_options if spec else None) or []),
                   *(mount.encrypt_options or [])]:
        if option.name == OPT_QUOTA:
            continue
        by_option[option.name] = _secret_env(option)  # the mount's own wins over shared
    return JuiceFSConfig(
        edition=edition_of(dataset), name=mount.name or dataset.name, storage=storage,
        bucket=bucket, options=dict(sorted(plain.items())),
        secrets=tuple(by_option.values()), sub_path=sub_path_of(mount.mount_point),
        quota=quota,
    )


def _first_level(spec: JuiceFSRuntimeSpec) -> Level | None:
    levels = (spec.tieredstore.levels if spec.tieredstore else None) or []
    return levels[0] if levels else None


def cache_dirs(spec: JuiceFSRuntimeSpec) -> list[CacheDir]:
    """Cache directories from the first tier (``:`` or ``,`` separated), else the default."""
    level = _first_level(spec)
    if level is None or not level.path:
        return [CacheDir(path=DEFAULT_CACHE_DIR)]
    paths = [p for p in re.split(r"[:,]", level.path) if p]
    volume_type = level.volume_type or VolumeType.HOST_PATH
    return [CacheDir(path=p, volume_type=volume_type, volume_source=level.volume_source)
            for p in paths]


def cache_options(spec: JuiceFSRuntimeSpec, config: JuiceFSConfig) -> dict[str, str]:
    """``subdir``, ``cache-dir``, ``cache-size`` (MiB) and ``free-space-ratio`` from the tier."""
    options: dict[str, str] = {}
    if config.sub_path != "/":
        options["subdir"] = config.sub_path
    options["cache-dir"] = ":".join(d.path for d in cache_dirs(spec))
    level = _first_level(spec)
    if level is not None and level.quota is not None:
        options["cache-size"] = str(int(parse_quantity(level.quota)) // _MIB)
    if level is not None and level.low:
        options["free-space-ratio"] = level.low
    return options


def _read_only(dataset: Dataset) -> bool:
    modes = (dataset.spec.access_modes if dataset.spec else None) or []
    return "ReadOnlyMany" in modes


def fuse_mount_options(
    *, spec: JuiceFSRuntimeSpec, dataset: Dataset, config: JuiceFSConfig, namespace: str,
    name: str, metrics_port: int | None,
) -> dict[str, str]:
    """The FUSE client's ``-o`` options: dataset options < tier < ``fuse.options`` < fixed."""
    options = {**config.options, **cache_options(spec, config),
               **((spec.fuse.options if spec.fuse else None) or {})}
    options.pop(OPT_BUCKET2, None)
    read_only = _read_only(dataset)
    if read_only:
        options["ro"] = ""
    if config.edition is Edition.COMMUNITY:
        if read_only:
            options.setdefault("attr-cache", READ_ONLY_CACHE_SECONDS)
            options.setdefault("entry-cache", READ_ONLY_CACHE_SECONDS)
        options.setdefault("metrics", f"0.0.0.0:{metrics_port or DEFAULT_METRICS_PORT}")
        return options
    if read_only:
        options.setdefault("attrcacheto", READ_ONLY_CACHE_SECONDS)
        options.setdefault("entrycacheto", READ_ONLY_CACHE_SECONDS)
    options["foreground"] = ""
    options["no-update"] = ""
    options.setdefault("cache-group", f"{namespace}-{name}")
    options.setdefault("no-sharing", "")
    return options


def worker_mount_options(
    *, spec: JuiceFSRuntimeSpec, config: JuiceFSConfig, namespace: str, name: str,
    metrics_port: int | None,
) -> dict[str, str]:
    """The cache worker's ``-o`` options: tier < ``worker.options`` < fixed."""
    options = {**cache_options(spec, config),
               **((spec.worker.options if spec.worker else None) or {})}
    if config.edition is Edition.COMMUNITY:
        options.setdefault("metrics", f"0.0.0.0:{metrics_port or DEFAULT_METRICS_PORT}")
        return options
    options["foreground"] = ""
    options["no-update"] = ""
    options.setdefault("cache-group", f"{namespace}-{name}")
    options.pop("no-sharing", None)  # workers serve the cache group
    return options


def _option_list(options: Mapping[str, str]) -> str:
    return ",".join(k if v == "" else f"{k}={v}" for k, v in sorted(options.items()))


def mount_command(*, config: JuiceFSConfig, mount_path: str, options: Mapping[str, str]) -> str:
    """``exec mount.juicefs <source> <path> -o <options>`` (shell-quoted)."""
    binary = COMMUNITY_MOUNT if config.edition is Edition.COMMUNITY else ENTERPRISE_MOUNT
    return " ".join(["exec", binary, config.source, shlex.quote(mount_path), "-o",
                     shlex.quote(_option_list(options))])


def _env_ref(env_name: str) -> str:
    return f'"${{{env_name}}}"'


def _flag(name: str, value: str) -> str:
    return f"--{shlex.quote(name)}={shlex.quote(value)}"


def format_command(config: JuiceFSConfig, configs: Iterable[str] = ()) -> str | None:
    """``juicefs format`` (community) or ``juicefs auth`` (enterprise, only with a token).

    Credentials appear as ``"${ENV}"`` references, never as values.
    """
    args = [f"--{shlex.quote(c.strip())}" for c in configs if c.strip()]
    if config.edition is Edition.COMMUNITY:
        if config.secret(OPT_ACCESS_KEY):
            args.append(f"--access-key={_env_ref('ACCESS_KEY')}")
        if config.secret(OPT_SECRET_KEY):
            args.append(f"--secret-key={_env_ref('SECRET_KEY')}")
        if not config.storage or not config.bucket:
            args.append("--no-update")
        if config.storage:
            args.append(_flag(OPT_STORAGE, config.storage))
        if config.bucket:
            args.append(_flag(OPT_BUCKET, config.bucket))
        args += [_flag(k, v) for k, v in config.options.items()]
        args += [f"--{s.option}={_env_ref(s.env_name)}" for s in config.extra_secrets]
        return " ".join([COMMUNITY_CLI, "format", *args, config.source, shlex.quote(config.name)])
    if config.secret(OPT_TOKEN) is None:
        return None  # the enterprise client is already authorised (or uses a config file)
    args.append(f"--token={_env_ref('TOKEN')}")
    if config.secret(OPT_ACCESS_KEY):
        args.append(f"--accesskey={_env_ref('ACCESS_KEY')}")
    if config.secret(OPT_SECRET_KEY):
        args.append(f"--secretkey={_env_ref('SECRET_KEY')}")
    if config.bucket:
        args.append(_flag(OPT_BUCKET, config.bucket))
    if OPT_BUCKET2 in config.options:
        args.append(_flag(OPT_BUCKET2, config.options[OPT_BUCKET2]))
    args += [f"--{s.option}={_env_ref(s.env_name)}" for s in config.extra_secrets
             if s.option in (OPT_ACCESS_KEY2, OPT_SECRET_KEY2)]
    return " ".join([ENTERPRISE_CLI, "auth", *args, config.source])


def quota_command(config: JuiceFSConfig) -> str | None:
    """``juicefs quota set <source> --path <subdir> --capacity <GiB>`` for a ``quota`` option."""
    if config.quota is None:
        return None
    try:
        gib = int(parse_quantity(config.quota) // _GIB)
    except ValueError as exc:
        raise RenderError(f"invalid quota {config.quota!r}: {exc}") from None
    if gib <= 0:
        raise RenderError(f"quota {config.quota!r} is too small: at least 1Gi")
    if config.sub_path == "/":
        raise RenderError("a quota needs a sub-directory: use mountPoint juicefs:///<subdir>")
    cli = COMMUNITY_CLI if config.edition is Edition.COMMUNITY else ENTERPRISE_CLI
    return (f"{cli} quota set {config.source} --path {shlex.quote(config.sub_path)} "
            f"--capacity {gib}")


def mount_script(*, config: JuiceFSConfig, setup: str | None, quota: str | None,
                 mount: str, strict: bool) -> str:
    """The container entry script: format/auth, quota, then exec the mount."""
    lines = ["#!/bin/bash"]
    if strict:
        lines.append("set -e")
    if setup and config.edition is Edition.COMMUNITY:
        lines += ['echo "juicefs format start"', setup]
    elif setup:
        conf = shlex.quote(f"/root/.juicefs/{config.name}.conf")
        lines += [f"if [ ! -f {conf} ]; then", '  echo "juicefs auth start"', f"  {setup}", "fi"]
    if quota:
        lines += ['echo "juicefs quota start"', quota]
    lines += ['echo "juicefs mount start"', mount, ""]
    return "\n".join(lines)


# -- objects -----------------------------------------------------------------------------------


def _image(inp: RenderInput, edition: Edition, image: str | None, tag: str | None) -> str:
    default = inp.images.community if edition is Edition.COMMUNITY else inp.images.enterprise
    return image_or_default(image, tag, default)


def _meta(inp: RenderInput, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """Name and labels; the lifecycle adds namespace, common labels and ownerReferences."""
    return {"name": name, "namespace": inp.runtime.namespace,
            "labels": {**inp.ctx.labels, **labels}}


def _envs(envs: list[EnvVar] | None) -> list[dict[str, Any]]:
    return [converter.unstructure(e) for e in envs or []]


def _secret_envs(config: JuiceFSConfig) -> list[dict[str, Any]]:
    return [s.to_env() for s in config.secrets]


def _cache_volumes(dirs: list[CacheDir], user_mounts: list[dict[str, Any]]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    taken = {m.get("mountPath") for m in user_mounts}
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for index, cache in enumerate(dirs):
        if cache.path in taken:
            continue
        name = f"cache-dir-{index}"
        mounts.append({"name": name, "mountPath": cache.path})
        if cache.volume_type is VolumeType.EMPTY_DIR:
            source = dict(cache.volume_source or {})
            volumes.append({"name": name, "emptyDir": source.get("emptyDir") or {}})
        else:
            volumes.append({"name": name,
                            "hostPath": {"path": cache.path, "type": "DirectoryOrCreate"}})
    return volumes, mounts


def _user_volumes(spec: JuiceFSRuntimeSpec, mounts: list[dict[str, Any]], *,
                  claim_templates: set[str]) -> list[dict[str, Any]]:
    by_name = {v.get("name"): v for v in spec.volumes or []}
    volumes: list[dict[str, Any]] = []
    for mount in mounts:
        name = mount.get("name")
        if name in claim_templates:
            continue
        if name not in by_name:
            raise RenderError(f"volumeMount {name!r} names no volume in spec.volumes")
        if all(v.get("name") != name for v in volumes):
            volumes.append(dict(by_name[name]))
    return volumes



def _pod_metadata(spec: JuiceFSRuntimeSpec, component: Any) -> tuple[dict[str, str], dict[str, str]]:
    return merged_pod_metadata(spec.pod_metadata,
                               component.pod_metadata if component is not None else None)


def _script_configmap(inp: RenderInput, name: str, role: str, script: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(inp, name, {"role": role}),
        "data": {"script.sh": script},
    }


def _metrics_ports(config: JuiceFSConfig, port: int | None) -> list[dict[str, Any]]:
    if config.edition is not Edition.COMMUNITY:
        return []
    return [{"name": "metrics", "containerPort": port or DEFAULT_METRICS_PORT,
             "protocol": "TCP"}]


def _image_of(inp: RenderInput, config: JuiceFSConfig, *, fuse: bool) -> tuple[str, str]:
    spec = inp.runtime.spec or JuiceFSRuntimeSpec()
    source: Any = spec.fuse if fuse else spec.juicefs_version
    image = _image(inp, config.edition, source.image if source else None,
                   source.image_tag if source else None)
    return image, (source.image_pull_policy if source else None) or inp.images.pull_policy


def _pre_stop(mount_path: str) -> dict[str, Any]:
    return {"preStop": {"exec": {"command": ["sh", "-c", f"umount {shlex.quote(mount_path)}"]}}}


def _pod_template(inp: RenderInput, component: str, role: str, labels: Mapping[str, str],
                  annotations: Mapping[str, str], pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {**labels, **inp.ctx.pod_labels(component), "role": role,
                       "sidecar.istio.io/inject": "false"},
            "annotations": {**annotations, "sidecar.istio.io/inject": "false"},
        },
        "spec": pod_spec,
    }


def _worker(inp: RenderInput, config: JuiceFSConfig, mount_path: str) -> dict[str, Any]:
    spec = inp.runtime.spec or JuiceFSRuntimeSpec()
    worker = spec.worker
    name = inp.runtime.name
    pod_labels, pod_annotations = _pod_metadata(spec, worker)
    user_mounts = [dict(m) for m in (worker.volume_mounts if worker else None) or []]
    templates = {t.get("metadata", {}).get("name") for t in spec.volume_claim_templates or []}
    cache_vols, cache_mounts = _cache_volumes(cache_dirs(spec), user_mounts)
    host_network = uses_host_network(worker.network_mode if worker else None)
    image, pull_policy = _image_of(inp, config, fuse=False)
    pod_spec: dict[str, Any] = {
        "hostNetwork": host_network,
        "enableServiceLinks": False,
        "nodeSelector": dict((worker.node_selector if worker else None) or {}),
        "tolerations": [dict(t) for t in inp.ctx.tolerations],
        "restartPolicy": "Always",
        "containers": [{
            "name": WORKER_CONTAINER,
            "image": image,
            "imagePullPolicy": pull_policy,
            "command": ["sh", f"{SCRIPT_DIR}/script.sh"],
            "env": [{"name": "JFS_FOREGROUND", "value": "1"},
                    *_envs(worker.env if worker else None), *_secret_envs(config)],
            "ports": _metrics_ports(config, inp.worker_metrics_port),
            "resources": dict((worker.resources if worker else None) or {}),
            "securityContext": {"runAsUser": 0, "privileged": True},
            "lifecycle": _pre_stop(mount_path),
            "volumeMounts": [{"name": "script", "mountPath": SCRIPT_DIR}, *user_mounts,
                             *cache_mounts],
        }],
        "volumes": [
            {"name": "script", "configMap": {"name": f"{worker_name(name)}-script",
                                             "defaultMode": 0o755}},
            *_user_volumes(spec, user_mounts, claim_templates=templates),
            *cache_vols,
        ],
    }
    if host_network:
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if inp.ctx.worker_affinity:
        pod_spec["affinity"] = dict(inp.ctx.worker_affinity)
    sts_spec: dict[str, Any] = {
        "replicas": inp.ctx.replicas,
        "serviceName": worker_name(name),
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "OnDelete"},
        "selector": {"matchLabels": inp.ctx.selector("worker")},
        "template": _pod_template(inp, "worker", WORKER_ROLE, pod_labels, pod_annotations,
                                  pod_spec),
    }
    if spec.volume_claim_templates:
        sts_spec["volumeClaimTemplates"] = [dict(t) for t in spec.volume_claim_templates]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": _meta(inp, worker_name(name), {"role": WORKER_ROLE}), "spec": sts_spec}


def _fuse(inp: RenderInput, config: JuiceFSConfig, mount_path: str) -> dict[str, Any]:
    spec = inp.runtime.spec or JuiceFSRuntimeSpec()
    fuse = spec.fuse
    namespace, name = inp.runtime.namespace, inp.runtime.name
    pod_labels, pod_annotations = _pod_metadata(spec, fuse)
    user_mounts = [dict(m) for m in (fuse.volume_mounts if fuse else None) or []]
    cache_vols, cache_mounts = _cache_volumes(cache_dirs(spec), user_mounts)
    host_network = uses_host_network(fuse.network_mode if fuse else None)
    host_path = inp.ctx.fuse_mount_path
    image, pull_policy = _image_of(inp, config, fuse=True)
    pod_spec: dict[str, Any] = {
        "hostNetwork": host_network,
        "hostPID": False,
        "enableServiceLinks": False,
        "nodeSelector": dict(inp.ctx.fuse_node_selector),
        "tolerations": [{"operator": "Exists"}],
        "restartPolicy": "Always",
        "containers": [{
            "name": FUSE_CONTAINER,
            "image": image,
            "imagePullPolicy": pull_policy,
            "command": ["sh", f"{SCRIPT_DIR}/script.sh"],
            "env": [{"name": "JFS_FOREGROUND", "value": "1"},
                    *_envs(fuse.env if fuse else None), *_secret_envs(config),
                    {"name": "FLUID_RUNTIME_TYPE", "value": RUNTIME_TYPE},
                    {"name": "FLUID_RUNTIME_NS", "value": namespace},
                    {"name": "FLUID_RUNTIME_NAME", "value": name}],
            "ports": _metrics_ports(config, inp.fuse_metrics_port),
            "resources": dict((fuse.resources if fuse else None) or {}),
            "securityContext": {"runAsUser": 0, "privileged": True},
            "lifecycle": _pre_stop(mount_path),
            "volumeMounts": [
                {"name": "juicefs-fuse-mount", "mountPath": host_path,
                 "mountPropagation": "Bidirectional"},
                {"name": "script", "mountPath": SCRIPT_DIR},
                *user_mounts, *cache_mounts,
            ],
        }],
        "volumes": [
            {"name": "juicefs-fuse-mount",
             "hostPath": {"path": host_path, "type": "DirectoryOrCreate"}},
            {"name": "script", "configMap": {"name": f"{fuse_name(name)}-script",
                                             "defaultMode": 0o755}},
            *_user_volumes(spec, user_mounts, claim_templates=set()),
            *cache_vols,
        ],
    }
    if host_network:
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(inp, fuse_name(name), {"role": FUSE_ROLE}),
        "spec": {
            "updateStrategy": {"type": "OnDelete"},
            "selector": {"matchLabels": inp.ctx.selector("fuse")},
            "template": _pod_template(inp, "fuse", FUSE_ROLE, pod_labels, pod_annotations,
                                      pod_spec),
        },
    }


def clean_policy(runtime: JuiceFSRuntime) -> FuseCleanPolicy:
    """``""`` means OnRuntimeDeleted, as for every runtime."""
    fuse = runtime.spec.fuse if runtime.spec else None
    policy = fuse.clean_policy if fuse else None
    return policy or FuseCleanPolicy.ON_RUNTIME_DELETED


def host_network_components(runtime: JuiceFSRuntime) -> tuple[bool, bool]:
    """(worker, fuse) on the host network: unset network modes mean host network."""
    spec = runtime.spec or JuiceFSRuntimeSpec()
    return (uses_host_network(spec.worker.network_mode if spec.worker else None),
            uses_host_network(spec.fuse.network_mode if spec.fuse else None))


def render(inp: RenderInput) -> Rendered:
    """Every object of a JuiceFSRuntime; raises RenderError on a user's mistake."""
    spec = inp.runtime.spec or JuiceFSRuntimeSpec()
    namespace, name = inp.runtime.namespace, inp.runtime.name
    config = parse_config(inp.dataset)
    mount_path = fuse_mount_path(inp.ctx.fuse_mount_path)
    setup = format_command(config, spec.configs or ())
    quota = quota_command(config)
    fuse_options = fuse_mount_options(spec=spec, dataset=inp.dataset, config=config,
                                      namespace=namespace, name=name,
                                      metrics_port=inp.fuse_metrics_port)
    worker_options = worker_mount_options(spec=spec, config=config, namespace=namespace,
                                          name=name, metrics_port=inp.worker_metrics_port)
    fuse_script = mount_script(
        config=config, setup=setup, quota=quota, strict=True,
        mount=mount_command(config=config, mount_path=mount_path, options=fuse_options))
    worker_script = mount_script(
        config=config, setup=setup, quota=None, strict=False,
        mount=mount_command(config=config, mount_path=mount_path, options=worker_options))
    return Rendered(
        worker=_worker(inp, config, mount_path),
        fuse=_fuse(inp, config, mount_path),
        worker_script=_script_configmap(inp, f"{worker_name(name)}-script", WORKER_ROLE,
                                        worker_script),
        fuse_script=_script_configmap(inp, f"{fuse_name(name)}-script", FUSE_ROLE, fuse_script),
        config=config,
    )


def cache_capacity_bytes(spec: JuiceFSRuntimeSpec) -> Decimal | None:
    """The tier's quota in bytes (the cache capacity each worker offers), if set."""
    level = _first_level(spec)
    if level is None or level.quota is None:
        return None
    return parse_quantity(level.quota)
