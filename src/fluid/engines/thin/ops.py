"""Calls into running Thin FUSE pods: used space and file count of the mounted file system.

Owns the commands (``df --block-size=1`` and ``ls -lR <target> | grep ^- | wc -l`` in
the ``thin-fuse`` container, as upstream runs them) and their parsing. Runs them only
through a ``fluid.engines.base.PodExecutor``; never logs command output. Called by
``fluid.engines.thin.engine``.
"""

from __future__ import annotations

import shlex
from typing import Protocol

from fluid.engines.base import CommandFailed, ContainerExec, parse_df_used

__all__ = ["ExecThinOps", "ThinOps", "parse_df_used"]


class ThinOps(Protocol):
    async def used_bytes(self, pod: str, target: str) -> int: ...

    async def file_count(self, pod: str, target: str) -> int: ...


class ExecThinOps(ContainerExec):
    """``ThinOps`` over pod exec in the FUSE container."""

    async def used_bytes(self, pod: str, target: str) -> int:
        command = ["df", "--block-size=1"]
        try:
            return parse_df_used(await self._run(pod, command), target)
        except ValueError as exc:
            raise CommandFailed(command, None, str(exc)) from None

    async def file_count(self, pod: str, target: str) -> int:
        command = ["bash", "-c", f"ls -lR {shlex.quote(target)} |grep ^- |wc -l"]
        output = (await self._run(pod, command)).strip()
        if not output.isdigit():
            raise CommandFailed(command, None, f"unexpected output {output[:80]!r}")
        return int(output)
