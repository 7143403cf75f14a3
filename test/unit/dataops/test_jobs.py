"""jobs: names, labels, ownership, placement and outcomes of operation Jobs and CronJobs."""

from __future__ import annotations

from fluid.controllers.dataops import jobs

IDENTITY = jobs.Identity(kind="DataLoad", name="spark", namespace="dev", uid="u-1",
                         release="spark-loader", role="dataload-pod", runtime_type="alluxio",
                         dataset="spark")


def test_child_names_stay_within_label_limits_and_stable() -> None:
    assert jobs.child_name("spark", "loader-job") == "spark-loader-job"
    long = "x" * 80
    name = jobs.child_name(long, "loader-job")
    assert len(name) == 63
    assert name.endswith("-loader-job")
    assert name == jobs.child_name(long, "loader-job")
    assert name != jobs.child_name("y" * 80, "loader-job")
    assert len(jobs.child_name(long, "loader-job", limit=jobs.CRON_JOB_MAX_NAME)) == 52


def test_job_carries_labels_owner_backoff_and_placement() -> None:
    plan = jobs.PodPlan(containers=({"name": "c", "image": "i"},), volumes=({"name": "v"},))
    placement = jobs.Placement(
        affinity={"nodeAffinity": {}}, node_selector={"disk": "ssd"},
        tolerations=[{"key": "t", "operator": "Exists"}], scheduler_name="volcano",
        labels={"team": "a", "role": "overridden"}, annotations={"note": "x"},
    )
    job = jobs.job(IDENTITY, "spark-loader-job", plan, placement)
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad", "name": "spark", "uid": "u-1",
        "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"]["backoffLimit"] == 3
    assert "parallelism" not in job["spec"]
    template = job["spec"]["template"]
    assert template["metadata"]["labels"] == {
        "team": "a", "release": "spark-loader", "role": "dataload-pod", "app": "alluxio",
        "targetDataset": "spark", "fluid.io/managed-by": "fluid"}
    assert template["metadata"]["annotations"] == {"note": "x"}
    spec = template["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["schedulerName"] == "volcano"
    assert spec["tolerations"] == [{"key": "t", "operator": "Exists"}]
    assert spec["affinity"] == {"nodeAffinity": {}}
    assert spec["volumes"] == [{"name": "v"}]


def test_parallel_plan_makes_an_indexed_job() -> None:
    plan = jobs.PodPlan(containers=({"name": "c"},), parallelism=3)
    spec = jobs.job(IDENTITY, "j", plan, jobs.Placement())["spec"]
    assert (spec["parallelism"], spec["completions"], spec["completionMode"]) == (3, 3, "Indexed")


def test_extra_pod_spec_fields_are_kept() -> None:
    plan = jobs.PodPlan(containers=({"name": "c"},), extra_spec={"hostNetwork": True,
                                                                 "volumes": [{"name": "own"}]},
                        volumes=({"name": "dataset"},))
    spec = jobs.job(IDENTITY, "j", plan, jobs.Placement())["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["volumes"] == [{"name": "own"}, {"name": "dataset"}]


def test_cron_job_labels_its_runs_and_forbids_overlap() -> None:
    plan = jobs.PodPlan(containers=({"name": "c"},))
    cron = jobs.cron_job(IDENTITY, "spark-loader-job", "*/5 * * * *", plan, jobs.Placement())
    assert cron["metadata"]["labels"]["fluid.io/jobPolicy"] == "cron"
    spec = cron["spec"]
    assert spec["schedule"] == "*/5 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["jobTemplate"]["metadata"]["labels"]["cronjob"] == "spark-loader-job"
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["containers"] == [{"name": "c"}]


def test_job_outcome_reads_terminal_conditions_only() -> None:
    assert jobs.job_outcome({"status": {"active": 1}}) is None
    assert jobs.job_outcome({"status": {"conditions": [
        {"type": "Failed", "status": "False"}]}}) is None
    done = jobs.job_outcome({"status": {"conditions": [
        {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"},
        {"type": "Complete", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"}]}})
    assert done == jobs.JobOutcome(True, "2024-01-01T00:00:05Z", "SuccessCriteriaMet", "")
    failed = jobs.job_outcome({"status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"}]}})
    assert failed is not None
    assert not failed.succeeded
    assert failed.reason == "BackoffLimitExceeded"
