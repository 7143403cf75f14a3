"""The webhook behind a real kube-apiserver: mutation, scoping, failure policies, certificates."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import webhook_env as wenv
from cryptography import x509
from webhook_env import objs

from fluid.kube import KubeClient, errors, resources
from fluid.testing.wait import eventually
from fluid.webhook import certs

pytestmark = pytest.mark.cluster

PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def preferred_keys(pod: dict[str, Any]) -> list[str]:
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(PREFERRED)) or []
    return [t["preference"]["matchExpressions"][0]["key"] for t in terms]


async def secret_bundle(
    kube: KubeClient, namespace: str, name: str = "fluid-webhook-certs"
) -> certs.Bundle:
    bundle = certs.Bundle.from_secret(await kube.get(resources.SECRETS, name, namespace))
    assert bundle is not None
    return bundle


@contextlib.asynccontextmanager
async def dataset_env(kube: KubeClient, namespace: str, **kwargs: Any) -> AsyncIterator[wenv.WebhookEnv]:
    await wenv.create_bound_dataset(kube, namespace, "imagenet")
    try:
        async with wenv.webhook_env(kube, namespace, [namespace], **kwargs) as env:
            assert env.server is not None
            await wenv.wait_cached(env.server, namespace, "imagenet")
            yield env
    finally:
        await wenv.delete_pvs(kube, namespace, ["imagenet"])


async def test_dataset_pod_is_mutated_through_the_api_server(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as env:
        pod = objs.pod(namespace, "trainer", claims=("imagenet",))
        stored = await env.mutated(pod)
        assert f"fluid.io/s-{namespace}-imagenet" in preferred_keys(stored)
        assert stored["metadata"]["labels"]["fluid.io/dataset.imagenet.sched"] == "preferred"
        assert (
            stored["spec"]["containers"][0]["volumeMounts"][0]["mountPropagation"] == "HostToContainer"
        )
        created = await kube.create(pod)
        assert created["metadata"]["annotations"]["fluid.io/datasets-in-use"] == "imagenet"

        bundle = await secret_bundle(kube, namespace)
        expected = base64.b64encode(bundle.ca_bundle).decode()
        assert await env.ca_bundle(resources.MUTATING_WEBHOOKS, env.mutating_name) == expected
        assert await env.ca_bundle(resources.VALIDATING_WEBHOOKS, env.validating_name) == expected


async def test_serverless_pod_gets_the_fuse_sidecar(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as env:
        pod = objs.pod(
            namespace, "job", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"}
        )
        created = await env.mutated(pod, check=lambda p: p["spec"].get("initContainers"))
        sidecar = created["spec"]["initContainers"][0]
        assert sidecar["name"] == "fluid-fuse-0"
        assert sidecar["restartPolicy"] == "Always"
        data = next(v for v in created["spec"]["volumes"] if v["name"] == "data-imagenet")
        assert data["hostPath"]["path"] == objs.fluid_path(namespace, "imagenet")
        assert created["metadata"]["labels"]["done.sidecar.fluid.io/inject"] == "true"


async def test_unbound_dataset_refuses_serverless_pods_with_a_reason(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as env:
        await kube.patch_status(
            resources.resource_of(objs.dataset(namespace, "imagenet")),
            "imagenet",
            namespace,
            {"phase": "NotBound"},
        )
        assert env.server is not None
        server = env.server
        await eventually(
            lambda: (
                (server.caches.datasets.get(f"{namespace}/imagenet") or {})
                .get("status", {})
                .get("phase")
                == "NotBound"
            ),
            what="NotBound cached",
        )
        pod = objs.pod(
            namespace, "job", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"}
        )

        async def refused() -> bool:
            try:
                await kube.create(pod, dry_run=True)
            except errors.ApiError as exc:
                return "is NotBound" in exc.message
            return False

        await eventually(refused, timeout=30, interval=0.2, what="serverless pod refused")


async def timed_create(
    kube: KubeClient, pod: dict[str, Any]
) -> tuple[float, dict[str, Any] | Exception]:
    started = time.monotonic()
    try:
        result: dict[str, Any] | Exception = await kube.create(pod)
    except errors.ApiError as exc:
        result = exc
    return time.monotonic() - started, result


async def test_with_the_webhook_stopped_plain_pods_are_created(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as env:
        await env.mutated(objs.pod(namespace, "probe", claims=("imagenet",)))  # the API server uses it
        await env.stop()
        _, plain = await timed_create(kube, objs.pod(namespace, "plain"))
        assert isinstance(plain, dict)
        assert "affinity" not in plain["spec"]
        _, with_pvc = await timed_create(kube, objs.pod(namespace, "with-pvc", claims=("imagenet",)))
        assert isinstance(with_pvc, dict), "failurePolicy Ignore admits dataset pods unmutated"
        assert "affinity" not in with_pvc["spec"]
        _, serverless = await timed_create(
            kube,
            objs.pod(
                namespace, "sidecar", claims=("imagenet",), labels={"serverless.fluid.io/inject": "true"}
            ),
        )
        assert isinstance(serverless, errors.ApiError), "serverless pods need the sidecar: Fail"


async def _black_hole(port: int) -> asyncio.Server:
    """Accepts TCP connections on the webhook's port and never answers (a hung webhook)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    return await asyncio.start_server(hold, "127.0.0.1", port)


