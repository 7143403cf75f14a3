"""A recorded stand-in for an Alluxio master, answering the commands ``ops.py`` issues.

Owns canned output in Alluxio's own formats (``fs mount`` table, ``fs count``,
``fsadmin report summary``, ``fsadmin report metrics``) and a little state (what is
mounted, how many bytes clients have read and from where) so that tests of the engine and
controllers exercise the real parsing in ``ops.py``. Plugs in at the ``PodExecutor``
boundary through ``RecordingExecutor``; never used in production.
"""

from __future__ import annotations

import attrs

from fluid.engines.base import ExecCall, ExecResult, RecordingExecutor, Responder

__all__ = ["FakeAlluxioMaster", "Reads", "format_size"]


def format_size(size: int) -> str:
    """Alluxio's way of printing bytes (``FormatUtils.getSizeFromBytes``): whole bytes up
    to 5 KiB, then two decimals in the largest binary unit (spelt KB, MB...) that keeps the
    number at most 5120: ``0B``, ``4145.73KB``, ``20.00GB``."""
    if size <= 5 * 1024:
        return f"{size}B"
    amount = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        amount /= 1024
        if amount <= 5 * 1024:
            return f"{amount:.2f}{unit}"
    return f"{amount / 1024:.2f}PB"


@attrs.frozen
class Reads:
    """Bytes clients read from their local worker, from other workers and from the UFS."""

    local: int = 0
    remote: int = 0
    ufs: int = 0

    def __add__(self, other: Reads) -> Reads:
        return Reads(self.local + other.local, self.remote + other.remote, self.ufs + other.ufs)


def _counter(value: int) -> str:
    """A count as Alluxio prints it: thousands separated by commas."""
    return f"{value:,}"


def _quote_ufs(mounts: dict[tuple[str, str], dict[str, str]]) -> str:
    """The first mounted UFS as Alluxio names it in per-UFS metrics (``s3:%2F%2Fbucket``)."""
    for table in mounts.values():
        for ufs in table.values():
            return ufs.rstrip("/").replace("/", "%2F")
    return "%2FunderFSStorage"


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
    bytes_read: Reads = attrs.field(factory=Reads)
    """The cluster's read counters (``Cluster.BytesRead{Local,Remote,UfsAll}``)."""
    workload: Reads = attrs.field(factory=Reads)
    """A steady reader: what clients read between two ``report metrics`` answers, which
    is also the per-minute throughput the answer shows."""

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

    def read(self, reads: Reads) -> None:
        """Clients read ``reads`` once (the counters grow; throughputs show the workload)."""
        self.bytes_read += reads

    def _metrics(self, _: ExecCall) -> str:
        """``alluxio fsadmin report metrics``: the workload is read, then every cluster
        metric is printed as Alluxio 2.x does, sorted by name."""
        self.bytes_read += self.workload
        total, read, rate = self.bytes_read, self.workload, "/MIN"
        metrics = {
            "Cluster.BytesReadDomain": ("COUNTER", "0B"),
            "Cluster.BytesReadDomainThroughput": ("GAUGE", "0B" + rate),
            "Cluster.BytesReadLocal": ("COUNTER", format_size(total.local)),
            "Cluster.BytesReadLocalThroughput": ("GAUGE", format_size(read.local) + rate),
            "Cluster.BytesReadRemote": ("COUNTER", format_size(total.remote)),
            "Cluster.BytesReadRemoteThroughput": ("GAUGE", format_size(read.remote) + rate),
            f"Cluster.BytesReadPerUfs.UFS:{_quote_ufs(self.mounts)}": (
                "COUNTER", format_size(total.ufs)),
            "Cluster.BytesReadUfsAll": ("COUNTER", format_size(total.ufs)),
            "Cluster.BytesReadUfsThroughput": ("GAUGE", format_size(read.ufs) + rate),
            "Cluster.BytesWrittenUfsAll": ("COUNTER", "0B"),
            "Cluster.CapacityFree": ("GAUGE", _counter(self.capacity_bytes - self.used_bytes)),
            "Cluster.CapacityTotal": ("GAUGE", _counter(self.capacity_bytes)),
            "Cluster.CapacityUsed": ("GAUGE", _counter(self.used_bytes)),
            "Cluster.RootUfsCapacityTotal": ("GAUGE", "-1"),
            "Cluster.Workers": ("GAUGE", "1"),
            "Master.FilesCompleted": ("COUNTER", _counter(self.files)),
            "Master.InodeCacheSize": ("GAUGE", _counter(self.files + self.folders)),
            "Master.getMetrics.User:root": ("TIMER", "4"),
        }
        return "".join(f"{name}  (Type: {kind}, Value: {value})\n"
                       for name, (kind, value) in sorted(metrics.items()))

    def responders(self) -> dict[tuple[str, ...], Responder | str]:
        return {
            ("alluxio", "fs", "mount"): self._mount,
            ("alluxio", "fs", "unmount"): self._unmount,
            ("alluxio", "fs", "count"): self._count,
            ("alluxio", "fsadmin", "report", "summary"): self._summary,
            ("alluxio", "fsadmin", "report", "metrics"): self._metrics,
            ("cat",): self._cat,
        }

    def executor(self) -> RecordingExecutor:
        return RecordingExecutor(self.responders())
