"""The pod mutation path ``/mutate-fluid-io-v1alpha1-schedulepod``: pick a chain, run it.

Owns the per-admission flow: skip what must not be touched (non-pod, non-CREATE,
``fluid.io/enable-injection=false``, already injected), refuse a pod whose
``metadata.namespace`` disagrees with the request, resolve the datasets from the caches,
choose the chain (serverless when labelled ``serverless.fluid.io/inject=true``, the
deprecated ``fuse.sidecar.fluid.io/inject=true``, or with the operator's serverless
platform label key, any value; a pod carrying both the platform key and
``serverless.fluid.io/inject=true`` is refused, as upstream; else serverful, whose
``withoutDataset`` chain runs only for pods labelled ``fuse.serverful.fluid.io/inject=true``),
run its plugins in order on one ``PatchEditor``, and answer with the JSON Patch. Each
plugin's decision is counted (``fluid_webhook_admission_total{plugin,outcome}``; the server
times whole reviews per path), and the admission is logged once with every plugin's decision.

Never calls the API server (plugins read informer caches) and never decides what a
plugin does. Built by ``fluid.webhook.setup``; served by ``fluid.webhook.server``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from fluid.api import constants
from fluid.api import pod_labels as labels
from fluid.observability import metrics
from fluid.webhook import admission, datasets
from fluid.webhook.jsonpatch import PatchEditor
from fluid.webhook.plugins.api import Decision, Denied, Plugin, PodContext
from fluid.webhook.profile import Profile

__all__ = ["MUTATE_PATH", "mutating_handler"]

log = structlog.get_logger(__name__)

MUTATE_PATH = "/mutate-fluid-io-v1alpha1-schedulepod"
"""Where both webhooks of ``fluid-pod-admission-webhook`` send pod CREATEs (upstream's path)."""

ProfileSource = Callable[[], Profile]
"""Returns the current profile (it may be reloaded from its ConfigMap at any time)."""


def _platform_conflict(pod_labels: dict[str, str], platform_key: str) -> str | None:
    """Upstream refuses a pod naming its platform both ways: the answer would be ambiguous."""
    if platform_key and platform_key in pod_labels and labels.is_true(
            pod_labels.get(labels.LABEL_SERVERLESS_INJECT)):
        return (f"the labels {platform_key!r} and {labels.LABEL_SERVERLESS_INJECT!r} may not be "
                f"set together; remove {platform_key!r} and create the pod again")
    return None


def _skip_reason(request: admission.AdmissionRequest, pod_labels: dict[str, str]) -> str | None:
    if request.kind != "Pod" or request.operation != "CREATE" or request.object is None:
        return "not a pod creation"
    if pod_labels.get(constants.LABEL_ENABLE_INJECTION) == "false":
        return "injection disabled by label"
    if labels.is_true(pod_labels.get(labels.LABEL_DONE_INJECT)):
        return "sidecar already injected"
    return None


def _not_bound_warnings(uses: tuple[datasets.DatasetUse, ...]) -> list[str]:
    return [
        f"dataset {u.source_namespace}/{u.source_name} is {u.phase or 'not bound'} yet: "
        "the pod's volume will mount once it is Bound"
        for u in uses if not u.bound
    ]


def _run_chain(chain: tuple[Plugin, ...], ctx: PodContext) -> dict[str, str]:
    decisions: dict[str, str] = {}
    for plugin in chain:
        try:
            decision: Decision = plugin.mutate(ctx)
        except Denied:
            metrics.ADMISSION_TOTAL.inc(MUTATE_PATH, plugin.name, "denied")
            raise
        metrics.ADMISSION_TOTAL.inc(MUTATE_PATH, plugin.name, decision.outcome)
        decisions[plugin.name] = (
            f"{decision.outcome}: {decision.detail}" if decision.detail else decision.outcome
        )
        if decision.stop:
            break
    return decisions


def _platform_of(pod_labels: dict[str, str], platform_key: str) -> dict[str, str]:
    """``{"platform": <value>}`` for the admission log when the pod names its platform."""
    return {"platform": pod_labels[platform_key]} if platform_key and platform_key in pod_labels else {}


def mutating_handler(
    *, profile: ProfileSource, caches: datasets.Caches, platform_key: str = "",
) -> admission.ReviewHandler:
    """The pod mutation handler over ``caches``, running the chains of ``profile()``.

    ``platform_key``: the serverless platform label key (``KEY_SERVERLESS_PLATFORM``), or "".
    """
    async def handle(request: admission.AdmissionRequest) -> dict[str, Any]:
        started = time.perf_counter()
        pod = request.object or {}
        meta = pod.get("metadata") or {}
        pod_labels = meta.get("labels") or {}
        skip = _skip_reason(request, pod_labels)
        if skip is not None:
            return admission.allowed(request.uid)
        pod_name = meta.get("name") or meta.get("generateName") or ""
        if meta.get("namespace") and meta["namespace"] != request.namespace:
            return admission.denied(
                request.uid, f"pod namespace {meta['namespace']!r} differs from the request's "
                f"{request.namespace!r}", code=400, reason="BadRequest")
        conflict = _platform_conflict(pod_labels, platform_key)
        if conflict is not None:
            log.info("pod_admission_denied", namespace=request.namespace, pod=pod_name, reason=conflict)
            return admission.denied(request.uid, conflict, code=403, reason="Forbidden")
        uses = datasets.resolve(pod, request.namespace, caches)
        serverless = labels.serverless_requested(pod_labels, platform_key)
        opted_in = serverless or labels.is_true(pod_labels.get(labels.LABEL_SERVERFUL_INJECT))
        chain = profile().chain(serverless=serverless, with_dataset=bool(uses)) if (
            uses or opted_in) else ()
        ctx = PodContext(namespace=request.namespace, datasets=uses, editor=PatchEditor(pod),
                         caches=caches, warnings=_not_bound_warnings(uses))
        try:
            decisions = _run_chain(chain, ctx)
        except Denied as exc:
            log.info("pod_admission_denied", namespace=request.namespace, pod=pod_name,
                     datasets=[u.name for u in uses], reason=str(exc))
            return admission.denied(request.uid, str(exc), code=403, reason="Forbidden")
        except Exception as exc:  # a plugin bug: fail open unless the pod cannot run without us
            log.exception("pod_admission_failed", namespace=request.namespace, pod=pod_name)
            if serverless:
                return admission.denied(request.uid, f"FUSE sidecar injection failed: {exc}; "
                                        "retry shortly", code=500, reason="InternalError")
            return admission.allowed(request.uid, warnings=[
                f"Fluid did not add cache affinity to this pod (internal error: {exc})"])
        response = admission.patched(request.uid, ctx.editor.ops)
        if ctx.warnings:
            response["response"]["warnings"] = ctx.warnings
        if chain:
            log.info("pod_admitted", namespace=request.namespace, pod=pod_name,
                     serverless=serverless, datasets=[u.name for u in uses], decisions=decisions,
                     patch_ops=len(ctx.editor.ops),
                     duration_ms=round((time.perf_counter() - started) * 1000, 3),
                     **_platform_of(pod_labels, platform_key))
        return response

    return handle
