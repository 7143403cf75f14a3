"""Calls into the Alluxio master: ``fs mount``/``unmount``, ``fs count``, ``fsadmin report``.

Owns the exact Alluxio commands Fluid issues and the parsing of their output. Every call
runs in container ``alluxio-master`` of a master pod through a ``PodExecutor`` (the API's
exec subresource in production, ``RecordingExecutor`` in tests), so tests see and assert
the argv lists below word for word. The pod is ``<name>-master-0`` unless the engine
passes a chooser: with several masters any of them will do, because the Alluxio CLI
finds the primary itself from the embedded-journal addresses. Never talks to the
Kubernetes API otherwise, and never logs option values (they may hold credentials).
Called by ``engine.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import attrs

from fluid.api.quantity import parse_quantity
from fluid.engines.base import CommandFailed, ExecResult, PodExecutor

__all__ = [
    "AlluxioOps",
    "CountResult",
    "ExecAlluxioOps",
    "ReadMetrics",
    "ReportSummary",
    "mount_command",
    "parse_count",
    "parse_mount_table",
    "parse_report_metrics",
    "parse_report_summary",
    "parse_size",
]

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]?)i?B?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50, "E": 2**60}


def parse_size(text: str) -> int:
    """Alluxio's human sizes (``20.00GB``, ``0B``, ``1.5 MB``) are binary; ValueError if not one."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match[1]) * _FACTORS[match[2].upper()])


@attrs.frozen
class CountResult:
    files: int
    folders: int
    total_bytes: int


@attrs.frozen
class ReportSummary:
    capacity_bytes: int
    used_bytes: int


def parse_count(stdout: str) -> CountResult:
    """``alluxio fs count``: a header line then ``<files> <folders> <bytes>``."""
    for line in reversed(stdout.strip().splitlines()):
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            return CountResult(int(fields[0]), int(fields[1]), int(fields[2]))
    raise ValueError(f"unexpected `alluxio fs count` output: {stdout[:200]!r}")


def parse_report_summary(stdout: str) -> ReportSummary:
    """``Total Capacity:`` and ``Used Capacity:`` of ``alluxio fsadmin report summary``."""
    capacity = used = None
    for raw in stdout.splitlines():
        line = raw.strip()
        if line.startswith("Total Capacity:"):
            capacity = parse_size(line.removeprefix("Total Capacity:"))
        elif line.startswith("Used Capacity:"):
            used = parse_size(line.removeprefix("Used Capacity:"))
    if capacity is None or used is None:
        raise ValueError(f"no capacity in `alluxio fsadmin report summary`: {stdout[:200]!r}")
    return ReportSummary(capacity, used)


@attrs.frozen
class ReadMetrics:
    """The cluster's read counters (bytes since the primary master started) and the
    read throughputs over the last minute (bytes per minute), from ``report metrics``."""

    local: int = 0
    remote: int = 0
    ufs: int = 0
    local_throughput: int = 0
    remote_throughput: int = 0
    ufs_throughput: int = 0


_METRIC_LINE = re.compile(r"^(\S+)\s+\(Type:\s*\w+,\s*Value:\s*(.*)\)\s*$")
_READ_METRICS = {
    "Cluster.BytesReadLocal": "local",
    "Cluster.BytesReadRemote": "remote",
    "Cluster.BytesReadUfsAll": "ufs",
    "Cluster.BytesReadLocalThroughput": "local_throughput",
    "Cluster.BytesReadRemoteThroughput": "remote_throughput",
    "Cluster.BytesReadUfsThroughput": "ufs_throughput",
}
"""Metric name in ``alluxio fsadmin report metrics`` -> ``ReadMetrics`` field."""


def parse_report_metrics(stdout: str) -> ReadMetrics:
    """The ``Cluster.BytesRead*`` lines of ``alluxio fsadmin report metrics``, such as
    ``Cluster.BytesReadLocal  (Type: COUNTER, Value: 19.37MB)`` and
    ``Cluster.BytesReadLocalThroughput  (Type: GAUGE, Value: 495.97KB/MIN)``; a metric
    the master does not print yet counts as 0, but at least one must be there."""
    values: dict[str, int] = {}
    for raw in stdout.splitlines():
        match = _METRIC_LINE.match(raw.strip())
        if match and match[1] in _READ_METRICS:
            values[_READ_METRICS[match[1]]] = parse_size(
                match[2].removesuffix("/MIN").replace(",", ""))
    if not values:
        raise ValueError(f"no Cluster.BytesRead metrics in `alluxio fsadmin report metrics`: "
                         f"{stdout[:200]!r}")
    return ReadMetrics(**values)


def parse_mount_table(stdout: str) -> list[str]:
    """Alluxio paths from ``alluxio fs mount`` lines ``<ufs> on <alluxio path> (<type>, ...)``."""
    paths = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "on":
            paths.append(fields[2])
    return paths


