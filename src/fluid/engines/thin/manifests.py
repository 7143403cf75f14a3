"""What a ThinRuntime looks like in the cluster: the FUSE DaemonSet running the profile's
image, the optional worker StatefulSet, and the FUSE config ConfigMap.

Owns the merge of a ThinRuntimeProfile with a ThinRuntime (the runtime's non-empty fields
win; lists such as env, ports and volumes are the profile's followed by the runtime's;
maps such as node selectors, labels and options are merged with the runtime's keys on
top), the FUSE config JSON (``mounts``, ``targetPath``, ``runtimeOptions``,
``persistentVolumeAttrs``, ``persistentVolumeMountOptions``, ``accessModes``) in
ConfigMap ``<name>-fuse-conf`` under ``config.json`` mounted at ``/etc/fluid/config``, the
``MOUNT_POINT``/``MOUNT_OPTIONS`` env of the FUSE container, ``fluid.fuse.hostvolume``
host volumes, and the Secret volumes of ``encryptOptions`` and ``pvc://`` publish secrets
(all mounted under ``/etc/fluid/secrets/<secret>``).

Pure: no I/O. A Secret's value never enters the config: an encrypt option's value in the
JSON is the path of the file the FUSE image reads it from. Facts about ``pvc://`` volumes
(the bound PV's CSI source) are looked up by the engine and passed in as ``PvcMount``.
Called by ``fluid.engines.thin.engine`` and unit tests.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fluid.api import constants, converter
from fluid.api.constants import NetworkMode, NodePublishSecretPolicy
from fluid.api.dataset import Dataset, EncryptOption, Mount
from fluid.api.runtime_common import ContainerPort, EnvVar
from fluid.api.thin import (
    ThinCompTemplateSpec,
    ThinFuseSpec,
    ThinRuntime,
    ThinRuntimeProfile,
    ThinRuntimeProfileSpec,
    ThinRuntimeSpec,
)
from fluid.engines.base import Obj, RenderContext

__all__ = [
    "CONFIG_KEY",
    "CONFIG_MOUNT_DIR",
    "FUSE_CONTAINER",
    "PVC_SCHEME",
    "SECRETS_DIR",
    "WORKER_CONTAINER",
    "PvcMount",
    "RenderError",
    "RenderInput",
    "Rendered",
    "config_name",
    "fuse_config",
    "fuse_name",
    "pvc_name_of",
    "render",
    "target_path",
    "worker_name",
]

RUNTIME_TYPE = constants.RuntimeType.THIN.value
FUSE_CONTAINER = "thin-fuse"
WORKER_CONTAINER = "thin-worker"
FUSE_ROLE = "thin-fuse"
WORKER_ROLE = "thin-worker"
CONFIG_KEY = "config.json"
CONFIG_MOUNT_DIR = "/etc/fluid/config"
SECRETS_DIR = "/etc/fluid/secrets"
PVC_SCHEME = "pvc://"
HOST_VOLUME_OPTION = "fluid.fuse.hostvolume"
ENV_MOUNT_POINT = "MOUNT_POINT"
ENV_MOUNT_OPTIONS = "MOUNT_OPTIONS"


class RenderError(ValueError):
    """The runtime, profile or dataset cannot be rendered; the message says what to fix."""


@attrs.frozen(kw_only=True)
class PvcMount:
    """What the engine found behind a ``pvc://<claim>`` mount (a bound PV with a CSI source)."""

    claim: str
    csi: Mapping[str, Any]
    """The PV's ``spec.csi`` (driver, volumeHandle, volumeAttributes, ...)."""
    mount_options: tuple[str, ...] = ()
    publish_secret: str | None = None
    """The secret to mount for the CSI ``nodePublishSecretRef``: its own name under
    MountNodePublishSecretIfExists, the copy ``<name>-thin-publish-secret`` under
    CopyNodePublishSecretAndMountIfNotExists, None otherwise."""
    publish_secret_dir: str | None = None
    """The directory name under ``/etc/fluid/secrets`` (the original secret's name)."""


