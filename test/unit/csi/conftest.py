"""Fixtures for the CSI unit tests (helpers live in csiunit.py).

The generated stubs are gitignored: they are (re)generated here when missing or older
than proto/csi.proto, before any test module imports them.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROTO = ROOT / "proto" / "csi.proto"
STUB = ROOT / "src" / "fluid" / "csi" / "proto" / "csi_pb2.py"


def _ensure_stubs() -> None:
    if not STUB.exists() or STUB.stat().st_mtime < PROTO.stat().st_mtime:
        subprocess.run([str(ROOT / "hack" / "gen-proto.sh")], check=True, timeout=120)


_ensure_stubs()

import csiunit  # noqa: E402


@pytest.fixture
async def plugin(tmp_path: Path) -> AsyncIterator[csiunit.Plugin]:
    running = await csiunit.start_plugin(tmp_path)
    yield running
    await csiunit.stop_plugin(running)
