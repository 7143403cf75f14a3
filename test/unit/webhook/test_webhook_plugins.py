"""Each plugin on its own: what it adds, what it leaves alone, and that re-running adds nothing."""

from __future__ import annotations

from typing import Any

import pytest
import webhook_objects as objs

from fluid.api import constants
from fluid.webhook import datasets
from fluid.webhook.jsonpatch import PatchEditor
from fluid.webhook.plugins import PLUGINS, build_plugin
from fluid.webhook.plugins.api import MUTATED, SKIPPED, Denied, PodContext

NS = "team"
CACHE = constants.common_label(NS, "imagenet")
PREFERRED = ("spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
REQUIRED = (
    "spec",
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
)


def context(pod: dict[str, Any], *objects: dict[str, Any]) -> PodContext:
    caches = objs.caches(*objects)
    uses = datasets.resolve(pod, NS, caches)
    return PodContext(namespace=NS, datasets=uses, editor=PatchEditor(pod), caches=caches)


def run_twice(name: str, pod: dict[str, Any], *objects: dict[str, Any], args: Any = None) -> PodContext:
    """Run the plugin, then again on the patched pod: the second run must add nothing."""
    plugin = build_plugin(name, args)
    original = objs.apply_patch(pod, [])
    ctx = context(pod, *objects)
    plugin.mutate(ctx)
    assert objs.apply_patch(original, ctx.editor.ops) == ctx.pod
    again = context(ctx.pod, *objects)
    plugin.mutate(again)
    assert again.editor.ops == [], f"{name} is not idempotent: {again.editor.ops}"
    return ctx


def test_every_registered_plugin_builds_with_defaults() -> None:
    for name in PLUGINS:
        assert build_plugin(name).name == name
    with pytest.raises(ValueError, match="unknown webhook plugin"):
        build_plugin("PreferNodesWithMagic")


def test_prefer_nodes_with_cache() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",))
    ctx = run_twice("PreferNodesWithCache", pod, *objs.bound_dataset(NS, "imagenet"))
    assert ctx.editor.get(PREFERRED) == [
        {
            "weight": 100,
            "preference": {"matchExpressions": [{"key": CACHE, "operator": "In", "values": ["true"]}]},
        }
    ]


def test_prefer_nodes_with_cache_leaves_required_datasets_and_bound_pods() -> None:
    required = objs.pod(
        NS, "p", claims=("imagenet",), labels={"fluid.io/dataset.imagenet.sched": "required"}
    )
    ctx = context(required, *objs.bound_dataset(NS, "imagenet"))
    assert build_plugin("PreferNodesWithCache").mutate(ctx).outcome == SKIPPED
    pinned = objs.pod(NS, "p", claims=("imagenet",))
    pinned["spec"]["nodeName"] = "node-1"
    ctx = context(pinned, *objs.bound_dataset(NS, "imagenet"))
    assert build_plugin("PreferNodesWithCache").mutate(ctx).outcome == SKIPPED
    assert ctx.editor.ops == []


def test_prefer_nodes_with_cache_ignores_pvcs_that_are_not_fluids() -> None:
    pod = objs.pod(NS, "p", claims=("home",))
    ctx = context(pod, objs.pvc(NS, "home", dataset_labels=False))
    assert ctx.datasets == ()
    assert build_plugin("PreferNodesWithCache").mutate(ctx).outcome == SKIPPED


def test_require_node_with_fuse_ands_into_existing_terms() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",))
    pod["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                ]
            }
        }
    }
    ctx = run_twice(
        "RequireNodeWithFuse",
        pod,
        *objs.bound_dataset(NS, "imagenet", fuse_node_selector={"fuse": "ok"}),
    )
    fuse_req = {"key": "fuse", "operator": "In", "values": ["ok"]}
    terms = ctx.editor.get(REQUIRED)
    assert [t["matchExpressions"][-1] for t in terms] == [fuse_req, fuse_req]


