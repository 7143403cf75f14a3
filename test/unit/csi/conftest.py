"""Fixtures for the CSI unit tests: generated stubs, a fake mounter and a fake labeler."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROTO = ROOT / "proto" / "csi.proto"
STUB = ROOT / "src" / "fluid" / "csi" / "proto" / "csi_pb2.py"


def _ensure_stubs() -> None:
    """Generate the gitignored stubs when missing or older than the proto."""
    if not STUB.exists() or STUB.stat().st_mtime < PROTO.stat().st_mtime:
        subprocess.run([str(ROOT / "hack" / "gen-proto.sh")], check=True, timeout=120)


_ensure_stubs()
