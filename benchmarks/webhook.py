"""Admission webhook throughput and latency: AdmissionReviews of pods with dataset PVCs, over TLS.

Starts the production mutation path (``fluid.webhook.server`` + ``mutation``, the default
plugin profile, JSON logging as in production, sent to /dev/null) in a separate process
with a self-signed certificate and caches holding 20 Bound datasets; then a client in this
process sends ``--requests`` AdmissionReviews (each a pod mounting one or two dataset
PVCs; a fifth of them serverless, so the FUSE sidecar is injected) with ``--concurrency``
requests in flight over keep-alive TLS connections, and checks every answer.

Two phases:

- closed loop (the issue's setup: 5,000 requests, 64 in flight): admissions per second
  and the latency each request saw, queueing included;
- open loop at ``--rate`` (default 2,000/s, at most 64 in flight): the latency at that
  arrival rate, which is what an API server sending 2,000 pod creations a second sees.

Prints one line per phase with p50, p99, max and admissions per second. Not a test.

    PYTHONPATH=src .venv/bin/python benchmarks/webhook.py
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from fluid.api import constants
from fluid.reconcile.store import Store

DATASETS = 20
NAMESPACE = "bench"


# -- the server process ---------------------------------------------------------------------------


def _objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for i in range(DATASETS):
        name = f"ds-{i}"
        path = f"/runtime-mnt/alluxio/{NAMESPACE}/{name}/alluxio-fuse"
        objects += [
            {
                "kind": "Dataset",
                "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"u{i}"},
                "spec": {"mounts": [{"mountPoint": "s3://bucket/x"}]},
                "status": {
                    "phase": "Bound",
                    "runtimes": [{"name": name, "namespace": NAMESPACE, "type": "alluxio"}],
                },
            },
            {
                "kind": "AlluxioRuntime",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"fuse": {"nodeSelector": {"fuse": "ok"}} if i % 4 == 0 else {}},
                "status": {
                    "cacheAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "topology.kubernetes.io/zone",
                                            "operator": "In",
                                            "values": ["zone-a"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                },
            },
            {
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "labels": {constants.common_label(NAMESPACE, name): "true"},
                },
                "spec": {"volumeName": f"{NAMESPACE}-{name}"},
            },
            {
                "kind": "PersistentVolume",
                "metadata": {"name": f"{NAMESPACE}-{name}"},
                "spec": {"csi": {"volumeAttributes": {"fluid_path": path}}},
            },
            {
                "kind": "DaemonSet",
                "metadata": {"name": f"{name}-fuse", "namespace": NAMESPACE},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "alluxio-fuse",
                                    "image": "alluxio/fuse",
                                    "args": ["fuse", path],
                                    "securityContext": {"privileged": True},
                                    "lifecycle": {"preStop": {"exec": {"command": ["umount", path]}}},
                                    "volumeMounts": [
                                        {"name": "fuse-device", "mountPath": "/dev/fuse"},
                                        {
                                            "name": "fuse-mount",
                                            "mountPath": path.rsplit("/", 1)[0],
                                            "mountPropagation": "Bidirectional",
                                        },
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "fuse-device", "hostPath": {"path": "/dev/fuse"}},
                                {"name": "fuse-mount", "hostPath": {"path": path.rsplit("/", 1)[0]}},
                            ],
                        }
                    }
                },
            },
        ]
    return objects


def _caches() -> Any:
    from fluid.webhook.datasets import Caches

    stores = {
        k: Store()
        for k in ("Dataset", "AlluxioRuntime", "PersistentVolumeClaim", "PersistentVolume", "DaemonSet")
    }
    for obj in _objects():
        stores[obj["kind"]].upsert(obj)
    empty = Store()
    runtimes = {t: empty for t in ("jindo", "juicefs", "goosefs", "thin")} | {
        "alluxio": stores["AlluxioRuntime"]
    }
    return Caches(
        pvcs=stores["PersistentVolumeClaim"],
        datasets=stores["Dataset"],
        runtimes=runtimes,
        pvs=stores["PersistentVolume"],
        daemonsets=stores["DaemonSet"],
    )


async def _serve(port: int, cert_dir: Path) -> None:
    from aiohttp import web

    from fluid.observability import logging as fluid_logging
    from fluid.webhook import mutation, profile, server

    fluid_logging.configure(json=True)  # as in production; stderr goes to /dev/null
    chains = profile.parse(profile.DEFAULT_PROFILE)
    handler = mutation.mutating_handler(profile=lambda: chains, caches=_caches())
    handled: list[float] = []

    async def timed(request: Any) -> dict[str, Any]:
        started = time.perf_counter()
        review = await handler(request)
        handled.append(time.perf_counter() - started)
        return review

    async def stats(_: web.Request) -> web.Response:
        """Handler time (parse excluded) since the last call: the webhook's own share."""
        ordered = sorted(handled)
        handled.clear()
        return web.json_response(
            {
                "count": len(ordered),
                "p50": statistics.median(ordered),
                "p99": ordered[int(len(ordered) * 0.99)],
            }
        )

    app = server.build_app({mutation.MUTATE_PATH: timed})
    app.router.add_get("/bench-stats", stats)
    context = server.tls_context(cert_dir / "tls.crt", cert_dir / "tls.key")
    running = await server.serve(app, host="127.0.0.1", port=port, ssl_context=context)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


# -- the client -----------------------------------------------------------------------------------


