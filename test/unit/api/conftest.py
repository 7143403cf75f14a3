"""Makes the shared API test data loader (test/data/fluid_testdata.py) importable."""

from __future__ import annotations

import sys
from pathlib import Path

_DATA = str(Path(__file__).resolve().parents[2] / "data")
if _DATA not in sys.path:
    sys.path.insert(0, _DATA)