async def test_a_hung_webhook_never_delays_pods_without_pvcs(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as env:
        await env.mutated(objs.pod(namespace, "probe", claims=("imagenet",)))
        await env.stop()
        hole = await _black_hole(env.port)
        try:
            seconds, plain = await timed_create(kube, objs.pod(namespace, "plain"))
            assert isinstance(plain, dict)
            assert seconds < 2.0, f"a pod without PVC waited {seconds:.1f}s on a hung webhook"
            seconds, with_pvc = await timed_create(
                kube, objs.pod(namespace, "with-pvc", claims=("imagenet",))
            )
            assert isinstance(with_pvc, dict), "Ignore: admitted after the timeout"
            assert seconds >= 4.0, (
                f"a PVC pod should have waited for the 5 s timeout, took {seconds:.1f}s"
            )
        finally:
            hole.close()


async def test_malformed_review_gets_a_400_over_tls(
    kube: KubeClient, namespace: str, fluid_crds: list[str], tmp_path: Any
) -> None:
    async with dataset_env(kube, namespace) as env:
        bundle = await secret_bundle(kube, namespace)
        (tmp_path / "ca.pem").write_bytes(bundle.ca_bundle)
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        path = env.url + "/mutate-fluid-io-v1alpha1-schedulepod"
        async with aiohttp.ClientSession() as http:
            for body in (
                b"{not json",
                b"[]",
                orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
            ):
                async with http.post(path, data=body, ssl=context) as resp:
                    assert resp.status == 400, body
            review = objs.review(objs.pod(namespace, "x", claims=("imagenet",)), namespace=namespace)
            async with http.post(path, data=review, ssl=context) as resp:
                assert resp.status == 200
                assert (await resp.json())["response"]["allowed"] is True


async def test_plugin_profile_configmap_is_reloaded(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as env:
        pod = objs.pod(namespace, "trainer", claims=("imagenet",))
        assert preferred_keys(await env.mutated(pod))
        await kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "webhook-plugins", "namespace": namespace},
                "data": {
                    "pluginsProfile": "plugins:\n  serverful:\n    withDataset: [DatasetUsageInjector]\n"
                },
            }
        )
        stored = await env.mutated(pod, check=lambda p: _touched_without_affinity(p))
        assert preferred_keys(stored) == []


def _touched_without_affinity(pod: dict[str, Any]) -> bool:
    return wenv._touched(pod) and not preferred_keys(pod)


async def test_expiring_certificate_is_rotated_at_start_and_reloaded_when_changed(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    names = certs.serving_names("fluid-pod-admission-webhook", namespace)
    expiring = certs.issue(names=names, leaf_validity=certs.ROTATE_BEFORE - datetime.timedelta(days=1))
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "fluid-webhook-certs", "namespace": namespace},
            "data": expiring.secret_data(),
        }
    )
    async with dataset_env(kube, namespace, check_interval=0.3) as env:
        rotated = await secret_bundle(kube, namespace)
        assert rotated.cert != expiring.cert
        assert rotated.ca_cert == expiring.ca_cert, "a leaf rotation keeps the CA"
        assert await served_cert(env.port) == rotated.leaf()

        replacement = certs.issue(names=names)  # a new CA, as after a manual reset
        secret = await kube.get(resources.SECRETS, "fluid-webhook-certs", namespace)
        secret["data"] = replacement.secret_data()
        await kube.replace(secret)

        async def reloaded() -> bool:
            return await served_cert(env.port) == replacement.leaf()

        await eventually(reloaded, timeout=20, what="the new certificate served")
        expected = base64.b64encode(replacement.ca_bundle).decode()

        async def patched() -> bool:
            return await env.ca_bundle(resources.MUTATING_WEBHOOKS, env.mutating_name) == expected

        await eventually(patched, timeout=20, what="caBundle patched with the new CA")
        await env.mutated(objs.pod(namespace, "after-rotation", claims=("imagenet",)))


async def served_cert(port: int) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()
    return x509.load_der_x509_certificate(der)


async def test_replicas_racing_on_an_empty_secret_agree(kube: KubeClient, namespace: str) -> None:
    keepers = [
        certs.CertKeeper(
            client=kube,
            namespace=namespace,
            secret_name="race",
            names=certs.serving_names("svc", namespace),
        )
        for _ in range(4)
    ]
    bundles = await asyncio.gather(*(k.ensure() for k in keepers))
    assert len({b.cert for b in bundles}) == 1
    assert (await secret_bundle(kube, namespace, "race")).cert == bundles[0].cert


async def test_validation_path_is_served_by_the_same_server(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace):
        bad = objs.dataset(namespace, "20-hbase")
        bad["metadata"].pop("uid")
        bad.pop("status")

        async def refused() -> bool:
            try:
                await kube.create(bad, dry_run=True)
            except errors.Invalid as exc:
                return "DNS-1035" in exc.message
            return False

        await eventually(refused, timeout=30, interval=0.2, what="an invalid Dataset refused")


async def test_two_replicas_serve_the_same_certificate(
    kube: KubeClient, namespace: str, fluid_crds: list[str]
) -> None:
    async with dataset_env(kube, namespace) as first:
        second = wenv.WebhookEnv(
            kube, namespace, [namespace], check_interval=600.0, cert_secret="fluid-webhook-certs"
        )
        await second.start()
        try:
            assert await served_cert(first.port) == await served_cert(second.port)
        finally:
            await second.stop()
