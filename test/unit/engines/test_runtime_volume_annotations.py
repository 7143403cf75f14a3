"""What a runtime's annotations ask of its PV, PVC and FUSE pods (engines.base helpers).

``data.fluid.io/metadataList`` entries select core PersistentVolume/PersistentVolumeClaim
objects; ``runtime.fluid.io/fuse.hostpid`` takes Go's boolean words.
"""

from __future__ import annotations

import json

import pytest

from fluid.engines import base

META = base.c.ANNOTATION_METADATA_LIST


def _list(*entries: dict[str, object]) -> dict[str, str]:
    return {META: json.dumps(list(entries))}


def test_entries_for_the_kind_merge_in_order() -> None:
    notes = _list(
        {"labels": {"team": "a", "tier": "gold"}, "selector": {"kind": "PersistentVolume"}},
        {"annotations": {"owner": "x"}, "selector": {"group": "", "kind": "PersistentVolume"}},
        {"labels": {"team": "b"}, "selector": {"kind": "PersistentVolume"}},
        {"labels": {"pvc-only": "y"}, "selector": {"kind": "PersistentVolumeClaim"}},
    )
    assert base.volume_metadata(notes, kind="PersistentVolume") == (
        {"team": "b", "tier": "gold"}, {"owner": "x"})
    assert base.volume_metadata(notes, kind="PersistentVolumeClaim") == ({"pvc-only": "y"}, {})


def test_other_groups_and_kinds_are_not_selected() -> None:
    notes = _list(
        {"labels": {"a": "1"}, "selector": {"group": "apps", "kind": "PersistentVolume"}},
        {"labels": {"b": "2"}, "selector": {"kind": "Pod"}},
        {"labels": {"c": "3"}},
    )
    assert base.volume_metadata(notes, kind="PersistentVolume") == ({}, {})


@pytest.mark.parametrize("raw", ["not json", '{"labels": {}}', "[1, 2]", '[{"selector": 3}]'])
def test_a_malformed_list_is_ignored(raw: str) -> None:
    assert base.volume_metadata({META: raw}, kind="PersistentVolume") == ({}, {})


def test_no_annotation_gives_nothing() -> None:
    assert base.volume_metadata(None, kind="PersistentVolume") == ({}, {})
    assert base.volume_metadata({}, kind="PersistentVolumeClaim") == ({}, {})


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), ("True", True), ("1", True), ("t", True),
    ("false", False), ("0", False), ("yes", False), ("", False),
])
def test_fuse_host_pid_reads_go_booleans(value: str, expected: bool) -> None:
    assert base.fuse_host_pid({base.ANNOTATION_FUSE_HOST_PID: value}) is expected


def test_fuse_host_pid_defaults_off() -> None:
    assert base.fuse_host_pid(None) is False
    assert base.fuse_host_pid({"other": "true"}) is False
