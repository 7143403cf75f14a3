"""The committed CRDs are what the models generate, and they say what upstream says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fluid.api import crdgen, kinds, schema
from fluid.api.dataset import Dataset

CRDS = Path(__file__).resolve().parents[3] / "manifests" / "crds"


def test_committed_crds_are_not_stale() -> None:
    problems = crdgen.stale(CRDS)
    assert not problems, f"regenerate with `python -m fluid.api.crdgen`: {problems}"


def test_staleness_check_notices_an_edit(tmp_path: Path) -> None:
    assert crdgen.main(["--out", str(tmp_path)]) == 0
    assert crdgen.main(["--out", str(tmp_path), "--check"]) == 0
    target = tmp_path / "data.fluid.io_datasets.yaml"
    target.write_text(target.read_text().replace("minLength: 5", "minLength: 4"))
    (tmp_path / "data.fluid.io_leftover.yaml").write_text("{}\n")
    assert crdgen.stale(tmp_path) == ["data.fluid.io_datasets.yaml", "data.fluid.io_leftover.yaml"]
    assert crdgen.main(["--out", str(tmp_path), "--check"]) == 1


def test_kustomization_lists_every_crd() -> None:
    kustomization = yaml.safe_load((CRDS / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        f"data.fluid.io_{info.plural}.yaml" for info in kinds.ALL
    )


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, child in (node.get("properties") or {}).items():
        found += _walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("info", kinds.ALL, ids=lambda i: i.kind)
def test_schemas_are_structural(info: kinds.KindInfo) -> None:
    root = schema.crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(root):
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
            continue
        assert "type" in node, f"{path} has no type"
        if node["type"] == "object" and path != ".metadata":
            has_shape = "properties" in node or "additionalProperties" in node
            assert has_shape or node.get("x-kubernetes-preserve-unknown-fields") or (
                path == ".status"
            ), f"{path} is an object with no declared shape"


def _node(info: kinds.KindInfo, dotted: str) -> dict[str, Any]:
    node = schema.crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in dotted.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


def test_upstream_facts_survive_generation() -> None:
    assert _node(kinds.DATASET, "spec.mounts")["minItems"] == 1
    assert _node(kinds.DATASET, "spec.mounts.[].mountPoint")["minLength"] == 5
    assert _node(kinds.DATASET, "spec.placement")["enum"] == ["Exclusive", "", "Shared"]
    assert _node(kinds.DATASET, "spec.owner")["required"] == ["gid", "group", "uid", "user"]
    level = _node(kinds.ALLUXIO_RUNTIME, "spec.tieredstore.levels.[]")
    assert level["required"] == ["mediumtype"]
    assert level["properties"]["volumeType"]["default"] == "hostPath"
    assert level["properties"]["quota"]["x-kubernetes-int-or-string"] is True
    assert _node(kinds.JINDO_RUNTIME, "spec.networkmode")["enum"] == [
        "HostNetwork", "", "ContainerNetwork"]
    assert _node(kinds.DATA_LOAD, "spec.policy")["default"] == "Once"
    assert _node(kinds.DATA_MIGRATE, "spec.parallelism") == {
        "type": "integer", "format": "int32", "default": 1, "minimum": 1}
    assert _node(kinds.DATA_PROCESS, "spec")["required"] == ["dataset", "processor"]
    assert _node(kinds.DATA_LOAD, "spec.runAfter.kind")["enum"] == [
        "DataLoad", "DataBackup", "DataMigrate", "DataProcess"]
    assert _node(kinds.DATA_LOAD, "spec.affinity")["x-kubernetes-preserve-unknown-fields"]


def test_status_phases_stay_open_strings() -> None:
    assert "enum" not in _node(kinds.DATASET, "status.phase")
    assert "enum" not in _node(kinds.ALLUXIO_RUNTIME, "status.masterPhase")


def test_names_columns_and_subresources() -> None:
    dataset = schema.crd(kinds.DATASET)
    assert dataset["metadata"]["name"] == "datasets.data.fluid.io"
    assert dataset["spec"]["names"]["shortNames"] == ["dataset"]
    version = dataset["spec"]["versions"][0]
    shown = [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c]
    assert shown == ["Ufs Total Size", "Cached", "Cache Capacity", "Cached Percentage", "Phase",
                     "Age"]
    assert version["subresources"] == {"status": {}}
    alluxio = schema.crd(kinds.ALLUXIO_RUNTIME)["spec"]["versions"][0]
    assert alluxio["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.currentWorkerNumberScheduled",
        "labelSelectorPath": ".status.selector",
    }
    shown = [c["name"] for c in alluxio["additionalPrinterColumns"] if "priority" not in c]
    assert shown == ["Master Phase", "Worker Phase", "Fuse Phase", "Age"]
    profile = schema.crd(kinds.THIN_RUNTIME_PROFILE)["spec"]
    assert profile["scope"] == "Cluster"
    assert "shortNames" not in profile["names"]


def test_descriptions_come_from_the_models() -> None:
    root = schema.crd(kinds.DATASET)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert root["description"].startswith("A set of data from external storage")
    assert "dataset://" in root["properties"]["spec"]["properties"]["mounts"]["items"][
        "properties"]["mountPoint"]["description"]
    assert Dataset.__doc__ is not None