@attrs.frozen(kw_only=True)
class RenderInput:
    """The models plus what the shared lifecycle decided (``ctx``) and what the engine
    looked up for ``pvc://`` mounts."""

    runtime: ThinRuntime
    profile: ThinRuntimeProfile
    dataset: Dataset
    ctx: RenderContext
    pvc_mounts: Sequence[PvcMount] = ()

    @property
    def target(self) -> str:
        return target_path(self.ctx.fuse_mount_path)


@attrs.frozen(kw_only=True)
class Rendered:
    fuse: dict[str, Any]
    config: dict[str, Any]
    worker: dict[str, Any] | None

    def objects(self) -> list[Obj]:
        """In apply order: the config before the pods that mount it."""
        return [self.config, self.fuse, *([self.worker] if self.worker else [])]


# -- names and paths ---------------------------------------------------------------------------


def fuse_name(name: str) -> str:
    return f"{name}-fuse"


def worker_name(name: str) -> str:
    return f"{name}-worker"


def config_name(name: str) -> str:
    return f"{name}-fuse-conf"


FUSE_DIR = "thin-fuse"


def target_path(host_dir: str) -> str:
    """Where the FUSE image must mount the file system (``MOUNT_POINT``): ``thin-fuse``
    under the host directory the FUSE pod shares with the node."""
    return f"{host_dir.rstrip('/')}/{FUSE_DIR}"


def pvc_name_of(mount_point: str) -> str | None:
    """``pvc://claim[/sub]`` -> ``claim``; None for other schemes."""
    if not mount_point.startswith(PVC_SCHEME):
        return None
    return mount_point[len(PVC_SCHEME):].split("/", 1)[0]


def publish_secret_copy_name(name: str) -> str:
    """The copy of a pvc:// mount's publish secret in the runtime's namespace."""
    return f"{name}-{RUNTIME_TYPE}-publish-secret"


def plan_publish_secret(*, policy: NodePublishSecretPolicy | None, name: str,
                        secret_name: str | None) -> tuple[str | None, bool]:
    """(secret to mount, whether the engine must copy it first) for one pvc:// mount."""
    if not secret_name:
        return None, False
    policy = policy or NodePublishSecretPolicy.MOUNT_IF_EXISTS
    if policy is NodePublishSecretPolicy.NOT_MOUNT:
        return None, False
    if policy is NodePublishSecretPolicy.COPY_AND_MOUNT_IF_NOT_EXISTS:
        return publish_secret_copy_name(name), True
    return secret_name, False


# -- merging the profile and the runtime ---------------------------------------------------


def _pick(*values: Any) -> Any:
    """The last non-empty value (runtime after profile)."""
    chosen = None
    for value in values:
        if value:
            chosen = value
    return chosen


def _dicts(items: Sequence[Any] | None) -> list[dict[str, Any]]:
    return [converter.unstructure(i) if attrs.has(type(i)) else dict(i) for i in items or []]


def _volumes_for(volumes: Sequence[Mapping[str, Any]] | None,
                 mounts: Sequence[Mapping[str, Any]] | None, *, owner: str) -> list[dict[str, Any]]:
    by_name = {v.get("name"): v for v in volumes or []}
    found: list[dict[str, Any]] = []
    for mount in mounts or []:
        name = mount.get("name")
        if name not in by_name:
            raise RenderError(f"{owner} volumeMount {name!r} names no volume in {owner} volumes")
        if all(v.get("name") != name for v in found):
            found.append(dict(by_name[name]))
    return found


def _append_or_replace(items: list[dict[str, Any]], new: dict[str, Any], key: str) -> None:
    for index, item in enumerate(items):
        if item.get(key) == new.get(key):
            items[index] = new
            return
    items.append(new)


def _host_network(*modes: NetworkMode | None) -> bool:
    chosen = _pick(*[m.value if m else "" for m in modes])
    return chosen in (None, "", NetworkMode.HOST_NETWORK.value)


def _image(image: str | None, tag: str | None) -> str:
    if not image:
        raise RenderError("no FUSE image: set fuse.image in the ThinRuntimeProfile or ThinRuntime")
    return f"{image}:{tag}" if tag else image


def _read_only(dataset: Dataset) -> bool:
    modes = (dataset.spec.access_modes if dataset.spec else None) or []
    return "ReadOnlyMany" in modes


