"""The Linux ``Mounter``: mount(8)/umount(8) as argv lists, the new mount API, stat in threads.

Owns every syscall-level effect of the plugin on the node. A read-only bind is made
atomically where the kernel has the file-descriptor mount API (``fluid.csi.mountapi``:
a detached clone made read-only before it is attached, so the target is never a writable
view of the dataset, and the copies the bind propagates to the kubelet's side are
read-only too); on kernels without it (ENOSYS), or where seccomp filters it (EPERM), it
falls back, once and for all with a
log line, to ``mount --bind`` followed by ``mount -o remount,bind,ro``. Both NodePublish
and FUSE recovery bind through here. Never uses a shell, never blocks the event loop on
a path that may sit on a dead or hung FUSE mount (stat, realpath and the mount syscalls
run in a small thread pool under a timeout), and never decides what to mount: the
``ensure_*`` primitives in ``fluid.csi.mounts`` call it. Built by ``fluid.csi.server``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import errno
import os
import posixpath
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import structlog

from fluid.csi import errors, mountapi, mounts

__all__ = ["LinuxMounter", "ReadOnlyBind"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

_MISSING = {errno.ENOENT, errno.ENOTDIR}
_NOT_MOUNTED = ("not mounted", "no mount point specified", "not found")
_MOUNT_API_UNAVAILABLE = (errno.ENOSYS, errno.EPERM)
"""ENOSYS: a kernel without the calls. EPERM: a seccomp profile that filters them (older
container runtimes' defaults do; CAP_SYS_ADMIN is there, or mount(8) fails next anyway)."""


class ReadOnlyBind(enum.StrEnum):
    """How ``LinuxMounter`` makes a read-only bind."""

    ATOMIC = "atomic"
    """open_tree + mount_setattr + move_mount: the mount appears read-only. Falls back to
    TWO_STEP when the kernel answers ENOSYS (open_tree before 5.2, mount_setattr before 5.12)
    or a seccomp filter answers EPERM."""
    TWO_STEP = "two-step"
    """mount --bind, then remount it read-only: writable for a moment, and the copies the
    bind propagated to peer mount namespaces (the kubelet's) stay writable."""


class LinuxMounter:
    """``Mounter`` over the real kernel, for the mount namespace this process runs in.

    ``command_timeout`` (s, default 30) bounds one mount/umount: a bind mount is instant,
    so anything slower is a hung FUSE server and the RPC should fail rather than pile up.
    ``stat_timeout`` (s, default 5) bounds one stat of a path that may be on FUSE.
    ``readonly_bind`` (default atomic) and ``mount_api`` (default libc's syscalls for this
    machine) choose how read-only binds are made.
    """

    def __init__(
        self,
        *,
        mountinfo: Path = Path("/proc/self/mountinfo"),
        command_timeout: float = 30.0,
        stat_timeout: float = 5.0,
        readonly_bind: ReadOnlyBind = ReadOnlyBind.ATOMIC,
        mount_api: mountapi.MountApi | None = None,
    ) -> None:
        self._mountinfo = mountinfo
        self._command_timeout = command_timeout
        self._stat_timeout = stat_timeout
        self._atomic = readonly_bind is ReadOnlyBind.ATOMIC
        self._api = mount_api or mountapi.MountApi.native()
        # Threads stuck in a hung FUSE stat stay stuck; a private pool keeps them from
        # starving the loop's default executor.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="fluid-csi-stat"
        )

    async def _in_thread(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self._pool, fn), timeout or self._stat_timeout
        )

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
        if readonly and self._atomic and await self._bind_read_only_atomically(source, target):
            return
        await self._run(["mount", "--bind", source, target])
        if not readonly:
            return
        # A bind mount takes the source's flags; read-only needs a remount of the bind.
        try:
            await self._run(["mount", "-o", "remount,bind,ro", target])
        except errors.MountError:
            await self.unmount(target)
            raise

    async def _bind_read_only_atomically(self, source: str, target: str) -> bool:
        """Attach a read-only clone of ``source`` at ``target``; False when the kernel lacks
        the calls (then this mounter uses the two-step bind from now on)."""
        abandoned = threading.Event()

        def attach() -> None:
            with self._api.read_only_clone(source) as tree:
                if not abandoned.is_set():  # the caller gave up: never mount behind its back
                    self._api.move_mount(tree, target)

        try:
            await self._in_thread(attach, self._command_timeout)
        except TimeoutError:
            abandoned.set()
            raise errors.MountError(
                f"read-only bind of {source} on {target} timed out after "
                f"{self._command_timeout:g}s"
            ) from None
        except OSError as exc:
            if exc.errno not in _MOUNT_API_UNAVAILABLE:
                raise errors.MountError(f"read-only bind of {source} on {target}: {exc}") from exc
            if self._atomic:  # concurrent binds may all see ENOSYS: say it once
                self._atomic = False
                log.warning("atomic_readonly_bind_unavailable", error=str(exc),
                            fallback="bind_then_remount_ro")
            return False
        log.debug("mount_syscalls", source=source, target=target, attr="ro")
        return True

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
