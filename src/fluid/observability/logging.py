"""One structlog configuration for every process: contextvars, ISO UTC time, JSON off a TTY.

Owns logging setup only; modules get loggers with ``structlog.get_logger(__name__)`` and
emit snake_case events with key/values. Called once by each entry point in ``fluid.cli``.

The JSON path is on the webhook's hot path (one line per admission), so it renders with
orjson straight to bytes on stderr's buffer and stamps time with a per-second cache:
about a third of the cost of structlog's stock ISO stamper, JSON renderer and print logger.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict

__all__ = ["configure"]


def _orjson_dumps(obj: Any, **_: Any) -> bytes:
    return orjson.dumps(obj, default=str)


class _UtcTimestamp:
    """Adds ``timestamp`` as ``2026-11-23T12:00:13.882159Z`` (what ``TimeStamper(fmt="iso",
    utc=True)`` writes), formatting the date and time of day once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, _: Any, __: str, event: EventDict) -> EventDict:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1e6):06d}Z"
        return event


def configure(*, level: str = "info", json: bool | None = None) -> None:
    """Configure structlog (and route stdlib logging through the same level).

    ``json`` defaults to True unless stderr is a terminal, so operators' log pipelines
    get one JSON object per line while a developer at a shell gets readable lines.
    """
    as_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    common: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _UtcTimestamp(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    factory: structlog.typing.WrappedLogger
    binary = getattr(sys.stderr, "buffer", None)
    if as_json and binary is not None:
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        factory = structlog.BytesLoggerFactory(file=binary)
    elif as_json:  # a text-only stderr (e.g. replaced by a test harness)
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **_: orjson.dumps(obj, default=str).decode())
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        renderer = structlog.dev.ConsoleRenderer()
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=[*common, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
