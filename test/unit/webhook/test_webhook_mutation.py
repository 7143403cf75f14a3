"""The mutation handler: chain choice, skips, denials, warnings, metrics and re-invocation."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
import structlog
import webhook_objects as objs
from prometheus_client import REGISTRY

from fluid.webhook import admission, mutation, profile

NS = "team"
DEFAULT = profile.parse(profile.DEFAULT_PROFILE)


async def admit(
    pod: dict[str, Any], *objects: dict[str, Any], prof: profile.Profile = DEFAULT, namespace: str = NS
) -> dict[str, Any]:
    handler = mutation.mutating_handler(profile=lambda: prof, caches=objs.caches(*objects))
    review = await handler(admission.parse_review(objs.review(pod, namespace=namespace)))
    response: dict[str, Any] = review["response"]
    return response


def ops_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    if "patch" not in response:
        return []
    assert response["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = orjson.loads(base64.b64decode(response["patch"]))
    return ops


def counted(plugin: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "fluid_webhook_admission_total",
        {"path": mutation.MUTATE_PATH, "plugin": plugin, "outcome": outcome},
    )
    return value or 0.0


async def test_pod_without_dataset_is_allowed_untouched() -> None:
    response = await admit(objs.pod(NS, "plain"))
    assert response == {"uid": "uid-1", "allowed": True}
    other_pvc = await admit(
        objs.pod(NS, "p", claims=("home",)), objs.pvc(NS, "home", dataset_labels=False)
    )
    assert other_pvc == {"uid": "uid-1", "allowed": True}


async def test_serverful_chain_on_a_dataset_pod() -> None:
    before = counted("PreferNodesWithCache", "mutated")
    pod = objs.pod(NS, "app", claims=("imagenet",))
    response = await admit(pod, *objs.bound_dataset(NS, "imagenet"))
    patched = objs.apply_patch(pod, ops_of(response))
    preferred = patched["spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert {"key": "fluid.io/s-team-imagenet", "operator": "In", "values": ["true"]} in [
        t["preference"]["matchExpressions"][0] for t in preferred
    ]
    assert patched["metadata"]["labels"]["fluid.io/dataset.imagenet.sched"] == "preferred"
    assert patched["metadata"]["annotations"]["fluid.io/datasets-in-use"] == "imagenet"
    assert patched["spec"]["containers"][0]["volumeMounts"][0]["mountPropagation"] == "HostToContainer"
    assert counted("PreferNodesWithCache", "mutated") == before + 1
    again = await admit(patched, *objs.bound_dataset(NS, "imagenet"))
    assert ops_of(again) == [], "a re-invoked webhook must not add anything"


async def test_not_bound_dataset_is_allowed_with_a_warning() -> None:
    pod = objs.pod(NS, "app", claims=("imagenet",))
    response = await admit(
        pod, objs.dataset(NS, "imagenet", phase="NotBound", runtime_type=None), objs.pvc(NS, "imagenet")
    )
    assert response["allowed"]
    assert "team/imagenet is NotBound" in response["warnings"][0]


async def test_serverless_pod_gets_the_sidecar_and_is_then_skipped() -> None:
    pod = objs.pod(NS, "job", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"})
    response = await admit(pod, *objs.bound_dataset(NS, "imagenet"))
    patched = objs.apply_patch(pod, ops_of(response))
    assert patched["spec"]["initContainers"][0]["name"] == "fluid-fuse-0"
    assert "affinity" not in patched["spec"], "the serverless chain does not schedule"
    assert ops_of(await admit(patched, *objs.bound_dataset(NS, "imagenet"))) == []


async def test_serverless_denial_names_the_dataset() -> None:
    pod = objs.pod(NS, "job", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"})
    response = await admit(pod, objs.dataset(NS, "imagenet", phase="NotBound"), objs.pvc(NS, "imagenet"))
    assert not response["allowed"]
    assert response["status"]["code"] == 403
    assert "team/imagenet is NotBound" in response["status"]["message"]


async def test_without_dataset_chain_needs_the_serverful_label() -> None:
    assert ops_of(await admit(objs.pod(NS, "p"))) == []
    opted = objs.pod(NS, "p", labels={"fuse.serverful.fluid.io/inject": "true"})
    patched = objs.apply_patch(opted, ops_of(await admit(opted)))
    term = patched["spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ][0]
    assert term["preference"]["matchExpressions"][0]["operator"] == "DoesNotExist"


@pytest.mark.parametrize(
    "labels", [{"fluid.io/enable-injection": "false"}, {"done.sidecar.fluid.io/inject": "true"}]
)
async def test_opted_out_and_already_injected_pods_are_skipped(labels: dict[str, str]) -> None:
    pod = objs.pod(NS, "app", claims=("imagenet",), labels=labels)
    assert ops_of(await admit(pod, *objs.bound_dataset(NS, "imagenet"))) == []


async def test_namespace_mismatch_is_refused() -> None:
    pod = objs.pod("elsewhere", "app", claims=("imagenet",))
    response = await admit(pod, *objs.bound_dataset(NS, "imagenet"))
    assert not response["allowed"]
    assert response["status"]["code"] == 400


async def test_update_and_other_kinds_pass_through() -> None:
    handler = mutation.mutating_handler(profile=lambda: DEFAULT, caches=objs.caches())
    pod = objs.pod(NS, "app", claims=("imagenet",))
    update = await handler(admission.parse_review(objs.review(pod, namespace=NS, operation="UPDATE")))
    assert update["response"] == {"uid": "uid-1", "allowed": True}


async def test_a_plugin_crash_fails_open_for_serverful_pods() -> None:
    class Broken:
        name = "Broken"

        def mutate(self, ctx: object) -> object:
            raise KeyError("boom")

    broken = profile.Profile(serverful_with_dataset=(Broken(),), serverless_with_dataset=(Broken(),))
    pod = objs.pod(NS, "app", claims=("imagenet",))
    response = await admit(pod, *objs.bound_dataset(NS, "imagenet"), prof=broken)
    assert response["allowed"]
    assert "patch" not in response
    assert "internal error" in response["warnings"][0]
    pod["metadata"]["labels"] = {"serverless.fluid.io/inject": "true"}
    refused = await admit(pod, *objs.bound_dataset(NS, "imagenet"), prof=broken)
    assert not refused["allowed"]
    assert refused["status"]["code"] == 500


def test_profile_skips_unknown_plugins_and_reads_args() -> None:
    partial = profile.parse(
        "plugins: {serverful: {withDataset: [Nope, DatasetUsageInjector]},"
        " serverless: {withoutDataset: [Later]}}"
    )
    assert [p.name for p in partial.chain(serverless=False, with_dataset=True)] == ["DatasetUsageInjector"]
    assert partial.unknown == (
        ("plugins.serverful.withDataset", "Nope"),
        ("plugins.serverless.withoutDataset", "Later"),
    )
    with pytest.raises(profile.ProfileError, match="FuseSidecar: mode must be"):
        profile.parse("plugins: {serverless: {withDataset: [FuseSidecar]}}\n"
                      "pluginConfig: [{name: FuseSidecar, args: 'mode: magic'}]")
    with pytest.raises(profile.ProfileError, match="plugins must be a mapping"):
        profile.parse("plugins: [FuseSidecar]")
    with pytest.raises(profile.ProfileError, match=r"plugins\.serverless must be a mapping"):
        profile.parse("plugins: {serverless: [FuseSidecar]}")
    with pytest.raises(profile.ProfileError, match="not YAML"):
        profile.parse("plugins: [")
    custom = profile.parse("""
