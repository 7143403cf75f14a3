"""DataProcess: the user's pod or script, run as a Job against the mounted dataset.

Owns what is particular to DataProcess: the processor, exactly one of ``job.podSpec``
(the user's PodSpec) and ``script`` (container ``script-processor`` running ``source``
with ``command``, default ``/bin/sh``, plus its env, volumes and resources); the dataset's
PVC mounted as volume ``fluid-dataset-vol`` at ``dataset.mountPath`` (with ``subPath``)
in every container; ``serviceAccountName`` and ``podMetadata``; the checks upstream
makes (same namespace, one processor, no container already using ``mountPath``).
DataProcess takes a *shared* claim on the dataset lock: several may run at once, and a
DataLoad does not wait for them. Reference datasets are not supported, as upstream.

Never touches the API server. Registered as controller ``dataprocess``.
"""

from __future__ import annotations

import copy
from typing import Any

from fluid.api import kinds
from fluid.api.constants import DataOperationKind
from fluid.controllers import ControllerContext
from fluid.controllers.dataops import common, framework, jobs, loaders
from fluid.kube import resources
from fluid.reconcile import Manager

__all__ = ["SCRIPT_CONTAINER", "DataProcessKind", "setup"]

Obj = dict[str, Any]

SCRIPT_CONTAINER = "script-processor"
_DEFAULT_COMMAND = ("/bin/sh", "-c")
_JOB_RESTART_POLICIES = ("Never", "OnFailure")


def _mount_paths(containers: list[Obj]) -> set[str]:
    return {str(m.get("mountPath", "")).rstrip("/") for c in containers for m in c.get("volumeMounts") or ()}


class DataProcessKind:
    """The DataProcess plug-in of the operation framework."""

    kind = DataOperationKind.DATA_PROCESS
    info = kinds.DATA_PROCESS
    job_suffix = "processor-job"
    release_suffix = "processor"
    role = "dataprocess-pod"
    exclusive = False

    def target_dataset(self, op: framework.Operation) -> tuple[str, str] | None:
        dataset = op.spec.dataset
        return (dataset.namespace or op.namespace, dataset.name)

    def _containers(self, op: framework.Operation) -> list[Obj]:
        processor = op.spec.processor
        if processor.job is not None:
            return list((processor.job.pod_spec or {}).get("containers") or [])
        if processor.script is not None:
            return [{"volumeMounts": processor.script.volume_mounts or []}]
        return []

    def problems(self, op: framework.Operation) -> list[str]:
        spec = op.spec
        found: list[str] = []
        if spec.dataset.namespace and spec.dataset.namespace != op.namespace:
            found.append(f"spec.dataset.namespace must be the DataProcess's own namespace "
                         f"{op.namespace!r}")
        processor = spec.processor
        if processor.job is None and processor.script is None:
            found.append("spec.processor needs a job (podSpec) or a script")
        elif processor.job is not None and processor.script is not None:
            found.append("spec.processor takes either a job or a script, not both")
        elif processor.job is not None and not (processor.job.pod_spec or {}).get("containers"):
            found.append("spec.processor.job.podSpec needs at least one container")
        for problem in (common.absolute_path_problem(spec.dataset.mount_path, "spec.dataset.mountPath"),):
            if problem:
                found.append(problem)
        if spec.dataset.mount_path.rstrip("/") in _mount_paths(self._containers(op)):
            found.append(f"spec.dataset.mountPath {spec.dataset.mount_path} is already used by a "
                         f"volumeMount of the processor; choose another path")
        return found

    def distributed(self, op: framework.Operation) -> bool:
        return False

    def _script(self, op: framework.Operation) -> jobs.PodPlan:
        script = op.spec.processor.script
        image = f"{script.image}:{script.image_tag}" if script.image_tag else str(script.image or "")
        if not image:
            raise framework.InvalidSpec("spec.processor.script.image is required")
        container: Obj = {
            "name": SCRIPT_CONTAINER,
            "image": image,
            "command": [*(script.command or _DEFAULT_COMMAND), script.source],
        }
        if script.image_pull_policy:
            container["imagePullPolicy"] = script.image_pull_policy
        if script.env:
            container["env"] = [
                {k: v for k, v in (("name", e.name), ("value", e.value),
                                   ("valueFrom", e.value_from)) if v is not None}
                for e in script.env
            ]
        if script.volume_mounts:
            container["volumeMounts"] = copy.deepcopy(script.volume_mounts)
        if script.resources:
            container["resources"] = script.resources
        return jobs.PodPlan(
            containers=(container,), volumes=tuple(script.volumes or ()),
            restart_policy=str(script.restart_policy or "Never"),
        )

    def _job(self, op: framework.Operation) -> jobs.PodPlan:
        pod_spec = copy.deepcopy((op.spec.processor.job.pod_spec) or {})
        containers = tuple(pod_spec.pop("containers"))
        volumes = tuple(pod_spec.pop("volumes", ()))
        init = tuple(pod_spec.pop("initContainers", ()))
        restart = pod_spec.pop("restartPolicy", "Never")
        if restart not in _JOB_RESTART_POLICIES:
            raise framework.InvalidSpec(
                f"spec.processor.job.podSpec.restartPolicy must be Never or OnFailure for a Job; "
                f"got {restart!r}"
            )
        return jobs.PodPlan(containers=containers, volumes=volumes, init_containers=init,
                            restart_policy=restart, extra_spec=pod_spec)

    def plan(self, op: framework.Operation, target: framework.Target) -> tuple[jobs.PodPlan, jobs.Placement]:
        if target.is_reference:
            raise loaders.NotSupported("DataProcess is not supported on reference (dataset://) "
                                       "datasets: run it in the source dataset's namespace")
        processor = op.spec.processor
        plan = self._job(op) if processor.job is not None else self._script(op)
        dataset = op.spec.dataset
        containers = tuple(
            common.mount_dataset(c, dataset.mount_path, sub_path=dataset.sub_path)
            for c in plan.containers
        )
        plan = jobs.PodPlan(
            containers=containers,
            volumes=(*plan.volumes, common.dataset_volume(target.name)),
            init_containers=plan.init_containers,
            service_account_name=processor.service_account_name,
            restart_policy=plan.restart_policy,
            extra_spec=plan.extra_spec,
        )
        metadata = processor.pod_metadata
        placement = jobs.Placement(
            affinity=(plan.extra_spec or {}).get("affinity"),
            labels=metadata.labels if metadata else None,
            annotations=metadata.annotations if metadata else None,
        )
        return plan, placement

    def infos(
        self, op: framework.Operation, target: framework.Target | None, pod: Obj | None
    ) -> dict[str, str]:
        return {}

    def companions(self, op: framework.Operation) -> list[tuple[resources.Resource, str]]:
        return []


def setup(manager: Manager, context: ControllerContext) -> None:
    framework.setup_kind(manager, client=context.client, kind=DataProcessKind(),
                         operator=context.engines.config)
