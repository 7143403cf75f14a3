"""A recorded stand-in for a JindoCache master, answering the commands ``ops.py`` issues.

Owns canned output in JindoCache's own formats (``jindocache -report`` capacities,
``jindo fs -count <ufs>`` as ``dirs files bytes path``) and a little state (the UFS trees
it knows, how often the cache sets were re-read) so that tests of the engine and the
controllers exercise the real parsing in ``ops.py``. Plugs in at the ``PodExecutor``
boundary through ``RecordingExecutor``; never used in production.
"""

from __future__ import annotations

import attrs

from fluid.engines.base import ExecCall, ExecResult, RecordingExecutor, Responder

__all__ = ["FakeJindoMaster", "UfsTree", "jindo_size"]


def jindo_size(size: int) -> str:
    """JindoCache's way of printing bytes: two decimals, ``KB``/``MB``/``GB`` binary units."""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{amount:.2f}{unit}"
        amount /= 1024
    raise AssertionError("unreachable")


@attrs.frozen
class UfsTree:
    """What ``jindo fs -count`` finds under one UFS path."""

    dirs: int
    files: int
    bytes: int


@attrs.define
class FakeJindoMaster:
    """Cache capacity and usage of one tier, and the UFS trees by URL."""

    capacity_bytes: int = 0
    used_bytes: int = 0
    memory: bool = True
    """A MEM tier (``Total MEM Capacity``) rather than disks (``Total Disk Capacity``)."""
    ufs: dict[str, UfsTree] = attrs.field(factory=dict)
    refreshes: int = 0
    """How many times ``jindocache -refreshCacheSet`` ran."""

    def _report(self, call: ExecCall) -> str:
        mem, disk = (self.capacity_bytes, self.used_bytes), (0, 0)
        if not self.memory:
            mem, disk = disk, mem
        return (f"Namespace Address: {call.pod}:8101\n"
                f"Total MEM Capacity: {jindo_size(mem[0])}\n"
                f"Used MEM Capacity: {jindo_size(mem[1])}\n"
                f"Total Disk Capacity: {jindo_size(disk[0])}\n"
                f"Used Disk Capacity: {jindo_size(disk[1])}\n")

    def _count(self, call: ExecCall) -> ExecResult:
        url = call.command[-1]
        tree = self.ufs.get(url)
        if tree is None:
            return ExecResult("", f"count: {url}: No such file or directory", 1)
        return ExecResult(f"{tree.dirs:>12} {tree.files:>12} {tree.bytes:>18} {url}\n")

    def _refresh(self, _: ExecCall) -> str:
        self.refreshes += 1
        return "Refresh cacheset success\n"

    def responders(self) -> dict[tuple[str, ...], Responder | str]:
        return {
            ("jindocache", "-report"): self._report,
            ("jindo", "fs", "-count"): self._count,
            ("jindocache", "-refreshCacheSet"): self._refresh,
        }

    def executor(self) -> RecordingExecutor:
        return RecordingExecutor(self.responders())