def test_require_node_with_fuse_sets_the_only_term_and_skips_without_selector() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",))
    ctx = run_twice(
        "RequireNodeWithFuse",
        pod,
        *objs.bound_dataset(NS, "imagenet", fuse_node_selector={"b": "2", "a": "1"}),
    )
    assert ctx.editor.get(REQUIRED) == [
        {
            "matchExpressions": [
                {"key": "a", "operator": "In", "values": ["1"]},
                {"key": "b", "operator": "In", "values": ["2"]},
            ]
        }
    ]
    plain = context(objs.pod(NS, "q", claims=("imagenet",)), *objs.bound_dataset(NS, "imagenet"))
    assert build_plugin("RequireNodeWithFuse").mutate(plain).outcome == SKIPPED


ZONE_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {
                "matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]}
                ]
            }
        ]
    }
}


def test_node_affinity_with_cache_prefers_zone_and_labels_the_pod() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",))
    ctx = run_twice(
        "NodeAffinityWithCache", pod, *objs.bound_dataset(NS, "imagenet", cache_affinity=ZONE_AFFINITY)
    )
    assert ctx.editor.get(PREFERRED) == [
        {
            "weight": 50,
            "preference": {
                "matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]}
                ]
            },
        }
    ]
    assert ctx.labels["fluid.io/dataset.imagenet.sched"] == "preferred"


def test_node_affinity_with_cache_requires_the_cache_when_the_pod_asks() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",), labels={"fluid.io/dataset.imagenet.sched": "required"})
    ctx = run_twice(
        "NodeAffinityWithCache",
        pod,
        *objs.bound_dataset(NS, "imagenet", cache_affinity=ZONE_AFFINITY),
        args={"required": ["fluid.io/node", "topology.kubernetes.io/zone"]},
    )
    assert ctx.editor.get(REQUIRED) == [
        {
            "matchExpressions": [
                {"key": CACHE, "operator": "In", "values": ["true"]},
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]},
            ]
        }
    ]
    assert ctx.editor.get(PREFERRED) is None
    assert ctx.labels["fluid.io/dataset.imagenet.sched"] == "required"


def test_node_affinity_with_cache_respects_a_zone_the_pod_chose() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",))
    pod["spec"]["nodeSelector"] = {"topology.kubernetes.io/zone": "zone-b"}
    ctx = context(pod, *objs.bound_dataset(NS, "imagenet", cache_affinity=ZONE_AFFINITY))
    build_plugin("NodeAffinityWithCache").mutate(ctx)
    assert ctx.editor.get(PREFERRED) is None


def test_node_affinity_with_cache_rejects_bad_args() -> None:
    with pytest.raises(ValueError, match="weight"):
        build_plugin("NodeAffinityWithCache", {"preferred": [{"name": "x", "weight": 500}]})
    with pytest.raises(ValueError, match="unknown args"):
        build_plugin("NodeAffinityWithCache", {"prefered": []})


def test_mount_propagation_only_on_dataset_mounts_without_one() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet", "other"), init_uses_data=True)
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "scratch", "mountPath": "/tmp"})
    pod["spec"]["volumes"].append({"name": "scratch", "emptyDir": {}})
    ctx = run_twice(
        "MountPropagationInjector",
        pod,
        *objs.bound_dataset(NS, "imagenet"),
        objs.pvc(NS, "other", dataset_labels=False),
    )
    app_mounts = {
        m["name"]: m.get("mountPropagation") for m in ctx.pod["spec"]["containers"][0]["volumeMounts"]
    }
    assert app_mounts == {"data-imagenet": "HostToContainer", "data-other": None, "scratch": None}
    assert (
        ctx.pod["spec"]["initContainers"][0]["volumeMounts"][0]["mountPropagation"] == "HostToContainer"
    )


def test_dataset_usage_merges_with_existing_annotation() -> None:
    pod = objs.pod(
        NS, "p", claims=("imagenet",), annotations={constants.ANNOTATION_DATASETS_IN_USE: "zzz"}
    )
    ctx = run_twice("DatasetUsageInjector", pod, *objs.bound_dataset(NS, "imagenet"))
    assert ctx.annotations[constants.ANNOTATION_DATASETS_IN_USE] == "imagenet,zzz"