def mount_options_env(profile_fuse: ThinFuseSpec, fuse: ThinFuseSpec, dataset: Dataset) -> str:
    """``MOUNT_OPTIONS``: ``ro`` for read-only datasets, then profile, then runtime options."""
    options: dict[str, str] = {"ro": ""} if _read_only(dataset) else {}
    options.update(profile_fuse.options or {})
    options.update(fuse.options or {})
    return ",".join(k if not v else f"{k}={v}" for k, v in sorted(options.items()))


def _lifecycle(profile_fuse: ThinFuseSpec, fuse: ThinFuseSpec, target: str) -> dict[str, Any]:
    pre_stop: dict[str, Any] = {"exec": {"command": ["umount", target]}}
    for owner, spec in (("ThinRuntimeProfile", profile_fuse), ("ThinRuntime", fuse)):
        lifecycle = spec.lifecycle or {}
        if lifecycle.get("postStart"):
            raise RenderError(f"fuse.lifecycle.postStart in the {owner} is not supported")
        if lifecycle.get("preStop"):
            pre_stop = dict(lifecycle["preStop"])
    return {"preStop": pre_stop}


def _host_volumes(dataset: Dataset, taken: set[str]) -> tuple[list[dict[str, Any]],
                                                              list[dict[str, Any]]]:
    """``fluid.fuse.hostvolume: /host[:/container]`` mount options -> hostPath volumes."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    read_only = _read_only(dataset)
    for mount in (dataset.spec.mounts if dataset.spec else None) or []:
        value = (mount.options or {}).get(HOST_VOLUME_OPTION)
        if value is None:
            continue
        parts = value.split(":")
        if len(parts) > 2 or not all(posixpath.isabs(p) for p in parts):
            raise RenderError(f"invalid dataset option {HOST_VOLUME_OPTION}: {value!r}; use "
                              "/host/path or /host/path:/container/path")
        host, container = parts[0], parts[-1]
        if container in taken:
            raise RenderError(f"{HOST_VOLUME_OPTION}: {value!r}: {container} is already mounted")
        name = f"fluid-fuse-hostvolume-{len(volumes)}"
        volumes.append({"name": name, "hostPath": {"path": host}})
        mounts.append({"name": name, "mountPath": container, "readOnly": read_only})
        taken.add(container)
    return volumes, mounts


# -- the FUSE config -----------------------------------------------------------------------


def _secret_file_options(options: Sequence[EncryptOption], volumes: list[dict[str, Any]],
                         mounts: list[dict[str, Any]]) -> dict[str, str]:
    """Mount each referenced Secret and return option -> path of the key's file."""
    found: dict[str, str] = {}
    for option in options:
        ref = option.value_from.secret_key_ref if option.value_from else None
        if ref is None or not ref.key:
            raise RenderError(f"encryptOption {option.name!r} needs valueFrom.secretKeyRef "
                              "name and key")
        directory = f"{SECRETS_DIR}/{ref.name}"
        volume = f"thin-fuseconfig-{ref.name}"
        _append_or_replace(volumes, {"name": volume, "secret": {"secretName": ref.name}}, "name")
        _append_or_replace(mounts, {"name": volume, "mountPath": directory, "readOnly": True},
                           "name")
        found[option.name] = f"{directory}/{ref.key}"
    return found


def _config_mount(mount: Mount, dataset: Dataset, volumes: list[dict[str, Any]],
                  mounts: list[dict[str, Any]]) -> dict[str, Any]:
    spec = dataset.spec
    options = {**((spec.shared_options if spec else None) or {}), **(mount.options or {})}
    secret_options = [*((spec.shared_encrypt_options if spec else None) or []),
                      *(mount.encrypt_options or [])]
    duplicated = sorted({o.name for o in secret_options} & set(options))
    if duplicated:
        raise RenderError(f"option {duplicated[0]!r} is set both in options and encryptOptions")
    options.update(_secret_file_options(secret_options, volumes, mounts))
    plain = attrs.evolve(mount, options=options or None, encrypt_options=None)
    return converter.unstructure(plain)


