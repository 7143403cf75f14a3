"""Admission webhook throughput and latency: AdmissionReviews of pods with dataset PVCs, over TLS.

Starts the production mutation path (``fluid.webhook.server`` + ``mutation``, the default
plugin profile, uvloop and JSON logging as in production, the logs sent to /dev/null) in a
separate process with a self-signed certificate and caches holding 20 Bound datasets. The
load comes from ``benchmarks/webhook_load`` (Go, built on first use into ~/.cache/fluid),
which calls the webhook the way kube-apiserver does: Go's net/http client, HTTP/1.1
keep-alive TLS connections, one POST per review. Each review is a pod mounting one or two
dataset PVCs; a fifth of them are serverless, so the FUSE sidecar is injected; every answer
is checked (allowed, with a non-empty patch).

On a machine with two or more CPUs the server is pinned to one CPU and the client to
another (``GOMAXPROCS=1``), so the figures are those of one webhook process on one core,
as in a cluster where the API server runs elsewhere.

Two phases over the same ``--requests`` reviews (5,000 by default):

- closed loop, ``--concurrency`` (64) requests always in flight: the most admissions per
  second one process answers; by Little's law each request then waits behind the other 63,
  so its latency is ``concurrency / throughput``;
- open loop, a review arriving every ``1/--rate`` s (2,000/s by default, at most 64 in
  flight): the latency an API server creating 2,000 pods a second sees, from the moment
  each review was due, queueing included.

Prints one block per phase: admissions per second, client-observed p50/p99/max, the
server's own time per review (parse, plugins, encode) and its CPU per admission. Not a test.

    PYTHONPATH=src .venv/bin/python benchmarks/webhook.py
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
                "metadata": {"name": f"{name}-fuse", "namespace": NAMESPACE,
                             "uid": f"ds-uid-{i}", "resourceVersion": str(100 + i)},
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


def _pod_cache(count: int) -> Store:
    """``count`` pods as the controller-manager caches them (slim), on 500 nodes.

    They are never read by the webhook; they are here because a real controller-manager
    holds them, and the garbage collector's full collections walk every live object.
    """
    from fluid.kube import slim

    store = Store()
    for i in range(count):
        store.upsert(slim.slim_pod({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": f"app-{i}", "namespace": f"team-{i % 40}", "uid": f"pod-uid-{i}",
                "resourceVersion": str(1000 + i), "labels": {"app": "train", "shard": str(i % 50)},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": f"job-{i}",
                                     "uid": f"job-uid-{i}", "controller": True}],
            },
            "spec": {
                "nodeName": f"node-{i % 500}", "schedulerName": "default-scheduler",
                "containers": [{"name": "main", "image": "registry.invalid/train:1"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"ds-{i % 20}"}}],
            },
            "status": {
                "phase": "Running", "hostIP": "10.0.0.1", "podIP": f"10.1.{i // 250}.{i % 250}",
                "conditions": [{"type": t, "status": "True"}
                               for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                "containerStatuses": [{"name": "main", "ready": True, "started": True,
                                       "restartCount": 0, "state": {"running": {}}}],
            },
        }))
    return store


async def _serve(port: int, cert_dir: Path, *, cached_pods: int, gc_freeze: bool) -> None:
    """The server process: the production handler, plus handler timings printed on SIGUSR1."""
    from fluid.observability import logging as fluid_logging
    from fluid.webhook import mutation, profile, server

    fluid_logging.configure(json=True)  # as in production; stderr goes to /dev/null
    chains = profile.parse(profile.DEFAULT_PROFILE)
    handler = mutation.mutating_handler(profile=lambda: chains, caches=_caches())
    pods = _pod_cache(cached_pods)
    if gc_freeze:
        gc.freeze()
    handled: list[float] = []

    async def timed(request: Any) -> dict[str, Any]:
        started = time.perf_counter()
        review = await handler(request)
        handled.append(time.perf_counter() - started)
        return review

    def report_handled() -> None:
        """Handler time (parse and encode excluded) since the last report, on stdout."""
        ordered = sorted(handled) or [0.0]
        handled.clear()
        summary = {"p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99)]}
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        sys.stdout.flush()

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, report_handled)
    app = server.build_server({mutation.MUTATE_PATH: timed})
    context = server.tls_context(cert_dir / "tls.crt", cert_dir / "tls.key")
    running = await server.serve(app, host="127.0.0.1", port=port, ssl_context=context)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()
        del pods


# -- the client -----------------------------------------------------------------------------------

LOAD_SOURCE = Path(__file__).resolve().parent / "webhook_load"


def _load_generator() -> Path:
    """Build the Go client once per source version into ~/.cache/fluid (about 20 s cold)."""
    digest = hashlib.sha256()
    for source in sorted(LOAD_SOURCE.iterdir()):
        digest.update(source.name.encode() + source.read_bytes())
    binary = Path.home() / ".cache" / "fluid" / "bench" / f"webhook_load-{digest.hexdigest()[:12]}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "build", "-o", str(binary), "."], cwd=LOAD_SOURCE, check=True,
                       env={**os.environ, "CGO_ENABLED": "0"})
    return binary


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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpus() -> tuple[str, str] | None:
    """(server CPU, client CPU) when this process may use two CPUs, else None (no pinning)."""
    allowed = sorted(os.sched_getaffinity(0))
    return (str(allowed[0]), str(allowed[1])) if len(allowed) >= 2 else None


class _Server:
    """The webhook server child process and how to ask it for its handler timings."""

    def __init__(self, port: int, cert_dir: Path, cpu: str | None, options: list[str]) -> None:
        pin = ["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []
        self.process = subprocess.Popen(
            [*pin, sys.executable, __file__, "--serve", str(port), "--cert-dir", str(cert_dir),
             *options],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=os.environ.copy(),
        )
        assert self.process.stdout is not None
        self._out = self.process.stdout
        if self._out.readline().strip() != b"ready":
            raise SystemExit("the webhook server did not start")

    def handler_stats(self) -> dict[str, float]:
        self.process.send_signal(signal.SIGUSR1)
        stats: dict[str, float] = orjson.loads(self._out.readline())
        return stats

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _phase(load: list[str], server: _Server, extra: list[str], cpu: str | None) -> dict[str, Any]:
    """Run the Go client once; returns its result with the server's CPU and handler times."""
    server.handler_stats()  # reset
    before = _cpu_seconds(server.process.pid)
    pin = ["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []
    out = subprocess.run([*pin, *load, *extra], check=True, stdout=subprocess.PIPE,
                         env={**os.environ, "GOMAXPROCS": "1"}).stdout
    result: dict[str, Any] = orjson.loads(out)
    result["server_cpu_seconds"] = _cpu_seconds(server.process.pid) - before
    result["handler"] = server.handler_stats()
    return result


def _report(phase: str, result: dict[str, Any]) -> None:
    ordered = sorted(result["latencies"])
    count, seconds = len(ordered), result["seconds"]
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(count - 1, int(count * 0.99))] * 1000
    handler = result["handler"]
    print(
        f"{phase}: {count} admissions in {seconds:.2f}s = {count / seconds:,.0f}/s\n"
        f"    client-observed p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {ordered[-1] * 1000:.2f} ms\n"
        f"    webhook handler p50 {handler['p50'] * 1000:.3f} ms  p99 {handler['p99'] * 1000:.3f} ms"
        f"  server CPU {result['server_cpu_seconds'] / count * 1e6:.0f} us/admission"
        f"  (client CPU {result['client_cpu_seconds'] / count * 1e6:.0f} us)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=2000.0, help="open-loop arrivals per second")
    parser.add_argument("--cached-pods", type=int, default=10_000,
                        help="slim pods held in the server's memory, as a controller-manager does")
    parser.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                        help="gc.freeze() after the caches are filled")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        import uvloop  # the controller-manager's event loop

        uvloop.install()
        asyncio.run(_serve(args.serve, args.cert_dir, cached_pods=args.cached_pods,
                           gc_freeze=args.gc_freeze))
        return

    from fluid.testing.controlplane import free_port
    from fluid.webhook import certs

    binary = _load_generator()
    cpus = _cpus()
    server_cpu, client_cpu = cpus if cpus else (None, None)
    with tempfile.TemporaryDirectory() as tmp:
        cert_dir = Path(tmp)
        bundle = certs.issue(names=("localhost", "127.0.0.1"))
        (cert_dir / "tls.crt").write_bytes(bundle.cert)
        (cert_dir / "tls.key").write_bytes(bundle.key)
        (cert_dir / "ca.crt").write_bytes(bundle.ca_bundle)
        (cert_dir / "reviews").write_bytes(b"\n".join(_reviews(args.requests)))
        port = free_port()
        server = _Server(port, cert_dir, server_cpu, [
            "--cached-pods", str(args.cached_pods), "--gc-freeze" if args.gc_freeze else "--no-gc-freeze"])
        try:
            print(
                f"server pid {server.process.pid} on 127.0.0.1:{port} (TLS, ECDSA P-256, uvloop), "
                f"{DATASETS} Bound datasets cached, default plugin profile; "
                + (f"server pinned to CPU {server_cpu}, Go client to CPU {client_cpu}"
                   if cpus else "one CPU: server and client share it"),
                flush=True,
            )
            load = [
                str(binary), "-url", f"https://127.0.0.1:{port}/mutate-fluid-io-v1alpha1-schedulepod",
                "-ca", str(cert_dir / "ca.crt"), "-reviews", str(cert_dir / "reviews"),
                "-concurrency", str(args.concurrency),
            ]
            closed = _phase(load, server, ["-mode", "closed"], client_cpu)
            _report(f"closed loop, {args.concurrency} in flight", closed)
            opened = _phase(load, server, ["-mode", "open", "-rate", str(args.rate)], client_cpu)
            _report(f"open loop at {args.rate:,.0f}/s (<= {args.concurrency} in flight)", opened)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
