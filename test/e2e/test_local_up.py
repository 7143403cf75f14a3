"""The README's first command: local-up brings up the control plane, CRDs, a ready
controller-manager and the CSI plugin, applies the samples, and stops everything again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fluid.testing import controlplane

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


def test_local_up_starts_everything_and_cleans_up(tmp_path: Path) -> None:
    if controlplane.binaries_dir() is None:
        pytest.skip("control-plane binaries not built")
    workdir = tmp_path / "cluster"
    proc = subprocess.run(
        [sys.executable, "-m", "fluid.testing.localup", "--exit-after-ready", "--nodes", "2",
         "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "local-up: ready" in proc.stdout
    assert f"export KUBECONFIG={workdir / 'admin.kubeconfig'}" in proc.stdout
    assert "CRDs" in proc.stderr
    log = (workdir / "logs" / "controller-manager.log").read_text()
    assert "caches_synced" in log
    # Nothing left running from this workdir.
    leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
