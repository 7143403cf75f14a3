"""Calls into running Jindo (JindoCache) pods: the cache report, UFS size and cache sets.

Owns the commands upstream runs in the master container (``jindocache -report``,
``jindo fs -count <ufs>``, ``jindocache -refreshCacheSet -path /cacheset.xml``) and the
parsing of their output. Runs them only through a ``fluid.engines.base.PodExecutor``;
never logs command output. Called by ``fluid.engines.jindo.engine``.
"""

from __future__ import annotations

import re
from typing import Protocol

import attrs

from fluid.engines.base import CommandFailed, ContainerExec

__all__ = ["CacheReport", "ExecJindoOps", "JindoOps", "parse_human_size", "parse_report"]

_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20, "G": 2**30,
          "GB": 2**30, "T": 2**40, "TB": 2**40, "P": 2**50, "PB": 2**50}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?B?)\s*$", re.IGNORECASE)


@attrs.frozen
class CacheReport:
    capacity_bytes: int
    used_bytes: int


def parse_human_size(text: str) -> int:
    """``1.50GB`` -> bytes (binary units, as Jindo prints them)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def parse_report(output: str, *, memory: bool) -> CacheReport:
    """Total and used capacity of the MEM tier (``memory``) or the disk tier."""
    kind = "MEM" if memory else "Disk"
    total = used = 0
    for line in output.splitlines():
        line = line.strip()
        if line.startswith(f"Total {kind} Capacity:"):
            total = parse_human_size(line.split(":", 1)[1])
        elif line.startswith(f"Used {kind} Capacity:"):
            used = parse_human_size(line.split(":", 1)[1])
    return CacheReport(capacity_bytes=total, used_bytes=used)


class JindoOps(Protocol):
    async def report(self, pod: str, *, memory: bool) -> CacheReport: ...

    async def ufs_count(self, pod: str, url: str) -> tuple[int, int]: ...

    async def refresh_cachesets(self, pod: str) -> None: ...


class ExecJindoOps(ContainerExec):
    """``JindoOps`` over pod exec in the master container."""

    async def report(self, pod: str, *, memory: bool) -> CacheReport:
        return parse_report(await self._run(pod, ["jindocache", "-report"]), memory=memory)

    async def ufs_count(self, pod: str, url: str) -> tuple[int, int]:
        """(file count, total bytes) from ``jindo fs -count`` (dirs, files, bytes, path)."""
        command = ["jindo", "fs", "-count", url]
        fields = (await self._run(pod, command)).split()
        if len(fields) < 3 or not (fields[1].isdigit() and fields[2].isdigit()):
            raise CommandFailed(command, None, "unexpected output of jindo fs -count")
        return int(fields[1]), int(fields[2])

    async def refresh_cachesets(self, pod: str) -> None:
        await self._run(pod, ["jindocache", "-refreshCacheSet", "-path", "/cacheset.xml"])