def test_prefer_nodes_without_cache_stops_the_chain() -> None:
    ctx = context(objs.pod(NS, "p"))
    decision = build_plugin("PreferNodesWithoutCache").mutate(ctx)
    assert decision.outcome == MUTATED
    assert decision.stop
    assert ctx.editor.get(PREFERRED) == [
        {
            "weight": 100,
            "preference": {
                "matchExpressions": [{"key": "fluid.io/dataset-num", "operator": "DoesNotExist"}]
            },
        }
    ]


def test_reference_dataset_resolves_to_its_source() -> None:
    ref = objs.dataset("apps", "shared", runtime_type="thin", mount="dataset://team/imagenet/train")
    pod = objs.pod("apps", "p", claims=("shared",))
    caches = objs.caches(ref, objs.pvc("apps", "shared"), *objs.bound_dataset(NS, "imagenet"))
    (use,) = datasets.resolve(pod, "apps", caches)
    assert (use.namespace, use.name, use.source_namespace, use.source_name) == (
        "apps",
        "shared",
        NS,
        "imagenet",
    )
    assert use.sub_path == "train"
    assert use.cache_label == CACHE
    assert use.runtime_type == "alluxio"
    assert use.bound


def test_pvc_managed_by_a_thin_dataset_names_that_dataset() -> None:
    pvc = objs.pvc(
        NS, "user-claim", dataset_labels=False, extra_labels={constants.LABEL_MANAGED_BY: "wrapped"}
    )
    caches = objs.caches(pvc, objs.dataset(NS, "wrapped", runtime_type="thin"))
    (use,) = datasets.resolve(objs.pod(NS, "p", claims=("user-claim",)), NS, caches)
    assert use.name == "wrapped"
    assert use.claim == "user-claim"


# -- FuseSidecar -----------------------------------------------------------------------------


def test_fuse_sidecar_native_mode() -> None:
    pod = objs.pod(
        NS, "p", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"}, init_uses_data=True
    )
    ctx = run_twice("FuseSidecar", pod, *objs.bound_dataset(NS, "imagenet"))
    spec = ctx.pod["spec"]
    sidecar = spec["initContainers"][0]
    path = objs.fluid_path(NS, "imagenet")
    assert sidecar["name"] == "fluid-fuse-0"
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["startupProbe"]["exec"]["command"] == [
        "sh",
        "-c",
        f"grep -q ' {path} fuse' /proc/mounts",
    ]
    assert "readinessProbe" not in sidecar
    assert [p["name"] for p in sidecar["ports"]] == ["fuse-rpc"]
    assert {"name": "FLUID_FUSE_MOUNTPOINT", "value": path} in sidecar["env"]
    assert [m["name"] for m in sidecar["volumeMounts"]] == ["fuse-device-0", "fuse-mount-0"]
    assert sidecar["lifecycle"]["preStop"]["exec"]["command"] == ["fusermount", "-u", path]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["data-imagenet"] == {"name": "data-imagenet", "hostPath": {"path": path}}
    assert volumes["fuse-mount-0"]["hostPath"]["path"] == f"/runtime-mnt/alluxio/{NS}/imagenet"
    assert "cache-dir-mem-0" not in volumes
    assert spec["initContainers"][1]["name"] == "prepare"
    assert spec["initContainers"][1]["volumeMounts"][0]["mountPropagation"] == "HostToContainer"
    assert spec["containers"][0]["volumeMounts"][0]["mountPropagation"] == "HostToContainer"
    assert ctx.labels["done.sidecar.fluid.io/inject"] == "true"
    assert ctx.labels["dataset-name.sidecar.fluid.io/fluid-fuse-0"] == "imagenet"


