"""Seed 001 end to end: one cached dataset shared across namespaces with ``dataset://``.

Real API server, scheduler, controller-manager and kwok nodes; every Fluid controller runs
in-process (``setup_all(["*"])``). The seed's YAML (test/data/seeds/001-*.yaml) is applied
unchanged, in the namespaces it names (``development`` and ``production``). The only fake
is the boundary into Alluxio processes (kwok runs no containers): a ``FakeAlluxioMaster``
answers as the seed's cluster did (3.41 GiB of Spark releases, 4 GiB of MEM cache); after
the DataLoad's Job finished, the fake reports the 1.31 GiB the loader would have cached.

The flow, as the seed tells it: the Dataset and AlluxioRuntime in ``development`` are
Bound with the seed's columns; an nginx pod there mounts the PVC; a DataLoad of
``/spark-3.3.1`` completes; the cache shows 38.4%; a Dataset in ``production`` whose only
mount is ``dataset://development/spark`` shows the very same columns; an nginx pod there
mounts a PV pointing at the same FUSE path. Then the parts the seed states as rules: mixing
``dataset://`` with another mount is refused at admission, and the source cannot be deleted
while ``production/spark`` refers to it (a condition says which).
"""

from __future__ import annotations

import base64
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fluid.api import kinds
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import EngineConfig, EngineSettings
from fluid.kube import KubeClient, errors, resources
from fluid.reconcile import Manager
from fluid.scheduling.ports import PortAllocator, PortRange
from fluid.testing import pki
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually
from fluid.webhook import admission, configuration, server

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
GiB = 2**30
SOURCE, REFERENCE = "development", "production"
COLUMNS = ("Ufs Total Size", "Cached", "Cache Capacity", "Cached Percentage", "Phase")


def seed(file: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all((SEEDS / file).read_text()) if d]


@pytest.fixture
async def namespaces(kube: KubeClient, workloads: list[str]) -> AsyncIterator[None]:
    """The seed's two namespaces, which must not exist yet (``kubectl create ns``)."""
    for name in (SOURCE, REFERENCE):
        if await kube.get_or_none(resources.NAMESPACES, name) is not None:
            pytest.fail(f"namespace {name} already exists; this test creates and deletes it")
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        with contextlib.suppress(errors.AlreadyExists):
            await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                               "metadata": {"name": "default", "namespace": name}})
    yield
    for name in (REFERENCE, SOURCE):
        await kube.delete(resources.NAMESPACES, name)


WEBHOOK = "fluid-e2e-seed001-validation"


@pytest.fixture
async def admission_webhook(control_plane: Any, kube: KubeClient, namespaces: None) -> AsyncIterator[None]:
    """Fluid's validating webhook, served in-process, for requests in ``production``."""
    ca = pki.CertificateAuthority.load(Path(control_plane.ca_cert_path), Path(control_plane.ca_key_path))
    serving = ca.issue(Path(tempfile.mkdtemp(prefix="fluid-e2e-webhook-")), "webhook",
                       common_name="127.0.0.1", hosts=("127.0.0.1",))
    app = server.build_server(server.validating_routes(lookup=admission.kube_lookup(kube)))
    running = await server.serve(app, host="127.0.0.1", port=0, cert_file=serving.cert_path,
                                 key_file=serving.key_path)
    config = configuration.validating_configuration(
        url=f"https://127.0.0.1:{running.port}", name=WEBHOOK,
        ca_bundle=base64.b64encode(ca.pair.cert_pem).decode())
    config["webhooks"][0]["namespaceSelector"] = {
        "matchLabels": {"kubernetes.io/metadata.name": REFERENCE}}
    await kube.apply(config, res=resources.VALIDATING_WEBHOOKS)
    yield
    await kube.delete(resources.VALIDATING_WEBHOOKS, WEBHOOK)
    await running.stop()


async def refusal(kube: KubeClient, obj: Obj) -> str:
    """The API server's answer to creating ``obj`` (dry run); "" if it was accepted."""
    try:
        await kube.create(obj, dry_run=True)
    except errors.ApiError as exc:
        return exc.message
    return ""


@contextlib.asynccontextmanager
async def fluid(kube: KubeClient, master: FakeAlluxioMaster) -> AsyncIterator[Manager]:
    settings = EngineSettings(executor=master.executor(), ports=PortAllocator(PortRange(20000, 26000)),
                              config=EngineConfig(sync_retry_seconds=0.0), resync_seconds=1.0,
                              setup_retry_seconds=1.0)
    async with running_controllers(kube, ["*"], engines=settings) as manager:
        yield manager


async def columns(kube: KubeClient, namespace: str, name: str = "spark") -> tuple[Any, ...]:
    """``kubectl get dataset -n <namespace>``: the seed's columns of one row."""
    table = await kube.table(kinds.DATASET.resource, namespace)
    names = [c["name"] for c in table["columnDefinitions"]]
    for entry in table["rows"]:
        if entry["object"]["metadata"]["name"] == name:
            cells = dict(zip(names, entry["cells"], strict=True))
            return tuple(cells[c] for c in COLUMNS)
    return ()


async def wait_columns(kube: KubeClient, namespace: str, expected: tuple[str, ...]) -> None:
    async def shown() -> bool:
        return await columns(kube, namespace) == expected

    try:
        await eventually(shown, timeout=90, what=f"{namespace}/spark showing {expected}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; shows {await columns(kube, namespace)}") from None


async def running_pod(kube: KubeClient, pod: Obj) -> Obj:
    await kube.create(pod)
    meta = pod["metadata"]

    async def running() -> bool:
        current = await kube.get(resources.PODS, meta["name"], meta["namespace"])
        return (current.get("status") or {}).get("phase") == "Running"

    await eventually(running, timeout=60, what=f"pod {meta['namespace']}/{meta['name']} Running")
    return await kube.get(resources.PODS, meta["name"], meta["namespace"])


