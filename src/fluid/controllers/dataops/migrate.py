"""DataMigrate: copy data between a dataset and external storage (or another dataset).

Owns what is particular to DataMigrate: which side's dataset is the target (``to`` when it
is a dataset, else ``from``; ``runtimeType``, when set, must match its runtime), the
sides as the Job sees them (a dataset side is its PVC mounted at ``/fluid/from`` or
``/fluid/to`` with its ``path`` as sub-path; an external side is its URI, with
``encryptOptions`` passed as environment variables read from their Secrets, e.g.
``access-key`` -> ``ACCESS_KEY``), the image (``image``/``imageTag``, else the runtime's),
and the distributed option: with ``parallelism`` N > 1 the Job drives N-1 workers, a
StatefulSet ``<name>-migrate-workers`` behind a headless Service of that name, over SSH
(``parallelOptions``: ``sshSecretName`` holding the keys mounted at ``/root/.ssh``,
``sshPort`` default 22, ``sshReadyTimeoutSeconds`` default 180). The workers are deleted
once the Job finished. A distributed migration neither exports nor inherits location
affinity. While it runs, the target dataset's phase is ``DataMigrating``.

Never touches the API server. Registered as controller ``datamigrate``.
"""

from __future__ import annotations

import re
from typing import Any

from fluid.api import kinds
from fluid.api.constants import DataOperationKind
from fluid.api.dataops import DataToMigrate
from fluid.controllers import ControllerContext
from fluid.controllers.dataops import common, framework, jobs, loaders
from fluid.kube import resources
from fluid.reconcile import Manager

__all__ = ["DataMigrateKind", "env_name", "setup"]

Obj = dict[str, Any]

_MOUNT_ROOT = "/fluid"
_SSH_DIR = "/root/.ssh"
_WORKER_ROLE = "datamigrate-worker"


def env_name(option: str) -> str:
    """An encrypt option's environment variable: ``access-key`` -> ``ACCESS_KEY``."""
    return re.sub(r"[^A-Za-z0-9]", "_", option).upper()


def _side_problems(side: DataToMigrate, where: str, namespace: str) -> list[str]:
    if (side.dataset is None) == (side.external_storage is None):
        return [f"spec.{where} needs exactly one of dataset and externalStorage"]
    if side.dataset is None:
        return []
    found = []
    if side.dataset.namespace != namespace:
        found.append(f"spec.{where}.dataset.namespace must be the DataMigrate's own namespace "
                     f"{namespace!r}: the Job mounts the dataset's volume")
    problem = common.absolute_path_problem(side.dataset.path, f"spec.{where}.dataset.path")
    return found + ([problem] if problem else [])


