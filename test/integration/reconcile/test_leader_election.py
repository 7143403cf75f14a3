"""Two managers (real processes) share one Lease: one leads, the other takes over after a kill.

Each process runs the test ConfigMap controller and journals every reconcile's start and end
with its identity, so the test can show that only the leader reconciled and that no key
was ever in a reconcile of both processes at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = pytest.mark.cluster

HERE = Path(__file__).parent
LEASE = dict(lease_duration=4.0, renew_deadline=3.0, retry_period=0.5)


def spawn(control_plane: Any, namespace: str, identity: str, journal: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable, str(HERE / "configmap_controller.py"),
        "--kubeconfig", control_plane.kubeconfig, "--namespace", namespace,
        "--identity", identity, "--journal", str(journal), "--lease", "le-test",
        "--lease-duration", str(LEASE["lease_duration"]),
        "--renew-deadline", str(LEASE["renew_deadline"]),
        "--retry-period", str(LEASE["retry_period"]),
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    log = (journal.parent / f"{identity}.log").open("wb")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def read_journal(journal: Path) -> list[tuple[str, str, str, float]]:
    rows = []
    for line in journal.read_text().splitlines():
        identity, event, key, stamp = line.split()
        rows.append((identity, event, key, float(stamp)))
    return rows


def intervals(
    rows: list[tuple[str, str, str, float]], end_of_time: float
) -> dict[str, list[tuple[str, float, float]]]:
    """Per key: (identity, start, end) intervals; an unfinished one ends at ``end_of_time``."""
    open_: dict[tuple[str, str], float] = {}
    out: dict[str, list[tuple[str, float, float]]] = {}
    for identity, event, key, stamp in rows:
        if event == "start":
            open_[(identity, key)] = stamp
        else:
            out.setdefault(key, []).append((identity, open_.pop((identity, key)), stamp))
    for (identity, key), start in open_.items():
        out.setdefault(key, []).append((identity, start, end_of_time))
    return out


async def holder(kube: KubeClient, namespace: str) -> str:
    lease = await kube.get_or_none(resources.LEASES, "le-test", namespace)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


async def seen_all(kube: KubeClient, namespace: str, names: list[str]) -> bool:
    for name in names:
        obj = await kube.get(resources.CONFIGMAPS, name, namespace)
        if (obj["metadata"].get("annotations") or {}).get("test.fluid.io/seen") != name:
            return False
    return True


async def create_configmaps(kube: KubeClient, namespace: str, names: list[str]) -> None:
    for name in names:
        await kube.create({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": {"input": name},
        })


async def test_one_leader_and_takeover_after_kill(
    control_plane: Any, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    journal.touch()
    procs = {i: spawn(control_plane, namespace, i, journal) for i in ("alpha", "beta")}
    try:
        await eventually(lambda: holder(kube, namespace), timeout=30, what="a leader")
        first = await holder(kube, namespace)
        second = "beta" if first == "alpha" else "alpha"
        before = [f"cm-{i}" for i in range(15)]
        await create_configmaps(kube, namespace, before)
        await eventually(lambda: seen_all(kube, namespace, before), timeout=30, what="leader reconciles")
        assert {row[0] for row in read_journal(journal)} == {first}, "only the leader reconciles"

        await create_configmaps(kube, namespace, [f"late-{i}" for i in range(10)])
        procs[first].send_signal(signal.SIGKILL)
        killed_at = time.time()
        procs[first].wait(10)
        await eventually(
            lambda: _is(holder(kube, namespace), second), timeout=30, interval=0.1,
            what="the standby takes the lease",
        )
        takeover = time.time() - killed_at
        # The standby may only take over once the lease expired on its own clock:
        # never before the lease duration, and within it plus one retry and some slack.
        assert takeover <= LEASE["lease_duration"] + 2 * LEASE["retry_period"] + 3.0, takeover

        after = [f"after-{i}" for i in range(10)]
        await create_configmaps(kube, namespace, after)
        everything = before + after + [f"late-{i}" for i in range(10)]
        await eventually(
            lambda: seen_all(kube, namespace, everything), timeout=30, what="new leader reconciles"
        )
        rows = read_journal(journal)
        assert second in {row[0] for row in rows}
        for key, spans in intervals(rows, end_of_time=killed_at).items():
            for who_a, start_a, end_a in spans:
                for who_b, start_b, end_b in spans:
                    if who_a != who_b:
                        assert end_a <= start_b or end_b <= start_a, f"{key} reconciled by both at once"
        # The first leader's reconciles all happened before it was killed.
        assert all(stamp <= killed_at for who, _, _, stamp in rows if who == first)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)


async def test_graceful_shutdown_releases_lease(
    control_plane: Any, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    proc = spawn(control_plane, namespace, "solo", journal)
    try:
        await eventually(lambda: _is(holder(kube, namespace), "solo"), timeout=30, what="leader")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    assert await holder(kube, namespace) == ""


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)
