"""The operator's settings in data operations: which image a Job runs (the runtime's spec, the
operator's default, the built-in one) and ``IMAGE_PULL_SECRETS`` on its pods."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.api import converter, kinds
from fluid.controllers.dataops import backup, framework, jobs, load, loaders, migrate

NS = "ns"
OPERATOR = {"ALLUXIO_RUNTIME_IMAGE_ENV": "op.registry/alluxio:2.9.9",
            "JUICEFS_CE_IMAGE_ENV": "op.registry/juicefs:ce-9",
            "JINDO_SMARTDATA_IMAGE_ENV": "op.registry/smartdata:9",
            "GOOSEFS_RUNTIME_IMAGE_ENV": "op.registry/goosefs:9"}


def op(kind: str, spec: dict[str, Any]) -> framework.Operation:
    obj = {"apiVersion": "data.fluid.io/v1alpha1", "kind": kind,
           "metadata": {"name": "op", "namespace": NS, "uid": "u"}, "spec": spec}
    return framework.Operation(obj=obj, model=converter.structure(obj, kinds.BY_KIND[kind].model))


def target(runtime_type: str, runtime_spec: dict[str, Any] | None = None) -> framework.Target:
    dataset = {"metadata": {"name": "ds", "namespace": NS}, "spec": {"mounts": [{"mountPoint": "s3://b/"}]},
               "status": {}}
    return framework.Target(dataset=dataset, runtime_type=runtime_type,
                            runtime={"spec": runtime_spec or {}}, operator_images=OPERATOR)


@pytest.mark.parametrize(("runtime_type", "env"), [
    ("alluxio", "ALLUXIO_RUNTIME_IMAGE_ENV"), ("juicefs", "JUICEFS_CE_IMAGE_ENV"),
    ("jindo", "JINDO_SMARTDATA_IMAGE_ENV"), ("goosefs", "GOOSEFS_RUNTIME_IMAGE_ENV")])
def test_the_operators_default_image_comes_before_the_built_in_one(runtime_type: str, env: str) -> None:
    assert loaders.runtime_image(runtime_type, None, operator_images=OPERATOR) == OPERATOR[env]
    assert loaders.runtime_image(runtime_type, None) == loaders.DEFAULT_IMAGES[runtime_type]


def test_the_runtime_spec_comes_first_field_by_field() -> None:
    own = {"spec": {"alluxioVersion": {"image": "mine/alluxio", "imageTag": "1"}}}
    tag_only = {"spec": {"alluxioVersion": {"imageTag": "2.9.4"}}}
    assert loaders.runtime_image("alluxio", own, operator_images=OPERATOR) == "mine/alluxio:1"
    assert loaders.runtime_image("alluxio", tag_only, operator_images=OPERATOR) == "op.registry/alluxio:2.9.4"
    assert loaders.runtime_image("alluxio", tag_only) == "alluxio/alluxio-dev:2.9.4"
    with pytest.raises(loaders.NotSupported):
        loaders.runtime_image("thin", None, operator_images=OPERATOR)


def test_kinds_run_the_image_their_target_names() -> None:
    plan, _ = load.DataLoadKind().plan(op("DataLoad", {"dataset": {"name": "ds"}}), target("alluxio"))
    assert {c["image"] for c in plan.containers} == {"op.registry/alluxio:2.9.9"}
    plan, _ = backup.DataBackupKind().plan(
        op("DataBackup", {"dataset": "ds", "backupPath": "pvc://backups/x"}),
        target("alluxio", {"alluxioVersion": {"image": "mine/alluxio", "imageTag": "7"}}))
    assert plan.containers[0]["image"] == "mine/alluxio:7"
    plan, _ = migrate.DataMigrateKind().plan(
        op("DataMigrate", {"from": {"dataset": {"name": "ds", "namespace": NS}},
                           "to": {"externalStorage": {"uri": "s3://out/"}}}), target("juicefs"))
    assert plan.containers[0]["image"] == "op.registry/juicefs:ce-9"


def _pod_spec(plan: jobs.PodPlan) -> dict[str, Any]:
    identity = jobs.Identity(kind="DataLoad", name="op", namespace=NS, uid="u", release="op-loader",
                             role="dataload-pod", runtime_type="alluxio", dataset="ds")
    job = jobs.job(identity, "op-loader-job", plan, jobs.Placement())
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def test_operation_pods_and_their_workers_get_the_operators_pull_secrets() -> None:
    worker = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "w"},
              "spec": {"template": {"spec": {"containers": []}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "w"}, "spec": {}}
    plan = jobs.PodPlan(containers=({"name": "c", "image": "i"},), companions=(worker, service))

    with_secrets = framework.with_pull_secrets(plan, ("regcred", "mirror"))

    expected = [{"name": "regcred"}, {"name": "mirror"}]
    assert _pod_spec(with_secrets)["imagePullSecrets"] == expected
    assert with_secrets.companions[0]["spec"]["template"]["spec"]["imagePullSecrets"] == expected
    assert with_secrets.companions[1] == service
    assert "imagePullSecrets" not in _pod_spec(plan)  # the kind's plan itself is left as it was
    assert "imagePullSecrets" not in worker["spec"]["template"]["spec"]
    assert framework.with_pull_secrets(plan, ()) is plan


def test_a_pod_spec_naming_its_own_pull_secrets_keeps_them() -> None:
    plan = jobs.PodPlan(containers=({"name": "c", "image": "i"},),
                        extra_spec={"imagePullSecrets": [{"name": "team"}]})
    assert _pod_spec(framework.with_pull_secrets(plan, ("regcred",)))["imagePullSecrets"] == [
        {"name": "team"}]
