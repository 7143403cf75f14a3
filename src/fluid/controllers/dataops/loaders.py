"""What each runtime runs inside a data operation's Job: image, command and environment.

Owns the per-runtime table of loader, migrate and backup containers (keyed by the
runtime type of ``fluid.api.constants.RuntimeType``): Alluxio and GooseFS load through
their master (``fs distributedLoad``), Jindo through ``jindocache -load``, JuiceFS warms
the cache through a mount of the dataset (``juicefs warmup``) and migrates with
``juicefs sync``; Alluxio and GooseFS back up with ``fsadmin backup``. The scripts are
ours; the commands and flags are the runtimes' public CLIs.

Never talks to the API server and never decides *whether* an operation runs; the
operation modules (``load``, ``migrate``, ``backup``) call these builders and raise
``NotSupported`` back to the framework, which fails the operation with an Event. The
engines may later own these tables; keep this module the one place that knows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fluid.api import constants
from fluid.api.constants import RuntimeType
from fluid.engines import settings_env

__all__ = [
    "BACKUP_INFO_FILE",
    "BACKUP_METADATA_FILE",
    "DATA_MOUNT",
    "DEFAULT_IMAGES",
    "OPERATOR_IMAGE_ENV",
    "SUPPORTED",
    "LoadTarget",
    "NotSupported",
    "PodParts",
    "backup_container",
    "load_container",
    "migrate_container",
    "migrate_worker",
    "require",
    "runtime_image",
]

Obj = dict[str, Any]

DATA_MOUNT = "/data"
"""Where a loader or migrate pod mounts the dataset's PVC when its runtime needs a mount."""

BACKUP_METADATA_FILE = constants.BACKUP_METADATA_FILE
BACKUP_INFO_FILE = constants.BACKUP_INFO_FILE

DEFAULT_IMAGES: Mapping[str, str] = {
    RuntimeType.ALLUXIO: "alluxio/alluxio-dev:2.9.0",
    RuntimeType.GOOSEFS: "ccr.ccs.tencentyun.com/qcloud/goosefs:v1.2.0",
    RuntimeType.JINDO: "registry.cn-shanghai.aliyuncs.com/jindofs/smartdata:6.9.1-202509151826",
    RuntimeType.JUICEFS: "juicedata/mount:ce-v1.3.0",
}
"""Images used when the runtime names none and the operator set no default (the charts' defaults)."""

OPERATOR_IMAGE_ENV: Mapping[str, str] = {
    RuntimeType.ALLUXIO: settings_env.ALLUXIO_RUNTIME_IMAGE,
    RuntimeType.GOOSEFS: settings_env.GOOSEFS_RUNTIME_IMAGE,
    RuntimeType.JINDO: settings_env.JINDO_SMARTDATA_IMAGE,
    RuntimeType.JUICEFS: settings_env.JUICEFS_CE_IMAGE,
}
"""The operator's default image of each runtime type (``EngineConfig.images`` key), which
the runtime's workers run when its spec names none, so its operations run it too."""

_VERSION_FIELD: Mapping[str, str] = {
    RuntimeType.ALLUXIO: "alluxioVersion",
    RuntimeType.GOOSEFS: "goosefsVersion",
    RuntimeType.JINDO: "jindoVersion",
    RuntimeType.JUICEFS: "juicefsVersion",
}


class NotSupported(Exception):
    """The runtime cannot run this operation (upstream's ``DataOperationNotSupport``)."""


SUPPORTED: Mapping[str, frozenset[str]] = {
    "DataLoad": frozenset({RuntimeType.ALLUXIO, RuntimeType.GOOSEFS, RuntimeType.JINDO,
                           RuntimeType.JUICEFS}),
    "DataMigrate": frozenset({RuntimeType.JUICEFS}),
    "DataBackup": frozenset({RuntimeType.ALLUXIO, RuntimeType.GOOSEFS}),
}
"""Which runtime types can run the operations whose containers this module builds."""


def require(operation: str, runtime_type: str) -> None:
    """Raise NotSupported unless ``runtime_type`` runs ``operation``."""
    if runtime_type not in SUPPORTED.get(operation, frozenset()):
        raise NotSupported(f"runtime type {runtime_type!r} does not support {operation}")


@attrs.frozen(kw_only=True)
class LoadTarget:
    """A path inside the dataset and how many cache replicas to keep of it."""

    path: str
    replicas: int = 1


