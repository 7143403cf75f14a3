"""One structlog configuration for every process: contextvars, ISO UTC time, JSON off a TTY.

Owns logging setup only; modules get loggers with ``structlog.get_logger(__name__)`` and
emit snake_case events with key/values. Called once by each entry point in ``fluid.cli``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

__all__ = ["configure"]


def _orjson_dumps(obj: Any, **_: Any) -> str:
    """orjson is several times faster than json on the webhook's hot path (one line per review)."""
    return orjson.dumps(obj, default=str).decode()


def configure(*, level: str = "info", json: bool | None = None) -> None:
    """Configure structlog (and route stdlib logging through the same level).

    ``json`` defaults to True unless stderr is a terminal, so operators' log pipelines
    get one JSON object per line while a developer at a shell gets readable lines.
    """
    as_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if as_json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
