"""Calls into a running GooseFS master: mounts, UFS size, cache report, freeing the cache.

Owns the commands (``goosefs fs mount``, ``goosefs fs count /``, ``goosefs fsadmin
report summary``, ``goosefs fs free -f /``) and the parsing of their output. A mount whose
options come from Secrets runs through ``sh -c`` with ``"${FLUID_SECRET_<n>}"``
references, so the values are expanded inside the pod and never pass through the
controller or its logs. Runs only through a ``fluid.engines.base.PodExecutor``. Called by
``fluid.engines.goosefs.engine``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Protocol

import attrs

from fluid.engines.base import CommandFailed, ContainerExec

__all__ = ["ExecGooseFSOps", "GooseFSOps", "MountRequest", "mount_command", "parse_count",
           "parse_mounts", "parse_summary"]

_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?B)", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class MountRequest:
    path: str
    ufs: str
    read_only: bool = False
    shared: bool = False
    options: Mapping[str, str] = attrs.field(factory=dict)
    secret_options: Mapping[str, str] = attrs.field(factory=dict)
    """option -> env var holding its value in the master container."""


def mount_command(req: MountRequest) -> list[str]:
    """argv of ``goosefs fs mount``; through ``sh -c`` only when Secrets are referenced."""
    flags = [*(["--readonly"] if req.read_only else []), *(["--shared"] if req.shared else [])]
    plain = [w for k, v in sorted(req.options.items()) for w in ("--option", f"{k}={v}")]
    if not req.secret_options:
        return ["goosefs", "fs", "mount", *flags, *plain, req.path, req.ufs]
    words = ["goosefs", "fs", "mount", *flags, *(shlex.quote(w) for w in plain)]
    words += [f"--option {shlex.quote(k + '=')}\"${{{env}}}\""
              for k, env in sorted(req.secret_options.items())]
    words += [shlex.quote(req.path), shlex.quote(req.ufs)]
    return ["sh", "-c", " ".join(words)]


def parse_mounts(output: str) -> dict[str, str]:
    """``<ufs> on <path> (<type>, ...)`` lines of ``goosefs fs mount`` -> path: ufs."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "on":
            found[parts[2]] = parts[0]
    return found


def parse_count(output: str) -> tuple[int, int]:
    """(file count, total bytes) from ``goosefs fs count /``."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            return int(fields[0]), int(fields[2])
    raise ValueError("no counts in the output of goosefs fs count")


def _size(text: str) -> int:
    match = _SIZE.search(text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def parse_summary(output: str) -> tuple[int, int]:
    """(total capacity, used capacity) in bytes from ``goosefs fsadmin report summary``."""
    total = used = None
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Total Capacity:") and total is None:
            total = _size(line.split(":", 1)[1])
        elif line.startswith("Used Capacity:") and used is None:
            used = _size(line.split(":", 1)[1])
    if total is None or used is None:
        raise ValueError("no capacity in the report summary")
    return total, used


class GooseFSOps(Protocol):
    async def mounted(self, pod: str) -> dict[str, str]: ...

    async def mount(self, pod: str, req: MountRequest) -> None: ...

    async def count(self, pod: str) -> tuple[int, int]: ...

    async def summary(self, pod: str) -> tuple[int, int]: ...

    async def free(self, pod: str) -> None: ...


class ExecGooseFSOps(ContainerExec):
    """``GooseFSOps`` over pod exec in the master container."""

    async def mounted(self, pod: str) -> dict[str, str]:
        return parse_mounts(await self._run(pod, ["goosefs", "fs", "mount"]))

    async def mount(self, pod: str, req: MountRequest) -> None:
        await self._run(pod, mount_command(req))

    async def count(self, pod: str) -> tuple[int, int]:
        command = ["goosefs", "fs", "count", "/"]
        try:
            return parse_count(await self._run(pod, command))
        except ValueError as exc:
            raise CommandFailed(command, None, str(exc)) from None

    async def summary(self, pod: str) -> tuple[int, int]:
        command = ["goosefs", "fsadmin", "report", "summary"]
        try:
            return parse_summary(await self._run(pod, command))
        except ValueError as exc:
            raise CommandFailed(command, None, str(exc)) from None

    async def free(self, pod: str) -> None:
        await self._run(pod, ["goosefs", "fs", "free", "-f", "/"])
