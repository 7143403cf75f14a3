"""A recorded stand-in for EFC worker pods, answering the command ``ops.py`` issues.

Owns a little state: the cache directories each worker pod still holds, so a test can
check that shutdown removed them (``rm -rf <path>/tier_dadi``) and that a failing worker
makes shutdown retry. Plugs in at the ``PodExecutor`` boundary through
``RecordingExecutor``; never used in production.
"""

from __future__ import annotations

import attrs

from fluid.engines.base import ExecCall, ExecResult, RecordingExecutor

__all__ = ["FakeEFCWorkers"]


@attrs.define
class FakeEFCWorkers:
    """Cache directories per worker pod; ``failing`` pods answer every command with exit 1."""

    caches: dict[str, set[str]] = attrs.field(factory=dict)
    failing: set[str] = attrs.field(factory=set)

    def _rm(self, call: ExecCall) -> ExecResult:
        if call.pod in self.failing:
            return ExecResult("", "rm: cannot remove: Device or resource busy", 1)
        self.caches.setdefault(call.pod, set()).discard(call.command[-1])
        return ExecResult("")

    def executor(self) -> RecordingExecutor:
        return RecordingExecutor({("rm", "-rf"): self._rm})
