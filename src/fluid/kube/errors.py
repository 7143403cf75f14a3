"""Errors from the Kubernetes API, mapped from HTTP status to types callers can branch on.

Owns the mapping only; never retries or logs. Raised by ``fluid.kube.client``.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "AlreadyExists",
    "ApiError",
    "Conflict",
    "Gone",
    "Invalid",
    "NotFound",
    "from_response",
]


class ApiError(Exception):
    """A non-2xx answer from the API server, carrying its Status object."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later (throttling, server trouble, conflicts)."""
        return self.status == 429 or self.status >= 500 or isinstance(self, Conflict)


class NotFound(ApiError):
    """404: the object or the kind does not exist."""


class AlreadyExists(ApiError):
    """409 AlreadyExists on create."""


class Conflict(ApiError):
    """409 Conflict: a resourceVersion precondition or an apply conflict failed."""


class Gone(ApiError):
    """410: the requested resourceVersion was compacted away; relist."""


class Invalid(ApiError):
    """422: the object failed validation (schema or admission)."""


def from_response(status: int, payload: bytes) -> ApiError:
    """Build the most specific error for an HTTP status and its (usually Status) body."""
    body: dict[str, Any] = {}
    try:
        parsed = orjson.loads(payload) if payload else {}
        if isinstance(parsed, dict):
            body = parsed
    except orjson.JSONDecodeError:
        pass
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or payload[:500].decode("utf-8", "replace"))
    cls: type[ApiError] = ApiError
    if status == 404:
        cls = NotFound
    elif status == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status == 410:
        cls = Gone
    elif status == 422:
        cls = Invalid
    return cls(status, reason, message, body)
