"""``hack/local-up.sh``: a local cluster running Fluid, for trying it out and for demos.

Starts the local control plane with kwok nodes, installs the CRDs, registers the webhook
configurations (pointing at 127.0.0.1), runs the controller-manager (with its webhook) and
the CSI plugin as child processes against it, applies the samples in their namespace,
waits until each sample Alluxio dataset is Bound, then runs the sample app on it, prints
how to point kubectl at the cluster, and stops everything on Ctrl-C.

kwok nodes run no containers: the Alluxio masters' answers to the controller's exec
(``fs mount``, ``fs count``, ``fsadmin report``) come from ``fluid.testing.kwok_exec``, a
simulation, and local-up says so when it starts and when it is ready (``--no-simulate``
turns it off). Never touches a cluster other than the one it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import yaml

from fluid.api import install, kinds
from fluid.kube import KubeClient, errors, resources
from fluid.testing import controlplane, kwok_exec
from fluid.testing.wait import eventually
from fluid.webhook import configuration

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "manifests" / "samples"
APP = SAMPLES / "app"
"""Applied only once the datasets are Bound, so that the webhook can steer the pods."""

SIMULATED_NOTE = (
    "local-up: SIMULATED cache processes. kwok nodes run no containers: Alluxio masters,\n"
    "  workers, FUSE clients and apps are Running in the API only. Exec into {masters}\n"
    "  is answered by fluid.testing.kwok_exec as a master would, for a made-up UFS\n"
    "  ({ufs}); no data is read or cached. Calls: {log}"
)


def manifests(directory: Path) -> list[dict[str, Any]]:
    """The objects of ``directory/*.yaml`` (not kustomization.yaml), Namespaces first."""
    docs: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return sorted(docs, key=lambda d: d.get("kind") != "Namespace")


def samples_namespace(directory: Path) -> str:
    """The namespace the kustomization puts the samples in (``default`` if it names none)."""
    path = directory / "kustomization.yaml"
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    return str((data or {}).get("namespace") or "default")


@attrs.frozen(kw_only=True)
class Setup:
    """What ``main`` decided before anything started."""

    plane: controlplane.LocalControlPlane
    namespace: str
    masters: list[kwok_exec.SimulatedMaster]
    webhook_port: int
    wait_seconds: float


async def prepare(client: KubeClient, *, namespace: str, webhook_url: str) -> None:
    """CRDs, Fluid's namespace, and the webhook configurations calling ``webhook_url``."""
    names = await install.install_crds(client)
    print(f"local-up: installed {len(names)} CRDs", file=sys.stderr)
    with contextlib.suppress(errors.AlreadyExists):
        await client.create({"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": namespace}})
    for obj in (configuration.mutating_configuration(namespace=namespace, url=webhook_url),
                configuration.validating_configuration(namespace=namespace, url=webhook_url)):
        await client.apply_manifest(obj)


async def webhook_trusted(client: KubeClient) -> bool:
    """The controller-manager patched its CA into every webhook we registered."""
    for res, name in ((resources.MUTATING_WEBHOOKS, configuration.MUTATING_NAME),
                      (resources.VALIDATING_WEBHOOKS, configuration.VALIDATING_NAME)):
        config = await client.get(res, name)
        if not all((w.get("clientConfig") or {}).get("caBundle") for w in config["webhooks"]):
            return False
    return True


async def apply_all(client: KubeClient, docs: list[dict[str, Any]], namespace: str) -> list[str]:
    applied = []
    for doc in docs:
        await client.apply_manifest(doc, namespace=namespace)
        applied.append(f"{doc['kind']}/{doc['metadata']['name']}")
    return applied


async def _eventually_or_warn(
    check: Callable[[], Awaitable[bool]], *, timeout: float, what: str
) -> bool:
    """True once ``check`` holds; False, with a warning naming ``what``, after ``timeout`` s."""
    try:
        await eventually(check, timeout=timeout, interval=0.5, what=what)
    except AssertionError:
        print(f"local-up: WARNING no {what} after {timeout:.0f}s", file=sys.stderr)
        return False
    return True


async def _phase(client: KubeClient, res: resources.Resource, name: str, namespace: str) -> str:
    obj = await client.get_or_none(res, name, namespace)
    return str(((obj or {}).get("status") or {}).get("phase") or "")


async def wait_phase(
    client: KubeClient, res: resources.Resource, *, name: str, namespace: str, phase: str,
    timeout: float,
) -> bool:
    """True once ``name`` reports ``phase``; False (and a warning) after ``timeout`` s."""

    async def reached() -> bool:
        return await _phase(client, res, name, namespace) == phase

    return await _eventually_or_warn(reached, timeout=timeout,
                                     what=f"{res.kind} {namespace}/{name} {phase}")


async def wait_metadata(client: KubeClient, *, name: str, namespace: str, timeout: float) -> None:
    """Until the Dataset's ``ufsTotal`` is known (the runtime's next resync collects it)."""

    async def known() -> bool:
        obj = await client.get_or_none(kinds.DATASET.resource, name, namespace)
        total = ((obj or {}).get("status") or {}).get("ufsTotal")
        return bool(total) and total != "[Calculating]"

    await _eventually_or_warn(known, timeout=timeout, what=f"ufsTotal of Dataset {namespace}/{name}")


async def datasets_bound(client: KubeClient, setup: Setup) -> bool:
    """Every simulated master's Dataset and its PVC Bound (False after the deadline)."""
    bound = True
    for master in setup.masters:
        for res in (kinds.DATASET.resource, resources.PERSISTENT_VOLUME_CLAIMS):
            bound &= await wait_phase(client, res, name=master.name, namespace=master.namespace,
                                      phase="Bound", timeout=setup.wait_seconds)
    return bound


async def run_app(client: KubeClient, setup: Setup) -> list[str]:
    """Apply the sample app and wait until its pods are Running."""
    app = manifests(APP)
    applied = await apply_all(client, app, setup.namespace)
    for doc in app:
        if doc["kind"] == "Pod":
            await wait_phase(client, resources.PODS, name=doc["metadata"]["name"],
                             namespace=setup.namespace, phase="Running", timeout=setup.wait_seconds)
    return applied


async def bring_up(setup: Setup) -> list[str]:
    """After the controller-manager is ready: samples, Bound datasets, then the sample app."""
    client = await KubeClient.connect(setup.plane.kubeconfig)
    try:
        await eventually(lambda: webhook_trusted(client), timeout=30, interval=0.2,
                         what="the controller-manager's CA in the webhook configurations")
        applied = await apply_all(client, manifests(SAMPLES), setup.namespace)
        if not (setup.masters and await datasets_bound(client, setup)):
            return applied
        if APP.is_dir():
            applied += await run_app(client, setup)
        for master in setup.masters:
            await wait_metadata(client, name=master.name,
                                namespace=master.namespace, timeout=setup.wait_seconds)
        return applied
    finally:
        await client.close()


def spawn(plane: controlplane.LocalControlPlane, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = plane.log_path(name).open("ab")
    env = dict(os.environ, KUBECONFIG=plane.kubeconfig, FLUID_LOG_JSON="1")
    return subprocess.Popen(
        [sys.executable, "-m", *argv], stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True,
    )


def wait_ready(url: str, child: subprocess.Popen[bytes], plane: controlplane.LocalControlPlane) -> None:
    """Block until the controller-manager's caches synced (its /readyz), or fail loudly."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(
                f"local-up: controller-manager exited; log {plane.log_path('controller-manager')}"
            )
        if controlplane.http_ok(url):
            return
        time.sleep(0.2)
    raise SystemExit("local-up: controller-manager not ready after 60s")


def kubectl_summary(plane: controlplane.LocalControlPlane, namespace: str) -> str:
    """What ``kubectl get`` shows of the samples, with the kubectl built with the control plane."""
    kubectl = plane.bin_dir / "kubectl"
    if not kubectl.exists():
        return ""
    out = subprocess.run(
        [str(kubectl), "get", "dataset,alluxioruntime,pvc,pod", "-n", namespace, "-o", "wide"],
        capture_output=True, text=True, timeout=30, env=dict(os.environ, KUBECONFIG=plane.kubeconfig),
        check=False,
    )
    return out.stdout


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="local-up", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=REPO / ".local" / "cluster")
    parser.add_argument("--exit-after-ready", action="store_true",
                        help="stop everything once the samples are up (used by tests)")
    parser.add_argument("--simulate", action=argparse.BooleanOptionalAction, default=True,
                        help="answer exec into the sample Alluxio masters on kwok nodes with a "
                             "stand-in CLI (without it the sample datasets stay NotBound)")
    parser.add_argument("--wait-seconds", type=float, default=90.0,
                        help="how long to wait for each sample dataset Bound and app Running")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> Setup:
    namespace = samples_namespace(SAMPLES)
    masters = kwok_exec.masters_in(manifests(SAMPLES), namespace=namespace) if args.simulate else []
    simulation = kwok_exec.prepare(args.workdir / "simulated", masters) if masters else None
    plane = controlplane.LocalControlPlane.create(workdir=args.workdir, kwok_exec=simulation)
    return Setup(plane=plane, namespace=namespace, masters=masters,
                 webhook_port=controlplane.free_port(), wait_seconds=args.wait_seconds)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup = plan(args)
    plane = setup.plane
    note = (SIMULATED_NOTE.format(
        masters=", ".join(m.key for m in setup.masters), ufs=kwok_exec.describe_ufs(),
        log=args.workdir / "simulated" / "state" / kwok_exec.CALLS_LOG,
    ) if setup.masters else "local-up: exec into kwok pods is not simulated (--no-simulate): "
        "Alluxio datasets stay NotBound")
    children: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        plane.start()
        nodes = plane.start_workloads(nodes=args.nodes)
        if setup.masters:
            print(note, file=sys.stderr, flush=True)
        asyncio.run(_prepare(plane, f"https://127.0.0.1:{setup.webhook_port}"))
        health = controlplane.free_port()
        children.append(spawn(plane, "controller-manager", [
            "fluid.cli.controller_manager", "--kubeconfig", plane.kubeconfig,
            "--health-addr", "127.0.0.1", "--health-port", str(health), "--namespace", "fluid-system",
            "--webhook-port", str(setup.webhook_port),
            # Sync ready runtimes every 10 s, not 90: the UFS size and cache usage show up soon.
            "--runtime-resync-seconds", "10",
        ]))
        csi_socket = plane.workdir / "csi" / "csi.sock"
        csi_socket.parent.mkdir(exist_ok=True)
        if (REPO / "src" / "fluid" / "cli" / "csi.py").exists():
            children.append(spawn(plane, "csi", [
                "fluid.cli.csi", "--endpoint", f"unix://{csi_socket}", "--node-id", nodes[0],
                "--kubeconfig", plane.kubeconfig,
            ]))
        wait_ready(f"http://127.0.0.1:{health}/readyz", children[0], plane)
        applied = asyncio.run(bring_up(setup))
        print(kubectl_summary(plane, setup.namespace), flush=True)
        print(
            f"\nlocal-up: ready. {len(nodes)} kwok nodes; applied {', '.join(applied) or 'nothing'}"
            f" in namespace {setup.namespace}\n{note}\n"
            f"  export KUBECONFIG={plane.kubeconfig}\n"
            f"  export PATH={plane.bin_dir}:$PATH   # the kubectl built with the control plane\n"
            f"  kubectl get dataset,alluxioruntime -A\n"
            f"  controller-manager: http://127.0.0.1:{health}/metrics ; logs in {plane.workdir / 'logs'}\n"
            f"  webhook: https://127.0.0.1:{setup.webhook_port}\n"
            f"  CSI plugin socket: {csi_socket}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        if not args.exit_after_ready:
            while all(c.poll() is None for c in children):
                time.sleep(1)
            print("local-up: a component exited; see its log", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            controlplane.terminate(child)
        plane.stop()


async def _prepare(plane: controlplane.LocalControlPlane, webhook_url: str) -> None:
    client = await KubeClient.connect(plane.kubeconfig)
    try:
        await prepare(client, namespace="fluid-system", webhook_url=webhook_url)
    finally:
        await client.close()


if __name__ == "__main__":
    main()
