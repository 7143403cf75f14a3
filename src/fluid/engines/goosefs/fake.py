"""A recorded stand-in for a GooseFS master, answering the commands ``ops.py`` issues.

Owns canned output in GooseFS's own formats (the ``goosefs fs mount`` table, ``goosefs fs
count /``, ``goosefs fsadmin report summary``) and a little state: the mount table, and
every ``--option`` a mount received as the master container would see it before the
shell expands it, so tests can check that Secret values travel as ``${FLUID_SECRET_*}``
references only. Mounts issued through ``sh -c`` are parsed with ``shlex`` like the
container's shell would split them (without expanding variables). Plugs in at the
``PodExecutor`` boundary through ``RecordingExecutor``; never used in production.
"""

from __future__ import annotations

import shlex

import attrs

from fluid.engines.base import ExecCall, ExecResult, RecordingExecutor, Responder

__all__ = ["FakeGooseFSMaster", "goosefs_size"]


def goosefs_size(size: int) -> str:
    """GooseFS's way of printing bytes: two decimals and ``KB``/``MB``/``GB`` binary units."""
    amount, unit = float(size), 0
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    while amount >= 1024 and unit < len(units) - 1:
        amount, unit = amount / 1024, unit + 1
    return f"{amount:.2f}{units[unit]}"


@attrs.define
class FakeGooseFSMaster:
    """UFS size and file count, cache capacity and usage, the mount table."""

    ufs_bytes: int = 0
    files: int = 0
    folders: int = 1
    capacity_bytes: int = 0
    used_bytes: int = 0
    mounts: dict[str, str] = attrs.field(factory=dict)
    """GooseFS path -> UFS, as ``goosefs fs mount`` lists them."""
    mount_options: dict[str, dict[str, str]] = attrs.field(factory=dict)
    """GooseFS path -> the ``--option`` values of its mount, unexpanded."""
    freed: int = 0

    def _mount_words(self, words: list[str]) -> ExecResult:
        if not words:
            lines = [f"{ufs}  on  {path}  (web, capacity=-1B, used=-1B, not read-only, "
                     "not shared, properties={})" for path, ufs in sorted(self.mounts.items())]
            return ExecResult("".join(f"{line}\n" for line in lines))
        path, ufs = words[-2], words[-1]
        if path in self.mounts:
            return ExecResult("", f"Mount point {path} already exists", 1)
        options = [words[i + 1] for i, w in enumerate(words[:-2]) if w == "--option"]
        self.mounts[path] = ufs
        self.mount_options[path] = dict(o.split("=", 1) for o in options)
        return ExecResult(f"Mounted {ufs} at {path}\n")

    def _mount(self, call: ExecCall) -> ExecResult:
        return self._mount_words(list(call.command[3:]))

    def _shell(self, call: ExecCall) -> ExecResult:
        words = shlex.split(call.command[2])
        if words[:3] != ["goosefs", "fs", "mount"]:
            return ExecResult("", f"sh: unexpected command {words[:3]}", 127)
        return self._mount_words(words[3:])

    def _unmount(self, call: ExecCall) -> ExecResult:
        path = call.command[-1]
        if self.mounts.pop(path, None) is None:
            return ExecResult("", f"Path {path} is not a mount point", 1)
        self.mount_options.pop(path, None)
        return ExecResult(f"Unmounted {path}\n")

    def _count(self, _: ExecCall) -> str:
        return (f"File Count               Folder Count             Folder Size\n"
                f"{self.files:<25}{self.folders:<25}{self.ufs_bytes}\n")

    def _summary(self, call: ExecCall) -> str:
        free = self.capacity_bytes - self.used_bytes
        return ("GooseFS cluster summary: \n"
                f"    Master Address: {call.pod}:19998\n"
                "    Live Workers: 1\n"
                f"    Total Capacity: {goosefs_size(self.capacity_bytes)}\n"
                f"        Tier: SSD  Size: {goosefs_size(self.capacity_bytes)}\n"
                f"    Used Capacity: {goosefs_size(self.used_bytes)}\n"
                f"        Tier: SSD  Size: {goosefs_size(self.used_bytes)}\n"
                f"    Free Capacity: {goosefs_size(free)}\n")

    def _free(self, _: ExecCall) -> str:
        self.freed += 1
        self.used_bytes = 0
        return "/ was successfully freed from GooseFS space.\n"

    def responders(self) -> dict[tuple[str, ...], Responder | str]:
        return {
            ("goosefs", "fs", "mount"): self._mount,
            ("sh", "-c"): self._shell,
            ("goosefs", "fs", "unmount"): self._unmount,
            ("goosefs", "fs", "count"): self._count,
            ("goosefs", "fsadmin", "report", "summary"): self._summary,
            ("goosefs", "fs", "free"): self._free,
        }

    def executor(self) -> RecordingExecutor:
        return RecordingExecutor(self.responders())
