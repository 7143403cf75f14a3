"""What this node has staged and published, kept on disk so a plugin restart forgets nothing.

Owns two directories of small JSON records under the plugin's state path (a hostPath):
``staged/`` (one per volume id: which node label the volume holds) and ``published/``
(one per target path: which FUSE path it binds, read-only or not). The mount table alone
cannot say which label a staged volume added, nor which source a dead bind mount showed.
Writes are atomic (temp file, fsync, rename). Never touches mounts or the API server;
``fluid.csi.node`` writes, ``fluid.csi.recovery`` reads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import orjson
import structlog

__all__ = ["PublishedVolume", "StagedVolume", "StateStore"]

log = structlog.get_logger(__name__)

R = TypeVar("R", "StagedVolume", "PublishedVolume")


@attrs.frozen
class StagedVolume:
    volume_id: str
    staging_target_path: str
    label_key: str
    dataset_namespace: str
    dataset_name: str
    fluid_path: str


@attrs.frozen
class PublishedVolume:
    volume_id: str
    target_path: str
    source: str
    fluid_path: str
    readonly: bool
    require_mount_point: bool = True
    """Whether ``fluid_path`` must be a mount point before the source may be bound."""
    dataset_namespace: str = ""
    dataset_name: str = ""
    """The Dataset behind the volume (from the volume context); empty in records written
    before these fields existed, when the volume's staged record tells instead."""


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40] + ".json"


class StateStore:
    """Records under ``root``; every method is synchronous and touches one small file."""

    def __init__(self, root: Path) -> None:
        self._staged = root / "staged"
        self._published = root / "published"
        self._staged.mkdir(parents=True, exist_ok=True)
        self._published.mkdir(parents=True, exist_ok=True)

    # -- staged volumes (keyed by volume id) ---------------------------------------------

    def put_staged(self, record: StagedVolume) -> None:
        _write(self._staged / _file_name(record.volume_id), attrs.asdict(record))

    def get_staged(self, volume_id: str) -> StagedVolume | None:
        return _read(self._staged / _file_name(volume_id), StagedVolume)

    def drop_staged(self, volume_id: str) -> None:
        (self._staged / _file_name(volume_id)).unlink(missing_ok=True)

    def staged(self) -> list[StagedVolume]:
        return list(_read_all(self._staged, StagedVolume))

    # -- published targets (keyed by target path) ---------------------------------------

    def put_published(self, record: PublishedVolume) -> None:
        _write(self._published / _file_name(record.target_path), attrs.asdict(record))

    def get_published(self, target_path: str) -> PublishedVolume | None:
        return _read(self._published / _file_name(target_path), PublishedVolume)

    def drop_published(self, target_path: str) -> None:
        (self._published / _file_name(target_path)).unlink(missing_ok=True)

    def published(self) -> list[PublishedVolume]:
        return list(_read_all(self._published, PublishedVolume))


def _write(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_suffix(".tmp")
    with open(temp, "wb") as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _read(path: Path, cls: type[R]) -> R | None:
    try:
        data = orjson.loads(path.read_bytes())
        return cls(**data)
    except FileNotFoundError:
        return None
    except (orjson.JSONDecodeError, TypeError) as exc:
        log.warning("state_record_unreadable", path=str(path), error=str(exc))
        return None


def _read_all(directory: Path, cls: type[R]) -> Iterator[R]:
    for path in sorted(directory.glob("*.json")):
        record = _read(path, cls)
        if record is not None:
            yield record
