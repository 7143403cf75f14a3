"""The one place domain errors become gRPC status codes, and each RPC gets one log line.

Owns the mapping ``fluid.csi.errors.CsiError`` -> ``grpc.StatusCode`` (by the error's
``code``), UNIMPLEMENTED for RPCs the servicers do not provide, INTERNAL (with the
exception logged) for anything unexpected, and the access line: method, status code,
duration, volume id. Never logs request bodies: they may hold secrets. Installed by
``fluid.csi.server`` on the grpc.aio server.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog

from fluid.csi import errors

__all__ = ["ErrorInterceptor"]

log = structlog.get_logger(__name__)

_QUIET = ("/csi.v1.Identity/", "/csi.v1.Node/NodeGetCapabilities", "/csi.v1.Node/NodeGetInfo")
"""Polled constantly by the kubelet and the probes: logged at debug level."""


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        behavior = _wrap(method, handler.unary_unary)
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _wrap(
    method: str, inner: Callable[[Any, Any], Awaitable[Any]]
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def behavior(request: Any, context: Any) -> Any:
        started = time.perf_counter()
        code, message = "OK", ""
        try:
            return await inner(request, context)
        except errors.CsiError as exc:
            code, message = exc.code, exc.message
        except NotImplementedError:
            code, message = "UNIMPLEMENTED", f"{method} is not implemented by fuse.csi.fluid.io"
        except grpc.aio.AbortError:
            code = "ABORTED_BY_HANDLER"
            raise
        except Exception as exc:
            log.exception("rpc_crashed", method=method)
            code, message = "INTERNAL", f"{type(exc).__name__}: {exc}"
        finally:
            _access_line(method, request, code, message, started)
        await context.abort(getattr(grpc.StatusCode, code), message)

    return behavior


def _access_line(method: str, request: Any, code: str, message: str, started: float) -> None:
    fields: dict[str, Any] = {
        "method": method,
        "code": code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    volume_id = getattr(request, "volume_id", "")
    if volume_id:
        fields["volume_id"] = volume_id
    if message:
        fields["error"] = message
    if code == "OK" and method.startswith(_QUIET):
        log.debug("rpc", **fields)
    else:
        log.info("rpc", **fields)
