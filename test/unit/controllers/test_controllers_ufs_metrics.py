"""The Dataset informer's UFS gauges (upstream's names) across the states of status.ufsTotal."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from fluid.controllers.dataset import _UfsMetrics


def dataset(ufs_total: str, file_num: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "team", "name": "imagenet"},
            "status": {"ufsTotal": ufs_total, "fileNum": file_num}}


def gauges() -> tuple[float | None, float | None]:
    labels = {"dataset": "team/imagenet"}
    return (REGISTRY.get_sample_value("dataset_ufs_total_size", labels),
            REGISTRY.get_sample_value("dataset_ufs_file_num", labels))


def test_known_calculating_reset_and_deleted() -> None:
    handler = _UfsMetrics()
    handler.on_add(dataset("", ""))
    assert gauges() == (None, None)
    handler.on_update(dataset("", ""), dataset("2.00GiB", "1200"))
    assert gauges() == (2 * 2**30, 1200)
    handler.on_update(dataset("2.00GiB", "1200"), dataset("[Calculating]", "[Calculating]"))
    assert gauges() == (2 * 2**30, 1200), "a sync in progress keeps the last known values"
    handler.on_update(dataset("[Calculating]", "[Calculating]"), dataset("512.50MiB", "7"))
    assert gauges() == (512.5 * 2**20, 7)
    handler.on_update(dataset("512.50MiB", "7"), dataset("", ""))
    assert gauges() == (None, None), "reset when the runtime went away"
    handler.on_add(dataset("1.00KiB", "1"))
    handler.on_delete(dataset("1.00KiB", "1"))
    assert gauges() == (None, None)