def test_fuse_sidecar_legacy_mode_two_datasets_and_cache_dirs() -> None:
    pod = objs.pod(
        NS,
        "p",
        claims=("b-set", "a-set"),
        labels={"serverless.fluid.io/inject": "true", "cachedir.sidecar.fluid.io/inject": "true"},
    )
    ctx = run_twice(
        "FuseSidecar",
        pod,
        *objs.bound_dataset(NS, "a-set"),
        *objs.bound_dataset(NS, "b-set"),
        args={"mode": "legacy", "mountTimeoutSeconds": 30},
    )
    containers = ctx.pod["spec"]["containers"]
    assert [c["name"] for c in containers] == ["fluid-fuse-0", "fluid-fuse-1", "app"]
    assert "restartPolicy" not in containers[0]
    post_start = containers[0]["lifecycle"]["postStart"]["exec"]["command"][2]
    assert objs.fluid_path(NS, "a-set") in post_start
    assert "-lt 30" in post_start
    assert containers[1]["env"][-1]["value"] == objs.fluid_path(NS, "b-set")
    names = {v["name"] for v in ctx.pod["spec"]["volumes"]}
    assert {"cache-dir-mem-0", "cache-dir-mem-1", "fuse-mount-0", "fuse-mount-1"} <= names


def test_fuse_sidecar_for_a_reference_uses_the_copy_and_the_sub_path() -> None:
    ref = objs.dataset("apps", "shared", runtime_type="thin", mount="dataset://team/imagenet/train")
    copy = objs.fuse_daemonset(NS, "imagenet")
    copy["metadata"] = {"name": "shared-fuse", "namespace": "apps"}
    ref_pv = objs.pv("apps", "shared", path=objs.fluid_path(NS, "imagenet"), sub_path="train")
    pod = objs.pod("apps", "p", claims=("shared",), labels={"serverless.fluid.io/inject": "true"})
    caches = objs.caches(
        ref, objs.pvc("apps", "shared"), ref_pv, copy, *objs.bound_dataset(NS, "imagenet")
    )
    ctx = PodContext(
        namespace="apps",
        datasets=datasets.resolve(pod, "apps", caches),
        editor=PatchEditor(pod),
        caches=caches,
    )
    build_plugin("FuseSidecar").mutate(ctx)
    volume = next(v for v in ctx.pod["spec"]["volumes"] if v["name"] == "data-shared")
    assert volume["hostPath"]["path"] == objs.fluid_path(NS, "imagenet") + "/train"
    env = ctx.pod["spec"]["initContainers"][0]["env"]
    assert {"name": "FLUID_FUSE_MOUNTPOINT", "value": objs.fluid_path(NS, "imagenet")} in env


