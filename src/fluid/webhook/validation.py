"""Admission validation of data.fluid.io objects: the rules a CRD schema cannot express.

Owns the checks run on CREATE and UPDATE of every Fluid kind: reference-dataset mounts,
unique mount names and paths, paths that stay inside the dataset, tiered-store quotas and
watermarks, absolute data-operation paths, ``runAfter`` cycles, and the fields that
cannot change after creation. Every rejection is a ``Violation`` naming the field and
saying what to do. Pure: the only outside knowledge (other operations, for ``runAfter``)
comes from the injected async ``lookup``. Called by the admission handler in
``fluid.webhook.admission``; never builds HTTP responses itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from fluid.api import converter, kinds
from fluid.api.constants import Policy, is_dns1035_label
from fluid.api.dataops import (
    DataBackup,
    DataLoad,
    DataMigrate,
    DataProcess,
    DataToMigrate,
)
from fluid.api.dataset import Dataset, EncryptOption, Mount
from fluid.api.quantity import parse_quantity
from fluid.api.runtime_common import Level, TieredStore
from fluid.api.thin import ThinRuntimeProfile

__all__ = [
    "IMMUTABLE_FIELDS",
    "Lookup",
    "Violation",
    "check",
    "validate_create",
    "validate_update",
]

Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]
"""``lookup(kind, namespace, name)``: a Fluid object as a raw dict, or None if absent."""

MAX_RUN_AFTER_DEPTH = 64
"""How far a ``runAfter`` chain is followed; real data flows are a handful of steps."""


@attrs.frozen
class Violation:
    """One rejected field: where (``spec.mounts[1].path``) and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# -- small helpers -------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def _escapes(path: str) -> bool:
    """Whether a path has a ``..`` segment (and so may leave the directory it is under)."""
    return ".." in path.replace("\\", "/").split("/")


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0] if "://" in uri else ""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


# -- Dataset ---------------------------------------------------------------------------------


def _check_reference_mount(mount: Mount, at: str, own: tuple[str, str]) -> list[Violation]:
    rest = mount.mount_point[len("dataset://"):]
    namespace, _, tail = rest.partition("/")
    name, _, subpath = tail.partition("/")
    form = "dataset://<namespace>/<name>"
    if not _DNS1123_LABEL.match(namespace) or not is_dns1035_label(name):
        return [Violation(f"{at}.mountPoint", f"must have the form {form} naming an existing "
                          f"dataset, e.g. dataset://default/spark; got {mount.mount_point!r}")]
    if (namespace, name) == own:
        return [Violation(f"{at}.mountPoint", "a dataset cannot refer to itself; name the "
                          "dataset whose cache it should share")]
    if _escapes(subpath):
        return [Violation(f"{at}.mountPoint", "the sub-path may not contain '..'; name a "
                          "directory inside the referenced dataset")]
    return []


def _check_mount_source(mount: Mount, at: str) -> list[Violation]:
    scheme, point = _scheme(mount.mount_point), mount.mount_point
    if scheme == "local" and not point[len("local://"):].startswith("/"):
        return [Violation(f"{at}.mountPoint", "must be local://<absolute host path>, e.g. "
                          f"local:///mnt/data; got {point!r}")]
    if scheme == "pvc" and not point[len("pvc://"):].split("/", 1)[0]:
        return [Violation(f"{at}.mountPoint", "must be pvc://<pvcName>[/<subpath>]; the PVC "
                          "name is missing")]
    if scheme in ("local", "pvc") and _escapes(point.split("://", 1)[1]):
        return [Violation(f"{at}.mountPoint", "may not contain '..'; name the directory itself")]
    return []


def _check_option_clashes(
    options: Mapping[str, str] | None, secrets: list[EncryptOption] | None, at: str, what: str
) -> list[Violation]:
    found: list[Violation] = []
    seen: dict[str, int] = {}
    for index, option in enumerate(secrets or []):
        where = f"{at}[{index}].name"
        if option.name in seen:
            found.append(Violation(where, f"duplicate option {option.name!r} (also "
                                   f"{at}[{seen[option.name]}]); set each option once"))
        elif option.name in (options or {}):
            found.append(Violation(where, f"option {option.name!r} is also set in {what}; "
                                   "set it in one place only"))
        seen.setdefault(option.name, index)
    return found


