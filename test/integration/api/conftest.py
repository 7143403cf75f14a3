"""Fixtures for the API's cluster tests: Fluid CRDs installed, the validating webhook live.

``fluid_crds`` installs the CRDs generated from the models (``fluid.api.install``) once per
session. ``validating_webhook`` runs the real webhook server in-process on 127.0.0.1 with
a serving certificate signed by the control plane's CA, and registers a
ValidatingWebhookConfiguration for every data.fluid.io kind, so API requests in these
tests pass through schema validation *and* admission exactly as in a cluster.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from fluid.api import kinds
from fluid.kube import KubeClient, errors, resources
from fluid.testing import pki, wait
from fluid.webhook import admission, server

_DATA = str(Path(__file__).resolve().parents[2] / "data")
if _DATA not in sys.path:
    sys.path.insert(0, _DATA)  # fluid_testdata: the seed and malformed manifests

WEBHOOK_CONFIG = "fluid-api-test-validation"
WEBHOOK_NAME = "validate.data.fluid.io"


def _webhook_configuration(port: int, ca_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIG},
        "webhooks": [{
            "name": WEBHOOK_NAME,
            "clientConfig": {
                "url": f"https://127.0.0.1:{port}{server.VALIDATE_PATH}",
                "caBundle": base64.b64encode(ca_pem).decode(),
            },
            "rules": kinds.validating_webhook_rules(),
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }],
    }


_PROBE = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
    "metadata": {"name": "webhook-probe", "namespace": "default"},
    "spec": {"dataset": {"name": "x"}, "target": [{"path": "not-absolute"}]},
}


async def _webhook_answers(kube: KubeClient) -> bool:
    try:
        await kube.create(_PROBE, dry_run=True)
    except errors.ApiError as exc:
        return WEBHOOK_NAME in exc.message
    return False


@pytest.fixture(scope="session")
async def validating_webhook(
    control_plane: Any, kube: KubeClient, fluid_crds: list[str]
) -> AsyncIterator[str]:
    """The webhook server's URL once the API server routes Fluid requests through it."""
    certs = Path(tempfile.mkdtemp(prefix="fluid-webhook-"))
    ca = pki.CertificateAuthority.load(Path(control_plane.ca_cert_path),
                                       Path(control_plane.ca_key_path))
    serving = ca.issue(certs, "webhook", common_name="127.0.0.1", hosts=("127.0.0.1",))
    app = server.build_server(server.validating_routes(lookup=admission.kube_lookup(kube)))
    running = await server.serve(app, host="127.0.0.1", port=0, cert_file=serving.cert_path,
                                 key_file=serving.key_path)
    await kube.apply(_webhook_configuration(running.port, ca.pair.cert_pem),
                     res=resources.VALIDATING_WEBHOOKS)
    try:
        await wait.eventually(lambda: _webhook_answers(kube), timeout=30,
                              what="the API server to call the validating webhook")
        yield f"https://127.0.0.1:{running.port}"
    finally:
        await kube.delete(resources.VALIDATING_WEBHOOKS, WEBHOOK_CONFIG)
        await running.stop()


async def _ensure_namespace(kube: KubeClient, name: str) -> None:
    """The namespace and its ``default`` ServiceAccount (no controller-manager creates it)."""
    for obj in (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "default", "namespace": name}},
    ):
        with contextlib.suppress(errors.AlreadyExists):
            await kube.create(obj)


EnsureNamespace = Callable[[str], Awaitable[None]]


@pytest.fixture(scope="session")
def ensure_namespace(kube: KubeClient) -> EnsureNamespace:
    """``await ensure_namespace(name)``: make a namespace (and its default SA) exist."""

    async def ensure(name: str) -> None:
        await _ensure_namespace(kube, name)

    return ensure
