"""Calls into running JuiceFS pods: used space, file count and cache statistics.

Owns the exact commands (``df --block-size=1``, ``ls -lR <path> | grep ^- | wc -l``,
``cat <path>/.stats``) and the parsing of their output. Runs them only through a
``fluid.engines.base.PodExecutor`` (the pod exec subresource in production, a
``RecordingExecutor`` in tests). Never reads Secrets and never logs command output.
Called by ``fluid.engines.juicefs.engine``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Protocol

from fluid.engines.base import CommandFailed, ContainerExec, parse_df_used

__all__ = ["ExecJuiceFSOps", "JuiceFSOps", "parse_df_used", "parse_stats"]


class JuiceFSOps(Protocol):
    """What the engine asks a JuiceFS pod."""

    async def used_bytes(self, pod: str, mount_path: str) -> int: ...

    async def file_count(self, pod: str, mount_path: str) -> int: ...

    async def stats(self, pod: str, mount_path: str) -> Mapping[str, float]: ...


def parse_stats(output: str) -> dict[str, float]:
    """``name value`` (or Prometheus ``name{labels} value``) lines of ``.stats``; labelled
    samples of one metric are summed."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) < 2 or line.startswith("#"):
            continue
        name = parts[0].split("{", 1)[0]
        try:
            value = float(parts[1])
        except ValueError:
            continue
        found[name] = found.get(name, 0.0) + value
    return found


class ExecJuiceFSOps(ContainerExec):
    """``JuiceFSOps`` over pod exec in one container (the worker's, by default)."""

    async def used_bytes(self, pod: str, mount_path: str) -> int:
        command = ["df", "--block-size=1"]
        output = await self._run(pod, command)
        try:
            return parse_df_used(output, mount_path)
        except ValueError as exc:
            raise CommandFailed(command, None, str(exc)) from None

    async def file_count(self, pod: str, mount_path: str) -> int:
        command = ["bash", "-c", f"ls -lR {shlex.quote(mount_path)} |grep ^- |wc -l"]
        output = (await self._run(pod, command)).strip()
        if not output.isdigit():
            raise CommandFailed(command, None, f"unexpected output {output[:80]!r}")
        return int(output)

    async def stats(self, pod: str, mount_path: str) -> Mapping[str, float]:
        return parse_stats(await self._run(pod, ["cat", f"{mount_path}/.stats"]))