plugins:
  serverless: {withDataset: [FuseSidecar]}
pluginConfig:
- name: FuseSidecar
  args: "mode: legacy"
""")
    (sidecar,) = custom.chain(serverless=True, with_dataset=True)
    assert sidecar.mode == "legacy"
    assert custom.chain(serverless=False, with_dataset=True) == ()


def test_profile_watch_keeps_the_last_good_profile() -> None:
    from fluid.webhook.setup import _ProfileWatch

    def names(watch: _ProfileWatch) -> list[str]:
        return [p.name for p in watch().chain(serverless=False, with_dataset=True)]

    def configmap(text: str, name: str = "webhook-plugins") -> dict[str, Any]:
        return {"metadata": {"name": name}, "data": {"pluginsProfile": text}}

    watch = _ProfileWatch("webhook-plugins")
    default = names(watch)
    assert default[:2] == ["FilePrefetcher", "RequireNodeWithFuse"]
    good = configmap("plugins: {serverful: {withDataset: [DatasetUsageInjector]}}")
    watch.on_add(good)
    assert names(watch) == ["DatasetUsageInjector"]
    bad_args = configmap("plugins: {serverful: {withDataset: [DatasetUsageInjector]}}\n"
                         "pluginConfig: [{name: DatasetUsageInjector, args: 'x: 1'}]")
    watch.on_update(good, bad_args)
    assert names(watch) == ["DatasetUsageInjector"], "an invalid profile keeps the last good one"
    with structlog.testing.capture_logs() as logs:
        watch.on_update(good, configmap(
            "plugins: {serverful: {withDataset: [Nope, MountPropagationInjector]}}"))
    assert names(watch) == ["MountPropagationInjector"], "the known plugins of the profile apply"
    assert {"event": "webhook_profile_plugin_unknown", "plugin": "Nope",
            "chain": "plugins.serverful.withDataset"}.items() <= next(
        e for e in logs if e["event"] == "webhook_profile_plugin_unknown").items()
    watch.on_update(good, configmap("plugins: {}", name="someone-else"))
    assert names(watch) == ["MountPropagationInjector"]
    watch.on_delete(good)
    assert names(watch) == default
