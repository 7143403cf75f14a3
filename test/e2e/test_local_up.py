"""The README's first command: local-up brings up the control plane, CRDs, a ready
controller-manager with its webhook and the CSI plugin, applies the samples, ends with the
sample Alluxio Dataset Bound (its master's exec answered by the kwok exec simulation) and
the sample app Running on a node holding that dataset's cache, and stops everything on
Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from fluid.engines.alluxio import ops
from fluid.testing import controlplane, kwok_exec
from fluid.testing.wait import eventually

NAMESPACE = "fluid-samples"
READY = "Ctrl-C stops everything."
UFS = Path(controlplane.__file__).parent / "data" / "simulated-ufs.yaml"


def kubectl(kubeconfig: Path, *args: str) -> str:
    bin_dir = controlplane.binaries_dir()
    assert bin_dir is not None
    out = subprocess.run([str(bin_dir / "kubectl"), *args], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, KUBECONFIG=str(kubeconfig)), check=True)
    return out.stdout


def kubectl_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(kubectl(kubeconfig, *args, "-o", "json"))
    return parsed


def columns(table: str) -> dict[str, str]:
    """The one row of a ``kubectl get`` table, by column header (columns are 2+ spaces apart)."""
    header, row = table.strip().splitlines()
    names = re.split(r"\s{2,}", header.strip())
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return {name: row[start:end].strip() for name, start, end in zip(names, starts, ends, strict=True)}


def running_from(workdir: Path) -> str:
    """Processes whose command line names ``workdir`` (local-up's children all do)."""
    found = subprocess.run(["pgrep", "-af", str(workdir)], capture_output=True, text=True, check=False)
    return found.stdout.strip()


def expected_ufs() -> tuple[str, str]:
    """(UFS TOTAL SIZE, TOTAL FILES) the simulated master reports, from its data file."""
    files = yaml.safe_load(UFS.read_text())["files"]
    total = sum(int(f["bytes"]) for f in files)
    assert total % 2**20 == 0, "the expectation below assumes whole MiB"
    assert total < 2**30, "the expectation below assumes MiB"
    return f"{total // 2**20}.00MiB", str(len(files))


def test_simulated_master_keeps_its_mount_table_between_execs(tmp_path: Path) -> None:
    """Each exec is a new process: the mount table lives in the state dir, per pod."""
    env = {kwok_exec.ENV_POD: "ns/a-master-0", kwok_exec.ENV_STATE: str(tmp_path),
           kwok_exec.ENV_CAPACITY: str(3 * 2**30)}
    mount = ["alluxio", "fs", "mount", "--readonly", "--option", "key=s3cret", "/a", "https://x/"]
    assert kwok_exec.run(mount, env).exit_code == 0
    assert kwok_exec.run(mount, env).exit_code != 0  # already mounted, as Alluxio says
    assert "/a" in kwok_exec.run(["alluxio", "fs", "mount"], env).stdout
    other = {**env, kwok_exec.ENV_POD: "ns/b-master-0"}
    assert kwok_exec.run(["alluxio", "fs", "mount"], other).stdout == ""
    report = kwok_exec.run(["alluxio", "fsadmin", "report", "summary"], env).stdout
    assert ops.parse_report_summary(report).capacity_bytes == 3 * 2**30
    log = (tmp_path / kwok_exec.CALLS_LOG).read_text()
    assert "ns/a-master-0: alluxio fs mount -> exit 0" in log
    assert "s3cret" not in log


def test_simulated_masters_follow_the_sample_runtimes() -> None:
    docs = [{"kind": "Dataset", "metadata": {"name": "d"}},
            {"kind": "AlluxioRuntime", "metadata": {"name": "d"}, "spec": {
                "replicas": 3, "tieredstore": {"levels": [
                    {"mediumtype": "MEM", "quota": "1Gi"},
                    {"mediumtype": "SSD", "quotaList": "2Gi,3Gi"}]}}}]
    masters = kwok_exec.masters_in(docs, namespace="ns")
    assert [(m.key, m.capacity_bytes) for m in masters] == [("ns/d-master-0", 3 * 6 * 2**30)]


@pytest.mark.cluster
@pytest.mark.workloads
async def test_local_up_binds_the_sample_and_runs_the_app(tmp_path: Path) -> None:
    if controlplane.binaries_dir() is None:
        pytest.skip("control-plane binaries not built")
    workdir = tmp_path / "cluster"
    kubeconfig = workdir / "admin.kubeconfig"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fluid.testing.localup", "--nodes", "3", "--workdir", str(workdir),
            "--wait-seconds", "60", stdout=out, stderr=err, env=dict(os.environ),
        )
    try:
        await eventually(lambda: READY in stdout.read_text() or proc.returncode is not None,
                         timeout=150, interval=0.5, what="local-up ready")
        assert proc.returncode is None, stderr.read_text()[-3000:]
        printed = stdout.read_text()
        assert f"export KUBECONFIG={kubeconfig}" in printed
        assert "SIMULATED cache processes" in printed
        assert "WARNING" not in stderr.read_text(), stderr.read_text()[-3000:]
        assert "CRDs" in stderr.read_text()

        dataset = columns(kubectl(kubeconfig, "get", "dataset", "hbase", "-n", NAMESPACE, "-o", "wide"))
        ufs_total, files = expected_ufs()
        assert dataset["PHASE"] == "Bound"
        assert dataset["UFS TOTAL SIZE"] == ufs_total
        assert dataset["TOTAL FILES"] == files
        assert dataset["CACHE CAPACITY"] == "4.00GiB"  # 2 workers x a 2Gi MEM tier
        assert dataset["CACHED"] == "0.00B"  # nothing is really cached
        runtime = columns(kubectl(kubeconfig, "get", "alluxioruntime", "hbase", "-n", NAMESPACE))
        assert (runtime["MASTER PHASE"], runtime["WORKER PHASE"]) == ("Ready", "Ready")

        pod = kubectl_json(kubeconfig, "get", "pod", "hbase-reader", "-n", NAMESPACE)
        assert pod["status"]["phase"] == "Running"
        assert [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                if "persistentVolumeClaim" in v] == ["hbase"]
        cache_label = f"fluid.io/s-{NAMESPACE}-hbase"
        nodes = kubectl_json(kubeconfig, "get", "nodes")["items"]
        cache_nodes = {n["metadata"]["name"] for n in nodes
                       if n["metadata"]["labels"].get(cache_label) == "true"}
        assert len(cache_nodes) == 2 < len(nodes), "two of three nodes hold the cache"
        assert pod["spec"]["nodeName"] in cache_nodes
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert {"key": cache_label, "operator": "In", "values": ["true"]} in \
            terms[0]["matchExpressions"], "the webhook required the cache nodes"

        calls = (workdir / "simulated" / "state" / "calls.log").read_text()
        assert f"{NAMESPACE}/hbase-master-0: alluxio fs mount -> exit 0" in calls
        assert "caches_synced" in (workdir / "logs" / "controller-manager.log").read_text()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
        returncode = await asyncio.wait_for(proc.wait(), 60)
    assert returncode == 0, stderr.read_text()[-3000:]
    assert running_from(workdir) == ""
