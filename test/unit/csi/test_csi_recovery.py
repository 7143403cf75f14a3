"""FUSE recovery decisions and the sweep, against the simulated mount namespace."""

from __future__ import annotations

import attrs
import csiunit
import pytest

from fluid.csi import mounts, recovery, state
from fluid.csi.events import DatasetRef

Action = recovery.RecoveryAction
PathState = mounts.PathState


@pytest.mark.parametrize(
    ("mounted", "target_state", "source_ready", "expected"),
    [
        (False, PathState.MISSING, True, Action.SKIP),
        (False, PathState.OK, True, Action.SKIP),
        (True, PathState.OK, False, Action.HEALTHY),
        (True, PathState.BROKEN, False, Action.WAIT),
        (True, PathState.HUNG, False, Action.WAIT),
        (True, PathState.BROKEN, True, Action.REBIND),
        (True, PathState.HUNG, True, Action.REBIND),
    ],
)
def test_plan_recovery(
    mounted: bool, target_state: PathState, source_ready: bool, expected: Action
) -> None:
    action = recovery.plan_recovery(
        target_mounted=mounted, target_state=target_state, source_ready=source_ready
    )
    assert action is expected


def _sweeper(plugin: csiunit.Plugin, events: csiunit.RecordingEvents) -> recovery.Recovery:
    return recovery.Recovery(
        mounter=plugin.mounter, store=plugin.store, locks=plugin.locks, events=events,
        period=0.01,
    )


async def test_sweep_rebinds_once_the_fuse_client_is_back(plugin: csiunit.Plugin) -> None:
    events = csiunit.RecordingEvents()
    sweeper = _sweeper(plugin, events)
    plugin.mounter.start_fuse(plugin.fluid_path)
    target = plugin.target()
    await plugin.publish(target, readonly=True)
    assert await sweeper.sweep() == {target: Action.HEALTHY}

    plugin.mounter.kill_fuse(plugin.fluid_path)
    assert await sweeper.sweep() == {target: Action.WAIT}
    # The FUSE pod restarts: it clears its dead mount point and mounts again.
    await plugin.mounter.unmount(plugin.fluid_path)
    assert await sweeper.sweep() == {target: Action.WAIT}  # an empty dir is not the dataset
    new_dev = plugin.mounter.start_fuse(plugin.fluid_path)
    assert await sweeper.sweep() == {target: Action.REBIND}

    stack = plugin.mounter.table_now().stack(target)
    assert [(e.dev, e.read_only) for e in stack] == [(new_dev, True)]
    assert await plugin.mounter.probe(target) is PathState.OK
    assert await sweeper.sweep() == {target: Action.HEALTHY}
    assert [(e["target"], e["reason"], e["warning"], e["dataset"]) for e in events.recorded] == [
        (target, "FuseRecoverSucceed", False, DatasetRef("default", "demo"))
    ]


async def test_sweep_reports_a_failed_rebind_once(plugin: csiunit.Plugin) -> None:
    events = csiunit.RecordingEvents()
    sweeper = _sweeper(plugin, events)
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target())
    plugin.mounter.kill_fuse(plugin.fluid_path)
    await plugin.mounter.unmount(plugin.fluid_path)
    plugin.mounter.start_fuse(plugin.fluid_path)

    async def refuse(*, source: str, target: str, readonly: bool) -> None:
        from fluid.csi import errors

        raise errors.MountError("mount --bind failed (32): permission denied")

    plugin.mounter.bind = refuse  # type: ignore[method-assign]
    await sweeper.sweep()
    await sweeper.sweep()
    assert [(e["reason"], e["warning"], e["dataset"]) for e in events.recorded] == [
        ("FuseRecoverFailed", True, DatasetRef("default", "demo"))]
    assert "permission denied" in events.recorded[0]["message"]


async def test_sweep_leaves_unpublished_targets_alone(plugin: csiunit.Plugin) -> None:
    events = csiunit.RecordingEvents()
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target())
    await plugin.unpublish(plugin.target())
    assert await _sweeper(plugin, events).sweep() == {}
    assert events.recorded == []


