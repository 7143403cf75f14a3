"""The ctypes wrapper of open_tree / mount_setattr / move_mount: arguments, errno, fd hygiene.

Most tests inject a scripted ``syscall`` that behaves like libc's (returns -1 and sets
errno in ctypes' copy); a few call the real kernel where that needs no privileges.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from fluid.csi import mountapi

NUMBERS = mountapi.SyscallNumbers(open_tree=428, move_mount=429, mount_setattr=442)
NAMES = {428: "open_tree", 429: "move_mount", 442: "mount_setattr"}


def _plain(arg: Any) -> Any:
    """A ctypes argument as a Python value (bytes, int, or the struct behind a pointer)."""
    if isinstance(arg, ctypes.c_char_p):
        return arg.value
    if hasattr(arg, "_obj"):  # ctypes.byref(...)
        return arg._obj
    return arg.value


@attrs.define
class ScriptedSyscall:
    """libc's syscall(2) with outcomes by call name: an int result, or an errno to fail with."""

    results: dict[str, int] = attrs.field(factory=dict)
    failures: dict[str, int] = attrs.field(factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = attrs.field(factory=list)

    def __call__(self, number: ctypes.c_long, /, *args: object) -> int:
        name = NAMES[number.value]
        self.calls.append((name, tuple(_plain(a) for a in args)))
        if name in self.failures:
            ctypes.set_errno(self.failures[name])
            return -1
        return self.results.get(name, 0)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A real fd to stand for the detached tree, and a way to see that it was closed."""
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def _closed(pipe: tuple[int, int]) -> bool:
    """The read end is closed when writing to the pipe breaks."""
    try:
        os.write(pipe[1], b"x")
    except BrokenPipeError:
        return True
    return False


def test_a_read_only_clone_passes_the_documented_arguments(pipe: tuple[int, int]) -> None:
    syscall = ScriptedSyscall(results={"open_tree": pipe[0]})
    api = mountapi.MountApi(syscall=syscall, numbers=NUMBERS)
    with api.read_only_clone("/runtime-mnt/demo") as tree:
        assert tree == pipe[0]
        api.move_mount(tree, "/pods/uid/mount")
    (_, open_args), (_, setattr_args), (_, move_args) = syscall.calls
    assert syscall.names() == ["open_tree", "mount_setattr", "move_mount"]
    assert open_args == (-100, b"/runtime-mnt/demo", 0x1 | os.O_CLOEXEC)
    dfd, path, flags, attr, size = setattr_args
    assert (dfd, path, flags, size) == (pipe[0], b"", 0x1000, 32)
    assert (attr.attr_set, attr.attr_clr, attr.propagation, attr.userns_fd) == (1, 0, 0, 0)
    assert move_args == (pipe[0], b"", -100, b"/pods/uid/mount", 0x4)
    assert _closed(pipe)


def test_recursive_clones_and_protects_the_whole_tree(pipe: tuple[int, int]) -> None:
    syscall = ScriptedSyscall(results={"open_tree": pipe[0]})
    api = mountapi.MountApi(syscall=syscall, numbers=NUMBERS)
    with api.read_only_clone("/src", recursive=True):
        pass
    (_, open_args), (_, setattr_args) = syscall.calls
    assert open_args[2] == 0x1 | os.O_CLOEXEC | 0x8000
    assert setattr_args[2] == 0x1000 | 0x8000


def test_a_failing_call_raises_oserror_with_the_kernels_errno() -> None:
    syscall = ScriptedSyscall(failures={"open_tree": errno.ENOENT})
    api = mountapi.MountApi(syscall=syscall, numbers=NUMBERS)
    with pytest.raises(OSError, match="open_tree: ") as info:
        api.open_tree("/no/such/dir")
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == "/no/such/dir"
    assert "open_tree" in str(info.value)
    assert os.strerror(errno.ENOENT) in str(info.value)


def test_enosys_from_an_old_kernel_is_reported_as_enosys() -> None:
    api = mountapi.MountApi(syscall=ScriptedSyscall(failures={"open_tree": errno.ENOSYS}),
                            numbers=NUMBERS)
    with pytest.raises(OSError, match="open_tree") as info, api.read_only_clone("/src"):
        pass
    assert info.value.errno == errno.ENOSYS


def test_the_clone_is_closed_when_making_it_read_only_fails(pipe: tuple[int, int]) -> None:
    # Kernels 5.2-5.11 have open_tree but not mount_setattr.
    syscall = ScriptedSyscall(results={"open_tree": pipe[0]},
                              failures={"mount_setattr": errno.ENOSYS})
    api = mountapi.MountApi(syscall=syscall, numbers=NUMBERS)
    with pytest.raises(OSError, match="mount_setattr") as info, api.read_only_clone("/src"):
        pytest.fail("a clone that is not read-only must never be handed out")
    assert info.value.errno == errno.ENOSYS
    assert _closed(pipe)


def test_the_clone_is_closed_when_attaching_it_fails(pipe: tuple[int, int]) -> None:
    syscall = ScriptedSyscall(results={"open_tree": pipe[0]},
                              failures={"move_mount": errno.ENOENT})
    api = mountapi.MountApi(syscall=syscall, numbers=NUMBERS)
    with pytest.raises(OSError, match="move_mount") as info, \
            api.read_only_clone("/src") as tree:
        api.move_mount(tree, "/gone")
    assert (info.value.errno, info.value.filename) == (errno.ENOENT, "/gone")
    assert _closed(pipe)


def test_minus_one_without_errno_is_still_an_error() -> None:
    syscall = ScriptedSyscall(failures={"move_mount": 0})
    api = mountapi.MountApi(syscall=syscall, numbers=NUMBERS)
    with pytest.raises(OSError, match="move_mount") as info:
        api.move_mount(3, "/t")
    assert info.value.errno == errno.EIO


def test_an_unknown_architecture_is_enosys_without_calling_the_kernel() -> None:
    syscall = ScriptedSyscall()
    api = mountapi.MountApi(syscall=syscall, numbers=None)
    with pytest.raises(OSError, match="no syscall number") as info:
        api.open_tree("/src")
    assert info.value.errno == errno.ENOSYS
    assert syscall.calls == []


def test_x86_64_and_aarch64_share_the_unified_numbers() -> None:
    assert mountapi.SYSCALL_NUMBERS["x86_64"] == NUMBERS
    assert mountapi.SYSCALL_NUMBERS["aarch64"] == NUMBERS


HEADERS = {
    "asm-generic (aarch64)": Path("/usr/include/asm-generic/unistd.h"),
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
}


@pytest.mark.parametrize("header", HEADERS.values(), ids=HEADERS.keys())
def test_the_numbers_match_the_kernel_headers(header: Path) -> None:
    if not header.exists():
        pytest.skip(f"{header} not installed (linux-libc-dev)")
    defined = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)", header.read_text()))
    assert {name: int(defined[name]) for name in NAMES.values()} == attrs.asdict(NUMBERS)


def test_the_real_kernel_reports_errors_through_errno() -> None:
    """mount_setattr on a closed fd: EBADF, whatever our privileges (ENOSYS before 5.12)."""
    api = mountapi.MountApi.native()
    if api.numbers is None:
        pytest.skip("no syscall numbers for this architecture")
    with pytest.raises(OSError, match="mount_setattr") as info:
        api.set_read_only(-1)
    assert info.value.errno in (errno.EBADF, errno.ENOSYS)
    if info.value.errno == errno.ENOSYS:
        pytest.skip("kernel without mount_setattr")


def test_the_real_kernels_clone_is_read_only_before_it_is_attached(tmp_path: Path) -> None:
    """As root: the detached clone already says read-only; nothing is attached anywhere."""
    if os.geteuid() != 0:
        pytest.skip("open_tree(OPEN_TREE_CLONE) needs CAP_SYS_ADMIN")
    api = mountapi.MountApi.native()
    try:
        with api.read_only_clone(str(tmp_path)) as tree:
            assert os.fstatvfs(tree).f_flag & os.ST_RDONLY
            assert not os.statvfs(tmp_path).f_flag & os.ST_RDONLY
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        pytest.skip("kernel without the new mount API")
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()


@pytest.mark.parametrize("refusal", [errno.ENOSYS, errno.EPERM])
async def test_mounter_falls_back_once_when_the_calls_are_missing_or_filtered(refusal: int) -> None:
    """An old kernel (ENOSYS) or a seccomp filter (EPERM): two-step from then on, said once."""
    import structlog

    from fluid.csi.linux import LinuxMounter

    syscall = ScriptedSyscall(failures={"open_tree": refusal})
    mounter = LinuxMounter(mount_api=mountapi.MountApi(syscall=syscall, numbers=NUMBERS))
    with structlog.testing.capture_logs() as logs:
        assert await mounter._bind_read_only_atomically("/src", "/target") is False
        assert await mounter._bind_read_only_atomically("/src", "/target") is False
    assert [e["event"] for e in logs] == ["atomic_readonly_bind_unavailable"]


async def test_mounter_reports_other_refusals_as_mount_errors() -> None:
    from fluid.csi import errors
    from fluid.csi.linux import LinuxMounter

    syscall = ScriptedSyscall(failures={"open_tree": errno.ENOENT})
    mounter = LinuxMounter(mount_api=mountapi.MountApi(syscall=syscall, numbers=NUMBERS))
    with pytest.raises(errors.MountError, match="/src"):
        await mounter._bind_read_only_atomically("/src", "/target")


def test_the_command_line_chooses_the_read_only_bind() -> None:
    from fluid.cli import csi as cli
    from fluid.csi.linux import ReadOnlyBind

    base = ["--node-id", "n1", "--endpoint", "unix:///tmp/x.sock", "--state-dir", "/tmp/s"]
    assert cli.settings_from_args(cli.parse_args(base)).readonly_bind is ReadOnlyBind.ATOMIC
    chosen = cli.settings_from_args(cli.parse_args([*base, "--readonly-bind", "two-step"]))
    assert chosen.readonly_bind is ReadOnlyBind.TWO_STEP