def mount_command(
    alluxio_path: str, ufs: str, *, options: Mapping[str, str], read_only: bool, shared: bool,
) -> list[str]:
    """``alluxio fs mount [--readonly] [--shared] [--option k=v]... <path> <ufs>`` (options sorted)."""
    command = ["alluxio", "fs", "mount"]
    if read_only:
        command.append("--readonly")
    if shared:
        command.append("--shared")
    for key, value in sorted(options.items()):
        command += ["--option", f"{key}={value}"]
    return [*command, alluxio_path, ufs]


class AlluxioOps(Protocol):
    """What the engine asks of a running Alluxio master."""

    async def mounted_paths(self) -> list[str]: ...

    async def mount(
        self, alluxio_path: str, ufs: str, *, options: Mapping[str, str], read_only: bool,
        shared: bool,
    ) -> None: ...

    async def unmount(self, alluxio_path: str) -> None: ...

    async def load_metadata(self, alluxio_path: str) -> None: ...

    async def count(self, alluxio_path: str) -> CountResult: ...

    async def report_summary(self) -> ReportSummary: ...

    async def report_metrics(self) -> ReadMetrics: ...

    async def free(self, alluxio_path: str, *, timeout_seconds: int) -> None: ...

    async def read_file(self, path: str) -> str: ...


class ExecAlluxioOps:
    """``AlluxioOps`` by exec in a master pod: ``pod()`` names it for each call
    (``<name>-master-0`` when not given)."""

    def __init__(
        self, executor: PodExecutor, *, namespace: str, name: str, timeout: float = 60.0,
        pod: Callable[[], str] | None = None,
    ) -> None:
        self._executor = executor
        self._namespace = namespace
        first = f"{name}-master-0"
        self._pod = pod or (lambda: first)
        self._timeout = timeout

    async def _run(self, command: Sequence[str], *, timeout: float | None = None) -> str:
        try:
            result: ExecResult = await self._executor.exec(
                namespace=self._namespace, pod=self._pod(), container="alluxio-master",
                command=list(command), timeout=timeout or self._timeout,
            )
        except TimeoutError as exc:
            raise CommandFailed(_redacted(command), None, "timed out") from exc
        if result.exit_code != 0:
            raise CommandFailed(_redacted(command), result)
        return result.stdout

    async def mounted_paths(self) -> list[str]:
        return parse_mount_table(await self._run(["alluxio", "fs", "mount"]))

    async def mount(
        self, alluxio_path: str, ufs: str, *, options: Mapping[str, str], read_only: bool,
        shared: bool,
    ) -> None:
        await self._run(mount_command(alluxio_path, ufs, options=options, read_only=read_only,
                                      shared=shared))

    async def unmount(self, alluxio_path: str) -> None:
        await self._run(["alluxio", "fs", "unmount", alluxio_path])

    async def load_metadata(self, alluxio_path: str) -> None:
        await self._run(["alluxio", "fs", "loadMetadata", "-R", alluxio_path],
                        timeout=self._timeout * 10)

    async def read_file(self, path: str) -> str:
        """A file in the master's own filesystem (a mounted backup's statistics)."""
        return await self._run(["cat", path])

    async def count(self, alluxio_path: str) -> CountResult:
        stdout = await self._run(["alluxio", "fs", "count", alluxio_path])
        try:
            return parse_count(stdout)
        except ValueError as exc:
            raise CommandFailed(["alluxio", "fs", "count"], None, str(exc)) from exc

    async def report_summary(self) -> ReportSummary:
        stdout = await self._run(["alluxio", "fsadmin", "report", "summary"])
        try:
            return parse_report_summary(stdout)
        except ValueError as exc:
            raise CommandFailed(["alluxio", "fsadmin", "report", "summary"], None, str(exc)) from exc

    async def report_metrics(self) -> ReadMetrics:
        command = ["alluxio", "fsadmin", "report", "metrics"]
        try:
            return parse_report_metrics(await self._run(command))
        except ValueError as exc:
            raise CommandFailed(command, None, str(exc)) from exc

    async def free(self, alluxio_path: str, *, timeout_seconds: int) -> None:
        await self._run(["timeout", str(timeout_seconds), "alluxio", "fs", "free", "-f",
                         alluxio_path], timeout=timeout_seconds + 10)


def _redacted(command: Sequence[str]) -> list[str]:
    """The command with ``--option`` values hidden, for error messages and logs."""
    result = list(command)
    for i, word in enumerate(result[:-1]):
        if word == "--option":
            key = result[i + 1].partition("=")[0]
            result[i + 1] = f"{key}=***"
    return result


def parse_backup_info(text: str) -> tuple[int, int]:
    """(UFS bytes, file count) from a DataBackup's statistics file.

    Its ``ufstotal`` is the Dataset's human-readable ``ufsTotal`` (``3.31GiB``).
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip().strip("'\"")
    try:
        total = parse_quantity(fields["ufstotal"].removesuffix("B"))
        return int(total), int(fields["filenum"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"backup statistics are incomplete or malformed: {exc}") from exc