def _reviews(count: int) -> list[bytes]:
    reviews = []
    for i in range(count):
        claims = [f"ds-{i % DATASETS}"] + ([f"ds-{(i * 7 + 3) % DATASETS}"] if i % 3 == 0 else [])
        claims = sorted(set(claims))
        labels = {"app": "trainer"}
        if i % 5 == 0:
            labels["serverless.fluid.io/inject"] = "true"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "trainer-", "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "python:3.11",
                        "command": ["python", "train.py"],
                        "volumeMounts": [{"name": f"v-{c}", "mountPath": f"/data/{c}"} for c in claims],
                        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                    }
                ],
                "volumes": [
                    {"name": f"v-{c}", "persistentVolumeClaim": {"claimName": c}} for c in claims
                ],
                "restartPolicy": "Never",
            },
        }
        reviews.append(
            orjson.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {
                        "uid": f"uid-{i}",
                        "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "operation": "CREATE",
                        "namespace": NAMESPACE,
                        "object": pod,
                    },
                }
            )
        )
    return reviews


async def _post(http: aiohttp.ClientSession, url: str, body: bytes, ctx: ssl.SSLContext) -> float:
    started = time.perf_counter()
    async with http.post(url, data=body, ssl=ctx, headers={"Content-Type": "application/json"}) as resp:
        payload = await resp.read()
    elapsed = time.perf_counter() - started
    response = orjson.loads(payload)["response"]
    if resp.status != 200 or not response["allowed"] or not base64.b64decode(response["patch"]):
        raise RuntimeError(f"unexpected answer {resp.status}: {payload[:300]!r}")
    return elapsed


async def _closed_loop(
    http: aiohttp.ClientSession, url: str, ctx: ssl.SSLContext, reviews: list[bytes], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(reviews):
            body = reviews[position]
            position += 1
            latencies.append(await _post(http, url, body, ctx))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def _open_loop(
    http: aiohttp.ClientSession,
    url: str,
    ctx: ssl.SSLContext,
    reviews: list[bytes],
    concurrency: int,
    rate: float,
) -> tuple[list[float], float]:
    """Requests arrive every 1/rate s (at most ``concurrency`` in flight); latency from arrival."""
    latencies: list[float] = []
    slots = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(body: bytes, due: float) -> None:
        async with slots:
            await _post(http, url, body, ctx)
        latencies.append(loop.time() - due)

    tasks = []
    for index, body in enumerate(reviews):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, due)))
    await asyncio.gather(*tasks)
    return latencies, loop.time() - start


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _report(
    phase: str, latencies: list[float], seconds: float, server_cpu: float, handler: dict[str, float]
) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{phase}: {len(ordered)} admissions in {seconds:.2f}s = {len(ordered) / seconds:,.0f}/s\n"
        f"    client-observed p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {ordered[-1] * 1000:.2f} ms\n"
        f"    webhook handler p50 {handler['p50'] * 1000:.3f} ms  p99 {handler['p99'] * 1000:.3f} ms  "
        f"server CPU {server_cpu / len(ordered) * 1e6:.0f} us/admission (TLS, HTTP, handler, logs)",
        flush=True,
    )


async def _handler_stats(
    http: aiohttp.ClientSession, base: str, ctx: ssl.SSLContext
) -> dict[str, float]:
    async with http.get(base + "/bench-stats", ssl=ctx) as resp:
        stats: dict[str, float] = await resp.json()
        return stats


async def _client(args: argparse.Namespace, port: int, ca_file: Path, server_pid: int) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    base = f"https://127.0.0.1:{port}"
    url = base + "/mutate-fluid-io-v1alpha1-schedulepod"
    reviews = _reviews(args.requests)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _closed_loop(http, url, ctx, reviews[:500], args.concurrency)  # warm-up: TLS, caches
        await _handler_stats(http, base, ctx)
        cpu = _cpu_seconds(server_pid)
        latencies, seconds = await _closed_loop(http, url, ctx, reviews, args.concurrency)
        used = _cpu_seconds(server_pid) - cpu
        _report(
            f"closed loop, {args.concurrency} in flight",
            latencies,
            seconds,
            used,
            await _handler_stats(http, base, ctx),
        )
        cpu = _cpu_seconds(server_pid)
        latencies, seconds = await _open_loop(http, url, ctx, reviews, args.concurrency, args.rate)
        used = _cpu_seconds(server_pid) - cpu
        _report(
            f"open loop at {args.rate:,.0f}/s (<= {args.concurrency} in flight)",
            latencies,
            seconds,
            used,
            await _handler_stats(http, base, ctx),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=2000.0, help="open-loop arrivals per second")
    parser.add_argument(
        "--uvloop",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run the server on uvloop (as the controller-manager does when installed)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        if args.uvloop:
            import uvloop

            uvloop.install()
        asyncio.run(_serve(args.serve, args.cert_dir))
        return

    from fluid.testing.controlplane import free_port
    from fluid.webhook import certs

    with tempfile.TemporaryDirectory() as tmp:
        cert_dir = Path(tmp)
        bundle = certs.issue(names=("localhost", "127.0.0.1"))
        (cert_dir / "tls.crt").write_bytes(bundle.cert)
        (cert_dir / "tls.key").write_bytes(bundle.key)
        (cert_dir / "ca.crt").write_bytes(bundle.ca_bundle)
        port = free_port()
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(port),
                "--cert-dir",
                str(cert_dir),
                "--uvloop" if args.uvloop else "--no-uvloop",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        try:
            assert child.stdout is not None
            if child.stdout.readline().strip() != b"ready":
                raise SystemExit("the webhook server did not start")
            print(
                f"server pid {child.pid} on 127.0.0.1:{port} (TLS, ECDSA P-256), "
                f"{DATASETS} Bound datasets cached, default plugin profile",
                flush=True,
            )
            asyncio.run(_client(args, port, cert_dir / "ca.crt", child.pid))
        finally:
            child.terminate()
            child.wait(10)


if __name__ == "__main__":
    main()
