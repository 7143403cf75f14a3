"""The Linux ``Mounter``: mount(8)/umount(8) as argv lists with timeouts, stat in threads.

Owns every syscall-level effect of the plugin on the node. Never uses a shell, never
blocks the event loop on a path that may sit on a dead or hung FUSE mount (stat and
realpath run in a small thread pool under a timeout), and never decides what to mount:
the ``ensure_*`` primitives in ``fluid.csi.mounts`` call it. Built by ``fluid.csi.server``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import os
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import structlog

from fluid.csi import errors, mounts

__all__ = ["LinuxMounter"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

_MISSING = {errno.ENOENT, errno.ENOTDIR}
_NOT_MOUNTED = ("not mounted", "no mount point specified", "not found")


class LinuxMounter:
    """``Mounter`` over the real kernel, for the mount namespace this process runs in.

    ``command_timeout`` (s, default 30) bounds one mount/umount: a bind mount is instant,
    so anything slower is a hung FUSE server and the RPC should fail rather than pile up.
    ``stat_timeout`` (s, default 5) bounds one stat of a path that may be on FUSE.
    """

    def __init__(
        self,
        *,
        mountinfo: Path = Path("/proc/self/mountinfo"),
        command_timeout: float = 30.0,
        stat_timeout: float = 5.0,
    ) -> None:
        self._mountinfo = mountinfo
        self._command_timeout = command_timeout
        self._stat_timeout = stat_timeout
        # Threads stuck in a hung FUSE stat stay stuck; a private pool keeps them from
        # starving the loop's default executor.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="fluid-csi-stat"
        )

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._pool, fn), self._stat_timeout)

    async def table(self) -> mounts.MountTable:
        text = await asyncio.to_thread(self._mountinfo.read_text)
        return mounts.parse_mountinfo(text)

    async def resolve(self, path: str) -> str:
        try:
            return await self._in_thread(lambda: os.path.realpath(path))
        except TimeoutError:
            return posixpath.normpath(path)

    async def probe(self, path: str) -> mounts.PathState:
        try:
            await self._in_thread(lambda: os.stat(path))
        except TimeoutError:
            return mounts.PathState.HUNG
        except OSError as exc:
            if exc.errno in _MISSING:
                return mounts.PathState.MISSING
            log.debug("path_broken", path=path, errno=exc.errno, error=exc.strerror)
            return mounts.PathState.BROKEN
        return mounts.PathState.OK

    async def make_dir(self, path: str) -> None:
        def make() -> None:
            # A broken mount point exists but cannot be stat'ed as a directory.
            with contextlib.suppress(FileExistsError):
                os.makedirs(path, exist_ok=True)

        try:
            await self._in_thread(make)
        except TimeoutError:
            raise errors.Internal(f"mkdir {path} timed out") from None
        except OSError as exc:
            raise errors.Internal(f"mkdir {path}: {exc.strerror}") from exc

    async def remove_dir(self, path: str) -> bool:
        def remove() -> bool:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                return False
            return True

        try:
            return await self._in_thread(remove)
        except TimeoutError:
            raise errors.Internal(f"rmdir {path} timed out") from None
        except OSError as exc:
            raise errors.Internal(f"rmdir {path}: {exc.strerror}") from exc

    async def bind(self, *, source: str, target: str, readonly: bool) -> None:
        await self._run(["mount", "--bind", source, target])
        if not readonly:
            return
        # A bind mount takes the source's flags; read-only needs a remount of the bind.
        try:
            await self._run(["mount", "-o", "remount,bind,ro", target])
        except errors.MountError:
            await self.unmount(target)
            raise

    async def unmount(self, target: str) -> None:
        try:
            await self._run(["umount", target])
        except errors.MountError as exc:
            if any(marker in exc.message for marker in _NOT_MOUNTED):
                return
            raise

    async def _run(self, argv: list[str]) -> None:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), self._command_timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise errors.MountError(
                f"{' '.join(argv)} timed out after {self._command_timeout:g}s"
            ) from None
        if process.returncode != 0:
            message = stderr.decode("utf-8", "replace").strip()
            raise errors.MountError(f"{' '.join(argv)} failed ({process.returncode}): {message}")
        log.debug("mount_command", argv=argv)
