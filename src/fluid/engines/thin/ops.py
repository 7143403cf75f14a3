"""Calls into running Thin FUSE pods: used space and file count of the mounted file system.

Owns the commands (``df --block-size=1`` and ``ls -lR <target> | grep ^- | wc -l`` in
the ``thin-fuse`` container, as upstream runs them) and their parsing. Runs them only
through a ``fluid.engines.base.PodExecutor``; never logs command output. Called by
``fluid.engines.thin.engine``.
"""

from __future__ import annotations

import shlex
from typing import Protocol

from fluid.engines.base import CommandFailed, PodExecutor

__all__ = ["ExecThinOps", "ThinOps", "parse_df_used"]


class ThinOps(Protocol):
    async def used_bytes(self, pod: str, target: str) -> int: ...

    async def file_count(self, pod: str, target: str) -> int: ...


def parse_df_used(output: str, target: str) -> int:
    """The ``Used`` column of the ``df --block-size=1`` line mounted on ``target``."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[5] == target:
            return int(fields[2])
    raise ValueError(f"{target} is not in the df output")


class ExecThinOps:
    """``ThinOps`` over pod exec in the FUSE container."""

    def __init__(self, executor: PodExecutor, *, namespace: str, container: str,
                 timeout: float) -> None:
        self._executor = executor
        self._namespace = namespace
        self._container = container
        self._timeout = timeout

    async def _run(self, pod: str, command: list[str]) -> str:
        result = await self._executor.exec(namespace=self._namespace, pod=pod,
                                           container=self._container, command=command,
                                           timeout=self._timeout)
        if result.exit_code != 0:
            raise CommandFailed(command, result)
        return result.stdout

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
