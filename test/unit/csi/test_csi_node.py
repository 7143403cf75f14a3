"""The Node service over real gRPC on a unix socket, with a simulated mount namespace."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import csiunit
import grpc
import pytest

from fluid.csi import errors, state
from fluid.csi.proto import csi_pb2

LABEL = "fluid.io/f-default-demo"
AccessMode = csi_pb2.VolumeCapability.AccessMode


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _binds(plugin: csiunit.Plugin) -> list[tuple[str, ...]]:
    return [c for c in plugin.mounter.calls if c[0] == "bind"]


async def _expect(code: grpc.StatusCode, call: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == code, info.value.details()
    return info.value.details() or ""


# -- info -------------------------------------------------------------------------------------


async def test_node_info_and_capabilities(plugin: csiunit.Plugin) -> None:
    info = await plugin.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    assert info.node_id == "node-a"
    assert info.max_volumes_per_node == 0
    caps = await plugin.node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest())
    assert [c.rpc.type for c in caps.capabilities] == [
        csi_pb2.NodeServiceCapability.RPC.STAGE_UNSTAGE_VOLUME
    ]


# -- argument checks ------------------------------------------------------------------------


def _stage_request(plugin: csiunit.Plugin, **overrides: object) -> csi_pb2.NodeStageVolumeRequest:
    fields: dict[str, object] = {
        "volume_id": "v", "staging_target_path": plugin.staging,
        "volume_capability": csiunit.mount_capability(), "volume_context": plugin.context(),
    }
    fields.update(overrides)
    return csi_pb2.NodeStageVolumeRequest(**{k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"volume_id": None}, "volume_id"),
        ({"staging_target_path": None}, "staging_target_path"),
        ({"staging_target_path": "relative/path"}, "absolute"),
        ({"volume_capability": None}, "volume_capability"),
        ({"volume_capability": csi_pb2.VolumeCapability(
            block=csi_pb2.VolumeCapability.BlockVolume())}, "block"),
        ({"volume_context": {"runtime_namespace": "a", "runtime_name": "b"}}, "fluid_path"),
        ({"volume_context": {"fluid_path": "/x"}}, "runtime_namespace"),
        ({"volume_context": {"fluid_path": "/r/t/ns/n/d", "fluid_sub_path": "../../etc"}},
         "inside the dataset"),
        ({"volume_context": {"fluid_path": "/r/t/ns/n/d",
                             "mount_pod_node_selector_key": "bad key!"}}, "label key"),
        ({"volume_context": {"fluid_path": "/r/t/" + "n" * 40 + "/" + "d" * 40 + "/f"}},
         "label key"),
    ],
)
async def test_stage_rejects_bad_requests(
    plugin: csiunit.Plugin, overrides: dict[str, object], mentions: str
) -> None:
    details = await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, plugin.node.NodeStageVolume(
            _stage_request(plugin, **overrides))
    )
    assert mentions in details
    assert plugin.labeler.calls == []


async def test_publish_and_unpublish_reject_missing_fields(plugin: csiunit.Plugin) -> None:
    node = plugin.node
    cap = csiunit.mount_capability()
    checks = [
        node.NodePublishVolume(csi_pb2.NodePublishVolumeRequest(
            target_path="/t", volume_capability=cap, volume_context=plugin.context())),
        node.NodePublishVolume(csi_pb2.NodePublishVolumeRequest(
            volume_id="v", volume_capability=cap, volume_context=plugin.context())),
        node.NodePublishVolume(csi_pb2.NodePublishVolumeRequest(
            volume_id="v", target_path="/t", volume_context=plugin.context())),
        node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(target_path="/t")),
        node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id="v")),
        node.NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(staging_target_path="/s")),
        node.NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(volume_id="v")),
    ]
    for call in checks:
        await _expect(grpc.StatusCode.INVALID_ARGUMENT, call)


# -- stage ------------------------------------------------------------------------------------


async def test_stage_labels_the_node_and_returns_once_fuse_is_mounted(
    plugin: csiunit.Plugin,
) -> None:
    staging = asyncio.ensure_future(plugin.stage())
    await csiunit.wait_until(lambda: plugin.labeler.labels.get("node-a", {}).get(LABEL) == "true")
    await asyncio.sleep(0.1)
    assert not staging.done()  # still waiting for the FUSE client
    plugin.mounter.start_fuse(plugin.fluid_path)
    await asyncio.wait_for(staging, 2)
    record = plugin.store.get_staged("default-demo")
    assert record is not None
    assert record.label_key == LABEL
    assert (record.dataset_namespace, record.dataset_name) == ("default", "demo")


async def test_stage_gives_up_with_unavailable_when_fuse_never_comes(
    plugin: csiunit.Plugin,
) -> None:
    details = await _expect(grpc.StatusCode.UNAVAILABLE, plugin.stage())
    assert plugin.fluid_path in details
    assert "not mounted" in details
    # The label stays: the FUSE pod may just be slow, and the kubelet will retry.
    assert plugin.labeler.labels["node-a"][LABEL] == "true"


async def test_stage_fails_when_the_directory_is_not_a_mount(plugin: csiunit.Plugin) -> None:
    os.makedirs(plugin.fluid_path)
    await _expect(grpc.StatusCode.UNAVAILABLE, plugin.stage())


async def test_stage_accepts_a_plain_directory_when_the_mount_check_is_skipped(
    plugin: csiunit.Plugin,
) -> None:
    os.makedirs(plugin.fluid_path)
    await plugin.stage(**{"fluid.io/skip-check-mount-ready-target": "All"})


async def test_stage_uses_the_pv_node_selector_key(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.stage(mount_pod_node_selector_key="fluid.io/f-0f3e9c2a")
    assert plugin.labeler.labels["node-a"] == {"fluid.io/f-0f3e9c2a": "true"}


async def test_stage_derives_the_dataset_from_fluid_path(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.node.NodeStageVolume(_stage_request(
        plugin, volume_context={"fluid_path": plugin.fluid_path}))
    assert plugin.labeler.labels["node-a"] == {LABEL: "true"}


async def test_stage_clears_a_dead_fuse_mount_and_waits_for_the_new_one(
    plugin: csiunit.Plugin,
) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    plugin.mounter.kill_fuse(plugin.fluid_path)
    staging = asyncio.ensure_future(plugin.stage())
    await csiunit.wait_until(lambda: ("umount", plugin.fluid_path) in plugin.mounter.calls)
    plugin.mounter.start_fuse(plugin.fluid_path)
    await asyncio.wait_for(staging, 2)


async def test_stage_reports_a_missing_node(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    plugin.labeler.fail_with = errors.FailedPrecondition("node 'node-a' does not exist")
    details = await _expect(grpc.StatusCode.FAILED_PRECONDITION, plugin.stage())
    assert "node-a" in details
    await plugin.stage()  # the kubelet's retry succeeds once the node exists


# -- unstage ----------------------------------------------------------------------------------


async def test_unstage_removes_the_label_after_the_last_volume_of_the_dataset(
    plugin: csiunit.Plugin,
) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.stage("vol-1")
    await plugin.stage("vol-2")
    await plugin.unstage("vol-1")
    assert plugin.labeler.labels["node-a"] == {LABEL: "true"}
    await plugin.unstage("vol-2")
    assert plugin.labeler.labels["node-a"] == {}
    assert plugin.store.staged() == []


async def test_unstage_is_idempotent(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.stage()
    await plugin.unstage()
    await plugin.unstage()
    await plugin.unstage("never-staged")
    assert [c for c in plugin.labeler.calls if c[0] == "remove"] == [("remove", "node-a", LABEL)]


async def test_unstage_refuses_while_a_pod_still_has_the_volume(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.stage()
    await plugin.publish(plugin.target())
    details = await _expect(grpc.StatusCode.FAILED_PRECONDITION, plugin.unstage())
    assert plugin.target() in details
    assert plugin.labeler.labels["node-a"] == {LABEL: "true"}
    await plugin.unpublish(plugin.target())
    await plugin.unstage()
    assert plugin.labeler.labels["node-a"] == {}


async def test_staged_volumes_survive_a_plugin_restart(tmp_path: Path) -> None:
    first = await csiunit.start_plugin(tmp_path)
    first.mounter.start_fuse(first.fluid_path)
    await first.stage("vol-1")
    await first.stage("vol-2")
    await csiunit.stop_plugin(first)
    second = await csiunit.start_plugin(
        tmp_path, store=state.StateStore(tmp_path / "state"), mounter=first.mounter,
        labeler=first.labeler,
    )
    try:
        await second.unstage("vol-1")
        assert second.labeler.labels["node-a"] == {LABEL: "true"}
        await second.unstage("vol-2")
        assert second.labeler.labels["node-a"] == {}
    finally:
        await csiunit.stop_plugin(second)


# -- publish / unpublish ----------------------------------------------------------------------


async def test_publish_binds_the_fuse_path_once(plugin: csiunit.Plugin) -> None:
    dev = plugin.mounter.start_fuse(plugin.fluid_path)
    target = plugin.target()
    await plugin.publish(target)
    await plugin.publish(target)
    entry = plugin.mounter.table_now().top(target)
    assert entry is not None
    assert (entry.dev, entry.root, entry.read_only) == (dev, "/", False)
    assert _binds(plugin) == [("bind", plugin.fluid_path, target, "rw")]
    record = plugin.store.get_published(target)
    assert record is not None
    assert record.source == plugin.fluid_path


@pytest.mark.parametrize(
    ("readonly", "mode", "expected"),
    [
        (True, AccessMode.MULTI_NODE_MULTI_WRITER, True),
        (False, AccessMode.MULTI_NODE_READER_ONLY, True),
        (False, AccessMode.SINGLE_NODE_READER_ONLY, True),
        (False, AccessMode.SINGLE_NODE_WRITER, False),
    ],
)
async def test_publish_read_only_when_asked(
    plugin: csiunit.Plugin, readonly: bool, mode: int, expected: bool
) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target(), readonly=readonly, mode=mode)
    entry = plugin.mounter.table_now().top(plugin.target())
    assert entry is not None
    assert entry.read_only is expected


async def test_publish_refuses_the_same_target_with_the_other_mode(
    plugin: csiunit.Plugin,
) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target(), readonly=True)
    await _expect(grpc.StatusCode.ALREADY_EXISTS, plugin.publish(plugin.target()))


async def test_publish_a_sub_path(plugin: csiunit.Plugin) -> None:
    dev = plugin.mounter.start_fuse(plugin.fluid_path)
    os.makedirs(os.path.join(plugin.fluid_path, "train", "images"))
    await plugin.publish(plugin.target(), fluid_sub_path="/train/images/")
    entry = plugin.mounter.table_now().top(plugin.target())
    assert entry is not None
    assert (entry.dev, entry.root) == (dev, "/train/images")


async def test_publish_waits_for_a_missing_sub_path(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    details = await _expect(
        grpc.StatusCode.UNAVAILABLE, plugin.publish(plugin.target(), fluid_sub_path="nope")
    )
    assert "sub path" in details


async def test_publish_while_fuse_is_down_is_unavailable(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    plugin.mounter.kill_fuse(plugin.fluid_path)
    details = await _expect(grpc.StatusCode.UNAVAILABLE, plugin.publish(plugin.target()))
    assert "transport endpoint is not connected" in details
    assert _binds(plugin) == []


async def test_publish_replaces_a_stale_bind_of_a_dead_fuse(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target())
    plugin.mounter.kill_fuse(plugin.fluid_path)
    await plugin.mounter.unmount(plugin.fluid_path)
    new_dev = plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target())
    stack = plugin.mounter.table_now().stack(plugin.target())
    assert [e.dev for e in stack] == [new_dev]


async def test_unpublish_unmounts_and_removes_the_target(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    target = plugin.target()
    await plugin.publish(target)
    await plugin.unpublish(target)
    assert not plugin.mounter.table_now().is_mount_point(target)
    assert not _exists(target)
    assert plugin.store.get_published(target) is None
    await plugin.unpublish(target)  # again: nothing to do, still OK


async def test_unpublish_of_a_target_that_never_existed_is_ok(plugin: csiunit.Plugin) -> None:
    await plugin.unpublish(plugin.target("99999999-2222-3333-4444-555555555555"))


async def test_concurrent_publishes_bind_each_target_once(plugin: csiunit.Plugin) -> None:
    plugin.mounter.start_fuse(plugin.fluid_path)
    targets = [plugin.target(f"{i:08d}-2222-3333-4444-555555555555") for i in range(8)]
    await asyncio.gather(*(plugin.publish(t) for t in targets))
    await asyncio.gather(*(plugin.publish(t) for t in targets))
    assert len(_binds(plugin)) == 8
    await asyncio.gather(*(plugin.unpublish(t) for t in targets))
    assert plugin.mounter.table_now().under(str(plugin.root / "kubelet")) == ()
    assert len(plugin.locks) == 0
