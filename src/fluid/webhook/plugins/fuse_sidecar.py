"""Plugin ``FuseSidecar``: serverless mode, the runtime's FUSE client as a sidecar.

For each dataset PVC (sorted by name; index ``i`` continues after sidecars already
there), in one admission:

1. the template is the first container of the runtime's FUSE DaemonSet
   (``<runtime>-fuse``; for a reference dataset the copy in the pod's namespace first,
   else the source's), read from the informer cache; cache-directory volumes are
   dropped unless the pod has ``cachedir.sidecar.fluid.io/inject=true``, and
   ``*-metrics`` ports unless the runtime's ``fuse.metrics.scrapeTarget`` selects
   ``Sidecar`` (then the pod is annotated ``prometheus.fuse.fluid.io/scrape: "true"``);
2. the container becomes ``fluid-fuse-<i>`` with the DaemonSet volumes it mounts (renamed
   ``<volume>-<i>``) and env ``FLUID_FUSE_MOUNTPOINT``; its ``preStop`` (the unmount)
   is kept;
3. every pod volume using the PVC becomes a ``hostPath`` of the FUSE mount point
   (``fluid_path`` of the dataset's PV, plus the sub-path), and every app/init container
   mounting it gets ``mountPropagation: HostToContainer``;
4. readiness: in ``native`` mode (the default; Kubernetes >= 1.29) the sidecar is an init
   container with ``restartPolicy: Always`` and a startup probe that passes once the
   mount is in ``/proc/mounts``, so the kubelet starts later init and app containers
   only after the mount is ready and stops the sidecar when the app containers finish
   (Jobs complete without help). In ``legacy`` mode it is the first app container, and a
   ``postStart`` hook waits for the mount (the kubelet starts the next container only
   after the hook); the FluidApp controller unmounts it when the app containers exit.

Finally the pod is labelled ``done.sidecar.fluid.io/inject=true`` (a re-invoked webhook
skips it) and ``dataset-{namespace,name}.sidecar.fluid.io/fluid-fuse-<i>``.

Denies (with what to do) when a dataset is not Bound (unless the pod is annotated
``sidecar.fluid.io/skip-precheck=true``), or its FUSE DaemonSet or PV is not there yet.
Args: ``mode`` (``native``|``legacy``), ``mountTimeoutSeconds`` (default 120).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from fluid.api import pod_labels as labels
from fluid.api.mount_modes import mount_modes
from fluid.webhook.datasets import DatasetUse
from fluid.webhook.plugins.api import Decision, Denied, Plugin, PodContext, check_args

__all__ = ["NAME", "build"]

NAME = "FuseSidecar"
NATIVE = "native"
LEGACY = "legacy"
_CACHE_DIR_PREFIXES = ("datavolume-", "volume-localtime", "cache-dir", "mem", "ssd", "hdd")
_FUSE_DAEMONSET_SUFFIX = {"jindo": "-jindofs-fuse"}
_RENDERED: dict[tuple[Any, ...], bytes] = {}
"""Rendered sidecars (container, volumes) as JSON, keyed by DaemonSet version and inputs."""
_MAX_RENDERED = 1024


def _clone(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A private deep copy of a cached object (orjson round trip: a C-speed deep copy)."""
    clone: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return clone


def _scrapes_sidecar(use: DatasetUse) -> bool:
    """Whether the runtime's ``fuse.metrics.scrapeTarget`` selects injected sidecars (then
    they keep their ``*-metrics`` ports and the pod is annotated for scraping, as upstream)."""
    fuse = ((use.runtime or {}).get("spec") or {}).get("fuse") or {}
    target = (fuse.get("metrics") or {}).get("scrapeTarget") or ""
    try:
        return "Sidecar" in mount_modes(str(target))
    except ValueError:  # the runtime's own validation reports it
        return False


def fuse_daemonset_name(runtime_name: str, runtime_type: str | None) -> str:
    """The FUSE DaemonSet of a runtime: ``<name>-fuse`` (Jindo: ``<name>-jindofs-fuse``)."""
    return runtime_name + _FUSE_DAEMONSET_SUFFIX.get(runtime_type or "", "-fuse")


def mount_check(path: str) -> str:
    """A shell test that passes once a FUSE filesystem is mounted at ``path``."""
    return f"grep -q ' {path} fuse' /proc/mounts"


def _template(ctx: PodContext, use: DatasetUse) -> Mapping[str, Any]:
    runtime_name = use.runtime_name or use.source_name
    candidates = []
    if use.reference:
        candidates.append(f"{use.namespace}/{use.name}-fuse")  # the reference engine's copy
    candidates.append(f"{use.source_namespace}/{fuse_daemonset_name(runtime_name, use.runtime_type)}")
    for key in candidates:
        daemonset = ctx.caches.daemonsets.get(key)
        if daemonset is not None:
            return daemonset
    raise Denied(
        f"dataset {use.namespace}/{use.name}: its runtime has no FUSE DaemonSet "
        f"({' or '.join(candidates)}) yet; create the pod again once the runtime is ready"
    )