def test_fuse_sidecar_denies_with_what_to_do() -> None:
    unbound = [
        objs.dataset(NS, "imagenet", phase="NotBound", runtime_type=None),
        objs.pvc(NS, "imagenet"),
    ]
    pod = objs.pod(NS, "p", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"})
    with pytest.raises(Denied, match=r"is NotBound.*skip-precheck"):
        build_plugin("FuseSidecar").mutate(context(pod, *unbound))
    no_daemonset = [o for o in objs.bound_dataset(NS, "imagenet") if o["kind"] != "DaemonSet"]
    with pytest.raises(Denied, match="no FUSE DaemonSet"):
        build_plugin("FuseSidecar").mutate(
            context(objs.pod(NS, "p", claims=("imagenet",)), *no_daemonset)
        )
    no_pv = [o for o in objs.bound_dataset(NS, "imagenet") if o["kind"] != "PersistentVolume"]
    with pytest.raises(Denied, match="no PersistentVolume"):
        build_plugin("FuseSidecar").mutate(context(objs.pod(NS, "p", claims=("imagenet",)), *no_pv))


def test_fuse_sidecar_rejects_bad_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        build_plugin("FuseSidecar", {"mode": "sidecar"})


def test_fuse_sidecar_render_is_reused_per_daemonset_version_and_never_shared() -> None:
    """Serverless pods of one dataset reuse one render; a new DaemonSet version re-renders."""
    objects = objs.bound_dataset(NS, "imagenet")
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    daemonset["metadata"].update(uid="ds-uid", resourceVersion="1")

    def serverless_pod(name: str) -> dict[str, Any]:
        return objs.pod(NS, name, claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"})

    first = context(serverless_pod("a"), *objects)
    second = context(serverless_pod("b"), *objects)
    plugin = build_plugin("FuseSidecar", None)
    plugin.mutate(first)
    plugin.mutate(second)
    sidecar_a, sidecar_b = first.pod["spec"]["initContainers"][0], second.pod["spec"]["initContainers"][0]
    assert sidecar_a == sidecar_b
    assert sidecar_a is not sidecar_b
    sidecar_a["env"].append({"name": "EDITED", "value": "only in pod a"})
    assert {"name": "EDITED", "value": "only in pod a"} not in sidecar_b["env"]

    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "fluid/fuse:v2"
    daemonset["metadata"]["resourceVersion"] = "2"
    third = context(serverless_pod("c"), *objects)
    plugin.mutate(third)
    assert third.pod["spec"]["initContainers"][0]["image"] == "fluid/fuse:v2"

    clash = serverless_pod("d")
    clash["spec"]["volumes"].append({"name": "fuse-device-0", "emptyDir": {}})
    fourth = context(clash, *objects)
    plugin.mutate(fourth)
    mounts = [m["name"] for m in fourth.pod["spec"]["initContainers"][0]["volumeMounts"]]
    assert mounts == ["fluid-fuse-device-0", "fuse-mount-0"]


def jindo_dataset() -> list[dict[str, Any]]:
    """A Bound dataset on a JindoRuntime, whose FUSE DaemonSet is ``<name>-jindofs-fuse``."""
    objects = objs.bound_dataset(NS, "imagenet", runtime_type="jindo")
    next(o for o in objects if o["kind"] == "DaemonSet")["metadata"]["name"] = "imagenet-jindofs-fuse"
    return objects


@pytest.mark.parametrize(("target", "scraped"), [
    (None, False), ("MountPod", False), ("Sidecar", True), ("MountPod,Sidecar", True),
    ("All", True), ("None", False),
])
def test_fuse_sidecar_metrics_follow_the_runtimes_scrape_target(target: str | None, scraped: bool) -> None:
    """``fuse.metrics.scrapeTarget`` selecting Sidecar keeps the sidecar's metrics port and
    annotates the pod ``prometheus.fuse.fluid.io/scrape: "true"``; otherwise the port goes."""
    objects = jindo_dataset()
    runtime_obj = next(o for o in objects if o["kind"] == "JindoRuntime")
    if target is not None:
        runtime_obj["spec"]["fuse"] = {"metrics": {"enabled": True, "scrapeTarget": target}}
    pod = objs.pod(NS, "p", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"})
    ctx = run_twice("FuseSidecar", pod, *objects)
    ports = [p["name"] for p in ctx.pod["spec"]["initContainers"][0].get("ports") or ()]
    assert ("fuse-metrics" in ports) is scraped
    assert "fuse-rpc" in ports
    annotations = ctx.pod["metadata"].get("annotations") or {}
    assert (annotations.get("prometheus.fuse.fluid.io/scrape") == "true") is scraped


def test_fuse_sidecar_keeps_a_scrape_annotation_the_user_set() -> None:
    objects = jindo_dataset()
    runtime_obj = next(o for o in objects if o["kind"] == "JindoRuntime")
    runtime_obj["spec"]["fuse"] = {"metrics": {"scrapeTarget": "Sidecar"}}
    pod = objs.pod(NS, "p", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"})
    pod["metadata"]["annotations"] = {"prometheus.fuse.fluid.io/scrape": "false"}
    ctx = run_twice("FuseSidecar", pod, *objects)
    assert ctx.pod["metadata"]["annotations"]["prometheus.fuse.fluid.io/scrape"] == "false"