def _check_mounts(mounts: list[Mount], own: tuple[str, str]) -> list[Violation]:
    found: list[Violation] = []
    references = [i for i, m in enumerate(mounts) if _scheme(m.mount_point) == "dataset"]
    if references and len(mounts) > 1:
        found.append(Violation("spec.mounts", "a dataset:// mount must be the only mount of its "
                               "dataset; move the other sources to the referenced dataset or "
                               "to another Dataset"))
    names: dict[str, int] = {}
    paths: dict[str, int] = {}
    for index, mount in enumerate(mounts):
        at = f"spec.mounts[{index}]"
        if index in references:
            found += _check_reference_mount(mount, at, own)
        else:
            found += _check_mount_source(mount, at)
        if mount.name:
            if mount.name in names:
                found.append(Violation(f"{at}.name", f"duplicate mount name {mount.name!r} (also "
                                       f"spec.mounts[{names[mount.name]}]); give each mount "
                                       "its own name"))
            names.setdefault(mount.name, index)
        if mount.path and _escapes(mount.path):
            found.append(Violation(f"{at}.path", "may not contain '..'; use a path inside the "
                                   "dataset such as /data"))
        effective = mount.path or (f"/{mount.name}" if mount.name else None)
        if effective is not None:
            if effective in paths:
                found.append(Violation(f"{at}.path", f"mount path {effective!r} is already used by "
                                       f"spec.mounts[{paths[effective]}]; set a different path"))
            paths.setdefault(effective, index)
        found += _check_option_clashes(
            mount.options, mount.encrypt_options, f"{at}.encryptOptions", f"{at}.options"
        )
    return found


def _check_dataset(model: Dataset, obj: Mapping[str, Any]) -> list[Violation]:
    spec = model.spec
    if spec is None:
        return []
    own = (str(_meta(obj).get("namespace", "")), model.name)
    found = _check_mounts(spec.mounts or [], own)
    found += _check_option_clashes(spec.shared_options, spec.shared_encrypt_options,
                                   "spec.sharedEncryptOptions", "spec.sharedOptions")
    for index, mode in enumerate(spec.access_modes or []):
        if mode not in _ACCESS_MODES:
            found.append(Violation(f"spec.accessModes[{index}]", f"unsupported access mode "
                                   f"{mode!r}; use one of {', '.join(_ACCESS_MODES)}"))
    restore = spec.data_restore_location
    if restore is not None and restore.path and _scheme(restore.path) not in ("local", "pvc"):
        found.append(Violation("spec.dataRestoreLocation.path", "must be local://<path> or "
                               f"pvc://<pvcName>/<path>; got {restore.path!r}"))
    return found


# -- runtimes --------------------------------------------------------------------------------


def _ratio(value: str, at: str) -> tuple[Decimal | None, list[Violation]]:
    try:
        ratio = Decimal(value.strip())
    except ArithmeticError:
        return None, [Violation(at, f"must be a ratio between 0 and 1 such as \"0.9\"; "
                                f"got {value!r}")]
    if not Decimal(0) <= ratio <= Decimal(1):
        return None, [Violation(at, f"must be between 0 and 1; got {value!r}")]
    return ratio, []


def _check_quota(level: Level, at: str) -> list[Violation]:
    found: list[Violation] = []
    if level.quota is not None:
        try:
            if parse_quantity(level.quota) <= 0:
                found.append(Violation(f"{at}.quota", "must be greater than zero, e.g. 2Gi"))
        except ValueError as exc:
            found.append(Violation(f"{at}.quota", str(exc)))
    if level.quota_list:
        quotas = [q.strip() for q in level.quota_list.split(",")]
        for quota in quotas:
            try:
                parse_quantity(quota)
            except ValueError as exc:
                found.append(Violation(f"{at}.quotaList", str(exc)))
        paths = [p for p in (level.path or "").split(",") if p.strip()]
        if paths and len(paths) != len(quotas):
            found.append(Violation(f"{at}.quotaList", f"has {len(quotas)} quotas for "
                                   f"{len(paths)} paths in {at}.path; give one quota per path"))
    return found


def _check_level(level: Level, at: str) -> list[Violation]:
    found = _check_quota(level, at)
    for path in (level.path or "").split(","):
        if path.strip() and not path.strip().startswith("/"):
            found.append(Violation(f"{at}.path", f"cache path {path.strip()!r} must be absolute, "
                                   "e.g. /dev/shm or /mnt/cache1"))
    high = low = None
    if level.high is not None:
        high, problems = _ratio(level.high, f"{at}.high")
        found += problems
    if level.low is not None:
        low, problems = _ratio(level.low, f"{at}.low")
        found += problems
    if high is not None and low is not None and not low < high:
        found.append(Violation(f"{at}.low", f"the low watermark ({level.low}) must be lower than "
                               f"the high watermark ({level.high})"))
    return found


