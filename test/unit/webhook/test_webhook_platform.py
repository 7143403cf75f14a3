"""The serverless platform label key (upstream's ``KEY_SERVERLESS_PLATFORM``): which pods it
sends to the sidecar chain, the webhook configuration it generates, the live configuration
it keeps in step, and the controller-manager flag that sets it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
import webhook_objects as objs
import yaml

from fluid.api import pod_labels
from fluid.cli import controller_manager
from fluid.webhook import admission, configuration, mutation, profile

NS = "team"
KEY = "alibabacloud.com/fluid-sidecar-target"
SEED_JOB = Path(__file__).resolve().parents[2] / "data" / "seeds" / "002_serverless-job-juicefs-app.yaml"
DEFAULT = profile.parse(profile.DEFAULT_PROFILE)


def seed_pod() -> dict[str, Any]:
    """The pod seed 002's Job creates: its template, as the Job controller would send it."""
    job = yaml.safe_load(SEED_JOB.read_text())
    template = job["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "juicefs-app-", "namespace": NS, **template["metadata"]},
            "spec": template["spec"]}


def jfsdemo() -> list[dict[str, Any]]:
    """Seed 002's dataset jfsdemo, Bound to its JuiceFSRuntime, as the webhook's caches hold it."""
    return objs.bound_dataset(NS, "jfsdemo", runtime_type="juicefs")


async def admit(pod: dict[str, Any], *, platform_key: str) -> dict[str, Any]:
    handler = mutation.mutating_handler(profile=lambda: DEFAULT, caches=objs.caches(*jfsdemo()),
                                        platform_key=platform_key)
    review = await handler(admission.parse_review(objs.review(pod, namespace=NS)))
    response: dict[str, Any] = review["response"]
    return response


def patched(pod: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    ops = orjson.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    return objs.apply_patch(pod, ops)


def test_the_key_asks_for_the_sidecar_whatever_its_value() -> None:
    for value in ("eci", "acs", "", "default"):
        assert pod_labels.serverless_requested({KEY: value}, KEY)
    assert not pod_labels.serverless_requested({KEY: "eci"}, "")
    assert not pod_labels.serverless_requested({"alibabacloud.com/eci": "true"}, KEY)
    assert pod_labels.serverless_requested({"serverless.fluid.io/inject": "true"}, KEY)
    assert pod_labels.serverless_requested({"fuse.sidecar.fluid.io/inject": "true"})


def test_only_label_keys_are_accepted() -> None:
    for good in (KEY, "platform", "a.b/c_d-e.f"):
        assert pod_labels.label_key_error(good) is None
    for bad in ("x' || true || '", "", "a/", "/name", "Upper.Case/name", "a/" + "n" * 64, "-x"):
        assert pod_labels.label_key_error(bad) is not None, bad
    with pytest.raises(ValueError, match="not a label key"):
        configuration.mutating_configuration(platform_key="k' in object.metadata.labels || '")


async def test_seed002_job_pod_gets_the_sidecar_with_the_platform_key() -> None:
    pod = seed_pod()
    response = await admit(pod, platform_key=KEY)
    assert response["allowed"]
    result = patched(pod, response)
    sidecar = result["spec"]["initContainers"][0]
    assert sidecar["name"] == "fluid-fuse-0"
    assert sidecar["image"] == "fluid/fuse:test"
    assert result["spec"]["volumes"][0] == {
        "name": "demo", "hostPath": {"path": objs.fluid_path(NS, "jfsdemo", "juicefs")}}
    assert result["metadata"]["labels"]["done.sidecar.fluid.io/inject"] == "true"
    assert result["metadata"]["labels"][KEY] == "eci", "the user's labels stay"
    assert "affinity" not in result["spec"], "the serverless chain, not the serverful one"


async def test_without_the_key_configured_the_seed_pod_is_a_serverful_pod() -> None:
    pod = seed_pod()
    result = patched(pod, await admit(pod, platform_key=""))
    assert "initContainers" not in result["spec"]
    assert result["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "jfsdemo"}
    assert result["spec"]["affinity"]["nodeAffinity"], "cache affinity instead"


async def test_the_key_and_the_serverless_label_together_are_refused() -> None:
    pod = seed_pod()
    pod["metadata"]["labels"]["serverless.fluid.io/inject"] = "true"
    response = await admit(pod, platform_key=KEY)
    assert not response["allowed"]
    assert response["status"]["code"] == 403
    assert KEY in response["status"]["message"]
    assert "serverless.fluid.io/inject" in response["status"]["message"]


def _webhooks(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["name"]: w for w in config["webhooks"]}


def test_the_key_routes_pods_to_the_serverless_webhook_only() -> None:
    plain = _webhooks(configuration.mutating_configuration())
    keyed = _webhooks(configuration.mutating_configuration(platform_key=KEY))
    assert {"key": KEY, "operator": "DoesNotExist"} in (
        keyed["schedulepod.fluid.io"]["objectSelector"]["matchExpressions"])
    condition = keyed["sidecar.fuse.fluid.io"]["matchConditions"][0]["expression"]
    assert f"'{KEY}' in object.metadata.labels" in condition
    assert plain["sidecar.fuse.fluid.io"]["matchConditions"][0]["expression"] in condition
    assert KEY not in orjson.dumps(plain).decode()
    for name in plain:  # nothing else differs
        for field in set(plain[name]) - {"objectSelector", "matchConditions"}:
            assert plain[name][field] == keyed[name][field]


def test_selection_ops_bring_a_live_configuration_in_step_and_back() -> None:
    live = configuration.mutating_configuration(url="https://127.0.0.1:9443", ca_bundle="Q0E=")
    live["metadata"]["resourceVersion"] = "7"
    ops = configuration.selection_ops(live, platform_key=KEY)
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    keyed = objs.apply_patch(live, ops)
    wanted = _webhooks(configuration.mutating_configuration(platform_key=KEY))
    for name, webhook in _webhooks(keyed).items():
        assert webhook["objectSelector"] == wanted[name]["objectSelector"]
        assert webhook["matchConditions"] == wanted[name]["matchConditions"]
        assert webhook["clientConfig"] == {"url": "https://127.0.0.1:9443" + mutation.MUTATE_PATH,
                                           "caBundle": "Q0E="}
    assert configuration.selection_ops(keyed, platform_key=KEY) == []
    back = objs.apply_patch(keyed, configuration.selection_ops(keyed, platform_key=""))
    assert back == live


def test_selection_ops_leave_other_webhooks_alone() -> None:
    live = {"metadata": {"resourceVersion": "1"},
            "webhooks": [{"name": "someone.else.io", "objectSelector": {}, "matchConditions": []}]}
    assert configuration.selection_ops(live, platform_key=KEY) == []


def test_controller_manager_reads_the_key_from_env_or_flag() -> None:
    from_env = controller_manager.parse_args([], environ={"KEY_SERVERLESS_PLATFORM": KEY})
    assert from_env.serverless_platform_key == KEY
    assert controller_manager.parse_args([], environ={}).serverless_platform_key == ""
    flag = controller_manager.parse_args(["--serverless-platform-key", "platform"],
                                         environ={"KEY_SERVERLESS_PLATFORM": KEY})
    assert flag.serverless_platform_key == "platform"
    image = controller_manager.parse_args([], environ={"FILE_PREFETCHER_IMAGE": "fluid/prefetch:v1"})
    assert image.file_prefetcher_image == "fluid/prefetch:v1"
    with pytest.raises(SystemExit):
        controller_manager.parse_args(["--serverless-platform-key", "bad key"], environ={})
