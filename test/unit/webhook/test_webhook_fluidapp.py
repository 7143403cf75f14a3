"""FluidApp decisions on pod shapes: which FUSE sidecars to stop, and with which command."""

from __future__ import annotations

from typing import Any

from fluid.controllers import fluidapp


def legacy_pod(
    *, app: str = "terminated", fuse: str = "running", restart: str = "Never", phase: str = "Running"
) -> dict[str, Any]:
    def state(kind: str) -> dict[str, Any]:
        return {"terminated": {"exitCode": 0}} if kind == "terminated" else {"running": {}}

    return {
        "metadata": {"name": "p", "namespace": "ns", "labels": {"done.sidecar.fluid.io/inject": "true"}},
        "spec": {
            "restartPolicy": restart,
            "containers": [
                {"name": "fluid-fuse-0", "env": [{"name": "FLUID_FUSE_MOUNTPOINT", "value": "/mnt/x"}]},
                {"name": "app"},
            ],
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "fluid-fuse-0", "state": state(fuse)},
                {"name": "app", "state": state(app)},
            ],
        },
    }


def test_stops_fuse_when_the_app_has_finished() -> None:
    assert [c["name"] for c in fluidapp.fuse_to_stop(legacy_pod())] == ["fluid-fuse-0"]


def test_leaves_running_apps_always_restarting_pods_and_stopped_fuse() -> None:
    assert fluidapp.fuse_to_stop(legacy_pod(app="running")) == []
    assert fluidapp.fuse_to_stop(legacy_pod(restart="Always")) == []
    assert fluidapp.fuse_to_stop(legacy_pod(fuse="terminated")) == []
    assert fluidapp.fuse_to_stop(legacy_pod(phase="Succeeded")) == []


def test_stop_command_prefers_pre_stop_then_the_mount_point() -> None:
    pre_stop = {
        "name": "fluid-fuse-0",
        "lifecycle": {"preStop": {"exec": {"command": ["fusermount", "-u", "/m"]}}},
        "env": [{"name": "FLUID_FUSE_MOUNTPOINT", "value": "/x"}],
    }
    assert fluidapp.fuse_stop_command(pre_stop) == ["fusermount", "-u", "/m"]
    assert fluidapp.fuse_stop_command(legacy_pod()["spec"]["containers"][0]) == ["umount", "/mnt/x"]
    by_volume = {
        "name": "fluid-fuse-0",
        "volumeMounts": [{"name": "alluxio-fuse-mount", "mountPath": "/r"}],
    }
    assert fluidapp.fuse_stop_command(by_volume) == ["umount", "/r"]
    assert fluidapp.fuse_stop_command({"name": "fluid-fuse-0"}) is None
