"""Upstream's mount-mode selector: which FUSE deployments a comma list names.

A FUSE client serves pods either as a DaemonSet pod behind the CSI plugin (``MountPod``) or
as an injected sidecar (``Sidecar``). Runtime annotations and fields such as
``fluid.io/skip-check-mount-ready-target`` and ``fuse.metrics.scrapeTarget`` select modes
with a comma list. Owns that vocabulary and its parser only; never does I/O. Shared by the
engines (which render from it) and the CSI plugin (which obeys it), so it lives with the API
rather than in either.
"""

from __future__ import annotations

__all__ = ["MOUNT_MODES", "mount_modes"]

MOUNT_MODES = ("MountPod", "Sidecar")
"""How a FUSE client serves pods: a DaemonSet pod behind the CSI plugin, or a sidecar."""


def mount_modes(value: str) -> frozenset[str]:
    """The modes a comma list selects: ``All`` selects every mode and ends the list,
    ``None`` ends it; ValueError names any other word."""
    selected: set[str] = set()
    for mode in (m for m in value.split(",") if m):
        if mode == "All":
            return frozenset(MOUNT_MODES)
        if mode == "None":
            break
        if mode not in MOUNT_MODES:
            raise ValueError(f"unsupported mount mode {mode!r}, expected a comma list of "
                             f"{', '.join((*MOUNT_MODES, 'All', 'None'))}")
        selected.add(mode)
    return frozenset(selected)
