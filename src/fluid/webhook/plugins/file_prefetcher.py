"""Plugin ``FilePrefetcher``: a sidecar that reads chosen dataset files before the app does.

Acts only on pods annotated ``file-prefetcher.fluid.io/inject=true`` and not yet
``file-prefetcher.fluid.io/inject-done=true``. The other annotations (upstream's names):

- ``file-prefetcher.fluid.io/image``: the prefetcher image; default the plugin's ``image``
  arg (the controller-manager's ``FILE_PREFETCHER_IMAGE``). Neither set: the pod is refused;
- ``file-prefetcher.fluid.io/file-list``: ``;``-separated ``pvc://<claim>[/<glob>]``
  entries (a bare claim means every file, ``**``); default ``<ALL>``, every dataset PVC
  the pod mounts. Entries that are not ``pvc://`` or name a PVC that is not one of the
  pod's dataset PVCs are left out; when none is left the plugin does nothing;
- ``file-prefetcher.fluid.io/async-prefetch`` (bool, default false): when false the
  prefetcher's ``postStart`` waits for its status file, so the kubelet starts the app
  containers after it only once the files were read (or the timeout passed); when true
  the app containers start at once and get the status directory mounted to look for
  themselves;
- ``file-prefetcher.fluid.io/prefetch-timeout-seconds`` (integer, default 120);
- ``file-prefetcher.fluid.io/extra-envs``: ``k1=v1 k2=v2`` added to the container's env.

The container ``fluid-file-prefetcher`` goes into ``spec.containers`` right after the last
``fluid-fuse-*`` container (first otherwise). It mounts every pod volume of the listed
PVCs at ``/data/<volume>`` (``HostToContainer``, so a FUSE mount that appears later is
seen) and an emptyDir ``fluid-file-prefetcher-status-vol`` at
``/tmp/fluid-file-prefetcher/status``; env ``FILE_PREFETCHER_FILE_LIST`` (the globs under
``/data``), ``FILE_PREFETCHER_ASYNC_PREFETCH``, ``FILE_PREFETCHER_TIMEOUT_SECONDS``. The pod
is annotated ``inject-done``. A malformed annotation refuses the pod with what to fix.
Listed before ``FuseSidecar`` (as in the default profile), the sidecar's volume rewrite
then covers the prefetcher's mounts too; it works in either order.

Args: ``image`` (optional). Reads the pod and the resolved datasets only; called by the
mutation chain.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

import attrs

from fluid.api import pod_labels as labels
from fluid.webhook.plugins.api import HOST_TO_CONTAINER, Decision, Denied, Plugin, PodContext, check_args

__all__ = [
    "ANNOTATION_ASYNC",
    "ANNOTATION_EXTRA_ENVS",
    "ANNOTATION_FILE_LIST",
    "ANNOTATION_IMAGE",
    "ANNOTATION_INJECT",
    "ANNOTATION_INJECT_DONE",
    "ANNOTATION_TIMEOUT",
    "CONTAINER_NAME",
    "NAME",
    "STATUS_MOUNT_PATH",
    "STATUS_VOLUME",
    "build",
]

NAME = "FilePrefetcher"
_PREFIX = "file-prefetcher.fluid.io/"
ANNOTATION_INJECT = _PREFIX + "inject"
ANNOTATION_INJECT_DONE = _PREFIX + "inject-done"
ANNOTATION_IMAGE = _PREFIX + "image"
ANNOTATION_FILE_LIST = _PREFIX + "file-list"
ANNOTATION_ASYNC = _PREFIX + "async-prefetch"
ANNOTATION_EXTRA_ENVS = _PREFIX + "extra-envs"
ANNOTATION_TIMEOUT = _PREFIX + "prefetch-timeout-seconds"

CONTAINER_NAME = "fluid-file-prefetcher"
STATUS_VOLUME = "fluid-file-prefetcher-status-vol"
STATUS_MOUNT_PATH = "/tmp/fluid-file-prefetcher/status"
_STATUS_FILE = STATUS_MOUNT_PATH + "/prefetcher.status"
_ALL = "<ALL>"
_SCHEME = "pvc://"
_DATA_ROOT = "/data"
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")


@attrs.frozen
class _Request:
    """What the annotations ask for, parsed and checked."""

    image: str
    asynchronous: bool
    timeout: int
    extra_env: tuple[tuple[str, str], ...]
    mounts: tuple[tuple[str, str], ...]
    """(pod volume, mount path in the prefetcher), sorted by volume."""
    globs: tuple[str, ...]


def _bool(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Denied(f"annotation {ANNOTATION_ASYNC}={value!r} must be true or false")


def _timeout(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Denied(f"annotation {ANNOTATION_TIMEOUT}={value!r} must be an integer (seconds)") from None


def _extra_env(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in value.split():
        parts = item.split("=")
        if len(parts) != 2 or not parts[0]:
            raise Denied(f"annotation {ANNOTATION_EXTRA_ENVS}: {item!r} is not key=value; "
                         "write it as 'k1=v1 k2=v2'")
        pairs.append((parts[0], parts[1]))
    return tuple(pairs)


def _entry(entry: str) -> tuple[str, str] | None:
    """(claim, ``/``-rooted glob inside the volume) of one ``pvc://`` entry, else None."""
    if not entry.startswith(_SCHEME):
        return None
    claim, slash, rest = entry[len(_SCHEME):].partition("/")
    if not claim:
        return None
    return claim, posixpath.normpath("/" + rest.lstrip("/")) if slash else "/**"


