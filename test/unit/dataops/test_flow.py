"""flow: runAfter gating and affinity inheritance, as pure decisions."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.api import converter
from fluid.api.dataops import AffinityStrategy, OperationRef
from fluid.controllers.dataops import flow

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ITYPE = "node.kubernetes.io/instance-type"


def strategy(**raw: Any) -> AffinityStrategy:
    return converter.structure(raw, AffinityStrategy)


def run_after(**raw: Any) -> OperationRef:
    return converter.structure({"kind": "DataLoad", "name": "a", **raw}, OperationRef)


def exported(**labels: str) -> dict[str, Any]:
    affinity = flow.exported_affinity(labels, labels)
    assert affinity is not None
    return affinity


def test_default_labels_always_exported_and_listed_ones_added_once() -> None:
    keys = flow.exported_label_keys({"affinity.dataflow.fluid.io/labels": f" {ITYPE}, {HOST} ,"})
    assert keys == [HOST, ZONE, "topology.kubernetes.io/region", ITYPE]
    assert flow.exported_label_keys(None) == list(flow.DEFAULT_AFFINITY_LABELS)


def test_exported_affinity_pins_each_present_label() -> None:
    node = {HOST: "n1", ZONE: "zone-b", "other": "x"}
    affinity = flow.exported_affinity(node, [HOST, ZONE, "topology.kubernetes.io/region"])
    assert affinity == {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": HOST, "operator": "In", "values": ["n1"]},
                              {"key": ZONE, "operator": "In", "values": ["zone-b"]}]}]}}
    assert flow.exported_affinity({}, [HOST]) is None


def test_require_defaults_to_the_hostname() -> None:
    source = exported(**{HOST: "n1", ZONE: "zone-a"})
    result = flow.inherit_affinity(None, strategy=strategy(policy="Require"),
                                   source_node_affinity=source)
    assert result.missing == ()
    assert result.affinity == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": HOST, "operator": "In", "values": ["n1"]}]}]}}}


def test_require_adds_to_every_existing_term_and_leaves_the_input_alone() -> None:
    current = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "a", "operator": "Exists"}]},
            {"matchExpressions": [{"key": "b", "operator": "Exists"}]}]}}}
    before = repr(current)
    result = flow.inherit_affinity(current, strategy=strategy(
        policy="Require", requires=[{"name": ITYPE}]), source_node_affinity=exported(**{ITYPE: "GPU"}))
    terms = result.affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    wanted = {"key": ITYPE, "operator": "In", "values": ["GPU"]}
    assert [t["matchExpressions"][-1] for t in terms] == [wanted, wanted]
    assert repr(current) == before


def test_prefer_uses_weights_and_defaults_to_hostname_100() -> None:
    source = exported(**{HOST: "n2", ZONE: "zone-c"})
    default = flow.inherit_affinity(None, strategy=strategy(policy="Prefer"), source_node_affinity=source)
    assert default.affinity == {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [
            {"key": HOST, "operator": "In", "values": ["n2"]}]}}]}}
    custom = flow.inherit_affinity(None, strategy=strategy(
        policy="Prefer", prefers=[{"name": ZONE, "weight": 7}]), source_node_affinity=source)
    preferred = custom.affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == [{"weight": 7, "preference": {"matchExpressions": [
        {"key": ZONE, "operator": "In", "values": ["zone-c"]}]}}]


def test_keys_the_source_did_not_export_are_reported() -> None:
    result = flow.inherit_affinity(None, strategy=strategy(
        policy="Require", requires=[{"name": ITYPE}]), source_node_affinity=exported(**{HOST: "n1"}))
    assert result.affinity is None
    assert result.missing == (ITYPE,)


def test_no_policy_keeps_the_affinity_as_is() -> None:
    current = {"nodeAffinity": {}}
    result = flow.inherit_affinity(current, strategy=strategy(policy=""),
                                   source_node_affinity=exported(**{HOST: "n1"}))
    assert result.affinity == current


@pytest.mark.parametrize(("obj", "expected", "reason"), [
    (None, flow.Gate.WAIT, "PrecedingOperationNotFound"),
    ({"status": {"phase": "Executing"}}, flow.Gate.WAIT, "PrecedingOperationNotComplete"),
    ({"status": {}}, flow.Gate.WAIT, "PrecedingOperationNotComplete"),
    ({"status": {"phase": "Complete"}}, flow.Gate.GO, ""),
    ({"status": {"phase": "Failed", "conditions": [
        {"type": "Failed", "message": "dataset gone"}]}}, flow.Gate.FAIL, "PrecedingOperationFailed"),
])
def test_gate(obj: dict[str, Any] | None, expected: flow.Gate, reason: str) -> None:
    ref = flow.OpRef("DataLoad", "ns", "a")
    result = flow.gate(ref, obj)
    assert (result.gate, result.reason) == (expected, reason)
    if expected is not flow.Gate.GO:
        assert "DataLoad ns/a" in result.message
    if expected is flow.Gate.FAIL:
        assert "dataset gone" in result.message


def test_affinity_source_is_depend_on_else_run_after_else_none() -> None:
    assert flow.affinity_source(run_after(), "ns") is None
    assert flow.affinity_source(run_after(affinityStrategy={"policy": ""}), "ns") is None
    plain = flow.affinity_source(run_after(affinityStrategy={"policy": "Require"}), "ns")
    assert plain == flow.OpRef("DataLoad", "ns", "a")
    other = flow.affinity_source(run_after(namespace="x", affinityStrategy={
        "policy": "Prefer", "dependOn": {"kind": "DataProcess", "name": "step2"}}), "ns")
    assert other == flow.OpRef("DataProcess", "ns", "step2")
    assert flow.predecessor(run_after(namespace="x"), "ns") == flow.OpRef("DataLoad", "x", "a")


def test_index_refs_cover_run_after_and_depend_on() -> None:
    obj = {"metadata": {"namespace": "ns"}, "spec": {"runAfter": {
        "kind": "DataLoad", "name": "step3", "affinityStrategy": {
            "dependOn": {"kind": "DataProcess", "name": "step2", "namespace": "other"}}}}}
    assert flow.index_refs(obj) == ["DataLoad/ns/step3", "DataProcess/other/step2"]
    assert flow.index_refs({"metadata": {}, "spec": {}}) == []
