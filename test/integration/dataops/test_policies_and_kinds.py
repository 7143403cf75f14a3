"""Cron and OnEvent policies, DataBackup, DataProcess and unsupported runtimes, in a cluster."""

from __future__ import annotations

import pytest
from dataops_support import (
    bound_dataset,
    data_load,
    delete_dataset_volume,
    job_pod,
    operation,
    wait_phase,
)

from fluid.api import kinds
from fluid.kube import KubeClient, resources
from fluid.reconcile import Manager
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


async def test_cron_load_runs_on_schedule(kube: KubeClient, namespace: str, dataops: Manager) -> None:
    """``* * * * *``: the CronJob controller starts a run at the next minute (< 75 s)."""
    await bound_dataset(kube, namespace, "phy")
    await kube.create(data_load(namespace, "nightly", "phy", policy="Cron", schedule="* * * * *"))

    async def cron_exists() -> bool:
        return await kube.get_or_none(resources.CRONJOBS, "nightly-loader-job", namespace) is not None

    await eventually(cron_exists, timeout=20, what="CronJob nightly-loader-job")
    cron = await kube.get(resources.CRONJOBS, "nightly-loader-job", namespace)
    assert cron["spec"]["schedule"] == "* * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert (await operation(kube, "DataLoad", namespace, "nightly"))["status"]["phase"] == "Pending"

    done = await wait_phase(kube, "DataLoad", namespace, "nightly", "Complete", timeout=100)
    status = done["status"]
    assert status["lastScheduleTime"]
    run = status["infos"]["lastJob"]
    job = await kube.get(resources.JOBS, run, namespace)
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["labels"]["cronjob"] == "nightly-loader-job"

    async def mirrored() -> bool:
        latest = await kube.get(resources.CRONJOBS, "nightly-loader-job", namespace)
        op = await operation(kube, "DataLoad", namespace, "nightly")
        return bool(op["status"].get("lastSuccessfulTime")) and (
            op["status"].get("lastSuccessfulTime") == latest["status"].get("lastSuccessfulTime"))

    await eventually(mirrored, timeout=20, what="lastSuccessfulTime mirrored from the CronJob")


async def test_on_event_load_reruns_when_the_dataset_changes(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "phy")
    await kube.create(data_load(namespace, "follow", "phy", policy="OnEvent"))
    first = await wait_phase(kube, "DataLoad", namespace, "follow", "Complete")
    assert first["status"]["infos"]["datasetGeneration"] == "1"
    assert await kube.get_or_none(resources.JOBS, "follow-loader-job-g1", namespace) is not None

    await kube.merge_patch(kinds.DATASET.resource, "phy", namespace, {"spec": {"mounts": [
        {"mountPoint": "https://mirrors.example.org/data/", "name": "phy"},
        {"mountPoint": "https://mirrors.example.org/more/", "name": "more"}]}})

    async def second_run_done() -> bool:
        status = (await operation(kube, "DataLoad", namespace, "follow")).get("status") or {}
        return status.get("phase") == "Complete" and status["infos"].get("datasetGeneration") == "2"

    await eventually(second_run_done, timeout=60, what="a second run after the dataset changed")
    assert await kube.get_or_none(resources.JOBS, "follow-loader-job-g2", namespace) is not None


async def test_backup_to_local_records_path_and_node(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "hbase", status={"ufsTotal": "3.41GiB", "fileNum": "42"})
    await kube.create({
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataBackup",
        "metadata": {"name": "hbase-backup", "namespace": namespace},
        "spec": {"dataset": "hbase", "backupPath": "local:///tmp/hbase-backup"},
    })
    done = await wait_phase(kube, "DataBackup", namespace, "hbase-backup", "Complete")
    pod = await job_pod(kube, namespace, "hbase-backup-backup-job")
    assert done["status"]["infos"] == {
        "BackupLocationPath": "local:///tmp/hbase-backup",
        "BackupLocationNodeName": pod["spec"]["nodeName"],
        "datasetGeneration": "1",
    }
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["UFS_TOTAL"], env["FILE_NUM"]) == ("3.41GiB", "42")
    assert env["METADATA_FILE"] == "metadata-backup-hbase-" + namespace + ".gz"
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "backup")
    assert volume["hostPath"]["path"] == "/tmp/hbase-backup"
    table = await kube.table(kinds.DATA_BACKUP.resource, namespace)
    columns = [c["name"] for c in table["columnDefinitions"]]
    row = dict(zip(columns, table["rows"][0]["cells"], strict=True))
    assert row["Path"] == "local:///tmp/hbase-backup"
    assert row["NodeName"] == pod["spec"]["nodeName"]


async def test_process_script_runs_against_the_mounted_dataset(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "models", volume=True)
    try:
        await kube.create({
            "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataProcess",
            "metadata": {"name": "convert", "namespace": namespace},
            "spec": {
                "dataset": {"name": "models", "namespace": namespace, "mountPath": "/models",
                            "subPath": "llama"},
                "processor": {"script": {"image": "python", "imageTag": "3.11",
                                         "source": "ls /models", "env": [{"name": "A", "value": "1"}]}},
            },
        })
        await wait_phase(kube, "DataProcess", namespace, "convert", "Complete")
        pod = await job_pod(kube, namespace, "convert-processor-job")
        container = pod["spec"]["containers"][0]
        assert container["name"] == "script-processor"
        assert container["image"] == "python:3.11"
        assert container["command"] == ["/bin/sh", "-c", "ls /models"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == "fluid-dataset-vol")
        assert (mount["mountPath"], mount["subPath"]) == ("/models", "llama")
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "fluid-dataset-vol")
        assert volume["persistentVolumeClaim"]["claimName"] == "models"
    finally:
        await delete_dataset_volume(kube, namespace, "models")


async def test_load_on_a_runtime_without_loader_is_not_supported(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "thin", runtime_type="thin")
    await kube.create(data_load(namespace, "warm", "thin"))
    failed = await wait_phase(kube, "DataLoad", namespace, "warm", "Failed")
    condition = failed["status"]["conditions"][0]
    assert condition["reason"] == "DataOperationNotSupport"
    assert "'thin' does not support DataLoad" in condition["message"]
