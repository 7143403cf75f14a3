"""Puts the shared RenderContext helper (test/unit/engines/juicefs/engine_render_ctx.py) on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

_HELPERS = str(Path(__file__).resolve().parents[1] / "juicefs")
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)
