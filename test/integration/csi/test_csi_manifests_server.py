"""The API server accepts manifests/csi (server-side dry run), and its RBAC is enough.

The ClusterRole is checked by impersonating the plugin's ServiceAccount with a
SubjectAccessReview for every call the plugin makes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from fluid.kube import KubeClient, resources

pytestmark = pytest.mark.cluster

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests" / "csi"


def _objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    return [
        d for resource in kustomization["resources"]
        for d in yaml.safe_load_all((MANIFESTS / resource).read_text()) if d
    ]


async def test_manifests_pass_server_side_validation(kube: KubeClient, namespace: str) -> None:
    for obj in _objects():
        obj = copy.deepcopy(obj)
        if obj["metadata"].get("namespace"):
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] == "ClusterRoleBinding":
            obj["subjects"][0]["namespace"] = namespace
        created = await kube.create(obj, dry_run=True)
        assert created["metadata"]["name"] == obj["metadata"]["name"]


async def test_rbac_allows_every_call_the_plugin_makes(kube: KubeClient) -> None:
    suffix = "-rbac-test"
    for obj in _objects():
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            obj = copy.deepcopy(obj)
            obj["metadata"]["name"] += suffix
            if obj["kind"] == "ClusterRoleBinding":
                obj["roleRef"]["name"] += suffix
            await kube.apply(obj)
    user = "system:serviceaccount:fluid-system:fluid-csi"
    checks = [("nodes", "patch", None), ("nodes", "get", None), ("pods", "list", None),
              ("events", "create", "default"), ("data.fluid.io/datasets", "get", "default"),
              ("secrets", "get", "default")]
    try:
        for qualified, verb, ns in checks:
            group, _, resource = qualified.rpartition("/")
            attributes: dict[str, Any] = {"group": group, "resource": resource, "verb": verb}
            if ns:
                attributes["namespace"] = ns
            review = await kube.request(
                "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                body=orjson.dumps({"apiVersion": "authorization.k8s.io/v1",
                            "kind": "SubjectAccessReview",
                            "spec": {"user": user, "resourceAttributes": attributes}}),
                content_type="application/json",
            )
            allowed = orjson.loads(review)["status"].get("allowed", False)
            assert allowed is (resource != "secrets"), (resource, verb)
    finally:
        await kube.delete(resources.CLUSTER_ROLE_BINDINGS, "fluid-csi" + suffix)
        await kube.delete(resources.CLUSTER_ROLES, "fluid-csi" + suffix)

