"""The four kinds' spec checks and pod plans, and the framework's pure helpers."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.api import converter, kinds
from fluid.controllers.dataops import backup, framework, load, loaders, migrate, process

NS = "ns"


def op(kind: str, spec: dict[str, Any], name: str = "op") -> framework.Operation:
    obj = {"apiVersion": "data.fluid.io/v1alpha1", "kind": kind,
           "metadata": {"name": name, "namespace": NS, "uid": "u"}, "spec": spec}
    return framework.Operation(obj=obj, model=converter.structure(obj, kinds.BY_KIND[kind].model))


def target(runtime_type: str = "alluxio", *, mounts: list[dict[str, Any]] | None = None,
           **status: Any) -> framework.Target:
    dataset = {"metadata": {"name": "ds", "namespace": NS, "generation": 1},
               "spec": {"mounts": mounts or [{"mountPoint": "s3://b/"}]}, "status": status}
    return framework.Target(dataset=dataset, runtime_type=runtime_type)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (44.6, "45s"), (121, "2m1s"), (3603, "1h0m3s"), (-2, "0s")])
def test_format_duration_matches_go(seconds: float, text: str) -> None:
    assert framework.format_duration(seconds) == text


def test_target_keys_for_every_kind() -> None:
    meta = {"namespace": NS}
    assert framework.target_keys({"metadata": meta, "spec": {"dataset": {"name": "a"}}}) == ["ns/a"]
    assert framework.target_keys({"metadata": meta, "spec": {"dataset": "b"}}) == ["ns/b"]
    assert framework.target_keys({"metadata": meta, "spec": {
        "from": {"dataset": {"name": "c", "namespace": "x"}},
        "to": {"externalStorage": {"uri": "s3://"}}}}) == ["x/c"]


def test_reference_detection() -> None:
    assert target(mounts=[{"mountPoint": "dataset://dev/spark"}]).is_reference
    assert not target().is_reference


# -- DataLoad ----------------------------------------------------------------------------------


def test_load_problems_name_the_field_and_the_fix() -> None:
    kind = load.DataLoadKind()
    found = kind.problems(op("DataLoad", {"dataset": {"name": "ds", "namespace": "other"},
                                          "target": [{"path": "relative"}, {"path": "/x", "replicas": 0}]}))
    assert any("spec.dataset.namespace must be the DataLoad's own namespace" in p for p in found)
    assert any("spec.target[0].path must be an absolute path" in p for p in found)
    assert any("spec.target[1].replicas must be at least 1" in p for p in found)
    assert kind.problems(op("DataLoad", {"dataset": {"name": "ds"}})) == []
    assert kind.target_dataset(op("DataLoad", {"dataset": {"name": "ds"}})) == (NS, "ds")


def test_load_plan_applies_resources_and_placement() -> None:
    spec = {"dataset": {"name": "ds"}, "resources": {"limits": {"cpu": "1"}},
            "nodeSelector": {"a": "b"}, "podMetadata": {"labels": {"team": "x"}}}
    plan, placement = load.DataLoadKind().plan(op("DataLoad", spec), target("alluxio"))
    assert plan.containers[0]["resources"] == {"limits": {"cpu": "1"}}
    assert placement.node_selector == {"a": "b"}
    assert placement.labels == {"team": "x"}


def test_juicefs_load_mounts_the_dataset_read_only() -> None:
    plan, _ = load.DataLoadKind().plan(op("DataLoad", {"dataset": {"name": "ds"}}), target("juicefs"))
    assert plan.volumes == ({"name": "fluid-dataset-vol",
                             "persistentVolumeClaim": {"claimName": "ds", "readOnly": True}},)
    assert plan.containers[0]["volumeMounts"] == [
        {"name": "fluid-dataset-vol", "mountPath": "/data", "readOnly": True}]


def test_reference_datasets_cannot_be_loaded() -> None:
    with pytest.raises(loaders.NotSupported, match="load the source dataset"):
        load.DataLoadKind().plan(op("DataLoad", {"dataset": {"name": "ds"}}),
                                 target("thin", mounts=[{"mountPoint": "dataset://dev/ds"}]))


# -- DataBackup ------------------------------------------------------------------------------


def test_backup_paths() -> None:
    assert backup.parse_backup_path("pvc://claim/sub/dir/") == backup.BackupPath("claim", "/sub/dir")
    assert backup.parse_backup_path("local:///var/backup") == backup.BackupPath(None, "/var/backup")
    with pytest.raises(ValueError, match="use pvc://<claim>/<subpath> or local://<dir>"):
        backup.parse_backup_path("s3://bucket")
    found = backup.DataBackupKind().problems(op("DataBackup", {"dataset": "ds", "backupPath": "nfs://x"}))
    assert found == ["backupPath 'nfs://x' is not supported: use pvc://<claim>/<subpath> or local://<dir>"]


def test_backup_to_a_claim_mounts_it_and_reports_no_node() -> None:
    operation = op("DataBackup", {"dataset": "ds", "backupPath": "pvc://keep/backups",
                                  "runAs": {"uid": 1000, "gid": 1000, "user": "u", "group": "g"}})
    kind = backup.DataBackupKind()
    plan, _ = kind.plan(operation, target("alluxio", ufsTotal="1GiB", fileNum="3"))
    (container,) = plan.containers
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BACKUP_DIR"] == "/pvc/backups"
    assert container["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000}
    assert plan.volumes == ({"name": "backup", "persistentVolumeClaim": {"claimName": "keep"}},)
    pod = {"spec": {"nodeName": "n1"}}
    assert kind.infos(operation, None, pod) == {"BackupLocationPath": "pvc://keep/backups",
                                                "BackupLocationNodeName": "NA"}


# -- DataMigrate -----------------------------------------------------------------------------


def migrate_spec(**extra: Any) -> dict[str, Any]:
    return {"from": {"externalStorage": {"uri": "s3://b/", "encryptOptions": [
                {"name": "access-key", "valueFrom": {"secretKeyRef": {"name": "s", "key": "ak"}}}]}},
            "to": {"dataset": {"name": "ds", "namespace": NS, "path": "/in"}}, **extra}


def test_migrate_problems() -> None:
    kind = migrate.DataMigrateKind()
    assert kind.problems(op("DataMigrate", migrate_spec())) == []
    both_external = {"from": {"externalStorage": {"uri": "a"}}, "to": {"externalStorage": {"uri": "b"}}}
    assert "at least one of spec.from and spec.to must be a dataset" in kind.problems(
        op("DataMigrate", both_external))
    found = kind.problems(op("DataMigrate", migrate_spec(parallelism=2)))
    assert any("sshSecretName is required" in p for p in found)
    elsewhere = migrate_spec()
    elsewhere["to"]["dataset"]["namespace"] = "x"
    assert any("own namespace" in p for p in kind.problems(op("DataMigrate", elsewhere)))


def test_migrate_plan_mounts_dataset_side_and_passes_secrets() -> None:
    plan, _ = migrate.DataMigrateKind().plan(op("DataMigrate", migrate_spec()), target("juicefs"))
    (container,) = plan.containers
    env = {e["name"]: e for e in container["env"]}
    assert env["FROM"]["value"] == "s3://b/"
    assert env["TO"]["value"] == "/fluid/to/"
    assert env["ACCESS_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "s", "key": "ak"}}
    assert container["volumeMounts"] == [{"name": "fluid-migrate-to", "mountPath": "/fluid/to",
                                          "subPath": "in"}]
    assert plan.companions == ()


def test_migrate_runtime_type_must_match() -> None:
    with pytest.raises(framework.InvalidSpec, match="runtimeType is 'alluxio'"):
        migrate.DataMigrateKind().plan(op("DataMigrate", migrate_spec(runtimeType="alluxio")),
                                       target("juicefs"))


def test_env_names() -> None:
    assert migrate.env_name("access-key") == "ACCESS_KEY"
    assert migrate.env_name("fs.s3.secret") == "FS_S3_SECRET"


# -- DataProcess -----------------------------------------------------------------------------


def process_spec(processor: dict[str, Any], mount_path: str = "/data") -> dict[str, Any]:
    return {"dataset": {"name": "ds", "namespace": NS, "mountPath": mount_path}, "processor": processor}


def test_process_problems_match_upstream_reasons() -> None:
    kind = process.DataProcessKind()
    script = {"image": "py", "source": "true"}
    job = {"podSpec": {"containers": [{"name": "c", "image": "i",
                                       "volumeMounts": [{"name": "x", "mountPath": "/data/"}]}]}}
    assert kind.problems(op("DataProcess", process_spec({}))) == [
        "spec.processor needs a job (podSpec) or a script"]
    assert "either a job or a script" in kind.problems(
        op("DataProcess", process_spec({"script": script, "job": job})))[0]
    assert "already used by a volumeMount" in kind.problems(op("DataProcess", process_spec({"job": job})))[0]
    assert kind.problems(op("DataProcess", process_spec({"script": script}))) == []


def test_process_job_keeps_the_users_pod_spec() -> None:
    job = {"podSpec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "j"}],
                       "restartPolicy": "OnFailure", "hostIPC": True,
                       "affinity": {"nodeAffinity": {"x": 1}}}}
    plan, placement = process.DataProcessKind().plan(
        op("DataProcess", {**process_spec({"job": job, "serviceAccountName": "sa"}),
                           "dataset": {"name": "ds", "mountPath": "/m", "subPath": "/sub"}}),
        target("thin"))
    assert [c["volumeMounts"] for c in plan.containers] == [
        [{"name": "fluid-dataset-vol", "mountPath": "/m", "subPath": "sub"}]] * 2
    assert plan.restart_policy == "OnFailure"
    assert plan.extra_spec["hostIPC"] is True
    assert plan.service_account_name == "sa"
    assert placement.affinity == {"nodeAffinity": {"x": 1}}


def test_process_refuses_a_restart_policy_jobs_cannot_have() -> None:
    job = {"podSpec": {"containers": [{"name": "a", "image": "i"}], "restartPolicy": "Always"}}
    with pytest.raises(framework.InvalidSpec, match="Never or OnFailure"):
        process.DataProcessKind().plan(op("DataProcess", process_spec({"job": job})), target())
