"""Webhook unit tests: no cluster; shared object builders live in ``webhook_objects``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
