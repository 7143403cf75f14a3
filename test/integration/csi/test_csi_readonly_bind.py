"""Read-only publishes are read-only from the moment the target appears.

fluid-csi makes a read-only bind with open_tree + mount_setattr + move_mount: the clone is
made read-only while still detached, so no reader ever sees the target writable. A
separate watcher process polls the namespace's mountinfo during repeated publishes and
counts the modes it saw at the target. The two-step fallback (bind, then remount
read-only), forced through ``LinuxMounter``'s ``readonly_bind`` parameter or chosen by
the plugin itself when the mount syscalls answer ENOSYS, still publishes read-only, and
the same watcher does catch its writable moment, which is what makes the first test mean
something.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import csiproc
import pytest

pytestmark = pytest.mark.mounts

CYCLES = 12
"""Read-only publish/unpublish cycles watched in one go."""


async def _publish_read_only(
    plugin: csiproc.PluginProcess, ns: csiproc.MountNamespace, layout: csiproc.Layout,
    target: str,
) -> None:
    """Publish read-only and check the settled state: one read-only mount of the dataset."""
    await csiproc.publish(plugin, layout, target, readonly=True)
    (entry,) = ns.entries_at(target)
    assert "ro" in entry[5].split(","), entry
    assert csiproc.read_errno(ns.path(target + "/hello.txt")) == (
        "hello from the dataset\n", None
    )


async def _watched_cycles(
    plugin: csiproc.PluginProcess, ns: csiproc.MountNamespace, layout: csiproc.Layout,
    target: str,
) -> dict[str, int]:
    """Modes the watcher saw at ``target`` over CYCLES read-only publish/unpublish cycles."""
    watcher = csiproc.MountinfoWatcher(ns, target)
    try:
        for _ in range(CYCLES):
            await _publish_read_only(plugin, ns, layout, target)
            await csiproc.unpublish(plugin, target)
    finally:
        seen = watcher.stop()
    print(f"watcher: {watcher.reads} reads, at the target {seen[target]}")
    return seen[target]


def _binds(logs: str) -> list[dict[str, Any]]:
    """How each bind was made: the syscalls, or mount(8) (with its argv)."""
    return [e for e in csiproc.log_events(logs)
            if e.get("event") in ("mount_syscalls", "mount_command")
            and e.get("argv", ["mount"])[0] == "mount"]


def _events(logs: str, name: str) -> list[dict[str, Any]]:
    return [e for e in csiproc.log_events(logs) if e.get("event") == name]


async def test_a_read_only_publish_is_never_seen_writable(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    target = layout.target()
    seen = await _watched_cycles(plugin, mount_ns, layout, target)
    assert seen["ro"] > 0, "the watcher never saw the target mounted: it proves nothing"
    assert seen["rw"] == 0, "a read-only publish was visible writable"
    await csiproc.eventually(
        lambda: len(_binds(plugin.logs())) >= CYCLES, what="every bind logged"
    )
    binds = _binds(plugin.logs())
    assert [e["event"] for e in binds] == ["mount_syscalls"] * CYCLES


async def test_the_two_step_fallback_publishes_read_only_but_is_briefly_writable(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, layout: csiproc.Layout,
    workdir: Path,
) -> None:
    fuse.start()
    target = layout.target()
    async with csiproc.running_plugin(mount_ns, workdir, readonly_bind="two-step") as plugin:
        await _publish_read_only(plugin, mount_ns, layout, target)
        assert mount_ns.writes_fail_read_only(target)
        assert not (layout.data / "new.txt").exists()
        await csiproc.unpublish(plugin, target)
        # The control for the test above: the same watcher catches the writable moment
        # between the bind and the remount (tried in rounds, as it is a race).
        writable_seen = 0
        for _ in range(8):
            writable_seen = (await _watched_cycles(plugin, mount_ns, layout, target))["rw"]
            if writable_seen:
                break
        assert writable_seen > 0, "the watcher cannot see a writable moment: tests prove nothing"
        argv = [e["argv"] for e in _binds(plugin.logs())]
    assert argv[:2] == [
        ["mount", "--bind", layout.fluid_path, target],
        ["mount", "-o", "remount,bind,ro", target],
    ]
    assert _events(plugin.logs(), "mount_syscalls") == []


async def test_without_the_mount_syscalls_the_plugin_falls_back_and_says_so_once(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, layout: csiproc.Layout,
    workdir: Path,
) -> None:
    fuse.start()
    targets = [layout.target(csiproc.POD), layout.target(csiproc.OTHER_POD)]
    async with csiproc.running_plugin(mount_ns, workdir, readonly_bind="enosys") as plugin:
        for target in targets:
            await _publish_read_only(plugin, mount_ns, layout, target)
            assert mount_ns.writes_fail_read_only(target)
        await csiproc.publish(plugin, layout, targets[0], readonly=True)  # no-op, still ro
        for target in targets:
            await csiproc.unpublish(plugin, target)
    (warning,) = _events(plugin.logs(), "atomic_readonly_bind_unavailable")
    assert warning["level"] == "warning"
    assert "open_tree" in warning["error"]
    remounts = [e for e in _binds(plugin.logs()) if "remount,bind,ro" in e["argv"]]
    assert [e["argv"][-1] for e in remounts] == targets


def _kubelet_side(
    mount_ns: csiproc.MountNamespace, layout: csiproc.Layout
) -> csiproc.MountNamespace:
    """Make the kubelet directory shared and open a namespace that shares it, as the
    kubelet's own namespace shares the plugin container's Bidirectional mount."""
    kubelet = str(layout.workdir / "kubelet")
    for command in (("mkdir", "-p", kubelet), ("mount", "--bind", kubelet, kubelet),
                    ("mount", "--make-shared", kubelet)):
        result = mount_ns.run(*command)
        assert result.returncode == 0, result.stderr
    return csiproc.MountNamespace(copy_of=mount_ns)


@pytest.mark.parametrize(("mode", "kubelet_sees"), [("atomic", "ro"), ("two-step", "rw")])
async def test_what_the_kubelet_side_sees_of_a_read_only_publish(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, layout: csiproc.Layout,
    workdir: Path, mode: str, kubelet_sees: str,
) -> None:
    """The copy the bind propagates is made from the mount as attached: the atomic bind
    propagates a read-only mount, the two-step one a writable mount that the later
    remount (which does not propagate) leaves writable."""
    fuse.start()
    target = layout.target()
    kubelet_ns = _kubelet_side(mount_ns, layout)
    try:
        async with csiproc.running_plugin(mount_ns, workdir, readonly_bind=mode) as plugin:
            await _publish_read_only(plugin, mount_ns, layout, target)
            (entry,) = kubelet_ns.entries_at(target)
            modes = {"ro", "rw"} & set(entry[5].split(","))
            assert modes == {kubelet_sees}
            assert csiproc.read_errno(kubelet_ns.path(target + "/hello.txt"))[1] is None
            await csiproc.unpublish(plugin, target)
            assert kubelet_ns.entries_at(target) == []
    finally:
        kubelet_ns.close()
