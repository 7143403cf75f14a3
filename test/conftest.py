"""Fixtures shared by every test: the real control plane, a client to it, a namespace per test.

The control plane is started once per session (etcd + kube-apiserver, < 15 s once built);
tests that need workloads ask for ``workloads``, which adds kube-controller-manager,
kube-scheduler and kwok with fake nodes to the same control plane.

``FLUID_TEST_CLUSTER=k3s`` runs the same tests on testcontainers' k3s where Docker works.
In CI (``CI=true``) missing binaries fail the run; elsewhere the cluster tests are skipped
with the command that builds them.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fluid.api import install
from fluid.kube import KubeClient, resources
from fluid.testing import controlplane, pki

WORKLOAD_NODES = int(os.environ.get("FLUID_TEST_NODES", "4"))


class K3sCluster:
    """The same surface as LocalControlPlane, backed by testcontainers' k3s."""

    def __init__(self) -> None:
        from testcontainers.community.k3s import K3SContainer  # optional dependency

        self._container = K3SContainer()
        self._container.start()
        self.workdir = Path(tempfile.mkdtemp(prefix="fluid-k3s-"))
        self.kubeconfig = str(self.workdir / "kubeconfig")
        Path(self.kubeconfig).write_text(self._container.config_yaml())
        self._ca = pki.CertificateAuthority.create(self.workdir)
        self.ca_cert_path = self._ca.pair.cert_path
        self.ca_key_path = self._ca.pair.key_path
        self.server = ""
        self.bin_dir = None

    @property
    def ca(self) -> pki.CertificateAuthority:
        return self._ca

    def start_workloads(self, *, nodes: int) -> list[str]:
        return []  # k3s has one real node with a kubelet; node names come from the API

    def tail_logs(self, lines: int = 40) -> str:
        return ""

    def stop(self) -> None:
        self._container.stop()


def _missing_binaries(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must build them: bash hack/kube-binaries.sh)", pytrace=False)
    pytest.skip(f"{reason}; build them with: bash hack/kube-binaries.sh")


@pytest.fixture(scope="session")
def control_plane() -> Iterator[Any]:
    if os.environ.get("FLUID_TEST_CLUSTER") == "k3s":
        cluster: Any = K3sCluster()
        yield cluster
        cluster.stop()
        return
    if controlplane.binaries_dir() is None:
        _missing_binaries("control-plane binaries are not built")
    plane = controlplane.LocalControlPlane.create()
    try:
        plane.start()
    except controlplane.ControlPlaneError:
        plane.stop()
        raise
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def workloads(control_plane: Any) -> list[str]:
    """Names of fake nodes, with the scheduler and controller-manager running."""
    return list(control_plane.start_workloads(nodes=WORKLOAD_NODES))


@pytest.fixture(scope="session")
async def kube(control_plane: Any) -> AsyncIterator[KubeClient]:
    client = await KubeClient.connect(control_plane.kubeconfig)
    yield client
    await client.close()


@pytest.fixture(scope="session")
async def fluid_crds(kube: KubeClient) -> list[str]:
    """Fluid's CRDs, generated from the models, installed and Established once per session."""
    return await install.install_crds(kube)


@pytest.fixture
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    await kube.delete(resources.NAMESPACES, name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the control plane's component logs to failing cluster tests."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "control_plane" in getattr(item, "fixturenames", ()):
        plane = item.funcargs.get("control_plane") if hasattr(item, "funcargs") else None
        if plane is not None:
            report.sections.append(("control plane logs", plane.tail_logs()))
