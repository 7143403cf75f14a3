"""loaders: each runtime's containers, and their scripts run against fake runtime CLIs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fluid.controllers.dataops import loaders


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def fake_cli(bin_dir: Path, name: str, log: Path, *, fail_on: str = "") -> None:
    """A stand-in for a runtime CLI: logs its argv, optionally fails for one argument."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(
        "#!/bin/sh\n"
        f'echo "{name} $*" >> {log}\n'
        f'case " $* " in *" {fail_on} "*) [ -n "{fail_on}" ] && exit 3;; esac\n'
        "exit 0\n"
    )
    script.chmod(0o755)


def run(container: dict[str, Any], bin_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", **env_of(container), **extra}
    return subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=30,
                          check=False)


def test_supported_table_refuses_other_runtimes() -> None:
    for operation, runtime in (("DataLoad", "thin"), ("DataMigrate", "alluxio"), ("DataBackup", "juicefs")):
        with pytest.raises(loaders.NotSupported, match=f"{runtime}.*does not support {operation}"):
            loaders.require(operation, runtime)
    loaders.require("DataLoad", "jindo")


def test_runtime_image_prefers_the_runtime_spec() -> None:
    runtime = {"spec": {"alluxioVersion": {"image": "registry/alluxio", "imageTag": "2.9.4"}}}
    assert loaders.runtime_image("alluxio", runtime) == "registry/alluxio:2.9.4"
    assert loaders.runtime_image("juicefs", None) == loaders.DEFAULT_IMAGES["juicefs"]
    with pytest.raises(loaders.NotSupported):
        loaders.runtime_image("thin", None)


def test_alluxio_loader_sets_replication_then_loads_each_path(tmp_path: Path) -> None:
    parts = loaders.load_container(
        "alluxio", dataset="spark", image="img",
        targets=[loaders.LoadTarget(path="/a b", replicas=2), loaders.LoadTarget(path="/c")],
        load_metadata=True, options={},
    )
    (container,) = parts.containers
    assert not parts.mounts_dataset
    assert container["envFrom"] == [{"configMapRef": {"name": "spark-config", "optional": True}}]
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "alluxio", log)
    result = run(container, tmp_path / "bin")
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "alluxio fs ls -R -Dalluxio.user.file.metadata.sync.interval=0 /",
        "alluxio fs ls /a b",
        "alluxio fs setReplication --max 2 -R /a b",
        "alluxio fs distributedLoad --replication 2 /a b",
        "alluxio fs ls /c",
        "alluxio fs setReplication --max 1 -R /c",
        "alluxio fs distributedLoad --replication 1 /c",
    ]


def test_alluxio_loader_fails_on_a_missing_path(tmp_path: Path) -> None:
    parts = loaders.load_container("alluxio", dataset="d", image="i",
                                   targets=[loaders.LoadTarget(path="/gone")],
                                   load_metadata=False, options={})
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "alluxio", log, fail_on="/gone")
    result = run(parts.containers[0], tmp_path / "bin")
    assert result.returncode != 0
    assert "path /gone does not exist" in result.stdout
    assert "distributedLoad" not in log.read_text()


def test_whole_dataset_when_no_target(tmp_path: Path) -> None:
    parts = loaders.load_container("goosefs", dataset="d", image="i", targets=[],
                                   load_metadata=False, options={})
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "goosefs", log)
    assert run(parts.containers[0], tmp_path / "bin").returncode == 0
    assert "goosefs fs distributedLoad --replication 1 /" in log.read_text().splitlines()


def test_juicefs_warms_up_paths_under_the_mounted_dataset(tmp_path: Path) -> None:
    parts = loaders.load_container("juicefs", dataset="jfs", image="i",
                                   targets=[loaders.LoadTarget(path="/train")],
                                   load_metadata=False, options={"threads": "8", "background": ""})
    assert parts.mounts_dataset
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "juicefs", log)
    result = run(parts.containers[0], tmp_path / "bin", DATA_MOUNT=str(data))
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [f"juicefs warmup --background --threads=8 {data}/train"]


def test_jindo_loader_uses_jindocache_load(tmp_path: Path) -> None:
    parts = loaders.load_container("jindo", dataset="d", image="i",
                                   targets=[loaders.LoadTarget(path="/x", replicas=3)],
                                   load_metadata=True, options={})
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "jindocache", log)
    assert run(parts.containers[0], tmp_path / "bin").returncode == 0
    assert log.read_text().splitlines() == ["jindocache -load -meta -data -s -R -replica 3 jindo:///x"]


def test_juicefs_sync_between_sides(tmp_path: Path) -> None:
    container = loaders.migrate_container("juicefs", image="i", source="s3://b/p/",
                                          destination="/fluid/to/", options={"update": ""})
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "juicefs", log)
    assert run(container, tmp_path / "bin").returncode == 0
    assert log.read_text().splitlines() == ["juicefs sync --update s3://b/p/ /fluid/to/"]


def test_distributed_sync_waits_for_workers_and_lists_them(tmp_path: Path) -> None:
    container = loaders.migrate_container("juicefs", image="i", source="a", destination="b",
                                          options={}, workers=["w-0.svc", "w-1.svc"], ssh_port=2222)
    log = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "juicefs", log)
    fake_cli(tmp_path / "bin", "nc", log)
    assert run(container, tmp_path / "bin").returncode == 0
    assert log.read_text().splitlines() == [
        "nc -z w-0.svc 2222", "nc -z w-1.svc 2222", "juicefs sync --worker=w-0.svc,w-1.svc a b"]


def test_backup_writes_metadata_and_statistics(tmp_path: Path) -> None:
    container = loaders.backup_container(
        "alluxio", image="i", dataset="hbase", namespace="default", backup_dir=str(tmp_path / "out"),
        statistics={"ufsTotal": "3.41GiB", "fileNum": "42"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    cli = bin_dir / "alluxio"
    cli.write_text(
        "#!/bin/sh\n"
        f'echo "alluxio $*" >> {log}\n'
        'if [ "$1" = fsadmin ]; then echo "Backup Host        : m-0"; '
        'echo "Backup URI         : hdfs://nn/alluxio_backups/alluxio-backup-1.gz"; fi\n'
        'if [ "$2" = copyToLocal ]; then echo data > "$4"; fi\n'
    )
    cli.chmod(0o755)
    result = run(container, bin_dir)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines()[-1] == (
        f"alluxio fs copyToLocal /alluxio_backups/alluxio-backup-1.gz "
        f"{tmp_path}/out/metadata-backup-hbase-default.gz")
    info = (tmp_path / "out" / "hbase-default.yaml").read_text()
    assert info == "dataset: hbase\nnamespace: default\nufstotal: 3.41GiB\nfilenum: 42\n"
