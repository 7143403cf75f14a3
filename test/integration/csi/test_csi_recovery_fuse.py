"""FUSE recovery for real: kill the FUSE server under a published volume, start it again.

bindfs plays the runtime's FUSE client at ``fluid_path``; the plugin has bind-mounted it
into a pod's volume path. Killing bindfs leaves the pod's mount answering ENOTCONN;
once bindfs is back, the plugin's recovery loop re-binds the target and the pod reads
the dataset again. With the API server, the plugin also records an Event on the pod and
one on its Dataset (named by the volume context), as upstream records it there.
"""

from __future__ import annotations

import contextlib
import errno
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import csiproc
import pytest

from fluid.kube import KubeClient, errors, resources

pytestmark = pytest.mark.mounts

CONTENT = "hello from the dataset\n"


async def _publish(
    plugin: csiproc.PluginProcess, layout: csiproc.Layout, target: str, *,
    namespace: str = "default",
) -> None:
    """Stage, then publish read-only, for the Dataset ``namespace``/demo."""
    await csiproc.stage(plugin, layout, runtime_namespace=namespace)
    await csiproc.publish(plugin, layout, target, readonly=True, runtime_namespace=namespace)


def _recovered(logs: str) -> list[dict[str, Any]]:
    return [e for e in csiproc.log_events(logs) if e.get("event") == "fuse_recovered"]


async def _kill_and_restart(
    ns: csiproc.MountNamespace, fuse: csiproc.Bindfs, target: str
) -> None:
    assert csiproc.read_errno(ns.path(target + "/hello.txt")) == (CONTENT, None)
    fuse.kill()
    assert csiproc.read_errno(ns.path(target + "/hello.txt")) == (None, errno.ENOTCONN)
    fuse.restart()
    await csiproc.eventually(
        lambda: csiproc.read_errno(ns.path(target + "/hello.txt")) == (CONTENT, None),
        what="the pod's volume to be readable again", timeout=20,
    )
    at_target = ns.entries_at(target)
    assert len(at_target) == 1, "the dead bind must be replaced, not stacked"
    assert "ro" in at_target[0][5].split(","), "the re-bind keeps the read-only mode"


async def test_recovery_rebinds_after_the_fuse_server_restarts(
    mount_ns: csiproc.MountNamespace, workdir: Path, layout: csiproc.Layout,
    fuse: csiproc.Bindfs,
) -> None:
    target = layout.target()
    async with csiproc.running_plugin(mount_ns, workdir) as plugin:
        fuse.start()
        await _publish(plugin, layout, target)
        # What the kubelet does for a container with `subPath: train`.
        subpath = str(Path(target).parents[3] / "volume-subpaths" / "default-demo" / "app" / "0")
        assert mount_ns.run("mkdir", "-p", subpath).returncode == 0
        assert mount_ns.run("mount", "--bind", target + "/train", subpath).returncode == 0
        assert csiproc.read_errno(mount_ns.path(subpath + "/part-0")) == ("rows\n", None)
        watcher = csiproc.MountinfoWatcher(mount_ns, target, subpath)
        try:
            await _kill_and_restart(mount_ns, fuse, target)
            await csiproc.eventually(
                lambda: csiproc.read_errno(mount_ns.path(subpath + "/part-0")) == ("rows\n", None),
                what="the container's subPath mount to be readable again",
            )
        finally:
            seen = watcher.stop()
        # Both re-binds were read-only as they appeared, like the dead binds they replaced.
        for path in (target, subpath):
            assert seen[path]["ro"] > 0, seen  # mounted all along: the dead bind, the new one
            assert seen[path]["rw"] == 0, seen
        # Readable comes before the log line: wait for the recovery of both mounts to
        # have finished before stopping the plugin.
        await csiproc.eventually(
            lambda: len(_recovered(plugin.logs())) == 2, what="both recoveries to finish",
        )
    assert len(_recovered(plugin.logs())) == 2  # the volume and the subPath


@pytest.fixture
async def node_name(kube: KubeClient) -> AsyncIterator[str]:
    name = f"csi-node-{uuid.uuid4().hex[:8]}"
    await kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    yield name
    await kube.delete(resources.NODES, name)


async def _pod_on(kube: KubeClient, namespace: str, node: str) -> dict[str, Any]:
    # The ServiceAccount admission plugin needs it; kube-controller-manager creates it too
    # when another test started it, hence AlreadyExists is fine.
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
        })
    return await kube.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "reader", "namespace": namespace},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "1d"]}],
        },
    })


@pytest.mark.cluster
async def test_recovery_records_an_event_on_the_pod_and_the_dataset(
    mount_ns: csiproc.MountNamespace, workdir: Path, layout: csiproc.Layout,
    fuse: csiproc.Bindfs, kube: KubeClient, namespace: str, node_name: str,
    control_plane: Any, fluid_crds: list[str],
) -> None:
    dataset = await kube.create({
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
        "metadata": {"name": "demo", "namespace": namespace},
        "spec": {"mounts": [{"mountPoint": "https://mirrors.example.com/demo/", "name": "d"}]},
    })
    pod = await _pod_on(kube, namespace, node_name)
    uid = pod["metadata"]["uid"]
    target = layout.target(uid)
    async with csiproc.running_plugin(
        mount_ns, workdir, node_id=node_name, kubeconfig=control_plane.kubeconfig
    ) as plugin:
        fuse.start()
        await _publish(plugin, layout, target, namespace=namespace)
        await _kill_and_restart(mount_ns, fuse, target)

        def recovered_event(involved_uid: str) -> Any:
            async def listed() -> list[dict[str, Any]]:
                found = await kube.list(
                    resources.EVENTS, namespace, field_selector=f"involvedObject.uid={involved_uid}"
                )
                return [e for e in found["items"] if e["reason"] == "FuseRecoverSucceed"]
            return listed

        (event,) = await csiproc.eventually(recovered_event(uid), what="the pod's recovery Event")
        assert event["type"] == "Normal"
        assert event["involvedObject"]["name"] == "reader"
        assert event["involvedObject"]["kind"] == "Pod"
        assert event["source"] == {"component": "fluid-csi", "host": node_name}
        assert target in event["message"]
        (on_dataset,) = await csiproc.eventually(
            recovered_event(dataset["metadata"]["uid"]), what="the Dataset's recovery Event")
        assert on_dataset["type"] == "Normal"
        assert {k: on_dataset["involvedObject"][k] for k in ("apiVersion", "kind", "name")} == {
            "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "name": "demo"}
        assert on_dataset["message"] == event["message"]
