"""``fluid.io/skip-check-mount-ready-target`` in a PV's volume attributes: the mount modes
whose mount-ready check is skipped; this plugin serves the ``MountPod`` mode."""

from __future__ import annotations

import pytest

from fluid.csi import errors, requests

FLUID_PATH = "/runtime-mnt/jindo/default/demo/jindofs-fuse"


def _require(value: str | None) -> bool:
    context = {"fluid_path": FLUID_PATH}
    if value is not None:
        context[requests.CTX_SKIP_CHECK] = value
    return requests.parse_volume_context(context).require_mount_point


@pytest.mark.parametrize(("value", "required"), [
    (None, True), ("", True),
    ("All", False), ("MountPod", False), ("Sidecar,MountPod", False), ("MountPod,None", False),
    ("Sidecar", True), ("None", True), ("None,MountPod", True),
])
def test_the_check_is_skipped_only_when_mount_pod_is_selected(
    value: str | None, required: bool
) -> None:
    assert _require(value) is required


@pytest.mark.parametrize("value", ["all", "mountpod", "MountPod,Everything"])
def test_unknown_modes_are_refused(value: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="unsupported mount mode"):
        _require(value)