def _targets(ctx: PodContext, file_list: str) -> tuple[dict[str, str], list[str]]:
    """Mount path per pod volume and the globs to read, from the file list."""
    volumes_of = {use.claim: use.volumes for use in ctx.datasets}
    if file_list == _ALL:
        file_list = ";".join(_SCHEME + claim for claim in sorted(volumes_of))
    mounts: dict[str, str] = {}
    globs: list[str] = []
    for raw in file_list.split(";"):
        parsed = _entry(raw.strip())
        if parsed is None or parsed[0] not in volumes_of:
            continue
        claim, pattern = parsed
        for volume in volumes_of[claim]:
            mounts[volume] = posixpath.join(_DATA_ROOT, volume)
            globs.append(posixpath.normpath(mounts[volume] + pattern))
    return mounts, globs


def _wait_for_status(timeout_env: str) -> list[str]:
    """``postStart``: wait for the status file the prefetcher writes when it is done."""
    script = (f'n=0; while [ "$n" -lt "${timeout_env}" ]; do [ -e {_STATUS_FILE} ] && exit 0; '
              'n=$((n+1)); sleep 1; done; echo "file prefetch did not finish in time" >&2; exit 1')
    return ["sh", "-c", script]


@attrs.frozen
class FilePrefetcher:
    image: str = ""
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        annotations = ctx.annotations
        if annotations.get(ANNOTATION_INJECT) != "true":
            return Decision.skipped("not requested")
        if annotations.get(ANNOTATION_INJECT_DONE) == "true" or self._present(ctx):
            return Decision.skipped("already injected")
        request = self._request(ctx, annotations)
        if not request.globs:
            return Decision.skipped("no dataset PVC in the file list")
        self._inject(ctx, request)
        return Decision.mutated(";".join(request.globs))

    def _present(self, ctx: PodContext) -> bool:
        containers = (ctx.pod.get("spec") or {}).get("containers") or ()
        return any(c.get("name") == CONTAINER_NAME for c in containers)

    def _request(self, ctx: PodContext, annotations: Mapping[str, str]) -> _Request:
        image = annotations.get(ANNOTATION_IMAGE, self.image)
        if not image:
            raise Denied(f"the file prefetcher needs an image: annotate the pod {ANNOTATION_IMAGE}=<image>")
        mounts, globs = _targets(ctx, annotations.get(ANNOTATION_FILE_LIST, _ALL))
        return _Request(
            image=image, asynchronous=_bool(annotations.get(ANNOTATION_ASYNC, "false")),
            timeout=_timeout(annotations.get(ANNOTATION_TIMEOUT, "120")),
            extra_env=_extra_env(annotations.get(ANNOTATION_EXTRA_ENVS, "")),
            mounts=tuple(sorted(mounts.items())), globs=tuple(globs),
        )

    def _container(self, request: _Request) -> dict[str, Any]:
        mounts: list[dict[str, Any]] = [
            {"name": volume, "mountPath": path, "mountPropagation": HOST_TO_CONTAINER}
            for volume, path in request.mounts
        ]
        mounts.append({"name": STATUS_VOLUME, "mountPath": STATUS_MOUNT_PATH})
        env = [
            {"name": "FILE_PREFETCHER_FILE_LIST", "value": ";".join(request.globs)},
            {"name": "FILE_PREFETCHER_ASYNC_PREFETCH", "value": str(request.asynchronous).lower()},
            {"name": "FILE_PREFETCHER_TIMEOUT_SECONDS", "value": str(request.timeout)},
            *({"name": k, "value": v} for k, v in request.extra_env),
        ]
        container: dict[str, Any] = {"name": CONTAINER_NAME, "image": request.image, "env": env,
                                     "volumeMounts": mounts}
        if not request.asynchronous:
            container["lifecycle"] = {"postStart": {"exec": {
                "command": _wait_for_status("FILE_PREFETCHER_TIMEOUT_SECONDS")}}}
        return container

    def _inject(self, ctx: PodContext, request: _Request) -> None:
        containers = (ctx.pod.get("spec") or {}).get("containers") or ()
        if request.asynchronous:
            status = {"name": STATUS_VOLUME, "mountPath": STATUS_MOUNT_PATH}
            for index, container in enumerate(containers):
                if not str(container.get("name", "")).startswith(labels.FUSE_CONTAINER_PREFIX):
                    ctx.editor.append(("spec", "containers", index, "volumeMounts"), status)
        after_fuse = 1 + max((i for i, c in enumerate(containers)
                              if str(c.get("name", "")).startswith(labels.FUSE_CONTAINER_PREFIX)),
                             default=-1)
        ctx.editor.insert(("spec", "containers"), after_fuse, self._container(request))
        ctx.editor.append(("spec", "volumes"), {"name": STATUS_VOLUME, "emptyDir": {}})
        ctx.editor.set(("metadata", "annotations", ANNOTATION_INJECT_DONE), "true")


def build(args: Mapping[str, Any]) -> Plugin:
    check_args(NAME, args, ("image",))
    return FilePrefetcher(image=str(args.get("image") or ""))
