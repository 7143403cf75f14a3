"""fluid-csi against real mounts: bindfs as the runtime's FUSE client, real bind mounts.

Everything runs in a private mount namespace (``unshare -m``): the plugin process, the
FUSE server, the mounts. The test drives the plugin over its unix socket with real gRPC
and looks at the namespace through /proc/<pid>/root and /proc/<pid>/mountinfo.
"""

from __future__ import annotations

import asyncio
import errno
import os

import csiproc
import grpc
import pytest

pytestmark = pytest.mark.mounts


def _read(ns: csiproc.MountNamespace, path: str) -> tuple[str | None, int | None]:
    return csiproc.read_errno(ns.path(path))


async def test_publish_bind_mounts_the_fuse_path_into_the_pod(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    target = layout.target()
    await csiproc.publish(plugin, layout, target)
    await csiproc.publish(plugin, layout, target)  # idempotent: still one mount
    assert _read(mount_ns, target + "/hello.txt") == ("hello from the dataset\n", None)
    (at_target,) = mount_ns.entries_at(target)
    (at_fuse,) = mount_ns.entries_at(layout.fluid_path)
    assert at_target[2] == at_fuse[2]  # same device: a bind of the FUSE mount
    assert at_target[-3] == "fuse"
    # Not visible outside the private namespace.
    assert not csiproc.is_mount(target)


async def test_read_only_and_read_write_publishes(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    ro, rw = layout.target(csiproc.POD), layout.target(csiproc.OTHER_POD)
    await csiproc.publish(plugin, layout, ro, readonly=True)
    await csiproc.publish(plugin, layout, rw)
    assert mount_ns.writes_fail_read_only(ro)
    assert mount_ns.run("sh", "-c", f"echo written > {rw}/new.txt").returncode == 0
    assert (layout.data / "new.txt").read_text() == "written\n"
    # The same target cannot switch modes behind the pod's back.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await csiproc.publish(plugin, layout, ro)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_publish_a_sub_path(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    target = layout.target()
    await csiproc.publish(plugin, layout, target, fluid_sub_path="train")
    assert os.listdir(mount_ns.path(target)) == ["part-0"]
    (entry,) = mount_ns.entries_at(target)
    assert entry[3] == "/train"


async def test_unpublish_unmounts_and_removes_the_target(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    target = layout.target()
    await csiproc.publish(plugin, layout, target)
    await csiproc.unpublish(plugin, target)
    assert mount_ns.entries_at(target) == []
    assert not csiproc.exists(mount_ns.path(target))
    await csiproc.unpublish(plugin, target)  # again: OK


async def test_unpublish_works_on_a_target_whose_fuse_died(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    target = layout.target()
    await csiproc.publish(plugin, layout, target)
    fuse.kill()
    assert _read(mount_ns, target + "/hello.txt") == (None, errno.ENOTCONN)
    await csiproc.unpublish(plugin, target)
    assert mount_ns.entries_at(target) == []
    assert not csiproc.exists(mount_ns.path(target))


async def test_stage_waits_for_the_fuse_client(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    staging = asyncio.ensure_future(csiproc.stage(plugin, layout))
    await asyncio.sleep(0.5)
    assert not staging.done()
    await asyncio.to_thread(fuse.start)  # the FUSE DaemonSet's pod arrives on the node
    await asyncio.wait_for(staging, 10)


async def test_stage_without_a_fuse_client_is_unavailable(
    mount_ns: csiproc.MountNamespace, plugin: csiproc.PluginProcess, layout: csiproc.Layout,
) -> None:
    os.makedirs(layout.fluid_path)  # an empty directory is not the dataset
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await csiproc.stage(plugin, layout)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "not mounted" in (info.value.details() or "")


async def test_stage_clears_a_dead_fuse_mount(
    mount_ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, plugin: csiproc.PluginProcess,
    layout: csiproc.Layout,
) -> None:
    fuse.start()
    fuse.kill()
    assert _read(mount_ns, layout.fluid_path + "/hello.txt") == (None, errno.ENOTCONN)
    staging = asyncio.ensure_future(csiproc.stage(plugin, layout))
    # The plugin unmounts the dead mount so that a new FUSE client can mount again.
    await csiproc.eventually(
        lambda: layout.fluid_path not in mount_ns.mount_points(), what="dead mount cleared"
    )
    await asyncio.to_thread(fuse.start)
    await asyncio.wait_for(staging, 10)
