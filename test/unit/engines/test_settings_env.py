"""Operator settings from the environment: what each variable becomes, and refusals at startup."""

from __future__ import annotations

import attrs
import pytest

from fluid.cli import controller_manager
from fluid.engines import settings_env
from fluid.engines.base import EngineConfig


def test_unset_and_empty_variables_keep_the_defaults() -> None:
    assert settings_env.engine_config({}) == EngineConfig()
    empty = dict.fromkeys([*settings_env.IMAGE_ENVS, "MOUNT_ROOT", "IMAGE_PULL_SECRETS",
                           "CRITICAL_FUSE_POD", "FLUID_SYNC_RETRY_DURATION",
                           "FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR"], "  ")
    assert settings_env.engine_config(empty) == EngineConfig()
    assert EngineConfig().critical_fuse_pod is True  # the chart's criticalFusePod: true


def test_every_variable_is_read() -> None:
    config = settings_env.engine_config({
        "MOUNT_ROOT": "/var/lib/fluid//mnt/",
        "FLUID_SYNC_RETRY_DURATION": "1m30s",
        "FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR": "type=virtual-kubelet, mynode==dev",
        "IMAGE_PULL_SECRETS": " regcred,, mirror.cred ",
        "CRITICAL_FUSE_POD": "False",
        "ALLUXIO_RUNTIME_IMAGE_ENV": "registry.local:5000/alluxio/alluxio:2.9.9",
        "JUICEFS_EE_IMAGE_ENV": "juicedata/mount:ee-6",
        "UNRELATED": "ignored",
    })
    assert config.mount_root == "/var/lib/fluid/mnt"
    assert config.sync_retry_seconds == 90.0
    assert config.schedule_exclude == {"type": "virtual-kubelet", "mynode": "dev"}
    assert config.image_pull_secrets == ("regcred", "mirror.cred")
    assert config.critical_fuse_pod is False
    assert config.images == {"ALLUXIO_RUNTIME_IMAGE_ENV": "registry.local:5000/alluxio/alluxio:2.9.9",
                             "JUICEFS_EE_IMAGE_ENV": "juicedata/mount:ee-6"}
    assert config.exec_timeout_seconds == EngineConfig().exec_timeout_seconds


@pytest.mark.parametrize(("text", "expected"), [
    ("1", True), ("t", True), ("TRUE", True), ("True", True),
    ("0", False), ("f", False), ("FALSE", False), ("false", False),
])
def test_booleans_are_go_spellings(text: str, expected: bool) -> None:
    assert settings_env.engine_config({"CRITICAL_FUSE_POD": text}).critical_fuse_pod is expected


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("15s", 15.0), ("500ms", 0.5), ("1h2m3s", 3723.0), ("1.5m", 90.0), ("250us", 0.00025),
])
def test_durations_are_go_durations(text: str, seconds: float) -> None:
    assert settings_env.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("CRITICAL_FUSE_POD", "yes", "true or false"),
    ("FLUID_SYNC_RETRY_DURATION", "15", "Go duration"),
    ("FLUID_SYNC_RETRY_DURATION", "-3s", "Go duration"),
    ("MOUNT_ROOT", "runtime-mnt", "absolute host path"),
    ("IMAGE_PULL_SECRETS", "regcred,Bad_Name", "'Bad_Name' cannot be Secret names"),
    ("FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR", "type!=virtual-kubelet", "key=value"),
    ("FLUID_SCHEDULE_INFO_EXCLUDE_NODE_SELECTOR", "env in (dev)", "key=value"),
    ("ALLUXIO_RUNTIME_IMAGE_ENV", "alluxio/alluxio", "repository:tag"),
    ("JINDO_FUSE_IMAGE_ENV", "registry:5000/jindo-fuse", "repository:tag"),
    ("GOOSEFS_RUNTIME_IMAGE_ENV", "goosefs@sha256:abcd", "no digest"),
    ("DEFAULT_INIT_IMAGE_ENV", "init users:v1", "no spaces"),
])
def test_a_malformed_value_is_refused_naming_it(name: str, value: str, says: str) -> None:
    with pytest.raises(settings_env.SettingsError) as failure:
        settings_env.engine_config({name: value})
    assert f"{name}={value!r}" in str(failure.value)
    assert says in str(failure.value)


