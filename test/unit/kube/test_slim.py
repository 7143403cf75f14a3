"""Slim cache copies keep what controllers read and drop the bulk."""

from __future__ import annotations

import orjson

from fluid.kube.slim import slim_node, slim_pod


def full_pod() -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
            "labels": {"app": "x"},
            "annotations": {"keep": "1", "kubectl.kubernetes.io/last-applied-configuration": "x" * 4000},
            "ownerReferences": [{"kind": "Job", "name": "j", "apiVersion": "batch/v1", "uid": "u0"}],
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{
                "name": "app", "image": "img", "env": [{"name": "A", "value": "1"}] * 20,
                "command": ["sleep", "1"], "volumeMounts": [{"name": "data", "mountPath": "/d"}],
            }],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "ds"}},
                {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}] * 5}},
            ],
            "tolerations": [{"key": "k", "operator": "Exists"}] * 5,
        },
        "status": {
            "phase": "Running", "hostIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t"}],
            "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}},
                                   "imageID": "sha256:" + "a" * 64, "containerID": "c" * 70}],
        },
    }


def test_pod_keeps_what_controllers_read() -> None:
    slim = slim_pod(full_pod())
    assert slim["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert slim["metadata"]["annotations"] == {"keep": "1"}
    assert "managedFields" not in slim["metadata"]
    assert slim["spec"]["nodeName"] == "n1"
    assert slim["spec"]["volumes"][0] == {"name": "data", "persistentVolumeClaim": {"claimName": "ds"}}
    assert slim["spec"]["containers"] == [{"name": "app", "image": "img"}]
    assert slim["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert slim["status"]["containerStatuses"] == [{"name": "app", "ready": True, "state": {"running": {}}}]
    assert len(orjson.dumps(slim)) * 4 < len(orjson.dumps(full_pod()))


def test_node_drops_images_keeps_labels_and_readiness() -> None:
    node = {
        "metadata": {"name": "n1", "labels": {"fluid.io/s-default-demo": "true"}},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {
            "images": [{"names": ["img"], "sizeBytes": 1}] * 100,
            "nodeInfo": {"kernelVersion": "6"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "allocatable": {"cpu": "4"},
        },
    }
    slim = slim_node(node)
    assert "images" not in slim["status"]
    assert slim["metadata"]["labels"] == {"fluid.io/s-default-demo": "true"}
    assert slim["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert slim["spec"]["taints"][0]["key"] == "k"
