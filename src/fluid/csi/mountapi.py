"""Linux's file-descriptor mount API (``open_tree``, ``mount_setattr``, ``move_mount``) via ctypes.

Owns the three system calls the plugin needs for a read-only bind that is read-only from
the moment it appears: clone the source into a detached mount (``open_tree``), make the
detached copy read-only (``mount_setattr``), then attach it at the target
(``move_mount``). Python 3.11 has no wrappers, so they go through libc's ``syscall(2)``
with the numbers of the unified syscall table (x86_64 and aarch64 agree: 428, 429, 442).
Every failure is an ``OSError`` with the kernel's errno; a kernel (or an architecture
here) without them answers ``ENOSYS``.

Never decides on a fallback (``fluid.csi.linux`` does) and never runs on the event loop:
``open_tree`` looks the source up, which can block on a hung FUSE server.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
from collections.abc import Iterator
from typing import Protocol

import attrs

__all__ = [
    "SYSCALL_NUMBERS",
    "MountApi",
    "Syscall",
    "SyscallNumbers",
]

# include/uapi/linux/mount.h and linux/fcntl.h
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000


@attrs.frozen
class SyscallNumbers:
    open_tree: int
    move_mount: int
    mount_setattr: int


_UNIFIED = SyscallNumbers(open_tree=428, move_mount=429, mount_setattr=442)
SYSCALL_NUMBERS: dict[str, SyscallNumbers] = {"x86_64": _UNIFIED, "aarch64": _UNIFIED}
"""By ``platform.machine()``: arch/x86/entry/syscalls/syscall_64.tbl and the generic table
(include/uapi/asm-generic/unistd.h) that arm64 uses."""


class _MountAttr(ctypes.Structure):
    """``struct mount_attr`` (MOUNT_ATTR_SIZE_VER0, 32 bytes)."""

    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class Syscall(Protocol):
    """libc's ``syscall(2)``: -1 with errno set in ctypes' copy (``ctypes.get_errno``) on failure."""

    def __call__(self, number: ctypes.c_long, /, *args: object) -> int: ...


def _libc_syscall() -> Syscall:
    libc = ctypes.CDLL(None, use_errno=True)
    function = libc.syscall
    function.restype = ctypes.c_long
    call: Syscall = function
    return call


def _path(path: str) -> ctypes.c_char_p:
    return ctypes.c_char_p(os.fsencode(path))


@attrs.frozen
class MountApi:
    """The three calls over an injected ``syscall`` (``native()`` is libc's, for this machine).

    ``numbers`` None means this architecture's numbers are unknown: every call is ENOSYS.
    """

    syscall: Syscall
    numbers: SyscallNumbers | None

    @classmethod
    def native(cls) -> MountApi:
        return cls(syscall=_libc_syscall(), numbers=SYSCALL_NUMBERS.get(platform.machine()))

    def _call(self, name: str, path: str | None, *args: object) -> int:
        if self.numbers is None:
            raise OSError(errno.ENOSYS, f"{name}: no syscall number for {platform.machine()}")
        ctypes.set_errno(0)
        result = self.syscall(ctypes.c_long(getattr(self.numbers, name)), *args)
        if result < 0:
            code = ctypes.get_errno() or errno.EIO  # -1 without errno: never leave it 0
            raise OSError(code, f"{name}: {os.strerror(code)}", path)
        return result

    def open_tree(self, path: str, *, recursive: bool = False) -> int:
        """A detached clone of the mount at ``path`` (and its submounts if recursive); an fd."""
        flags = OPEN_TREE_CLONE | os.O_CLOEXEC | (AT_RECURSIVE if recursive else 0)
        return self._call(
            "open_tree", path, ctypes.c_long(AT_FDCWD), _path(path), ctypes.c_ulong(flags)
        )

    def set_read_only(self, tree: int, *, recursive: bool = False) -> None:
        """``mount_setattr(tree, "", AT_EMPTY_PATH[|AT_RECURSIVE], {attr_set: RDONLY})``."""
        attr = _MountAttr(attr_set=MOUNT_ATTR_RDONLY)
        flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
        self._call(
            "mount_setattr", None, ctypes.c_long(tree), _path(""), ctypes.c_ulong(flags),
            ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
        )

    def move_mount(self, tree: int, target: str) -> None:
        """Attach the detached ``tree`` at ``target``."""
        self._call(
            "move_mount", target, ctypes.c_long(tree), _path(""), ctypes.c_long(AT_FDCWD),
            _path(target), ctypes.c_ulong(MOVE_MOUNT_F_EMPTY_PATH),
        )

    @contextlib.contextmanager
    def read_only_clone(self, source: str, *, recursive: bool = False) -> Iterator[int]:
        """A detached, already read-only clone of ``source``; closed (and, unless attached
        meanwhile, unmounted by the kernel) on exit."""
        tree = self.open_tree(source, recursive=recursive)
        try:
            self.set_read_only(tree, recursive=recursive)
            yield tree
        finally:
            os.close(tree)