def _check_tieredstore(store: TieredStore | None) -> list[Violation]:
    found: list[Violation] = []
    for index, level in enumerate((store.levels or []) if store else []):
        found += _check_level(level, f"spec.tieredstore.levels[{index}]")
    return found


def _check_runtime(model: Any, obj: Mapping[str, Any]) -> list[Violation]:
    spec = model.spec
    if spec is None:
        return []
    found = _check_tieredstore(spec.tieredstore)
    if spec.replicas is not None and spec.replicas < 0:
        found.append(Violation("spec.replicas", "must be 0 or more (the number of cache workers)"))
    return found + _check_master_quorum(getattr(spec, "master", None))


def _check_master_quorum(master: Any) -> list[Violation]:
    """Several Alluxio/GooseFS masters share an embedded (Raft) journal: an even count adds
    a master without tolerating one more failure, and a split vote can stall it."""
    replicas = getattr(master, "replicas", None)
    if replicas is None or replicas <= 1 or replicas % 2:
        return []
    return [Violation("spec.master.replicas", f"must be 1 or an odd number (3, 5, ...) so the "
                      f"embedded journal keeps a quorum when a master fails; got {replicas}")]


def _check_profile(model: ThinRuntimeProfile, obj: Mapping[str, Any]) -> list[Violation]:
    if model.spec is not None and not model.spec.file_system_type.strip():
        return [Violation("spec.fileSystemType", "must name the file system, e.g. nfs")]
    return []


# -- data operations -------------------------------------------------------------------------

_CRON_FIELDS = 5


def _check_absolute(path: str | None, at: str) -> list[Violation]:
    if path is None:
        return []
    if not path.startswith("/"):
        return [Violation(at, f"must be an absolute path inside the dataset, e.g. /data; "
                          f"got {path!r}")]
    if _escapes(path):
        return [Violation(at, "may not contain '..'; name the directory itself")]
    return []


def _check_schedule(policy: Policy | None, schedule: str | None) -> list[Violation]:
    if policy is Policy.CRON and not (schedule or "").strip():
        return [Violation("spec.schedule", "is required when spec.policy is Cron; give a cron "
                          "expression such as \"0 */6 * * *\"")]
    text = (schedule or "").strip()
    if text and not text.startswith("@") and len(text.split()) != _CRON_FIELDS:
        return [Violation("spec.schedule", f"must be a cron expression with 5 fields such as "
                          f"\"0 */6 * * *\" (or @hourly, @daily...); got {schedule!r}")]
    return []


def _check_same_namespace(namespace: str | None, kind: str, own: str, at: str) -> list[Violation]:
    if namespace and own and namespace != own:
        return [Violation(at, f"must be the {kind}'s own namespace {own!r}: a {kind} can only "
                          "target a dataset in its namespace")]
    return []


def _check_data_load(model: DataLoad, obj: Mapping[str, Any]) -> list[Violation]:
    spec = model.spec
    if spec is None:
        return []
    found: list[Violation] = []
    if spec.dataset is not None:
        found += _check_same_namespace(spec.dataset.namespace, "DataLoad",
                                       str(_meta(obj).get("namespace", "")),
                                       "spec.dataset.namespace")
    for index, target in enumerate(spec.target or []):
        found += _check_absolute(target.path, f"spec.target[{index}].path")
    return found + _check_schedule(spec.policy, spec.schedule)


def _check_data_backup(model: DataBackup, obj: Mapping[str, Any]) -> list[Violation]:
    spec = model.spec
    if spec is None or spec.backup_path is None:
        return []
    path = spec.backup_path
    scheme = _scheme(path)
    rest = path.split("://", 1)[1] if scheme else ""
    if scheme not in ("pvc", "local") or not rest or (scheme == "pvc" and "/" not in rest):
        return [Violation("spec.backupPath", "must be pvc://<pvcName>/<subpath> or "
                          f"local://<path>; got {path!r}")]
    if _escapes(rest):
        return [Violation("spec.backupPath", "may not contain '..'; name the directory itself")]
    return []


