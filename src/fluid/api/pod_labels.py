"""Labels, annotations and env names Fluid puts on application pods (upstream's spellings).

Owns the pod-side vocabulary shared by the webhook (which writes it when it mutates a pod)
and the FluidApp controller (which finds injected sidecars by it), and the small pure
helpers that build per-dataset keys. ``fluid.api.constants`` holds the keys of Fluid's
own objects and of nodes. Never does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "ANNOTATION_FUSE_METRICS_SCRAPE",
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
    "SERVERLESS_PLATFORM_KEY_ENV",
    "is_true",
    "label_key_error",
    "sched_dataset",
    "sched_label",
    "serverless_requested",
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
ANNOTATION_FUSE_METRICS_SCRAPE = "prometheus.fuse.fluid.io/scrape"
"""Pod annotation (``true``): Prometheus scrapes the FUSE client's metrics port in this pod
(a FUSE DaemonSet pod, or an app pod with an injected sidecar)."""

SERVERLESS_PLATFORM_KEY_ENV = "KEY_SERVERLESS_PLATFORM"
"""Operator env (upstream's, deprecated there in favour of the label): a pod label *key*
whose presence, with any value, asks for serverless injection; the value names the
platform (e.g. ``alibabacloud.com/fluid-sidecar-target: eci``). Unset by default."""

SCHED_REQUIRED = "required"
SCHED_PREFERRED = "preferred"
_SCHED = re.compile(r"^fluid\.io/dataset\.([A-Za-z0-9.-]*)\.sched$")
_MAX_NAME = 63
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_true(value: object) -> bool:
    return isinstance(value, str) and value.lower() == "true"


def serverless_requested(pod_labels: Mapping[str, str], platform_key: str = "") -> bool:
    """The pod asks for the FUSE sidecar: ``serverless.fluid.io/inject=true``, the deprecated
    ``fuse.sidecar.fluid.io/inject=true``, or (when configured) the platform label key."""
    return (is_true(pod_labels.get(LABEL_SERVERLESS_INJECT))
            or is_true(pod_labels.get(LABEL_FUSE_SIDECAR_INJECT))
            or (bool(platform_key) and platform_key in pod_labels))


def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a valid label key (``[prefix/]name``), or None when it is."""
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > _MAX_NAME or not _LABEL_NAME.match(name):
        return (f"{key!r} is not a label key: the name part must be 1-63 characters, "
                "alphanumeric, '-', '_' or '.', starting and ending alphanumeric")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"{key!r} is not a label key: its prefix must be a DNS subdomain"
    return None


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
