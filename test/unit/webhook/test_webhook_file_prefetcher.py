"""The FilePrefetcher plugin: when it acts, the container it adds, where, and what it refuses."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
import webhook_objects as objs

from fluid.webhook import admission, datasets, mutation
from fluid.webhook.jsonpatch import PatchEditor
from fluid.webhook.plugins import build_plugin
from fluid.webhook.plugins import file_prefetcher as fp
from fluid.webhook.plugins.api import MUTATED, SKIPPED, Denied, PodContext
from fluid.webhook.profile import DEFAULT_PROFILE, parse

NS = "team"
IMAGE = "fluid/file-prefetcher:v0.1.0"


def prefetch_pod(annotations: dict[str, str], claims: tuple[str, ...] = ("imagenet",)) -> dict[str, Any]:
    return objs.pod(NS, "p", claims=claims, annotations={fp.ANNOTATION_INJECT: "true", **annotations})


def world(*names: str) -> list[dict[str, Any]]:
    return [obj for name in names for obj in objs.bound_dataset(NS, name)]


def run(pod: dict[str, Any], *objects: dict[str, Any], image: str = "") -> tuple[PodContext, str]:
    """Run the plugin; check the patch reproduces the edit and a second run adds nothing."""
    plugin = build_plugin(fp.NAME, {"image": image} if image else None)
    caches = objs.caches(*objects)
    ctx = PodContext(namespace=NS, datasets=datasets.resolve(pod, NS, caches),
                     editor=PatchEditor(objs.apply_patch(pod, [])), caches=caches)
    outcome = plugin.mutate(ctx).outcome
    assert objs.apply_patch(pod, ctx.editor.ops) == ctx.pod
    again = PodContext(namespace=NS, datasets=ctx.datasets, editor=PatchEditor(ctx.pod), caches=caches)
    assert plugin.mutate(again).outcome == SKIPPED
    assert again.editor.ops == []
    return ctx, outcome


def container(ctx: PodContext) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in ctx.pod["spec"]["containers"] if c["name"] == fp.CONTAINER_NAME)
    return found


def env(ctx: PodContext) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(ctx)["env"]}


def test_untouched_unless_annotated() -> None:
    pod = objs.pod(NS, "p", claims=("imagenet",))
    ctx, outcome = run(pod, *world("imagenet"), image=IMAGE)
    assert outcome == SKIPPED
    assert ctx.editor.ops == []


def test_default_file_list_reads_every_dataset_pvc_before_the_app_starts() -> None:
    pod = prefetch_pod({}, claims=("imagenet", "coco", "home"))
    ctx, outcome = run(pod, *world("imagenet", "coco"), objs.pvc(NS, "home", dataset_labels=False),
                       image=IMAGE)
    assert outcome == MUTATED
    names = [c["name"] for c in ctx.pod["spec"]["containers"]]
    assert names == [fp.CONTAINER_NAME, "app"]
    sidecar = container(ctx)
    assert sidecar["image"] == IMAGE
    assert env(ctx) == {
        "FILE_PREFETCHER_FILE_LIST": "/data/data-coco/**;/data/data-imagenet/**",
        "FILE_PREFETCHER_ASYNC_PREFETCH": "false",
        "FILE_PREFETCHER_TIMEOUT_SECONDS": "120",
    }
    assert sidecar["volumeMounts"] == [
        {"name": "data-coco", "mountPath": "/data/data-coco", "mountPropagation": "HostToContainer"},
        {"name": "data-imagenet", "mountPath": "/data/data-imagenet",
         "mountPropagation": "HostToContainer"},
        {"name": fp.STATUS_VOLUME, "mountPath": fp.STATUS_MOUNT_PATH},
    ]
    wait = " ".join(sidecar["lifecycle"]["postStart"]["exec"]["command"])
    assert "/tmp/fluid-file-prefetcher/status/prefetcher.status" in wait
    assert "FILE_PREFETCHER_TIMEOUT_SECONDS" in wait
    assert {"name": fp.STATUS_VOLUME, "emptyDir": {}} in ctx.pod["spec"]["volumes"]
    assert ctx.pod["spec"]["containers"][1]["volumeMounts"] == pod["spec"]["containers"][0]["volumeMounts"]
    assert ctx.pod["metadata"]["annotations"][fp.ANNOTATION_INJECT_DONE] == "true"


def test_file_list_globs_timeout_extra_envs_and_async() -> None:
    pod = prefetch_pod({
        fp.ANNOTATION_IMAGE: "mine/prefetch:2",
        fp.ANNOTATION_FILE_LIST: "pvc://imagenet/train/../val/*.pkl;pvc://home/x;s3://b/k;"
                                 "pvc://coco;pvc://imagenet/",
        fp.ANNOTATION_ASYNC: "True",
        fp.ANNOTATION_TIMEOUT: "30",
        fp.ANNOTATION_EXTRA_ENVS: "THREADS=8  MODE=fast",
    }, claims=("imagenet", "coco"))
    ctx, _ = run(pod, *world("imagenet", "coco"), image=IMAGE)
    assert container(ctx)["image"] == "mine/prefetch:2", "the annotation beats the default"
    assert env(ctx) == {
        "FILE_PREFETCHER_FILE_LIST": "/data/data-imagenet/val/*.pkl;/data/data-coco/**;/data/data-imagenet",
        "FILE_PREFETCHER_ASYNC_PREFETCH": "true",
        "FILE_PREFETCHER_TIMEOUT_SECONDS": "30",
        "THREADS": "8",
        "MODE": "fast",
    }
    assert "lifecycle" not in container(ctx), "async: the app does not wait"
    app = next(c for c in ctx.pod["spec"]["containers"] if c["name"] == "app")
    assert {"name": fp.STATUS_VOLUME, "mountPath": fp.STATUS_MOUNT_PATH} in app["volumeMounts"]


def test_goes_right_after_legacy_fuse_sidecars() -> None:
    pod = prefetch_pod({})
    pod["spec"]["containers"][:0] = [{"name": f"fluid-fuse-{i}", "image": "f"} for i in (0, 1)]
    pod["spec"]["containers"].insert(0, {"name": "first", "image": "x"})
    ctx, _ = run(pod, *world("imagenet"), image=IMAGE)
    names = [c["name"] for c in ctx.pod["spec"]["containers"]]
    assert names == ["first", "fluid-fuse-0", "fluid-fuse-1", fp.CONTAINER_NAME, "app"]


def test_nothing_to_read_is_a_skip() -> None:
    pod = prefetch_pod({fp.ANNOTATION_FILE_LIST: "pvc://not-mounted/a;/plain/path"})
    ctx, outcome = run(pod, *world("imagenet"), image=IMAGE)
    assert outcome == SKIPPED
    assert ctx.editor.ops == []


@pytest.mark.parametrize(("annotations", "message"), [
    ({}, "file-prefetcher.fluid.io/image=<image>"),
    ({fp.ANNOTATION_IMAGE: IMAGE, fp.ANNOTATION_ASYNC: "maybe"}, "must be true or false"),
    ({fp.ANNOTATION_IMAGE: IMAGE, fp.ANNOTATION_TIMEOUT: "2m"}, "must be an integer"),
    ({fp.ANNOTATION_IMAGE: IMAGE, fp.ANNOTATION_EXTRA_ENVS: "A=1 B"}, "'B' is not key=value"),
    ({fp.ANNOTATION_IMAGE: IMAGE, fp.ANNOTATION_EXTRA_ENVS: "A=1=2"}, "'A=1=2' is not key=value"),
])
def test_malformed_annotations_refuse_the_pod_saying_what_to_fix(
    annotations: dict[str, str], message: str
) -> None:
    pod = prefetch_pod(annotations)
    caches = objs.caches(*world("imagenet"))
    ctx = PodContext(namespace=NS, datasets=datasets.resolve(pod, NS, caches),
                     editor=PatchEditor(pod), caches=caches)
    with pytest.raises(Denied, match=message.replace("(", r"\(")):
        build_plugin(fp.NAME).mutate(ctx)


def test_args_and_the_operator_default_image() -> None:
    with pytest.raises(ValueError, match="unknown args"):
        build_plugin(fp.NAME, {"imagePrefix": "x"})
    chains = parse(DEFAULT_PROFILE, defaults={fp.NAME: {"image": IMAGE}})
    for serverless in (False, True):
        first = chains.chain(serverless=serverless, with_dataset=True)[0]
        assert isinstance(first, fp.FilePrefetcher)
        assert first.image == IMAGE
    own = parse("plugins: {serverful: {withDataset: [FilePrefetcher]}}\n"
                "pluginConfig: [{name: FilePrefetcher, args: 'image: own/image:1'}]",
                defaults={fp.NAME: {"image": IMAGE}})
    (plugin,) = own.chain(serverless=False, with_dataset=True)
    assert isinstance(plugin, fp.FilePrefetcher)
    assert plugin.image == "own/image:1", "the profile's args beat the operator default"


async def test_serverless_chain_prefetches_through_the_fuse_sidecar() -> None:
    pod = prefetch_pod({fp.ANNOTATION_IMAGE: IMAGE})
    pod["metadata"]["labels"] = {"serverless.fluid.io/inject": "true"}
    handler = mutation.mutating_handler(profile=lambda: parse(DEFAULT_PROFILE),
                                        caches=objs.caches(*world("imagenet")))
    response = (await handler(admission.parse_review(objs.review(pod, namespace=NS))))["response"]
    result = objs.apply_patch(pod, orjson.loads(base64.b64decode(response["patch"])))
    assert [c["name"] for c in result["spec"]["initContainers"]] == ["fluid-fuse-0"]
    assert [c["name"] for c in result["spec"]["containers"]] == [fp.CONTAINER_NAME, "app"]
    volume = next(v for v in result["spec"]["volumes"] if v["name"] == "data-imagenet")
    assert volume == {"name": "data-imagenet", "hostPath": {"path": objs.fluid_path(NS, "imagenet")}}
    mount = result["spec"]["containers"][0]["volumeMounts"][0]
    assert mount == {"name": "data-imagenet", "mountPath": "/data/data-imagenet",
                     "mountPropagation": "HostToContainer"}