def fuse_config(inp: RenderInput, volumes: list[dict[str, Any]],
                mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON handed to the FUSE image; adds the Secret volumes it refers to."""
    spec = inp.dataset.spec
    fuse = (inp.runtime.spec.fuse if inp.runtime.spec else None) or ThinFuseSpec()
    dataset_mounts = (spec.mounts if spec else None) or []
    if not dataset_mounts and spec and spec.shared_encrypt_options:
        _secret_file_options(spec.shared_encrypt_options, volumes, mounts)
    pvcs = {p.claim: p for p in inp.pvc_mounts}
    config: dict[str, Any] = {
        "mounts": [_config_mount(m, inp.dataset, volumes, mounts) for m in dataset_mounts],
        "targetPath": inp.target,
        "accessModes": list((spec.access_modes if spec else None) or ["ReadOnlyMany"]),
    }
    if fuse.options:
        config["runtimeOptions"] = dict(fuse.options)
    if pvcs:
        config["persistentVolumeAttrs"] = {c: dict(p.csi) for c, p in sorted(pvcs.items())}
        config["persistentVolumeMountOptions"] = {
            c: list(p.mount_options) for c, p in sorted(pvcs.items())}
    return config


# -- objects -------------------------------------------------------------------------------


def _meta(inp: RenderInput, name: str, role: str) -> dict[str, Any]:
    """Name and labels; the lifecycle adds namespace, common labels and ownerReferences."""
    return {"name": name, "namespace": inp.runtime.namespace,
            "labels": {**inp.ctx.labels, "role": role}}


def _template(inp: RenderInput, component: str, role: str, labels: Mapping[str, str],
              annotations: Mapping[str, str], pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {**labels, **inp.ctx.pod_labels(component), "role": role,
                                    "sidecar.istio.io/inject": "false"},
                         "annotations": {**annotations, "sidecar.istio.io/inject": "false"}},
            "spec": pod_spec}


def _pull_secrets(profile: ThinRuntimeProfileSpec, spec: ThinRuntimeSpec,
                  *components: ThinFuseSpec | ThinCompTemplateSpec) -> list[dict[str, Any]]:
    chosen = _pick(profile.image_pull_secrets, spec.image_pull_secrets,
                   *[c.image_pull_secrets for c in components])
    return _dicts(chosen)


def _envs(*envs: list[EnvVar] | None) -> list[dict[str, Any]]:
    return [converter.unstructure(e) for group in envs for e in group or []]


def _ports(*ports: list[ContainerPort] | None) -> list[dict[str, Any]]:
    return [converter.unstructure(p) for group in ports for p in group or []]


def _pvc_secret_volumes(pvc_mounts: Sequence[PvcMount], volumes: list[dict[str, Any]],
                        mounts: list[dict[str, Any]]) -> None:
    for pvc in pvc_mounts:
        if not pvc.publish_secret:
            continue
        directory = f"{SECRETS_DIR}/{pvc.publish_secret_dir or pvc.publish_secret}"
        _append_or_replace(volumes, {"name": pvc.publish_secret,
                                     "secret": {"secretName": pvc.publish_secret}}, "name")
        _append_or_replace(mounts, {"name": pvc.publish_secret, "mountPath": directory,
                                    "readOnly": True}, "name")


def _fuse(inp: RenderInput, config_map: str) -> tuple[dict[str, Any], dict[str, Any]]:
    profile = (inp.profile.spec or ThinRuntimeProfileSpec(file_system_type=""))
    spec = inp.runtime.spec or ThinRuntimeSpec()
    pf, rf = profile.fuse or ThinFuseSpec(), spec.fuse or ThinFuseSpec()
    namespace, name = inp.runtime.namespace, inp.runtime.name
    target = inp.target
    user_mounts = _dicts(pf.volume_mounts) + _dicts(rf.volume_mounts)
    volumes = (_volumes_for(profile.volumes, pf.volume_mounts, owner="ThinRuntimeProfile")
               + _volumes_for(spec.volumes, rf.volume_mounts, owner="ThinRuntime"))
    host_vols, host_mounts = _host_volumes(inp.dataset, {m.get("mountPath", "") for m in user_mounts})
    volumes += host_vols
    user_mounts += host_mounts
    config = fuse_config(inp, volumes, user_mounts)
    _pvc_secret_volumes(inp.pvc_mounts, volumes, user_mounts)
    cache_dir = _cache_dir(spec)
    mount_dir = posixpath.dirname(target)
    env = [{"name": "FLUID_RUNTIME_TYPE", "value": RUNTIME_TYPE},
           {"name": "FLUID_RUNTIME_NS", "value": namespace},
           {"name": "FLUID_RUNTIME_NAME", "value": name},
           *_envs(pf.env, rf.env), {"name": ENV_MOUNT_POINT, "value": target}]
    options = mount_options_env(pf, rf, inp.dataset)
    if options:
        env.append({"name": ENV_MOUNT_OPTIONS, "value": options})
    container: dict[str, Any] = {
        "name": FUSE_CONTAINER,
        "image": _image(_pick(pf.image, rf.image), _pick(pf.image_tag, rf.image_tag)),
        "imagePullPolicy": _pick(pf.image_pull_policy, rf.image_pull_policy) or "IfNotPresent",
        "env": env,
        "ports": _ports(pf.ports, rf.ports),
        "resources": dict(_pick(pf.resources, rf.resources) or {}),
        "securityContext": {"privileged": True, "runAsUser": 0, "runAsGroup": 0},
        "lifecycle": _lifecycle(pf, rf, target),
        "volumeMounts": [
            {"name": "thin-fuse-mount", "mountPath": mount_dir, "mountPropagation": "Bidirectional"},
            {"name": "thin-conf", "mountPath": CONFIG_MOUNT_DIR, "readOnly": True},
            *([{"name": "cache-dir", "mountPath": cache_dir}] if cache_dir else []),
            *user_mounts,
        ],
    }
    for key, value in (("command", _pick(pf.command, rf.command)),
                       ("args", _pick(pf.args, rf.args)),
                       ("livenessProbe", _pick(pf.liveness_probe, rf.liveness_probe)),
                       ("readinessProbe", _pick(pf.readiness_probe, rf.readiness_probe))):
        if value:
            container[key] = list(value) if isinstance(value, list) else dict(value)
    host_network = _host_network(pf.network_mode, rf.network_mode)
    node_selector = {**(pf.node_selector or {}), **(rf.node_selector or {}),
                     **inp.ctx.fuse_node_selector}
    labels = {**((pf.pod_metadata.labels if pf.pod_metadata else None) or {}),
              **((rf.pod_metadata.labels if rf.pod_metadata else None) or {})}
    annotations = {**((pf.pod_metadata.annotations if pf.pod_metadata else None) or {}),
                   **((rf.pod_metadata.annotations if rf.pod_metadata else None) or {})}
    pod_spec: dict[str, Any] = {
        "hostNetwork": host_network,
        "hostPID": False,
        "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
        "enableServiceLinks": False,
        "nodeSelector": node_selector,
        "tolerations": [{"operator": "Exists"}],
        "restartPolicy": "Always",
        "containers": [container],
        "volumes": [
            {"name": "thin-fuse-mount", "hostPath": {"path": mount_dir, "type": "DirectoryOrCreate"}},
            {"name": "thin-conf", "configMap": {"name": config_map, "defaultMode": 0o444,
                                                "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]}},
            *([{"name": "cache-dir", "hostPath": {"path": cache_dir, "type": "DirectoryOrCreate"}}]
              if cache_dir else []),
            *volumes,
        ],
    }
    pull_secrets = _pull_secrets(profile, spec, pf, rf)
    if pull_secrets:
        pod_spec["imagePullSecrets"] = pull_secrets
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(inp, fuse_name(name), FUSE_ROLE),
        "spec": {
            "updateStrategy": {"type": "OnDelete"},
            "selector": {"matchLabels": inp.ctx.selector("fuse")},
            "template": _template(inp, "fuse", FUSE_ROLE, labels, annotations, pod_spec),
        },
    }
    return daemonset, config


def _cache_dir(spec: ThinRuntimeSpec) -> str | None:
    levels = (spec.tieredstore.levels if spec.tieredstore else None) or []
    return levels[0].path if levels and levels[0].path else None


def worker_enabled(runtime: ThinRuntime) -> bool:
    """Upstream runs a worker only when the ThinRuntime itself enables it."""
    worker = runtime.spec.worker if runtime.spec else None
    return bool(worker and worker.enabled)


def _worker(inp: RenderInput) -> dict[str, Any]:
    profile = (inp.profile.spec or ThinRuntimeProfileSpec(file_system_type=""))
    spec = inp.runtime.spec or ThinRuntimeSpec()
    pw, rw = profile.worker or ThinCompTemplateSpec(), spec.worker or ThinCompTemplateSpec()
    name = inp.runtime.name
    cache_dir = _cache_dir(spec)
    user_mounts = _dicts(pw.volume_mounts) + _dicts(rw.volume_mounts)
    volumes = (_volumes_for(profile.volumes, pw.volume_mounts, owner="ThinRuntimeProfile")
               + _volumes_for(spec.volumes, rw.volume_mounts, owner="ThinRuntime"))
    container: dict[str, Any] = {
        "name": WORKER_CONTAINER,
        "image": _image(_pick(pw.image, rw.image), _pick(pw.image_tag, rw.image_tag)),
        "imagePullPolicy": _pick(pw.image_pull_policy, rw.image_pull_policy) or "IfNotPresent",
        "env": _envs(pw.env, rw.env),
        "ports": _ports(pw.ports, rw.ports),
        "resources": dict(_pick(pw.resources, rw.resources) or {}),
        "securityContext": {"privileged": True},
        "volumeMounts": [*([{"name": "cache-dir", "mountPath": cache_dir}] if cache_dir else []),
                         *user_mounts],
    }
    for key, value in (("livenessProbe", _pick(pw.liveness_probe, rw.liveness_probe)),
                       ("readinessProbe", _pick(pw.readiness_probe, rw.readiness_probe))):
        if value:
            container[key] = dict(value)
    host_network = _host_network(pw.network_mode, rw.network_mode)
    pod_spec: dict[str, Any] = {
        "hostNetwork": host_network,
        "enableServiceLinks": False,
        "nodeSelector": {**(pw.node_selector or {}), **(rw.node_selector or {})},
        "tolerations": [dict(t) for t in inp.ctx.tolerations],
        "restartPolicy": "Always",
        "containers": [container],
        "volumes": [*([{"name": "cache-dir", "hostPath": {"path": cache_dir,
                                                           "type": "DirectoryOrCreate"}}]
                      if cache_dir else []), *volumes],
    }
    pull_secrets = _pull_secrets(profile, spec, pw, rw)
    if pull_secrets:
        pod_spec["imagePullSecrets"] = pull_secrets
    if inp.ctx.worker_affinity:
        pod_spec["affinity"] = dict(inp.ctx.worker_affinity)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(inp, worker_name(name), WORKER_ROLE),
        "spec": {
            "replicas": inp.ctx.replicas,
            "serviceName": worker_name(name),
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "OnDelete"},
            "selector": {"matchLabels": inp.ctx.selector("worker")},
            "template": _template(inp, "worker", WORKER_ROLE, {}, {}, pod_spec),
        },
    }


def render(inp: RenderInput) -> Rendered:
    """Every object of a ThinRuntime; raises RenderError on a user's mistake."""
    spec = inp.dataset.spec
    pvc_claims = [c for m in (spec.mounts if spec else None) or []
                  if (c := pvc_name_of(m.mount_point))]
    if len(pvc_claims) > 1:
        raise RenderError("a ThinRuntime supports at most one pvc:// mount")
    missing = set(pvc_claims) - {p.claim for p in inp.pvc_mounts}
    if missing:
        raise RenderError(f"PersistentVolumeClaim {sorted(missing)[0]!r} has not been resolved")
    name = inp.runtime.name
    daemonset, config = _fuse(inp, config_name(name))
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(inp, config_name(name), FUSE_ROLE),
        "data": {CONFIG_KEY: json.dumps(config, sort_keys=True)},
    }
    return Rendered(fuse=daemonset, config=config_map,
                    worker=_worker(inp) if worker_enabled(inp.runtime) else None)