def _check_migrate_side(side: DataToMigrate, at: str) -> list[Violation]:
    if (side.dataset is None) == (side.external_storage is None):
        return [Violation(at, "set exactly one of dataset or externalStorage")]
    if side.dataset is not None:
        return _check_absolute(side.dataset.path, f"{at}.dataset.path")
    uri = side.external_storage.uri if side.external_storage else ""
    if not _scheme(uri):
        return [Violation(f"{at}.externalStorage.uri", "must be a URI with a scheme, e.g. "
                          f"s3://bucket/path; got {uri!r}")]
    return []


def _check_data_migrate(model: DataMigrate, obj: Mapping[str, Any]) -> list[Violation]:
    spec = model.spec
    if spec is None:
        return []
    found = _check_migrate_side(spec.from_, "spec.from") + _check_migrate_side(spec.to, "spec.to")
    if spec.from_.dataset is None and spec.to.dataset is None and not found:
        found.append(Violation("spec.to", "one side of a migration must be a dataset"))
    if (spec.parallelism or 1) > 1 and not (spec.parallel_options or {}).get("sshSecretName"):
        found.append(Violation("spec.parallelOptions.sshSecretName", "is required when "
                               "spec.parallelism > 1: name the Secret with the workers' SSH keys"))
    return found + _check_schedule(spec.policy, spec.schedule)


def _check_data_process(model: DataProcess, obj: Mapping[str, Any]) -> list[Violation]:
    spec = model.spec
    if spec is None:
        return []
    found = _check_absolute(spec.dataset.mount_path, "spec.dataset.mountPath")
    if spec.dataset.sub_path and _escapes(spec.dataset.sub_path):
        found.append(Violation("spec.dataset.subPath", "may not contain '..'; name a directory "
                               "inside the dataset"))
    found += _check_same_namespace(spec.dataset.namespace, "DataProcess",
                                   str(_meta(obj).get("namespace", "")), "spec.dataset.namespace")
    processor = spec.processor
    if (processor.job is None) == (processor.script is None):
        found.append(Violation("spec.processor", "set exactly one of job or script"))
    return found + _check_schedule(spec.policy, spec.schedule)


# -- dispatch --------------------------------------------------------------------------------

_Checker = Callable[[Any, Mapping[str, Any]], list[Violation]]
_CHECKS: dict[str, _Checker] = {
    "Dataset": _check_dataset,
    "ThinRuntimeProfile": _check_profile,
    "DataLoad": _check_data_load,
    "DataBackup": _check_data_backup,
    "DataMigrate": _check_data_migrate,
    "DataProcess": _check_data_process,
    **{info.kind: _check_runtime for info in kinds.RUNTIMES},
}
_DNS1035_NAMED = {"Dataset", *(info.kind for info in kinds.RUNTIMES)}


def _check_name(kind: str, obj: Mapping[str, Any]) -> list[Violation]:
    name = str(_meta(obj).get("name") or "")
    if kind in _DNS1035_NAMED and name and not is_dns1035_label(name):
        return [Violation("metadata.name", f"{name!r} is not a DNS-1035 label: a {kind} name "
                          "also names Services and labels, so use lowercase letters, digits and "
                          "'-', starting with a letter (e.g. hbase-20, not 20-hbase)")]
    return []


def check(obj: Mapping[str, Any]) -> list[Violation]:
    """Every problem with one Fluid object on its own (no lookups)."""
    info = kinds.kind_of(obj)
    if info is None:
        return [Violation("kind", f"{obj.get('apiVersion')}/{obj.get('kind')} is not a "
                          "data.fluid.io/v1alpha1 kind this webhook validates")]
    try:
        model = converter.structure(obj, info.model)
    except converter.StructureError as exc:
        return [Violation(e.path, e.message) for e in exc.errors]
    return _check_name(info.kind, obj) + _CHECKS[info.kind](model, obj)


# -- runAfter --------------------------------------------------------------------------------


def _next_ref(obj: Mapping[str, Any], namespace: str) -> tuple[str, str, str] | None:
    ref = (obj.get("spec") or {}).get("runAfter")
    if not isinstance(ref, Mapping) or not ref.get("kind") or not ref.get("name"):
        return None
    return str(ref["kind"]), str(ref.get("namespace") or namespace), str(ref["name"])


