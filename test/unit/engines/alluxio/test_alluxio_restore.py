"""A Dataset with ``dataRestoreLocation`` starts from a DataBackup instead of scanning the UFS."""

from __future__ import annotations

from typing import Any

import pytest
from test_alluxio_manifests import render_input

from fluid.engines import base
from fluid.engines.alluxio import manifests, ops

INFO = "dataset: hbase\nnamespace: default\nufstotal: 3.31GiB\nfilenum: 42\n"


def test_pvc_backup_is_mounted_into_the_master_and_named_in_the_journal_property() -> None:
    restore = manifests.restore_source(
        {"dataRestoreLocation": {"path": "pvc://backups/hbase/"}}, name="hbase", namespace="default"
    )
    assert restore is not None
    assert restore.info_file == "/fluid-restore/hbase/hbase-default.yaml"
    objects = {o["metadata"]["name"]: o for o in manifests.render(render_input(
        {"replicas": 1}, mounts=[{"mountPoint": "pvc://data", "name": "d"}], restore=restore))}
    pod = objects["demo-master"]["spec"]["template"]["spec"]
    assert {"name": "fluid-restore", "persistentVolumeClaim": {"claimName": "backups", "readOnly": True}} \
        in pod["volumes"]
    master = next(c for c in pod["containers"] if c["name"] == "alluxio-master")
    mount = {"name": "fluid-restore", "mountPath": "/fluid-restore", "readOnly": True}
    assert mount in master["volumeMounts"]
    assert "nodeSelector" not in pod
    props = objects["demo-config"]["data"]["alluxio-site.properties"]
    assert ("alluxio.master.journal.init.from.backup="
            "/fluid-restore/hbase/metadata-backup-hbase-default.gz") in props


def test_local_backup_pins_the_master_to_the_node_that_holds_it() -> None:
    restore = manifests.restore_source(
        {"dataRestoreLocation": {"path": "local:///var/backups", "nodeName": "node-3"}},
        name="hbase", namespace="default",
    )
    assert restore is not None
    assert restore.volume["hostPath"]["path"] == "/var/backups"
    objects = {o["metadata"]["name"]: o for o in manifests.render(render_input(
        {"replicas": 1}, mounts=[{"mountPoint": "pvc://data", "name": "d"}], restore=restore))}
    assert objects["demo-master"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "node-3"}


def test_no_restore_location_means_no_restore() -> None:
    assert manifests.restore_source({}, name="a", namespace="b") is None


async def test_metadata_comes_from_the_backup_statistics(harness: Any, make_snapshot: Any) -> None:
    harness.master.files_in_pod["/fluid-restore/bk/hbase-default.yaml"] = INFO
    snap = make_snapshot(dataset_spec={"dataRestoreLocation": {"path": "pvc://claim/bk"}})
    usage = await harness.engine().ufs_usage(snap)
    assert usage == base.UfsUsage(total_bytes=int(3.31 * 2**30), file_count=42)
    assert harness.executor.commands() == [("cat", "/fluid-restore/bk/hbase-default.yaml")]


async def test_missing_or_malformed_statistics_fail_the_sync(harness: Any, make_snapshot: Any) -> None:
    snap = make_snapshot(dataset_spec={"dataRestoreLocation": {"path": "pvc://claim/bk"}})
    with pytest.raises(base.CommandFailed):
        await harness.engine().ufs_usage(snap)
    harness.master.files_in_pod["/fluid-restore/bk/hbase-default.yaml"] = "dataset: hbase\n"
    with pytest.raises(base.CommandFailed, match="malformed"):
        await harness.engine().ufs_usage(snap)


def test_parse_backup_info() -> None:
    assert ops.parse_backup_info(INFO) == (int(3.31 * 2**30), 42)
    assert ops.parse_backup_info("ufstotal: '512Mi'\nfilenum: \"3\"\n") == (512 * 2**20, 3)
