"""ThinRuntime dispatch: empty profileName -> the reference engine, otherwise the Thin engine."""

from __future__ import annotations

from typing import Any

from fluid.engines.base import EngineConfig, EngineDeps, MemoryView, RecordingExecutor, RuntimeKey, Snapshot
from fluid.engines.thin import dispatch
from fluid.engines.thin.engine import ThinEngine

DATASET: dict[str, Any] = {"metadata": {"name": "d", "namespace": "ns"},
                           "spec": {"mounts": [{"mountPoint": "nfs://s:/x", "name": "x"}]}}


def _dispatch() -> dispatch.ThinDispatch:
    deps = EngineDeps(client=None, view=MemoryView(), ports=None,  # type: ignore[arg-type]
                      events=None, executor=RecordingExecutor(), config=EngineConfig())
    return dispatch.ThinDispatch(deps, RuntimeKey("ThinRuntime", "ns", "d"))


def test_profile_runtime_gets_the_thin_engine() -> None:
    engine = _dispatch()
    snap = Snapshot(runtime={"kind": "ThinRuntime", "metadata": {"name": "d", "namespace": "ns"},
                             "spec": {"profileName": "nfs"}}, dataset=DATASET)

    engine.validate(snap)

    assert isinstance(engine.chosen, ThinEngine)


def test_profileless_runtime_gets_the_reference_engine() -> None:
    engine = _dispatch()
    snap = Snapshot(runtime={"kind": "ThinRuntime", "metadata": {"name": "d", "namespace": "ns"},
                             "spec": {}}, dataset=None)

    assert dispatch.is_reference_runtime(snap)
    engine.engine_for(snap)

    assert engine.chosen is not None
    assert type(engine.chosen).__module__.startswith(dispatch.REFERENCE_MODULE)
    assert engine.engine_for(snap) is engine.chosen  # chosen once, kept