async def test_seed001_share_a_cached_dataset_across_namespaces(
    kube: KubeClient, fluid_crds: list[str], namespaces: None, admission_webhook: None
) -> None:
    master = FakeAlluxioMaster(ufs_bytes=int(3.41 * GiB), files=7, capacity_bytes=4 * GiB)
    async with fluid(kube, master):
        try:
            await _seed001(kube, master)
        finally:
            await _delete_all(kube)


async def _seed001(kube: KubeClient, master: FakeAlluxioMaster) -> None:
    # Steps 3-4: the Dataset and AlluxioRuntime in development, Bound.
    for obj in seed("001-dataset-alluxioruntime-spark-development.yaml"):
        await kube.create(obj)
    await wait_columns(kube, SOURCE, ("3.41GiB", "0.00B", "4.00GiB", "0.0%", "Bound"))

    # Step 5: a pod in development mounts the dataset.
    (pod,) = seed("001-pod-nginx-development.yaml")
    await running_pod(kube, pod)

    # Steps 7-9: a DataLoad of a sub-path; the cache then holds 38.4% of the data.
    (load,) = seed("001-dataload-spark.yaml")
    await kube.create(load)

    async def loaded() -> bool:
        obj = await kube.get(kinds.DATA_LOAD.resource, "spark", SOURCE)
        phase = (obj.get("status") or {}).get("phase")
        assert phase != "Failed", obj.get("status")
        return phase == "Complete"

    await eventually(loaded, timeout=90, what="DataLoad development/spark Complete")
    job = await kube.get(resources.JOBS, "spark-loader-job", SOURCE)
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TARGETS"] == "/spark-3.3.1\t1"
    table = await kube.table(kinds.DATA_LOAD.resource, SOURCE)
    names = [c["name"] for c in table["columnDefinitions"]]
    row = dict(zip(names, table["rows"][0]["cells"], strict=True))
    assert (row["Dataset"], row["Phase"]) == ("spark", "Complete")
    assert row["Duration"].endswith("s")
    master.used_bytes = int(1.31 * GiB)  # what the loader's distributedLoad cached
    cached = ("3.41GiB", "1.31GiB", "4.00GiB", "38.4%", "Bound")
    await wait_columns(kube, SOURCE, cached)

    # Steps 11-13: the reference dataset in production shows the very same columns.
    (reference,) = seed("001-dataset-spark-production.yaml")
    await kube.create(reference)
    await wait_columns(kube, REFERENCE, cached)
    thin = await kube.get(kinds.THIN_RUNTIME.resource, "spark", REFERENCE)
    assert thin["spec"].get("profileName", "") == ""
    source = await kube.get(kinds.DATASET.resource, "spark", SOURCE)
    assert source["status"]["datasetRef"] == [f"{REFERENCE}/spark"]

    # Step 14: a pod in production mounts the same FUSE path.
    (pod,) = seed("001-pod-nginx-production.yaml")
    await running_pod(kube, pod)
    source_pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{SOURCE}-spark")
    reference_pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{REFERENCE}-spark")
    source_path = source_pv["spec"]["csi"]["volumeAttributes"]["fluid_path"]
    assert source_path == f"/runtime-mnt/alluxio/{SOURCE}/spark/alluxio-fuse"
    assert reference_pv["spec"]["csi"]["volumeAttributes"]["fluid_path"] == source_path
    claim = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "spark", REFERENCE)
    assert claim["spec"]["volumeName"] == f"{REFERENCE}-spark"
    assert claim["status"]["phase"] == "Bound"

    # The rules: no mixing dataset:// with other mounts...
    mixed = {**reference, "metadata": {"name": "mixed", "namespace": REFERENCE},
             "spec": {"mounts": [{"mountPoint": "dataset://development/spark"},
                                 {"mountPoint": "https://mirrors.bit.edu.cn/apache/spark/", "name": "x"}]}}
    async def refused() -> bool:
        return "a dataset:// mount must be the only mount" in await refusal(kube, mixed)

    await eventually(refused, timeout=30, what="admission refusing dataset:// mixed with another mount")

    # ...and the source stays while production/spark refers to it.
    await kube.delete(resources.PODS, "nginx", SOURCE)
    await kube.delete(kinds.DATASET.resource, "spark", SOURCE)

    async def held() -> bool:
        obj = await kube.get(kinds.DATASET.resource, "spark", SOURCE)
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c.get("reason") == "DatasetInUse" and f"{REFERENCE}/spark" in c.get("message", "")
                   for c in conditions)

    await eventually(held, timeout=60, what="source deletion held, naming production/spark")
    assert await kube.get_or_none(kinds.DATASET.resource, "spark", SOURCE) is not None


async def _delete_all(kube: KubeClient) -> None:
    """The reference first (its pod, then it), then the source: both go, PVs included."""
    await kube.delete(resources.PODS, "nginx", REFERENCE)
    await kube.delete(resources.PODS, "nginx", SOURCE)
    await kube.delete(kinds.DATASET.resource, "spark", REFERENCE)
    await kube.delete(kinds.DATASET.resource, "spark", SOURCE)

    async def gone() -> bool:
        left = [await kube.get_or_none(kinds.DATASET.resource, "spark", ns) for ns in (SOURCE, REFERENCE)]
        left += [await kube.get_or_none(resources.PERSISTENT_VOLUMES, f"{ns}-spark")
                 for ns in (SOURCE, REFERENCE)]
        return not any(left)

    try:
        await eventually(gone, timeout=120, what="both datasets and their PVs deleted")
    except AssertionError:
        print("teardown left objects behind", file=sys.stderr)
        raise