def _describe(chain: Iterable[tuple[str, str, str]]) -> str:
    return " -> ".join(f"{kind} {namespace}/{name}" for kind, namespace, name in chain)


async def _check_run_after(obj: Mapping[str, Any], *, lookup: Lookup) -> list[Violation]:
    """Follow ``runAfter`` from ``obj``; a chain that comes back to it is a cycle."""
    namespace = str(_meta(obj).get("namespace") or "")
    start = (str(obj.get("kind")), namespace, str(_meta(obj).get("name") or ""))
    ref = _next_ref(obj, namespace)
    chain = [start]
    for _ in range(MAX_RUN_AFTER_DEPTH):
        if ref is None or ref in chain[1:]:
            return []  # the chain ends, or loops elsewhere without reaching this object
        chain.append(ref)
        if ref == start:
            return [Violation("spec.runAfter", f"forms a cycle: {_describe(chain)}; an operation "
                              "cannot (even indirectly) wait for itself, so remove one runAfter")]
        found = await lookup(*ref)
        if found is None:
            return []  # not created yet: the operation waits for it, which is allowed
        ref = _next_ref(found, ref[1])
    return [Violation("spec.runAfter", f"the runAfter chain is longer than {MAX_RUN_AFTER_DEPTH} "
                      "operations; shorten the data flow")]


async def validate_create(obj: Mapping[str, Any], *, lookup: Lookup) -> list[Violation]:
    """Every reason to refuse creating ``obj``; empty when it may be created."""
    found = check(obj)
    if not found and kinds.kind_of(obj) in kinds.DATA_OPERATIONS:
        found += await _check_run_after(obj, lookup=lookup)
    return found


# -- updates ---------------------------------------------------------------------------------

_RUNTIME_IMMUTABLE = ("spec.runAs", "spec.tieredstore")
IMMUTABLE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Dataset": ("spec.placement", "spec.accessModes"),
    "AlluxioRuntime": (*_RUNTIME_IMMUTABLE, "spec.master.replicas", "spec.master.networkMode",
                       "spec.worker.networkMode", "spec.fuse.networkMode"),
    "GooseFSRuntime": (*_RUNTIME_IMMUTABLE, "spec.master.replicas"),
    "JindoRuntime": (*_RUNTIME_IMMUTABLE, "spec.networkmode"),
    "JuiceFSRuntime": ("spec.runAs", "spec.volumeClaimTemplates", "spec.worker.networkMode",
                       "spec.fuse.networkMode"),
    "ThinRuntime": ("spec.runAs", "spec.profileName"),
    "ThinRuntimeProfile": ("spec.fileSystemType",),
    **{info.kind: ("spec",) for info in kinds.DATA_OPERATIONS},
}
"""Per kind, the dotted paths that cannot change once the object exists (the runtime
engines render them once at setup and never apply a change, so an edit would be
silently ignored)."""


def _at(obj: Mapping[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _reference_target(obj: Mapping[str, Any]) -> str | None:
    mounts = _at(obj, "spec.mounts") or []
    for mount in mounts if isinstance(mounts, list) else []:
        point = str((mount or {}).get("mountPoint", ""))
        if point.startswith("dataset://"):
            return point
    return None


def _immutable_changes(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Violation]:
    found = []
    for dotted in IMMUTABLE_FIELDS.get(kind, ()):
        if _at(old, dotted) != _at(new, dotted):
            advice = ("delete it and create a new one" if dotted == "spec"
                      else f"delete the {kind} and create it again with the new value")
            found.append(Violation(dotted, f"cannot be changed after the {kind} is created; "
                                   f"{advice}"))
    if kind == "Dataset" and _reference_target(old) != _reference_target(new):
        found.append(Violation("spec.mounts", "a dataset:// reference cannot be added, removed "
                               "or pointed elsewhere after creation; create another Dataset"))
    return found


async def validate_update(
    old: Mapping[str, Any], new: Mapping[str, Any], *, lookup: Lookup
) -> list[Violation]:
    """Every reason to refuse replacing ``old`` by ``new``.

    An object being deleted, or an update that leaves ``spec`` alone (finalizers, labels),
    is always allowed, so a rule added later can never wedge cleanup of older objects.
    """
    if _meta(new).get("deletionTimestamp") or old.get("spec") == new.get("spec"):
        return []
    info = kinds.kind_of(new)
    found = _immutable_changes(info.kind, old, new) if info is not None else []
    return found + await validate_create(new, lookup=lookup)