def test_every_malformed_variable_is_named_at_once() -> None:
    with pytest.raises(settings_env.SettingsError) as failure:
        settings_env.engine_config({"CRITICAL_FUSE_POD": "maybe", "MOUNT_ROOT": "mnt",
                                    "JUICEFS_CE_IMAGE_ENV": "juicedata/mount"})
    message = str(failure.value)
    assert all(name in message for name in ("CRITICAL_FUSE_POD", "MOUNT_ROOT", "JUICEFS_CE_IMAGE_ENV"))


def test_the_controller_manager_builds_its_config_from_the_environment() -> None:
    args = controller_manager.parse_args([], {"MOUNT_ROOT": "/mnt/fluid", "IMAGE_PULL_SECRETS": "regcred"})
    assert args.engine_config.mount_root == "/mnt/fluid"
    assert args.engine_config.image_pull_secrets == ("regcred",)


def test_the_controller_manager_refuses_to_start_on_a_malformed_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        controller_manager.parse_args([], {"CRITICAL_FUSE_POD": "sometimes"})
    assert exit_.value.code == 2
    assert "CRITICAL_FUSE_POD='sometimes'" in capsys.readouterr().err


def test_default_images_replace_only_the_fields_the_operator_set() -> None:
    @attrs.frozen
    class Images:
        runtime: str = "builtin/runtime:1"
        fuse: str = "builtin/fuse:1"

    config = EngineConfig(images={"X_RUNTIME": "op/runtime:2"})
    assert config.default_images(Images(), runtime="X_RUNTIME", fuse="X_FUSE") == Images(
        runtime="op/runtime:2")
    assert EngineConfig().default_images(Images(), runtime="X_RUNTIME") == Images()


def test_spec_with_images_fills_empty_fields_only() -> None:
    config = EngineConfig(images={"A_RUNTIME": "registry:5000/op/alluxio:2.9.9"})
    spec = {"replicas": 1, "fuse": {"args": ["fuse"]}, "alluxioVersion": {"imageTag": "mine"}}
    filled = config.spec_with_images(spec, alluxioVersion="A_RUNTIME", fuse="A_FUSE")
    assert filled["alluxioVersion"] == {"image": "registry:5000/op/alluxio", "imageTag": "mine"}
    assert filled["fuse"] == {"args": ["fuse"]}  # A_FUSE not set
    assert spec["alluxioVersion"] == {"imageTag": "mine"}  # the input is not changed


def test_vineyard_and_efc_default_images_reach_their_engines() -> None:
    """Upstream's chart names VINEYARD_*_IMAGE_ENV and EFC_*_IMAGE_ENV; each engine uses them."""
    from fluid.engines import base
    from fluid.engines.efc.engine import EFCEngine
    from fluid.engines.vineyard.engine import VineyardEngine
    from fluid.scheduling.ports import PortAllocator, PortRange

    config = settings_env.engine_config({"VINEYARD_MASTER_IMAGE_ENV": "op/etcd:1",
                            "VINEYARD_FUSE_IMAGE_ENV": "op/v6d-fuse:2",
                            "EFC_WORKER_IMAGE_ENV": "op/efc-worker:3"})
    deps = base.EngineDeps(client=None, view=base.MemoryView(),  # type: ignore[arg-type]
                           ports=PortAllocator(PortRange(30000, 30100)), events=None,  # type: ignore[arg-type]
                           executor=base.RecordingExecutor(), config=config)
    vineyard = VineyardEngine(deps, base.RuntimeKey("VineyardRuntime", "ns", "v"))
    efc = EFCEngine(deps, base.RuntimeKey("EFCRuntime", "ns", "e"))
    assert (vineyard.images.master, vineyard.images.fuse) == ("op/etcd:1", "op/v6d-fuse:2")
    assert vineyard.images.worker == VineyardEngine(
        attrs.evolve(deps, config=settings_env.engine_config({})), vineyard.key).images.worker
    assert efc.images.worker == "op/efc-worker:3"
