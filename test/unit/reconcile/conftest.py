"""Fixtures for the reconcile framework's unit tests: virtual time, no cluster."""

from __future__ import annotations

import pytest
from wq_support import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()
