"""A recorded stand-in for an Alluxio master, answering the commands ``ops.py`` issues.

Owns canned output in Alluxio's own formats (``fs mount`` table, ``fs count``,
``fsadmin report summary``) and a little state (what is mounted) so that tests of the
engine and controllers exercise the real parsing in ``ops.py``. Plugs in at the
``PodExecutor`` boundary through ``RecordingExecutor``; never used in production.
"""

from __future__ import annotations

import attrs

from fluid.engines.base import ExecCall, ExecResult, RecordingExecutor, Responder

__all__ = ["FakeAlluxioMaster", "format_size"]


def format_size(size: int) -> str:
    """Alluxio's way of printing bytes: two decimals and KB/MB/GB/TB meaning binary units."""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{amount:.2f}{unit}"
        amount /= 1024
    raise AssertionError("unreachable")


@attrs.define
class FakeAlluxioMaster:
    """UFS size and file count, cache capacity and usage, and the mount table."""

    ufs_bytes: int = 0
    files: int = 0
    folders: int = 1
    capacity_bytes: int = 0
    used_bytes: int = 0
    mounts: dict[tuple[str, str], dict[str, str]] = attrs.field(factory=dict)
    """(namespace, alluxio path) -> ufs, per master namespace."""
    files_in_pod: dict[str, str] = attrs.field(factory=dict)
    """Contents of files in the master's filesystem, by path (for ``cat``)."""

    def _cat(self, call: ExecCall) -> ExecResult:
        path = call.command[-1]
        if path not in self.files_in_pod:
            return ExecResult("", f"cat: {path}: No such file or directory", 1)
        return ExecResult(self.files_in_pod[path])

    def _mount(self, call: ExecCall) -> ExecResult:
        words = call.command[3:]
        table = self.mounts.setdefault((call.namespace, call.pod), {})
        if not words:
            lines = [f"{ufs}  on  {path}  (web, capacity=-1B, used=-1B, read-only, not shared)"
                     for path, ufs in sorted(table.items())]
            return ExecResult("\n".join(lines) + ("\n" if lines else ""))
        path, ufs = words[-2], words[-1]
        if path in table:
            return ExecResult("", f"Mount point {path} already exists", 1)
        table[path] = ufs
        return ExecResult(f"Mounted {ufs} at {path}\n")

    def _unmount(self, call: ExecCall) -> ExecResult:
        table = self.mounts.setdefault((call.namespace, call.pod), {})
        path = call.command[-1]
        if table.pop(path, None) is None:
            return ExecResult("", f"Path {path} is not a mount point", 1)
        return ExecResult(f"Unmounted {path}\n")

    def _count(self, _: ExecCall) -> str:
        return (f"File Count               Folder Count             Folder Size\n"
                f"{self.files:<25}{self.folders:<25}{self.ufs_bytes}\n")

    def _summary(self, _: ExecCall) -> str:
        return (
            "Alluxio cluster summary: \n"
            "    Master Address: pv-demo-dataset-master-0:19998\n"
            "    Live Workers: 1\n"
            f"    Total Capacity: {format_size(self.capacity_bytes)}\n"
            f"        Tier: MEM  Size: {format_size(self.capacity_bytes)}\n"
            f"    Used Capacity: {format_size(self.used_bytes)}\n"
            f"        Tier: MEM  Size: {format_size(self.used_bytes)}\n"
            f"    Free Capacity: {format_size(self.capacity_bytes - self.used_bytes)}\n"
        )

    def responders(self) -> dict[tuple[str, ...], Responder | str]:
        return {
            ("alluxio", "fs", "mount"): self._mount,
            ("alluxio", "fs", "unmount"): self._unmount,
            ("alluxio", "fs", "count"): self._count,
            ("alluxio", "fsadmin", "report", "summary"): self._summary,
            ("cat",): self._cat,
        }

    def executor(self) -> RecordingExecutor:
        return RecordingExecutor(self.responders())
