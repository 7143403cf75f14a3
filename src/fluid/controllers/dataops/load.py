"""DataLoad: warm a dataset's cache with all of it or with ``target`` paths.

Owns what is particular to DataLoad: the dataset it names (in its own namespace), its
spec checks (absolute target paths), and the loader pod built from the runtime's loader
(``loaders.load_container``) with ``loadMetadata``, per-path ``replicas`` and
``options``; the pod is placed with the spec's affinity, nodeSelector, tolerations,
schedulerName and podMetadata, and gets the runtime's own image. Job
``<name>-loader-job`` (a CronJob of that name for policy Cron), pods labelled
``role: dataload-pod``. Reference datasets (``dataset://``) cannot be loaded: load the
source dataset, whose cache they share.

Never touches the API server; the framework runs it. Registered as controller
``dataload`` through ``setup``.
"""

from __future__ import annotations

from typing import Any

from fluid.api import kinds
from fluid.api.constants import DataOperationKind
from fluid.controllers import ControllerContext
from fluid.controllers.dataops import common, framework, jobs, loaders
from fluid.kube import resources
from fluid.reconcile import Manager

__all__ = ["DataLoadKind", "setup"]

Obj = dict[str, Any]


class DataLoadKind:
    """The DataLoad plug-in of the operation framework."""

    kind = DataOperationKind.DATA_LOAD
    info = kinds.DATA_LOAD
    job_suffix = "loader-job"
    release_suffix = "loader"
    role = "dataload-pod"
    exclusive = True

    def target_dataset(self, op: framework.Operation) -> tuple[str, str] | None:
        dataset = op.spec.dataset
        if dataset is None:
            return None
        return (dataset.namespace or op.namespace, dataset.name)

    def problems(self, op: framework.Operation) -> list[str]:
        spec = op.spec
        found: list[str] = []
        if spec.dataset is None:
            found.append("spec.dataset is required: name the dataset to load")
        elif spec.dataset.namespace and spec.dataset.namespace != op.namespace:
            found.append(f"spec.dataset.namespace must be the DataLoad's own namespace "
                         f"{op.namespace!r}; create the DataLoad in {spec.dataset.namespace!r}")
        for index, target in enumerate(spec.target or ()):
            problem = common.absolute_path_problem(target.path, f"spec.target[{index}].path")
            if problem:
                found.append(problem)
            if target.replicas is not None and target.replicas < 1:
                found.append(f"spec.target[{index}].replicas must be at least 1")
        return found

    def distributed(self, op: framework.Operation) -> bool:
        return False

    def plan(self, op: framework.Operation, target: framework.Target) -> tuple[jobs.PodPlan, jobs.Placement]:
        if target.is_reference:
            raise loaders.NotSupported(
                "a reference dataset shares its source's cache: load the source dataset instead"
            )
        loaders.require("DataLoad", target.runtime_type)
        spec = op.spec
        parts = loaders.load_container(
            target.runtime_type,
            dataset=target.name,
            image=target.runtime_image(),
            targets=[
                loaders.LoadTarget(path=t.path, replicas=t.replicas or 1) for t in spec.target or ()
            ],
            load_metadata=bool(spec.load_metadata),
            options=spec.options or {},
        )
        containers = [dict(c) for c in parts.containers]
        if spec.resources:
            containers = [{**c, "resources": spec.resources} for c in containers]
        volumes: tuple[Obj, ...] = ()
        if parts.mounts_dataset:
            containers = [common.mount_dataset(c, loaders.DATA_MOUNT, read_only=True) for c in containers]
            volumes = (common.dataset_volume(target.name, read_only=True),)
        plan = jobs.PodPlan(containers=tuple(containers), volumes=volumes)
        return plan, common.placement(spec)

    def infos(
        self, op: framework.Operation, target: framework.Target | None, pod: Obj | None
    ) -> dict[str, str]:
        return {}

    def companions(self, op: framework.Operation) -> list[tuple[resources.Resource, str]]:
        return []


def setup(manager: Manager, context: ControllerContext) -> None:
    framework.setup_kind(manager, client=context.client, kind=DataLoadKind(),
                         operator=context.engines.config)