@attrs.frozen(kw_only=True)
class PodParts:
    """The containers a Job's pod runs, and whether it mounts the dataset at ``DATA_MOUNT``."""

    containers: tuple[Obj, ...]
    mounts_dataset: bool = False


def runtime_image(
    runtime_type: str, runtime: Mapping[str, Any] | None, *,
    operator_images: Mapping[str, str] | None = None,
) -> str:
    """The runtime's own image (``spec.<type>Version``), else the operator's default for its
    type (``operator_images``, by env name), else the built-in one; a tag the spec gives
    without an image applies to the default, as the engines render it."""
    version = ((runtime or {}).get("spec") or {}).get(_VERSION_FIELD.get(runtime_type, ""), {}) or {}
    image, tag = version.get("image"), version.get("imageTag")
    if image:
        return f"{image}:{tag}" if tag else str(image)
    default = (operator_images or {}).get(OPERATOR_IMAGE_ENV.get(runtime_type, "")) or \
        DEFAULT_IMAGES.get(runtime_type)
    if default is None:
        raise NotSupported(f"no data operation image is known for runtime type {runtime_type!r}")
    return f"{default.rpartition(':')[0]}:{tag}" if tag else default


def _env(values: Mapping[str, str]) -> list[Obj]:
    return [{"name": key, "value": value} for key, value in values.items()]


def _targets_env(targets: Sequence[LoadTarget]) -> str:
    """One ``<path>\\t<replicas>`` line per target; the scripts read it with ``read``."""
    return "\n".join(f"{t.path}\t{t.replicas}" for t in targets)


def _options_args(options: Mapping[str, str]) -> str:
    """``--key=value`` flags in a stable order (empty values become bare ``--key``)."""
    return " ".join(f"--{k}={v}" if v else f"--{k}" for k, v in sorted(options.items()))


# Each script reads its inputs from the environment, so paths are never spliced into shell
# code. TARGETS holds "<path>\t<replicas>" lines.
_MASTER_LOAD = """set -eu
cli="$FLUID_CLI"
if [ "$LOAD_METADATA" = "true" ]; then
  "$cli" fs ls -R -Dalluxio.user.file.metadata.sync.interval=0 / > /dev/null
fi
printf '%s\\n' "$TARGETS" | while IFS="$(printf '\\t')" read -r path replicas; do
  [ -n "$path" ] || continue
  "$cli" fs ls "$path" > /dev/null || { echo "path $path does not exist in the dataset"; exit 1; }
  "$cli" fs setReplication --max "$replicas" -R "$path"
  "$cli" fs distributedLoad --replication "$replicas" "$path"
done
"""

_JINDO_LOAD = """set -eu
meta=""
[ "$LOAD_METADATA" = "true" ] && meta="-meta"
printf '%s\\n' "$TARGETS" | while IFS="$(printf '\\t')" read -r path replicas; do
  [ -n "$path" ] || continue
  jindocache -load $meta -data -s -R -replica "$replicas" "jindo://$path"
done
"""

_JUICEFS_WARMUP = """set -eu
printf '%s\\n' "$TARGETS" | while IFS="$(printf '\\t')" read -r path replicas; do
  [ -n "$path" ] || continue
  [ -e "$DATA_MOUNT$path" ] || { echo "path $path does not exist in the dataset"; exit 1; }
  juicefs warmup $OPTIONS "$DATA_MOUNT$path"
done
"""

_JUICEFS_SYNC = """set -eu
workers=""
for host in $WORKERS; do
  # Distributed: wait until each worker's sshd answers, then hand juicefs the list.
  timeout "$SSH_READY_TIMEOUT" sh -c "until nc -z $host $SSH_PORT; do sleep 1; done"
  workers="${workers:+$workers,}$host"
done
juicefs sync $OPTIONS ${workers:+--worker=$workers} "$FROM" "$TO"
"""

_MASTER_BACKUP = """set -eu
mkdir -p "$BACKUP_DIR"
# The master writes the backup under its backup directory in the root UFS, which the
# Alluxio namespace shows at the same path; copy it out next to the statistics.
uri=$("$FLUID_CLI" fsadmin backup | sed -n 's/.*Backup URI *: *//p')
[ -n "$uri" ] || { echo "the master reported no backup URI"; exit 1; }
"$FLUID_CLI" fs copyToLocal "$BACKUP_UFS_DIR/${uri##*/}" "$BACKUP_DIR/$METADATA_FILE"
printf 'dataset: %s\\nnamespace: %s\\nufstotal: %s\\nfilenum: %s\\n' \\
  "$DATASET_NAME" "$DATASET_NAMESPACE" "$UFS_TOTAL" "$FILE_NUM" > "$BACKUP_DIR/$INFO_FILE"
"""


