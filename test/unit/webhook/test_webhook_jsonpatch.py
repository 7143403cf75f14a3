"""PatchEditor: the recorded ops reproduce the in-place edits, pointers are escaped."""

from __future__ import annotations

import copy

import webhook_objects as objs

from fluid.webhook.jsonpatch import PatchEditor, pointer


def test_pointer_escapes_slash_and_tilde() -> None:
    assert pointer(("metadata", "labels", "fluid.io/a~b")) == "/metadata/labels/fluid.io~1a~0b"
    assert pointer(("spec", "containers", 0, "name")) == "/spec/containers/0/name"


def test_set_creates_missing_parents_in_one_add() -> None:
    doc = {"metadata": {"name": "p"}}
    editor = PatchEditor(doc)
    editor.set(("metadata", "labels", "fluid.io/x"), "1")
    editor.set(("metadata", "labels", "y"), "2")
    assert editor.ops == [
        {"op": "add", "path": "/metadata/labels", "value": {"fluid.io/x": "1"}},
        {"op": "add", "path": "/metadata/labels/y", "value": "2"},
    ]
    assert doc["metadata"]["labels"] == {"fluid.io/x": "1", "y": "2"}


def test_set_replaces_existing_and_skips_unchanged() -> None:
    doc = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    editor = PatchEditor(doc)
    editor.set(("metadata", "labels", "a"), "1")
    editor.set(("metadata", "labels", "b"), "3")
    assert editor.ops == [{"op": "replace", "path": "/metadata/labels/b", "value": "3"}]


def test_insert_append_and_remove_match_an_independent_applier() -> None:
    original = objs.pod("ns", "p", claims=("a", "b"), init_uses_data=True)
    doc = copy.deepcopy(original)
    editor = PatchEditor(doc)
    editor.insert(("spec", "initContainers"), 0, {"name": "first"})
    editor.append(("spec", "containers"), {"name": "last"})
    editor.insert(("spec", "containers"), 0, {"name": "zero"})
    editor.set(("spec", "volumes", 1), {"name": "data-b", "hostPath": {"path": "/x"}})
    editor.set(("spec", "affinity", "nodeAffinity", "preferred"), [])
    editor.append(("spec", "tolerations"), {"key": "k"})
    editor.remove(("spec", "restartPolicy"))
    editor.remove(("spec", "missing"))
    assert objs.apply_patch(original, editor.ops) == doc
    assert [c["name"] for c in doc["spec"]["containers"]] == ["zero", "app", "last"]
    assert doc["spec"]["initContainers"][0] == {"name": "first"}
    assert "restartPolicy" not in doc["spec"]


def test_recorded_values_are_not_aliased_with_the_document() -> None:
    doc: dict[str, object] = {"spec": {}}
    editor = PatchEditor(doc)
    value = {"name": "c", "env": []}
    editor.append(("spec", "containers"), value)
    editor.append(("spec", "containers", 0, "env"), {"name": "E"})
    assert editor.ops[0]["value"] == [{"name": "c", "env": []}]
    assert objs.apply_patch({"spec": {}}, editor.ops) == doc
