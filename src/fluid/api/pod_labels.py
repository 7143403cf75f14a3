"""Labels, annotations and env names Fluid puts on application pods (upstream's spellings).

Owns the pod-side vocabulary shared by the webhook (which writes it when it mutates a pod)
and the FluidApp controller (which finds injected sidecars by it), and the small pure
helpers that build per-dataset keys. ``fluid.api.constants`` holds the keys of Fluid's
own objects and of nodes. Never does I/O.
"""

from __future__ import annotations

import re

__all__ = [
    "ANNOTATION_SKIP_PRECHECK",
    "ENV_FUSE_MOUNTPOINT",
    "FUSE_CONTAINER_PREFIX",
    "LABEL_CACHEDIR_INJECT",
    "LABEL_DONE_INJECT",
    "LABEL_FUSE_SIDECAR_INJECT",
    "LABEL_SERVERFUL_INJECT",
    "LABEL_SERVERLESS_INJECT",
    "LABEL_WRAPPED_BY",
    "SCHED_PREFERRED",
    "SCHED_REQUIRED",
    "is_true",
    "sched_dataset",
    "sched_label",
    "sidecar_dataset_labels",
]

LABEL_SERVERLESS_INJECT = "serverless.fluid.io/inject"
"""Pod label (``true``): inject the dataset's FUSE client as a sidecar."""
LABEL_FUSE_SIDECAR_INJECT = "fuse.sidecar.fluid.io/inject"
"""Deprecated spelling of ``LABEL_SERVERLESS_INJECT``, still honoured."""
LABEL_SERVERFUL_INJECT = "fuse.serverful.fluid.io/inject"
"""Pod label (``true``): run the serverful chain even for a pod that uses no dataset."""
LABEL_DONE_INJECT = "done.sidecar.fluid.io/inject"
"""Pod label set after sidecar injection; the webhook skips such pods (reinvocation safe)."""
LABEL_CACHEDIR_INJECT = "cachedir.sidecar.fluid.io/inject"
"""Pod label (``true``): keep the FUSE template's cache-directory volumes in the sidecar."""
LABEL_WRAPPED_BY = "fluid.io/wrapped-by"
"""Deprecated spelling of ``fluid.io/managed-by`` on PVCs wrapped by a Thin dataset."""
ANNOTATION_SKIP_PRECHECK = "sidecar.fluid.io/skip-precheck"
"""Pod annotation (``true``): inject even when the dataset is not Bound yet."""
ENV_FUSE_MOUNTPOINT = "FLUID_FUSE_MOUNTPOINT"
"""Env var on injected sidecars naming the mount point the FluidApp controller unmounts."""
FUSE_CONTAINER_PREFIX = "fluid-fuse"
"""Injected sidecars are named ``fluid-fuse-<index>``."""

SCHED_REQUIRED = "required"
SCHED_PREFERRED = "preferred"
_SCHED = re.compile(r"^fluid\.io/dataset\.([A-Za-z0-9.-]*)\.sched$")
_MAX_NAME = 63


def is_true(value: object) -> bool:
    return isinstance(value, str) and value.lower() == "true"


def sched_label(dataset: str) -> str | None:
    """``fluid.io/dataset.<name>.sched``, or None when the key would be too long for a label."""
    name = f"dataset.{dataset}.sched"
    return None if len(name) > _MAX_NAME else "fluid.io/" + name


def sched_dataset(key: str) -> str | None:
    """The dataset a ``fluid.io/dataset.<name>.sched`` key names, else None."""
    match = _SCHED.match(key)
    return match.group(1) if match else None


def sidecar_dataset_labels(container: str, namespace: str, name: str) -> dict[str, str]:
    """Labels recording which dataset an injected sidecar container serves."""
    return {
        f"dataset-namespace.sidecar.fluid.io/{container}": namespace,
        f"dataset-name.sidecar.fluid.io/{container}": name,
    }
