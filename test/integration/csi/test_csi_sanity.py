"""The upstream CSI sanity suite (csi-sanity) passes against fluid-csi.

Runs hack/csi-sanity.sh (which builds csi-sanity from the Go module proxy on first use and
runs it in a private mount namespace) with the plugin talking to the real API server, on
a Node object made for the run. Every Identity and Node spec the plugin's capabilities
select must pass, including the full stage/publish/unpublish/unstage flow ("should work")
and its ten-times-repeated variant ("should be idempotent").
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import csiproc
import pytest

from fluid.kube import KubeClient, resources

pytestmark = [pytest.mark.mounts, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[3]
LABEL = "fluid.io/f-default-sanity"
MUST_PASS = {
    "Identity Service GetPluginInfo should return appropriate information",
    "Identity Service GetPluginCapabilities should return appropriate capabilities",
    "Identity Service Probe should return appropriate information",
    "Node Service NodeGetInfo should return appropriate values",
    "Node Service NodeUnpublishVolume should remove target path",
    "Node Service should work",
    "Node Service should be idempotent",
}


def _results(junit: Path) -> dict[str, str]:
    results = {}
    for case in ET.parse(junit).iter("testcase"):
        name = (case.get("name") or "").removeprefix("[It] ")
        results[name] = case.get("status") or ""
    return results


async def test_csi_sanity_passes(
    kube: KubeClient, control_plane: Any, tmp_path: Path
) -> None:
    csiproc.require_mount_privileges()
    if shutil.which("go") is None:
        if os.environ.get("CI"):
            pytest.fail("go is needed in CI to build csi-sanity")
        pytest.skip("go is not installed: cannot build csi-sanity")
    node = f"csi-sanity-{uuid.uuid4().hex[:8]}"
    created = await kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    seen: list[dict[str, str]] = []
    watching = asyncio.ensure_future(_watch_labels(kube, node, created, seen))
    junit = tmp_path / "junit.xml"
    env = {**os.environ, "KUBECONFIG": control_plane.kubeconfig, "CSI_SANITY_NODE": node,
           "CSI_SANITY_JUNIT": str(junit)}
    try:
        result = await asyncio.to_thread(
            subprocess.run, [str(ROOT / "hack" / "csi-sanity.sh")], env=env,
            capture_output=True, text=True, timeout=1800, check=False,
        )
        print(result.stdout[-6000:], result.stderr[-4000:])
        assert result.returncode == 0, "csi-sanity failed"
        results = _results(junit)
        passed = {name for name, status in results.items() if status == "passed"}
        failed = {name for name, status in results.items() if status == "failed"}
        assert failed == set()
        assert passed >= MUST_PASS, sorted(MUST_PASS - passed)
        # Staging labelled this node, and unstaging the last volume took the label away.
        await csiproc.eventually(lambda: seen and LABEL not in seen[-1], what="label removal")
        assert any(labels.get(LABEL) == "true" for labels in seen)
        labels = (await kube.get(resources.NODES, node))["metadata"].get("labels") or {}
        assert LABEL not in labels
    finally:
        watching.cancel()
        await kube.delete(resources.NODES, node)


async def _watch_labels(
    kube: KubeClient, node: str, created: dict[str, Any], seen: list[dict[str, str]]
) -> None:
    """Every label set the node goes through, from its creation on."""
    version = created["metadata"]["resourceVersion"]
    while True:
        async for event in kube.watch(
            resources.NODES, resource_version=version, field_selector=f"metadata.name={node}"
        ):
            obj = event["object"]
            version = obj["metadata"]["resourceVersion"]
            if event["type"] in ("ADDED", "MODIFIED"):
                seen.append(dict(obj["metadata"].get("labels") or {}))
