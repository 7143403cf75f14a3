"""Simulated Alluxio masters on kwok nodes, for ``hack/local-up`` only.

kwok runs no containers, so the controller-manager's exec into an Alluxio master
(``alluxio fs mount``, ``fs count``, ``fsadmin report summary``) has nothing to reach.
This module owns the stand-in: the kwok ``ClusterExec`` documents that send exec into each
sample master's ``alluxio-master`` container to a local command, and that command, an
``alluxio`` CLI answering as ``fluid.engines.alluxio.fake.FakeAlluxioMaster`` does for the
small made-up UFS in ``data/simulated-ufs.yaml`` (mount table kept in one file per pod,
capacity from the runtime's tiered store). It caches nothing and reads no data.

Never used by the test fixtures (they plug ``RecordingExecutor`` in-process) nor in
production. Called by ``fluid.testing.localup`` (``prepare``, ``masters_in``) and, through
the ``alluxio`` script it writes, by kwok (``python -m fluid.testing.kwok_exec alluxio ...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson
import yaml

import fluid
from fluid.api.quantity import format_binary
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import ExecResult
from fluid.scheduling import nodelabels
from fluid.testing import controlplane

__all__ = ["CALLS_LOG", "CONTAINER", "SimulatedMaster", "describe_ufs", "main", "masters_in",
           "prepare"]

CONTAINER = "alluxio-master"
"""The container ``fluid.engines.alluxio.ops`` execs into."""
ENV_POD = "FLUID_SIMULATED_POD"
ENV_STATE = "FLUID_SIMULATED_STATE"
ENV_CAPACITY = "FLUID_SIMULATED_CAPACITY"
CALLS_LOG = "calls.log"
_UFS = Path(__file__).parent / "data" / "simulated-ufs.yaml"


@attrs.frozen(kw_only=True)
class SimulatedMaster:
    """The master pod of AlluxioRuntime (and Dataset) ``name``, and the capacity it reports."""

    namespace: str
    name: str
    capacity_bytes: int

    @property
    def pod(self) -> str:
        return f"{self.name}-master-0"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pod}"


def masters_in(docs: Iterable[Mapping[str, Any]], *, namespace: str) -> list[SimulatedMaster]:
    """The ``<name>-master-0`` pod of every AlluxioRuntime in ``docs``; capacity = replicas x tiers."""
    masters = []
    for doc in docs:
        if doc.get("kind") != "AlluxioRuntime":
            continue
        spec = doc.get("spec") or {}
        per_worker = nodelabels.capacity_of_levels((spec.get("tieredstore") or {}).get("levels"))
        masters.append(SimulatedMaster(
            namespace=str(doc["metadata"].get("namespace") or namespace),
            name=str(doc["metadata"]["name"]),
            capacity_bytes=per_worker.total * int(spec.get("replicas") or 1),
        ))
    return masters


def _cluster_exec(master: SimulatedMaster, state: Path) -> dict[str, Any]:
    envs = {ENV_POD: master.key, ENV_STATE: str(state), ENV_CAPACITY: str(master.capacity_bytes)}
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec",
        "metadata": {"name": f"fluid-simulated-{master.namespace}-{master.pod}"},
        "spec": {
            "selector": {"matchNamespaces": [master.namespace], "matchNames": [master.pod]},
            "execs": [{"containers": [CONTAINER], "local": {
                "workDir": str(state),
                "envs": [{"name": k, "value": v} for k, v in envs.items()],
            }}],
        },
    }


def _script() -> str:
    src = Path(fluid.__file__).resolve().parents[1]
    return (
        "#!/bin/sh\n"
        "# A simulated Alluxio CLI written by fluid.testing.kwok_exec for hack/local-up.\n"
        f"PYTHONPATH={shlex.quote(str(src))} exec {shlex.quote(sys.executable)} "
        "-m fluid.testing.kwok_exec alluxio \"$@\"\n"
    )


def prepare(directory: Path, masters: Iterable[SimulatedMaster]) -> controlplane.KwokExec:
    """Write the ``alluxio`` script, the ClusterExec config and the state dir under ``directory``."""
    bin_dir, state = directory / "bin", directory / "state"
    bin_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(exist_ok=True)
    script = bin_dir / "alluxio"
    script.write_text(_script())
    script.chmod(0o755)
    config = directory / "cluster-execs.yaml"
    config.write_text(yaml.safe_dump_all([_cluster_exec(m, state) for m in masters]))
    return controlplane.KwokExec(config=config, path=(bin_dir,))


# -- the stand-in CLI, run by kwok once per exec ----------------------------------------------


def _ufs() -> tuple[int, int, int]:
    """(bytes, files, folders) of the made-up UFS."""
    data = yaml.safe_load(_UFS.read_text())
    files = data["files"]
    return sum(int(f["bytes"]) for f in files), len(files), int(data["folders"])


def describe_ufs() -> str:
    """``5 files, 706.00MiB``, for local-up's banner."""
    total, files, _ = _ufs()
    return f"{files} files, {format_binary(total)}"


@contextlib.contextmanager
def _mount_table(state: Path, pod_key: str) -> Iterator[dict[str, str]]:
    """The pod's mount table (alluxio path -> UFS), saved back on exit; one exec at a time."""
    path = state / (pod_key.replace("/", "_") + ".json")
    with (state / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        table: dict[str, str] = orjson.loads(path.read_bytes()) if path.exists() else {}
        yield table
        path.write_bytes(orjson.dumps(table))


def run(argv: list[str], env: Mapping[str, str]) -> ExecResult:
    """Answer ``argv`` (``alluxio ...``) as the fake master of the pod named in ``env``."""
    namespace, _, pod = env[ENV_POD].partition("/")
    state = Path(env[ENV_STATE])
    ufs_bytes, files, folders = _ufs()
    with _mount_table(state, env[ENV_POD]) as table:
        master = FakeAlluxioMaster(
            ufs_bytes=ufs_bytes, files=files, folders=folders,
            capacity_bytes=int(env[ENV_CAPACITY]), mounts={(namespace, pod): table},
        )
        result = asyncio.run(master.executor().exec(
            namespace=namespace, pod=pod, container=CONTAINER, command=argv, timeout=10.0,
        ))
    verb = " ".join(itertools.takewhile(str.isalpha, argv))  # never options: they may hold keys
    with (state / CALLS_LOG).open("a") as log:
        log.write(f"{env[ENV_POD]}: {verb} -> exit {result.exit_code}\n")
    return result


def main(argv: list[str] | None = None) -> int:
    result = run(sys.argv[1:] if argv is None else argv, os.environ)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
