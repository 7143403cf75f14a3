"""Operator settings from the controller-manager's environment, named as upstream's chart names them.

Owns the environment variables the chart passes to the runtime controllers and what each
becomes in ``EngineConfig``:

- images, each ``repo:tag``: ``ALLUXIO_RUNTIME_IMAGE_ENV``, ``ALLUXIO_FUSE_IMAGE_ENV``,
  ``JINDO_SMARTDATA_IMAGE_ENV``, ``JINDO_FUSE_IMAGE_ENV``, ``GOOSEFS_RUNTIME_IMAGE_ENV``,
  ``GOOSEFS_FUSE_IMAGE_ENV``, ``JUICEFS_CE_IMAGE_ENV``, ``JUICEFS_EE_IMAGE_ENV`` and
  ``DEFAULT_INIT_IMAGE_ENV`` (init-users containers) → ``images``; an engine uses one only
  where the runtime's spec leaves the image empty;
- ``MOUNT_ROOT`` (absolute host path) → ``mount_root``;
- ``FLUID_SYNC_RETRY_DURATION`` (a Go duration such as ``15s``) → ``sync_retry_seconds``;
- ``FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR`` (``k=v,k2=v2``) → ``schedule_exclude``;
- ``IMAGE_PULL_SECRETS`` (comma-separated Secret names) → ``image_pull_secrets``;
- ``CRITICAL_FUSE_POD`` (Go's boolean spellings) → ``critical_fuse_pod``.

An unset or empty variable keeps the default. A malformed one is a ``SettingsError`` naming
every bad variable, its value and the accepted form, so the process refuses to start
instead of running with a guess (upstream silently ignores a bad image and panics on a bad
boolean). Never reads ``os.environ`` itself: the composition root
(``fluid.cli.controller_manager``) passes it once; tests pass dicts.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from fluid.engines.base import EngineConfig

__all__ = [
    "ALLUXIO_FUSE_IMAGE",
    "ALLUXIO_RUNTIME_IMAGE",
    "CRITICAL_FUSE_POD",
    "DEFAULT_INIT_IMAGE",
    "EFC_IMAGES",
    "GOOSEFS_FUSE_IMAGE",
    "GOOSEFS_RUNTIME_IMAGE",
    "IMAGE_ENVS",
    "IMAGE_PULL_SECRETS",
    "JINDO_FUSE_IMAGE",
    "JINDO_SMARTDATA_IMAGE",
    "JUICEFS_CE_IMAGE",
    "JUICEFS_EE_IMAGE",
    "MOUNT_ROOT",
    "SCHEDULE_EXCLUDE",
    "SYNC_RETRY_DURATION",
    "VINEYARD_IMAGES",
    "SettingsError",
    "engine_config",
    "parse_bool",
    "parse_duration",
]

ALLUXIO_RUNTIME_IMAGE = "ALLUXIO_RUNTIME_IMAGE_ENV"
ALLUXIO_FUSE_IMAGE = "ALLUXIO_FUSE_IMAGE_ENV"
DEFAULT_INIT_IMAGE = "DEFAULT_INIT_IMAGE_ENV"
JINDO_SMARTDATA_IMAGE = "JINDO_SMARTDATA_IMAGE_ENV"
JINDO_FUSE_IMAGE = "JINDO_FUSE_IMAGE_ENV"
GOOSEFS_RUNTIME_IMAGE = "GOOSEFS_RUNTIME_IMAGE_ENV"
GOOSEFS_FUSE_IMAGE = "GOOSEFS_FUSE_IMAGE_ENV"
JUICEFS_CE_IMAGE = "JUICEFS_CE_IMAGE_ENV"
JUICEFS_EE_IMAGE = "JUICEFS_EE_IMAGE_ENV"
VINEYARD_IMAGES = ("VINEYARD_MASTER_IMAGE_ENV", "VINEYARD_WORKER_IMAGE_ENV", "VINEYARD_FUSE_IMAGE_ENV")
EFC_IMAGES = ("EFC_MASTER_IMAGE_ENV", "EFC_WORKER_IMAGE_ENV", "EFC_FUSE_IMAGE_ENV")
IMAGE_ENVS = (ALLUXIO_RUNTIME_IMAGE, ALLUXIO_FUSE_IMAGE, DEFAULT_INIT_IMAGE, JINDO_SMARTDATA_IMAGE,
              JINDO_FUSE_IMAGE, GOOSEFS_RUNTIME_IMAGE, GOOSEFS_FUSE_IMAGE, JUICEFS_CE_IMAGE,
              JUICEFS_EE_IMAGE, *VINEYARD_IMAGES, *EFC_IMAGES)
"""Every default-image variable; the values become ``EngineConfig.images`` by these names."""

MOUNT_ROOT = "MOUNT_ROOT"
SYNC_RETRY_DURATION = "FLUID_SYNC_RETRY_DURATION"
SCHEDULE_EXCLUDE = "FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR"
IMAGE_PULL_SECRETS = "IMAGE_PULL_SECRETS"
CRITICAL_FUSE_POD = "CRITICAL_FUSE_POD"


class SettingsError(ValueError):
    """One or more variables are malformed; the message names each and what is accepted."""


# -- one parser per form -----------------------------------------------------------------------

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``: 1/t/T/TRUE/true/True and 0/f/F/FALSE/false/False."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false (Go's spellings: 1, t, TRUE, 0, f, FALSE...)")


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                 "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds of a non-negative Go duration: ``15s``, ``1m30s``, ``500ms``, ``0``."""
    if text == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(text) or not text:
        match = _DURATION_PART.match(text, position)
        if match is None:
            raise ValueError("expected a Go duration such as 15s, 1m30s or 500ms")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total