def _shell(name: str, image: str, script: str, env: Mapping[str, str]) -> Obj:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script],
        "env": _env(env),
    }


def load_container(
    runtime_type: str,
    *,
    dataset: str,
    image: str,
    targets: Sequence[LoadTarget],
    load_metadata: bool,
    options: Mapping[str, str],
) -> PodParts:
    """The loader of a DataLoad; ``targets`` empty means the whole dataset (``/``)."""
    require("DataLoad", runtime_type)
    paths = list(targets) or [LoadTarget(path="/", replicas=1)]
    env = {"TARGETS": _targets_env(paths), "LOAD_METADATA": str(load_metadata).lower()}
    if runtime_type in (RuntimeType.ALLUXIO, RuntimeType.GOOSEFS):
        container = _shell("dataloader", image, _MASTER_LOAD, {**env, "FLUID_CLI": runtime_type})
        # The runtime's client configuration (master address...), as the charts pass it.
        container["envFrom"] = [{"configMapRef": {"name": f"{dataset}-config", "optional": True}}]
        return PodParts(containers=(container,))
    if runtime_type == RuntimeType.JINDO:
        return PodParts(containers=(_shell("dataloader", image, _JINDO_LOAD, env),))
    if runtime_type == RuntimeType.JUICEFS:
        env |= {"DATA_MOUNT": DATA_MOUNT, "OPTIONS": _options_args(options)}
        return PodParts(
            containers=(_shell("dataloader", image, _JUICEFS_WARMUP, env),), mounts_dataset=True
        )
    raise AssertionError(f"SUPPORTED lists {runtime_type!r} for DataLoad without a loader")


def migrate_container(
    runtime_type: str,
    *,
    image: str,
    source: str,
    destination: str,
    options: Mapping[str, str],
    secret_env: Sequence[Obj] = (),
    workers: Sequence[str] = (),
    ssh_port: int = 22,
    ssh_ready_timeout: int = 180,
) -> Obj:
    """The container of a DataMigrate; ``source``/``destination`` are paths or URIs.

    ``workers`` (host names) makes it a distributed sync over SSH to those hosts.
    """
    require("DataMigrate", runtime_type)
    env = {
        "FROM": source, "TO": destination, "OPTIONS": _options_args(options),
        "WORKERS": " ".join(workers), "SSH_PORT": str(ssh_port),
        "SSH_READY_TIMEOUT": str(ssh_ready_timeout),
    }
    container = _shell("migrate", image, _JUICEFS_SYNC, env)
    container["env"] = [*container["env"], *secret_env]
    return container


def migrate_worker(*, image: str, ssh_port: int) -> Obj:
    """A distributed migration's worker: an sshd the launcher's ``juicefs sync`` drives."""
    script = 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p "$SSH_PORT"'
    return _shell("worker", image, script, {"SSH_PORT": str(ssh_port)})


def backup_container(
    runtime_type: str,
    *,
    image: str,
    dataset: str,
    namespace: str,
    backup_dir: str,
    statistics: Mapping[str, str],
) -> Obj:
    """The container of a DataBackup writing the metadata and statistics files to ``backup_dir``."""
    require("DataBackup", runtime_type)
    env = {
        "FLUID_CLI": runtime_type,
        "BACKUP_DIR": backup_dir,
        "BACKUP_UFS_DIR": f"/{runtime_type}_backups",
        "DATASET_NAME": dataset,
        "DATASET_NAMESPACE": namespace,
        "METADATA_FILE": BACKUP_METADATA_FILE.format(name=dataset, namespace=namespace),
        "INFO_FILE": BACKUP_INFO_FILE.format(name=dataset, namespace=namespace),
        "UFS_TOTAL": statistics.get("ufsTotal", ""),
        "FILE_NUM": statistics.get("fileNum", ""),
    }
    container = _shell("backup", image, _MASTER_BACKUP, env)
    container["envFrom"] = [{"configMapRef": {"name": f"{dataset}-config", "optional": True}}]
    return container