def _paths(ctx: PodContext, use: DatasetUse) -> tuple[str, str]:
    """(FUSE mount point, what the app mounts) from the PV's ``fluid_path`` and sub-path."""
    pv_names = [use.pv_name] if use.pv_name else []
    if use.reference:
        pv_names.append(f"{use.source_namespace}-{use.source_name}")
    for pv_name in pv_names:
        pv = ctx.caches.pvs.get(pv_name)
        attributes = ((pv or {}).get("spec", {}).get("csi") or {}).get("volumeAttributes") or {}
        fluid_path = str(attributes.get("fluid_path") or "").rstrip("/")
        if not fluid_path:
            continue
        sub_path = str(attributes.get("fluid_sub_path") or "").strip("/")
        if not sub_path and pv_name != use.pv_name:
            sub_path = use.sub_path.strip("/")
        return fluid_path, fluid_path + ("/" + sub_path if sub_path else "")
    raise Denied(
        f"dataset {use.namespace}/{use.name}: no PersistentVolume with a fluid_path "
        f"({', '.join(pv_names) or 'the PVC is not bound'}) yet; retry once the dataset is Bound"
    )


@attrs.frozen
class FuseSidecar:
    mode: str = NATIVE
    mount_timeout: int = 120
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        if not ctx.datasets:
            return Decision.skipped("no dataset")
        if labels.is_true(ctx.labels.get(labels.LABEL_DONE_INJECT)):
            return Decision.skipped("already injected")
        index = self._existing_sidecars(ctx)
        injected, scraped = [], False
        for use in ctx.datasets:
            self._precheck(ctx, use)
            scrape = _scrapes_sidecar(use)
            injected.append(self._inject(ctx, use, index, keep_metrics=scrape))
            scraped |= scrape
            index += 1
        ctx.editor.set(("metadata", "labels", labels.LABEL_DONE_INJECT), "true")
        if scraped and labels.ANNOTATION_FUSE_METRICS_SCRAPE not in ctx.annotations:
            ctx.editor.set(("metadata", "annotations", labels.ANNOTATION_FUSE_METRICS_SCRAPE), "true")
        return Decision.mutated(f"{self.mode} sidecars " + ",".join(injected))

    def _existing_sidecars(self, ctx: PodContext) -> int:
        spec = ctx.pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
        return sum(1 for c in containers if str(c.get("name", "")).startswith(labels.FUSE_CONTAINER_PREFIX))

    def _precheck(self, ctx: PodContext, use: DatasetUse) -> None:
        if use.bound or labels.is_true(ctx.annotations.get(labels.ANNOTATION_SKIP_PRECHECK)):
            return
        raise Denied(
            f"dataset {use.source_namespace}/{use.source_name} is {use.phase or 'not bound'}: "
            f"the FUSE sidecar needs a Bound dataset; create the pod once it is Bound, or "
            f"annotate it {labels.ANNOTATION_SKIP_PRECHECK}=true to inject anyway"
        )

    def _inject(self, ctx: PodContext, use: DatasetUse, index: int, *, keep_metrics: bool) -> str:
        template = _template(ctx, use)
        fuse_path, mount_path = _paths(ctx, use)
        name = f"{labels.FUSE_CONTAINER_PREFIX}-{index}"
        container, volumes = self._container(ctx, template, name=name, index=index, fuse_path=fuse_path,
                                             keep_metrics=keep_metrics)
        self._rewrite_volumes(ctx, use, mount_path)
        for volume in volumes:
            ctx.editor.append(("spec", "volumes"), volume)
        field = "initContainers" if self.mode == NATIVE else "containers"
        position = index if self.mode == NATIVE else self._legacy_position(ctx)
        ctx.editor.insert(("spec", field), position, container)
        for key, value in labels.sidecar_dataset_labels(name, use.namespace, use.name).items():
            ctx.editor.set(("metadata", "labels", key), value)
        return f"{name}->{use.namespace}/{use.name}"

    def _legacy_position(self, ctx: PodContext) -> int:
        containers = ctx.pod.get("spec", {}).get("containers") or ()
        return sum(1 for c in containers if str(c.get("name", "")).startswith(labels.FUSE_CONTAINER_PREFIX))

    def _container(
        self, ctx: PodContext, template: Mapping[str, Any], *, name: str, index: int, fuse_path: str,
        keep_metrics: bool,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The sidecar and the volumes it needs, rendered once per DaemonSet version.

        Rendering clones the DaemonSet's container and volumes; serverless pods of one
        dataset all get the same result, so it is kept (as JSON) keyed by everything it
        depends on, and each admission gets a fresh copy.
        """
        pod_spec = (template.get("spec") or {}).get("template", {}).get("spec") or {}
        keep_cache = labels.is_true(ctx.labels.get(labels.LABEL_CACHEDIR_INJECT))
        taken = {v.get("name") for v in ctx.pod.get("spec", {}).get("volumes") or ()}
        clashes = tuple(sorted(
            str(v.get("name")) for v in pod_spec.get("volumes") or () if f"{v.get('name')}-{index}" in taken
        ))
        meta = template.get("metadata") or {}
        key = (meta.get("uid"), meta.get("resourceVersion"), meta.get("namespace"), meta.get("name"),
               self.mode, self.mount_timeout, name, index, fuse_path, keep_cache, keep_metrics, clashes)
        rendered = _RENDERED.get(key) if key[1] else None
        if rendered is None:
            rendered = orjson.dumps(self._render(
                template, pod_spec, name=name, index=index, fuse_path=fuse_path,
                keep_cache=keep_cache, keep_metrics=keep_metrics, clashes=frozenset(clashes)))
            if key[1]:
                if len(_RENDERED) >= _MAX_RENDERED:
                    _RENDERED.clear()
                _RENDERED[key] = rendered
        container, volumes = orjson.loads(rendered)
        return container, volumes

    def _render(
        self, template: Mapping[str, Any], pod_spec: Mapping[str, Any], *, name: str, index: int,
        fuse_path: str, keep_cache: bool, keep_metrics: bool, clashes: frozenset[str],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        containers = pod_spec.get("containers") or ()
        if not containers:
            raise Denied(f"FUSE DaemonSet {template['metadata']['name']} has no container")
        container = _clone(containers[0])
        ds_volumes = {
            v["name"]: v for v in pod_spec.get("volumes") or ()
            if keep_cache or not str(v.get("name", "")).startswith(_CACHE_DIR_PREFIXES)
        }
        renames = {n: f"fluid-{n}-{index}" if n in clashes else f"{n}-{index}" for n in ds_volumes}
        mounts = [dict(m) for m in container.get("volumeMounts") or () if m.get("name") in ds_volumes]
        for mount in mounts:
            mount["name"] = renames[mount["name"]]
        used = {m["name"] for m in mounts}
        volumes = [{**_clone(v), "name": renames[n]} for n, v in ds_volumes.items()
                   if renames[n] in used]
        container["name"] = name
        container["volumeMounts"] = mounts
        ports = [p for p in container.get("ports") or ()
                 if keep_metrics or not str(p.get("name", "")).endswith("-metrics")]
        if ports:
            container["ports"] = ports
        else:
            container.pop("ports", None)
        env = [e for e in container.get("env") or () if e.get("name") != labels.ENV_FUSE_MOUNTPOINT]
        container["env"] = [*env, {"name": labels.ENV_FUSE_MOUNTPOINT, "value": fuse_path}]
        self._readiness(container, fuse_path)
        return container, volumes

    def _readiness(self, container: dict[str, Any], fuse_path: str) -> None:
        check = mount_check(fuse_path)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            container.pop(probe, None)
        if self.mode == NATIVE:
            container["restartPolicy"] = "Always"
            container["startupProbe"] = {
                "exec": {"command": ["sh", "-c", check]},
                "periodSeconds": 1, "failureThreshold": self.mount_timeout, "timeoutSeconds": 5,
            }
            return
        wait = (f"i=0; while [ $i -lt {self.mount_timeout} ]; do {check} && exit 0; "
                f"i=$((i+1)); sleep 1; done; echo 'FUSE mount {fuse_path} not ready' >&2; exit 1")
        lifecycle = dict(container.get("lifecycle") or {})
        lifecycle["postStart"] = {"exec": {"command": ["sh", "-c", wait]}}
        container["lifecycle"] = lifecycle

    def _rewrite_volumes(self, ctx: PodContext, use: DatasetUse, mount_path: str) -> None:
        volumes = ctx.pod.get("spec", {}).get("volumes") or ()
        for v_index, volume in enumerate(volumes):
            if volume.get("name") in use.volumes:
                ctx.editor.set(("spec", "volumes", v_index),
                               {"name": volume["name"], "hostPath": {"path": mount_path}})
        ctx.propagate_mounts(use.volumes)


def build(args: Mapping[str, Any]) -> Plugin:
    check_args(NAME, args, ("mode", "mountTimeoutSeconds"))
    mode = str(args.get("mode", NATIVE))
    if mode not in (NATIVE, LEGACY):
        raise ValueError(f"{NAME}: mode must be {NATIVE!r} or {LEGACY!r}, got {mode!r}")
    timeout = int(args.get("mountTimeoutSeconds", 120))
    if timeout < 1:
        raise ValueError(f"{NAME}: mountTimeoutSeconds must be positive")
    return FuseSidecar(mode=mode, mount_timeout=timeout)