_IMAGE = re.compile(r"^[^\s:@]+(?::\d+)?(?:/[^\s:@]+)*:[^\s:/@]+$")


def _image(text: str) -> str:
    if not _IMAGE.match(text):
        raise ValueError("expected an image as repository:tag, such as "
                         "registry.example.com/alluxio/alluxio:2.9.0 (no digest, no spaces)")
    return text


def _mount_root(text: str) -> str:
    if not text.startswith("/"):
        raise ValueError("expected an absolute host path such as /runtime-mnt")
    return posixpath.normpath(text)


_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _secret_names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [n for n in names if len(n) > 253 or not _SECRET_NAME.match(n)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))} cannot be Secret names; expected "
                         "comma-separated lowercase DNS names such as regcred,mirror-cred")
    return names


_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _selector(text: str) -> dict[str, str]:
    """``k=v,k2==v2``: every node carrying all of these labels is excluded."""
    result: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        key, sep, value = part.partition("==") if "==" in part else part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key.endswith("!") or not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise ValueError(f"{part!r} is not a label requirement this controller supports; "
                             "expected key=value pairs separated by commas, such as "
                             "type=virtual-kubelet,mynode=dev")
        result[key] = value
    return result


# -- the environment → EngineConfig -----------------------------------------------------------

_FIELDS: Mapping[str, tuple[str, Callable[[str], Any]]] = {
    MOUNT_ROOT: ("mount_root", _mount_root),
    SYNC_RETRY_DURATION: ("sync_retry_seconds", parse_duration),
    SCHEDULE_EXCLUDE: ("schedule_exclude", _selector),
    IMAGE_PULL_SECRETS: ("image_pull_secrets", _secret_names),
    CRITICAL_FUSE_POD: ("critical_fuse_pod", parse_bool),
}
"""Variable → (EngineConfig field, parser of its text)."""


def engine_config(environ: Mapping[str, str], *, defaults: EngineConfig | None = None) -> EngineConfig:
    """``defaults`` (``EngineConfig()``) with every variable set in ``environ`` applied."""
    parsers = {**{name: parse for name, (_, parse) in _FIELDS.items()},
               **dict.fromkeys(IMAGE_ENVS, _image)}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, parse in parsers.items():
        text = environ.get(name, "").strip()
        if not text:
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            problems.append(f"{name}={text!r}: {exc}")
    if problems:
        raise SettingsError("malformed operator settings: " + "; ".join(problems))
    base = defaults or EngineConfig()
    changes = {_FIELDS[name][0]: value for name, value in values.items() if name in _FIELDS}
    images = {name: value for name, value in values.items() if name in IMAGE_ENVS}
    if images:
        changes["images"] = {**base.images, **images}
    return attrs.evolve(base, **changes)
