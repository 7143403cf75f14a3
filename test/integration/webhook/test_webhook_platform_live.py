"""Behind a real kube-apiserver: the serverless platform key routes seed 002's Job pod to
the sidecar webhook (the running webhook patches the live configuration's CEL and selector
in and out), the file prefetcher's container is accepted by the API server, and a profile
naming an unknown plugin applies its known plugins and says which one it left out."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import webhook_env as wenv
import yaml
from webhook_env import objs

from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually
from fluid.webhook.plugins import file_prefetcher as fp

pytestmark = pytest.mark.cluster

KEY = "alibabacloud.com/fluid-sidecar-target"
SEED_JOB = Path(__file__).resolve().parents[2] / "data" / "seeds" / "002_serverless-job-juicefs-app.yaml"


def seed_pod(namespace: str, name: str) -> dict[str, Any]:
    """The pod seed 002's Job would create, with the template's labels unchanged."""
    template = yaml.safe_load(SEED_JOB.read_text())["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, **copy.deepcopy(template["metadata"])},
            "spec": copy.deepcopy(template["spec"])}


@contextlib.asynccontextmanager
async def jfsdemo(kube: KubeClient, namespace: str, **kwargs: Any) -> AsyncIterator[wenv.WebhookEnv]:
    await wenv.create_bound_dataset(kube, namespace, "jfsdemo", runtime_type="juicefs")
    try:
        async with wenv.webhook_env(kube, namespace, [namespace], **kwargs) as env:
            assert env.server is not None
            await wenv.wait_cached(env.server, namespace, "jfsdemo", runtime_type="juicefs")
            yield env
    finally:
        await wenv.delete_pvs(kube, namespace, ["jfsdemo"])


async def conditions(kube: KubeClient, name: str) -> dict[str, str]:
    config = await kube.get(resources.MUTATING_WEBHOOKS, name)
    return {w["name"]: w["matchConditions"][0]["expression"] for w in config["webhooks"]}


def injected(pod: dict[str, Any]) -> bool:
    return any(c["name"] == "fluid-fuse-0" for c in pod["spec"].get("initContainers") or ())


async def test_platform_key_routes_the_seed_pod_and_is_patched_in_and_out(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with jfsdemo(kube, namespace, platform_key=KEY) as env:
        assert KEY in (await conditions(kube, env.mutating_name))["sidecar.fuse.fluid.io"]
        stored = await env.mutated(seed_pod(namespace, "juicefs-app"), check=injected)
        volume = stored["spec"]["volumes"][0]
        assert volume["name"] == "demo"
        assert volume["hostPath"]["path"] == objs.fluid_path(namespace, "jfsdemo", "juicefs")
        assert stored["metadata"]["labels"]["done.sidecar.fluid.io/inject"] == "true"
        assert "affinity" not in stored["spec"], "the serverful webhook left it alone"

        # Restarted without the key: the selection goes back and the pod is a serverful pod.
        await env.stop()
        env.config = attrs.evolve(env.config, serverless_platform_key="")
        await env.start()
        assert KEY not in (await conditions(kube, env.mutating_name))["sidecar.fuse.fluid.io"]
        serverful = await env.mutated(seed_pod(namespace, "juicefs-app"),
                                      check=lambda p: not injected(p) and wenv._touched(p))
        assert serverful["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "jfsdemo"}


async def test_file_prefetcher_container_is_accepted_by_the_api_server(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with jfsdemo(kube, namespace) as env:
        pod = objs.pod(namespace, "reader", claims=("jfsdemo",), annotations={
            fp.ANNOTATION_INJECT: "true", fp.ANNOTATION_IMAGE: "fluid/file-prefetcher:v0.1.0",
            fp.ANNOTATION_FILE_LIST: "pvc://jfsdemo/train/*.pkl"})
        stored = await env.mutated(pod, check=lambda p: len(p["spec"]["containers"]) == 2)
        prefetcher = stored["spec"]["containers"][0]
        assert prefetcher["name"] == fp.CONTAINER_NAME
        assert {"name": "FILE_PREFETCHER_FILE_LIST", "value": "/data/data-jfsdemo/train/*.pkl"} in (
            prefetcher["env"])
        assert stored["metadata"]["annotations"][fp.ANNOTATION_INJECT_DONE] == "true"


async def test_unknown_plugin_is_left_out_and_reported_on_the_configmap(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with jfsdemo(kube, namespace) as env:
        await kube.create({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "webhook-plugins", "namespace": namespace},
            "data": {"pluginsProfile": "plugins:\n  serverful:\n"
                                       "    withDataset: [PreferNodesWithMagic, DatasetUsageInjector]\n"},
        })
        pod = objs.pod(namespace, "trainer", claims=("jfsdemo",))
        stored = await env.mutated(pod, check=lambda p: wenv._touched(p) and "affinity" not in p["spec"])
        assert stored["metadata"]["annotations"]["fluid.io/datasets-in-use"] == "jfsdemo"
        found: list[dict[str, Any]] = []

        async def reported() -> bool:
            nonlocal found
            events = (await kube.list(resources.EVENTS, namespace))["items"]
            found = [e for e in events if e.get("reason") == "UnknownWebhookPlugin"]
            return bool(found)

        await eventually(reported, timeout=30, what="an UnknownWebhookPlugin Event")
        event = found[0]
        assert event["type"] == "Warning"
        assert event["involvedObject"]["kind"] == "ConfigMap"
        assert event["involvedObject"]["name"] == "webhook-plugins"
        assert "PreferNodesWithMagic (in plugins.serverful.withDataset)" in event["message"]
