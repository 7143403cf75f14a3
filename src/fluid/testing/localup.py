"""``hack/local-up.sh``: a local cluster running Fluid, for trying it out and for demos.

Starts the local control plane with kwok nodes, installs the CRDs, runs the
controller-manager (with its webhook) and the CSI plugin as child processes against it,
applies the sample dataset, prints how to point kubectl at it, and stops everything on
Ctrl-C. Never touches a cluster other than the one it started.
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
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from fluid.api import install
from fluid.kube import KubeClient
from fluid.testing import controlplane

REPO = Path(__file__).resolve().parents[3]


def manifests(directory: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


async def prepare(plane: controlplane.LocalControlPlane, namespace: str) -> None:
    client = await KubeClient.connect(plane.kubeconfig)
    try:
        names = await install.install_crds(client)
        print(f"local-up: installed {len(names)} CRDs", file=sys.stderr)
        with contextlib.suppress(Exception):
            await client.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
    finally:
        await client.close()


async def apply_samples(plane: controlplane.LocalControlPlane) -> list[str]:
    client = await KubeClient.connect(plane.kubeconfig)
    applied = []
    try:
        for doc in manifests(REPO / "manifests" / "samples"):
            await client.apply_manifest(doc, namespace="default")
            applied.append(f"{doc['kind']}/{doc['metadata']['name']}")
    finally:
        await client.close()
    return applied


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
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("local-up: controller-manager not ready after 60s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="local-up", description=__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=REPO / ".local" / "cluster")
    parser.add_argument("--exit-after-ready", action="store_true",
                        help="stop everything once the sample is applied (used by tests)")
    args = parser.parse_args()
    plane = controlplane.LocalControlPlane.create(workdir=args.workdir)
    children: list[subprocess.Popen[bytes]] = []
    try:
        plane.start()
        nodes = plane.start_workloads(nodes=args.nodes)
        asyncio.run(prepare(plane, "fluid-system"))
        health = controlplane.free_port()
        children.append(spawn(plane, "controller-manager", [
            "fluid.cli.controller_manager", "--kubeconfig", plane.kubeconfig,
            "--health-addr", "127.0.0.1", "--health-port", str(health), "--namespace", "fluid-system",
        ]))
        csi_socket = plane.workdir / "csi" / "csi.sock"
        csi_socket.parent.mkdir(exist_ok=True)
        if (REPO / "src" / "fluid" / "cli" / "csi.py").exists():
            children.append(spawn(plane, "csi", [
                "fluid.cli.csi", "--endpoint", f"unix://{csi_socket}", "--node-id", nodes[0],
                "--kubeconfig", plane.kubeconfig,
            ]))
        wait_ready(f"http://127.0.0.1:{health}/readyz", children[0], plane)
        applied = asyncio.run(apply_samples(plane))
        print(
            f"\nlocal-up: ready. {len(nodes)} kwok nodes; applied {', '.join(applied) or 'nothing'}\n"
            f"  export KUBECONFIG={plane.kubeconfig}\n"
            f"  export PATH={plane.bin_dir}:$PATH   # the kubectl built with the control plane\n"
            f"  kubectl get dataset,alluxioruntime -A\n"
            f"  controller-manager: http://127.0.0.1:{health}/metrics ; logs in {plane.workdir / 'logs'}\n"
            f"  CSI plugin socket: {csi_socket}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        if not args.exit_after_ready:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while all(c.poll() is None for c in children):
                time.sleep(1)
            print("local-up: a component exited; see its log", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            controlplane.terminate(child)
        plane.stop()


if __name__ == "__main__":
    main()