class DataMigrateKind:
    """The DataMigrate plug-in of the operation framework."""

    kind = DataOperationKind.DATA_MIGRATE
    info = kinds.DATA_MIGRATE
    job_suffix = "migrate-migrate"
    release_suffix = "migrate"
    role = "datamigrate-pod"
    exclusive = True

    def target_dataset(self, op: framework.Operation) -> tuple[str, str] | None:
        for side in (op.spec.to, op.spec.from_):
            if side.dataset is not None:
                return (side.dataset.namespace or op.namespace, side.dataset.name)
        return None

    def problems(self, op: framework.Operation) -> list[str]:
        spec = op.spec
        found = _side_problems(spec.from_, "from", op.namespace)
        found += _side_problems(spec.to, "to", op.namespace)
        if spec.from_.dataset is None and spec.to.dataset is None:
            found.append("at least one of spec.from and spec.to must be a dataset")
        if self._parallelism(op) > 1 and not (spec.parallel_options or {}).get("sshSecretName"):
            found.append("spec.parallelOptions.sshSecretName is required when parallelism > 1: "
                         "name a Secret holding the SSH keys of the workers")
        return found

    def _parallelism(self, op: framework.Operation) -> int:
        return int(op.spec.parallelism or 1)

    def distributed(self, op: framework.Operation) -> bool:
        return self._parallelism(op) > 1

    def _image(self, op: framework.Operation, target: framework.Target) -> str:
        if op.spec.image:
            return f"{op.spec.image}:{op.spec.image_tag}" if op.spec.image_tag else str(op.spec.image)
        return target.runtime_image()

    def _side(self, side: DataToMigrate, where: str) -> tuple[str, list[Obj], list[Obj], list[Obj]]:
        """(what juicefs sync reads/writes, volumes, volume mounts, env) of one side."""
        if side.dataset is not None:
            volume = f"fluid-migrate-{where}"
            mount: Obj = {"name": volume, "mountPath": f"{_MOUNT_ROOT}/{where}"}
            if side.dataset.path and side.dataset.path != "/":
                mount["subPath"] = side.dataset.path.strip("/")
            claim = {"name": volume, "persistentVolumeClaim": {"claimName": side.dataset.name}}
            return f"{_MOUNT_ROOT}/{where}/", [claim], [mount], []
        storage = side.external_storage
        assert storage is not None  # checked by problems()
        env = [
            {"name": env_name(o.name), "valueFrom": {"secretKeyRef": {
                "name": o.value_from.secret_key_ref.name, "key": o.value_from.secret_key_ref.key}}}
            for o in storage.encrypt_options or ()
            if o.value_from and o.value_from.secret_key_ref
        ]
        return storage.uri, [], [], env

    def plan(self, op: framework.Operation, target: framework.Target) -> tuple[jobs.PodPlan, jobs.Placement]:
        spec = op.spec
        if spec.runtime_type and spec.runtime_type != target.runtime_type:
            raise framework.InvalidSpec(
                f"spec.runtimeType is {spec.runtime_type!r} but dataset {target.name} is served by "
                f"a {target.runtime_type!r} runtime"
            )
        loaders.require("DataMigrate", target.runtime_type)
        image = self._image(op, target)
        source, from_volumes, from_mounts, from_env = self._side(spec.from_, "from")
        destination, to_volumes, to_mounts, to_env = self._side(spec.to, "to")
        volumes, mounts = from_volumes + to_volumes, from_mounts + to_mounts
        options = dict(spec.parallel_options or {})
        ssh_port = int(options.get("sshPort") or 22)
        workers = self._worker_hosts(op)
        container = loaders.migrate_container(
            target.runtime_type, image=image, source=source, destination=destination,
            options=spec.options or {}, secret_env=from_env + to_env, workers=workers,
            ssh_port=ssh_port, ssh_ready_timeout=int(options.get("sshReadyTimeoutSeconds") or 180),
        )
        companions: tuple[Obj, ...] = ()
        if workers:
            ssh_volume = {"name": "ssh", "secret": {"secretName": options["sshSecretName"],
                                                    "defaultMode": 0o600}}
            volumes.append(ssh_volume)
            mounts.append({"name": "ssh", "mountPath": _SSH_DIR, "readOnly": True})
            companions = self._workers(op, target, image=image, ssh_port=ssh_port,
                                       volumes=volumes, mounts=mounts)
        container["volumeMounts"] = mounts
        if spec.resources:
            container["resources"] = spec.resources
        plan = jobs.PodPlan(containers=(container,), volumes=tuple(volumes), companions=companions)
        return plan, common.placement(spec)

    def _release(self, op: framework.Operation) -> str:
        return jobs.child_name(op.name, self.release_suffix)

    def _worker_hosts(self, op: framework.Operation) -> list[str]:
        service = jobs.child_name(self._release(op), "workers")
        return [f"{service}-{i}.{service}.{op.namespace}.svc"
                for i in range(self._parallelism(op) - 1)]

    def _workers(
        self, op: framework.Operation, target: framework.Target, *, image: str, ssh_port: int,
        volumes: list[Obj], mounts: list[Obj],
    ) -> tuple[Obj, ...]:
        service = jobs.child_name(self._release(op), "workers")
        labels = {"release": self._release(op), "role": _WORKER_ROLE, "targetDataset": target.name}
        worker = {**loaders.migrate_worker(image=image, ssh_port=ssh_port), "volumeMounts": mounts}
        meta = {"name": service, "namespace": op.namespace, "labels": labels}
        return (
            {"apiVersion": "v1", "kind": "Service", "metadata": dict(meta), "spec": {
                "clusterIP": "None", "selector": labels,
                "ports": [{"name": "ssh", "port": ssh_port}],
            }},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": dict(meta), "spec": {
                "serviceName": service, "replicas": self._parallelism(op) - 1,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels},
                             "spec": {"containers": [worker], "volumes": volumes}},
            }},
        )

    def infos(
        self, op: framework.Operation, target: framework.Target | None, pod: Obj | None
    ) -> dict[str, str]:
        return {}

    def companions(self, op: framework.Operation) -> list[tuple[resources.Resource, str]]:
        if not self.distributed(op):
            return []
        service = jobs.child_name(self._release(op), "workers")
        return [(resources.STATEFULSETS, service), (resources.SERVICES, service)]


def setup(manager: Manager, context: ControllerContext) -> None:
    framework.setup_kind(manager, client=context.client, kind=DataMigrateKind(),
                         operator=context.engines.config)
