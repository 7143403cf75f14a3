"""Fixtures for the CSI integration tests (helpers live in csiproc.py).

Mount tests get a private mount namespace and a short work directory under /tmp (unix
socket paths are limited to ~107 bytes); the generated stubs are made if missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROTO = ROOT / "proto" / "csi.proto"
STUB = ROOT / "src" / "fluid" / "csi" / "proto" / "csi_pb2.py"


def _ensure_stubs() -> None:
    if not STUB.exists() or STUB.stat().st_mtime < PROTO.stat().st_mtime:
        subprocess.run([str(ROOT / "hack" / "gen-proto.sh")], check=True, timeout=120)


_ensure_stubs()

import csiproc  # noqa: E402


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fcsi-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mount_ns(workdir: Path) -> Iterator[csiproc.MountNamespace]:
    csiproc.require_mount_privileges(fuse=True)
    namespace = csiproc.MountNamespace()
    yield namespace
    namespace.close()


@pytest.fixture
def layout(workdir: Path) -> csiproc.Layout:
    return csiproc.Layout(workdir)


@pytest.fixture
def fuse(mount_ns: csiproc.MountNamespace, layout: csiproc.Layout) -> Iterator[csiproc.Bindfs]:
    server = csiproc.Bindfs(mount_ns, source=str(layout.data), mount_point=layout.fluid_path)
    yield server
    server.stop()


@pytest.fixture
async def plugin(
    mount_ns: csiproc.MountNamespace, workdir: Path
) -> AsyncIterator[csiproc.PluginProcess]:
    """The real fluid-csi in the mount namespace; it must exit cleanly on SIGTERM."""
    async with csiproc.running_plugin(mount_ns, workdir) as process:
        yield process
