"""The admission webhook's HTTPS server: an aiohttp app routing AdmissionReviews.

Owns HTTP concerns only: reading the body, answering 400 for a malformed review, turning
a handler crash into a denial (never a dropped connection), TLS, ``/healthz``, and the
per-path review duration metric. Built on aiohttp's low-level ``web.Server`` with a dict of
exact paths: the webhook serves three fixed paths, and skipping ``web.Application``'s
router, middlewares and signals saves about a fifth of the server's CPU per admission
(``benchmarks/webhook.py``).
Decisions come from the ``ReviewHandler``s in ``fluid.webhook.admission`` and
``fluid.webhook.mutation``; the self-managed CA and its rotation are ``fluid.webhook.certs``,
wired with this server by ``fluid.webhook.setup``. Started
by the controller manager (every replica serves the webhook) and by tests.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson
import structlog
from aiohttp import web

from fluid.observability import metrics
from fluid.webhook import admission, validation

__all__ = [
    "VALIDATE_PATH", "RunningServer", "build_server", "serve", "tls_context", "validating_routes",
]

log = structlog.get_logger(__name__)

VALIDATE_PATH = "/validate-data-fluid-io-v1alpha1"
"""Where the ValidatingWebhookConfiguration sends every data.fluid.io CREATE and UPDATE."""

MAX_BODY_BYTES = 3 * 1024 * 1024
"""An AdmissionReview carries at most two objects of etcd's 1.5 MiB limit."""


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status,
                        content_type="application/json")


RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def _endpoint(path: str, handler: admission.ReviewHandler) -> RequestHandler:
    duration = metrics.ADMISSION_DURATION.labels(path)

    async def timed(request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await serve_review(request)
        finally:
            duration.observe(time.perf_counter() - started)

    async def serve_review(request: web.BaseRequest) -> web.StreamResponse:
        try:
            review = admission.parse_review(await request.read())
        except admission.ReviewError as exc:
            log.warning("admission_review_malformed", path=request.path, error=str(exc))
            return web.Response(status=400, text=f"malformed AdmissionReview: {exc}\n")
        try:
            return _json(await handler(review))
        except Exception as exc:  # a bug or an API outage must still get an answer
            log.exception("admission_handler_failed", path=request.path, kind=review.kind,
                          namespace=review.namespace, name=review.name)
            return _json(admission.denied(
                review.uid, f"the Fluid webhook could not decide: {exc}; retry shortly",
                code=500, reason="InternalError",
            ))

    return timed


async def _healthz(_: web.BaseRequest) -> web.Response:
    return web.Response(text="ok\n")


def build_server(routes: Mapping[str, admission.ReviewHandler]) -> web.Server:
    """A server answering POSTs to each AdmissionReview path with its handler, and
    ``GET /healthz``; anything else is a 404 (unknown path) or 405 (wrong method)."""
    posts: dict[str, RequestHandler] = {path: _endpoint(path, h) for path, h in routes.items()}
    gets: dict[str, RequestHandler] = {"/healthz": _healthz}

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        table = posts if request.method == "POST" else gets if request.method == "GET" else {}
        handler = table.get(request.path)
        if handler is not None:
            return await handler(request)
        if request.path in posts or request.path in gets:
            return web.Response(status=405, text=f"{request.method} not allowed here\n")
        return web.Response(status=404, text=f"no webhook at {request.path}\n")

    return web.Server(dispatch, request_factory=_request_factory())


def _request_factory() -> Callable[..., web.BaseRequest]:
    """Requests that may carry a whole AdmissionReview (aiohttp's default cap is 1 MiB)."""
    loop = asyncio.get_running_loop()

    def make(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, loop,
                               client_max_size=MAX_BODY_BYTES)

    return make


def validating_routes(*, lookup: validation.Lookup) -> dict[str, admission.ReviewHandler]:
    """The validating route for every data.fluid.io kind."""
    return {VALIDATE_PATH: admission.validating_handler(lookup=lookup)}


@attrs.frozen
class RunningServer:
    """A started server: where it listens and how to stop it."""

    host: str
    port: int
    runner: web.ServerRunner

    async def stop(self) -> None:
        await self.runner.cleanup()


def tls_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """A server TLS context; calling ``load_cert_chain`` on it again swaps the certificate
    for new connections (how ``fluid.webhook.setup`` reloads a rotated certificate)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


async def serve(
    app: web.Server,
    *,
    host: str,
    port: int,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> RunningServer:
    """Serve ``app`` over TLS; ``port=0`` picks a free port (see ``RunningServer.port``).

    TLS comes from ``ssl_context`` when given (the caller may reload it), else from the files.
    """
    if ssl_context is None:
        if cert_file is None or key_file is None:
            raise ValueError("serve needs cert_file and key_file, or an ssl_context")
        ssl_context = tls_context(cert_file, key_file)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    runner = web.ServerRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    await site.start()
    bound = int(sock.getsockname()[1])
    log.info("webhook_serving", host=host, port=bound)
    return RunningServer(host, bound, runner)
