"""AdmissionReview v1 on the wire: parse requests, build allow/deny/patch responses.

Owns the admission protocol (orjson in and out) and the validating handler that runs
``fluid.webhook.validation`` for data.fluid.io objects. A review that cannot be parsed is
a ``ReviewError`` (the server answers 400 with its message), never a crash. Never decides
what is valid (validation does) and never listens on a socket (server does). Called by
``fluid.webhook.server``; the mutating path of a later issue reuses ``patched``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import orjson
import structlog

from fluid.api import kinds
from fluid.kube import errors
from fluid.kube.client import KubeClient
from fluid.webhook import validation

__all__ = [
    "ADMISSION_API_VERSION",
    "AdmissionRequest",
    "ReviewError",
    "ReviewHandler",
    "allowed",
    "cache_lookup",
    "denied",
    "kube_lookup",
    "parse_review",
    "patched",
    "validating_handler",
]

log = structlog.get_logger(__name__)

ADMISSION_API_VERSION = "admission.k8s.io/v1"
ReviewHandler = Callable[["AdmissionRequest"], Awaitable[dict[str, Any]]]
"""Turns one request into the AdmissionReview to send back."""


class ReviewError(ValueError):
    """The body is not an AdmissionReview v1 request; the message says what is wrong."""


@attrs.frozen(kw_only=True)
class AdmissionRequest:
    """The parts of ``AdmissionReview.request`` the handlers use (``raw`` has the rest)."""

    uid: str
    kind: str
    group: str
    operation: str
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool
    raw: dict[str, Any]


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReviewError(f"{what} must be a JSON object")
    return value


def _optional_object(request: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = request.get(key)
    return None if value is None else _mapping(value, f"request.{key}")


def parse_review(body: bytes) -> AdmissionRequest:
    """Parse an AdmissionReview v1 request body; ReviewError names what is missing."""
    try:
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReviewError(f"body is not JSON: {exc}") from None
    review = _mapping(review, "the AdmissionReview")
    if review.get("apiVersion") != ADMISSION_API_VERSION or review.get("kind") != "AdmissionReview":
        raise ReviewError(f"expected an {ADMISSION_API_VERSION} AdmissionReview, got "
                          f"{review.get('apiVersion')!r} {review.get('kind')!r}")
    request = _mapping(review.get("request"), "request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("request.uid is missing")
    kind = _mapping(request.get("kind") or {}, "request.kind")
    return AdmissionRequest(
        uid=uid,
        kind=str(kind.get("kind", "")),
        group=str(kind.get("group", "")),
        operation=str(request.get("operation", "")),
        namespace=str(request.get("namespace") or ""),
        name=str(request.get("name") or ""),
        object=_optional_object(request, "object"),
        old_object=_optional_object(request, "oldObject"),
        dry_run=bool(request.get("dryRun", False)),
        raw=request,
    )


def _review(response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}


def allowed(uid: str, *, warnings: list[str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if warnings:
        response["warnings"] = warnings
    return _review(response)


def denied(
    uid: str,
    message: str,
    *,
    code: int = 422,
    reason: str = "Invalid",
    causes: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A refusal; the API server shows ``message`` to the user and answers with ``code``."""
    status: dict[str, Any] = {"code": code, "reason": reason, "message": message}
    if causes:
        status["details"] = {"causes": causes}
    return _review({"uid": uid, "allowed": False, "status": status})


def patched(uid: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    """An allowing response that applies an RFC 6902 JSON Patch to the object."""
    if not operations:
        return allowed(uid)
    return _review({
        "uid": uid,
        "allowed": True,
        "patchType": "JSONPatch",
        "patch": base64.b64encode(orjson.dumps(operations)).decode("ascii"),
    })


def _denial(uid: str, violations: list[validation.Violation]) -> dict[str, Any]:
    texts = [str(v) for v in violations]
    message = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [{"field": v.field, "message": v.message, "reason": "FieldValueInvalid"}
              for v in violations]
    return denied(uid, message, causes=causes)


def _with_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as stored: a namespaced create may arrive without metadata.namespace."""
    meta = obj.get("metadata") or {}
    if namespace and not meta.get("namespace"):
        return {**obj, "metadata": {**meta, "namespace": namespace}}
    return obj


async def _violations(
    request: AdmissionRequest, lookup: validation.Lookup
) -> list[validation.Violation]:
    if request.object is None:
        return []
    new = _with_namespace(request.object, request.namespace)
    if request.operation == "UPDATE" and request.old_object is not None:
        old = _with_namespace(request.old_object, request.namespace)
        return await validation.validate_update(old, new, lookup=lookup)
    if request.operation == "CREATE":
        return await validation.validate_create(new, lookup=lookup)
    return []


def validating_handler(*, lookup: validation.Lookup) -> ReviewHandler:
    """The handler for ``/validate-data-fluid-io-v1alpha1``: allow, or deny naming fields."""

    async def handle(request: AdmissionRequest) -> dict[str, Any]:
        started = time.monotonic()
        found = await _violations(request, lookup)
        log.info(
            "admission_validated", kind=request.kind, namespace=request.namespace,
            name=request.name, operation=request.operation, allowed=not found,
            violations=len(found), duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return _denial(request.uid, found) if found else allowed(request.uid)

    return handle


def kube_lookup(kube: KubeClient) -> validation.Lookup:
    """A ``lookup`` that reads Fluid objects straight from the API server."""

    async def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        info = kinds.BY_KIND.get(kind)
        if info is None:
            return None
        try:
            return await kube.get(info.resource, name, namespace or None)
        except errors.NotFound:
            return None

    return lookup


def cache_lookup(store: Mapping[tuple[str, str, str], dict[str, Any]]) -> validation.Lookup:
    """A ``lookup`` over an in-memory store keyed (kind, namespace, name), e.g. an informer's."""

    async def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return store.get((kind, namespace, name))

    return lookup