async def test_run_sweeps_periodically(plugin: csiunit.Plugin) -> None:
    import asyncio

    events = csiunit.RecordingEvents()
    plugin.mounter.start_fuse(plugin.fluid_path)
    await plugin.publish(plugin.target())
    plugin.mounter.kill_fuse(plugin.fluid_path)
    await plugin.mounter.unmount(plugin.fluid_path)
    task = asyncio.ensure_future(_sweeper(plugin, events).run())
    try:
        plugin.mounter.start_fuse(plugin.fluid_path)
        await csiunit.wait_until(lambda: bool(events.recorded))
    finally:
        task.cancel()
    assert await plugin.mounter.probe(plugin.target()) is PathState.OK


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/var/lib/kubelet/pods/u-1/volumes/kubernetes.io~csi/ns-ds/mount",
         "/var/lib/kubelet/pods/u-1/volume-subpaths/ns-ds"),
        ("/var/lib/kubelet/pods/u-1/volumes/kubernetes.io~csi/ns-ds/mount/extra", None),
        ("/mnt/anything", None),
    ],
)
def test_subpath_dir(target: str, expected: str | None) -> None:
    assert recovery.subpath_dir(target) == expected


@pytest.mark.parametrize(
    ("fluid_root", "entry_root", "expected"),
    [
        ("/", "/train/images", "/rt/ds/fuse/train/images"),
        ("/", "/", "/rt/ds/fuse"),
        ("/export", "/export/a", "/rt/ds/fuse/a"),
        ("/export", "/other", None),
    ],
)
def test_subpath_source(fluid_root: str, entry_root: str, expected: str | None) -> None:
    source = recovery.subpath_source(
        fluid_path="/rt/ds/fuse", fluid_root=fluid_root, entry_root=entry_root
    )
    assert source == expected


async def test_sweep_also_rebinds_the_kubelets_subpath_mounts(plugin: csiunit.Plugin) -> None:
    import os

    events = csiunit.RecordingEvents()
    sweeper = _sweeper(plugin, events)
    plugin.mounter.start_fuse(plugin.fluid_path)
    os.makedirs(os.path.join(plugin.fluid_path, "train"))
    target = plugin.target()
    await plugin.publish(target)
    # What the kubelet does for `subPath: train` in container "app".
    subpath = str(plugin.root / "kubelet" / "pods" / "11111111-2222-3333-4444-555555555555"
                  / "volume-subpaths" / "default-demo" / "app" / "0")
    os.makedirs(subpath)
    await plugin.mounter.bind(source=target + "/train", target=subpath, readonly=True)

    plugin.mounter.kill_fuse(plugin.fluid_path)
    await plugin.mounter.unmount(plugin.fluid_path)
    assert await plugin.mounter.probe(subpath) is PathState.BROKEN
    new_dev = plugin.mounter.start_fuse(plugin.fluid_path)
    assert await sweeper.sweep() == {target: Action.REBIND}

    (entry,) = plugin.mounter.table_now().stack(subpath)
    assert (entry.dev, entry.root, entry.read_only) == (new_dev, "/train", True)
    assert sorted(e["target"] for e in events.recorded) == sorted([target, subpath])
    # Healthy now: nothing more to do on the next sweep.
    assert await sweeper.sweep() == {target: Action.HEALTHY}
    assert len(events.recorded) == 2


@pytest.mark.parametrize("staged", [True, False])
async def test_a_record_from_before_the_dataset_fields_names_the_staged_dataset(
    plugin: csiunit.Plugin, staged: bool
) -> None:
    """Published records written by an older plugin lack the Dataset; the volume's staged
    record has it (and without one, the Event goes to the pod alone)."""
    events = csiunit.RecordingEvents()
    sweeper = _sweeper(plugin, events)
    plugin.mounter.start_fuse(plugin.fluid_path)
    target = plugin.target()
    await plugin.stage(runtime_namespace="team", runtime_name="imagenet")
    await plugin.publish(target, readonly=True)
    (record,) = plugin.store.published()
    plugin.store.put_published(attrs.evolve(record, dataset_namespace="", dataset_name=""))
    if not staged:
        plugin.store.drop_staged("default-demo")
    plugin.mounter.kill_fuse(plugin.fluid_path)
    await plugin.mounter.unmount(plugin.fluid_path)
    plugin.mounter.start_fuse(plugin.fluid_path)
    assert await sweeper.sweep() == {target: Action.REBIND}
    expected = DatasetRef("team", "imagenet") if staged else None
    assert [(e["reason"], e["dataset"]) for e in events.recorded] == [
        ("FuseRecoverSucceed", expected)]
    assert isinstance(record, state.PublishedVolume)
    assert (record.dataset_namespace, record.dataset_name) == ("default", "demo")
