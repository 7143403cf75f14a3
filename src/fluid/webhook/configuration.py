"""The webhook configurations and Service, as objects: one source for manifests and tests.

Owns which requests the API server sends to the webhook and what happens when it is down:

- ``schedulepod.fluid.io`` (serverful; ``failurePolicy: Ignore``, 5 s): pod CREATEs that
  mount some PVC or carry ``fuse.serverful.fluid.io/inject=true``, decided in the API
  server by a ``matchConditions`` CEL expression, so a pod with no PVC never waits on
  the webhook. Ignore because a dataset pod admitted without cache affinity still runs;
- ``sidecar.fuse.fluid.io`` (serverless; ``failurePolicy: Fail``, 10 s): pods labelled
  ``serverless.fluid.io/inject=true`` (or the deprecated ``fuse.sidecar.fluid.io/inject``),
  or carrying the operator's serverless platform label key (``KEY_SERVERLESS_PLATFORM``,
  any value; such pods are then kept away from the serverful webhook). Fail because such
  a pod cannot mount its dataset without the sidecar (there is no CSI on serverless
  nodes); only pods that opted in are affected;
- both skip ``fluid.io/enable-injection=false`` and already-injected pods through the
  objectSelector, and the ``kube-system`` and Fluid namespaces through the
  namespaceSelector (the controller's own pods must never wait on itself);
- ``fluid-validating-webhook`` validates data.fluid.io CREATE/UPDATE (``Fail``; objects
  being deleted are exempt so finalizers can always be removed by hand).

``python -m fluid.webhook.configuration [dir]`` writes ``manifests/webhook`` (with the
platform key from ``KEY_SERVERLESS_PLATFORM`` when set); tests build the same objects
with ``url=`` (the API server calls a local server) instead of a Service. The running
webhook keeps a live configuration's selection in step with its own platform key through
``selection_changes`` (sent with the caBundle in one patch). Never talks to the API server.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fluid.api import kinds
from fluid.api import pod_labels as labels
from fluid.api.constants import LABEL_ENABLE_INJECTION
from fluid.webhook import mutation, profile, server

__all__ = [
    "MUTATING_NAME",
    "PORT_NAME",
    "SELECTOR_LABELS",
    "VALIDATING_NAME",
    "manifests",
    "mutating_configuration",
    "plugins_configmap",
    "selection_changes",
    "selection_ops",
    "service",
    "validating_configuration",
]

MUTATING_NAME = "fluid-pod-admission-webhook"
VALIDATING_NAME = "fluid-validating-webhook"
SERVICE_NAME = "fluid-pod-admission-webhook"
PORT_NAME = "https-rest"
SELECTOR_LABELS = {"app.kubernetes.io/name": "fluid-controller-manager"}
"""The controller-manager pods' labels: every replica serves the webhook."""

_USES_PVC = "has(object.spec.volumes) && object.spec.volumes.exists(v, has(v.persistentVolumeClaim))"


def _label_is_true(key: str) -> str:
    return (f"has(object.metadata.labels) && '{key}' in object.metadata.labels && "
            f"object.metadata.labels['{key}'] == 'true'")


def _label_present(key: str) -> str:
    return f"has(object.metadata.labels) && '{key}' in object.metadata.labels"


def _serverless_condition(platform_key: str) -> str:
    terms = [_label_is_true(labels.LABEL_SERVERLESS_INJECT), _label_is_true(labels.LABEL_FUSE_SIDECAR_INJECT)]
    if platform_key:
        terms.append(_label_present(platform_key))
    return " || ".join(f"({t})" for t in terms)


def _client_config(path: str, *, namespace: str, url: str | None, ca_bundle: str | None) -> dict[str, Any]:
    config: dict[str, Any] = (
        {"url": url.rstrip("/") + path} if url else
        {"service": {"name": SERVICE_NAME, "namespace": namespace, "path": path, "port": 443}}
    )
    if ca_bundle:
        config["caBundle"] = ca_bundle
    return config


def _not_true(*keys: str) -> list[dict[str, Any]]:
    return [{"key": k, "operator": "NotIn", "values": ["true"]} for k in keys]


def _namespaces(namespace: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                  "values": sorted({"kube-system", namespace})}]}


_POD_CREATE = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                "resources": ["pods"], "scope": "Namespaced"}]


def mutating_configuration(
    *, namespace: str = "fluid-system", url: str | None = None, ca_bundle: str | None = None,
    name: str = MUTATING_NAME, platform_key: str = "",
) -> dict[str, Any]:
    """The MutatingWebhookConfiguration (``url`` replaces the Service, for local tests).

    ``platform_key``: a label key whose presence also asks for serverless injection.
    """
    if platform_key and (error := labels.label_key_error(platform_key)):
        raise ValueError(error)  # it is spliced into a CEL expression: never an arbitrary string
    platform = [{"key": platform_key, "operator": "DoesNotExist"}] if platform_key else []
    client = _client_config(mutation.MUTATE_PATH, namespace=namespace, url=url, ca_bundle=ca_bundle)
    opt_out = {"key": LABEL_ENABLE_INJECTION, "operator": "NotIn", "values": ["false"]}
    common: dict[str, Any] = {
        "admissionReviewVersions": ["v1"], "sideEffects": "None", "reinvocationPolicy": "IfNeeded",
        "rules": _POD_CREATE, "namespaceSelector": _namespaces(namespace), "clientConfig": client,
    }
    serverful = {
        "name": "schedulepod.fluid.io", **copy.deepcopy(common),
        "failurePolicy": "Ignore", "timeoutSeconds": 5,
        "objectSelector": {"matchExpressions": [opt_out, *_not_true(
            labels.LABEL_SERVERLESS_INJECT, labels.LABEL_FUSE_SIDECAR_INJECT, labels.LABEL_DONE_INJECT),
            *platform]},
        "matchConditions": [{"name": "mounts-a-pvc-or-opted-in", "expression":
                             f"({_USES_PVC}) || ({_label_is_true(labels.LABEL_SERVERFUL_INJECT)})"}],
    }
    serverless = {
        "name": "sidecar.fuse.fluid.io", **copy.deepcopy(common),
        "failurePolicy": "Fail", "timeoutSeconds": 10,
        "objectSelector": {"matchExpressions": [opt_out, *_not_true(labels.LABEL_DONE_INJECT)]},
        "matchConditions": [{"name": "serverless-injection-requested",
                             "expression": _serverless_condition(platform_key)}],
    }
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "fluid"}},
            "webhooks": [serverful, serverless]}


_SELECTION = ("objectSelector", "matchConditions")
"""The fields of the pod webhooks that depend on the serverless platform key."""

SelectionChanges = Callable[[dict[str, Any]], list[dict[str, Any]]]
"""Live MutatingWebhookConfiguration -> the JSON Patch ops (no ``test`` op) bringing its
pod webhooks' selection in step; [] when it already is."""


def selection_changes(*, platform_key: str) -> SelectionChanges:
    """What ``mutating_configuration(platform_key=...)`` selects, built once, as a function
    of a live configuration giving the ops that make it select the same pods.

    Only the ``objectSelector`` and ``matchConditions`` of the webhooks named as ours are
    touched (the clientConfig, namespaceSelector and caBundle stay as deployed).
    """
    wanted = {w["name"]: {f: w[f] for f in _SELECTION}
              for w in mutating_configuration(platform_key=platform_key)["webhooks"]}

    def changes(live: dict[str, Any]) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        for index, webhook in enumerate(live.get("webhooks") or ()):
            for field, value in (wanted.get(webhook.get("name")) or {}).items():
                if webhook.get(field) != value:
                    ops.append({"op": "add", "path": f"/webhooks/{index}/{field}", "value": value})
        return ops

    return changes


def selection_ops(live: dict[str, Any], *, platform_key: str) -> list[dict[str, Any]]:
    """``selection_changes`` as one guarded patch: the first op tests the resourceVersion,
    so a concurrent writer makes the patch fail, not race; [] when nothing changes."""
    ops = selection_changes(platform_key=platform_key)(live)
    if not ops:
        return []
    return [{"op": "test", "path": "/metadata/resourceVersion",
             "value": live["metadata"]["resourceVersion"]}, *ops]


def validating_configuration(
    *, namespace: str = "fluid-system", url: str | None = None, ca_bundle: str | None = None,
    name: str = VALIDATING_NAME,
) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration for every data.fluid.io kind."""
    webhook = {
        "name": "validate.data.fluid.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "failurePolicy": "Fail", "timeoutSeconds": 5, "rules": kinds.validating_webhook_rules(),
        "clientConfig": _client_config(server.VALIDATE_PATH, namespace=namespace, url=url,
                                       ca_bundle=ca_bundle),
        "matchConditions": [{"name": "not-being-deleted",
                             "expression": "!has(object.metadata.deletionTimestamp)"}],
    }
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "fluid"}},
            "webhooks": [webhook]}


def service(*, namespace: str = "fluid-system", target_port: int = 9443) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": namespace,
                     "labels": {"app.kubernetes.io/part-of": "fluid"}},
        "spec": {"selector": dict(SELECTOR_LABELS),
                 "ports": [{"name": PORT_NAME, "port": 443, "targetPort": target_port,
                            "protocol": "TCP"}]},
    }


def plugins_configmap(*, namespace: str = "fluid-system") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "webhook-plugins", "namespace": namespace,
                     "labels": {"app.kubernetes.io/part-of": "fluid"}},
        "data": {profile.CONFIGMAP_KEY: profile.DEFAULT_PROFILE},
    }


def manifests(namespace: str = "fluid-system", platform_key: str = "") -> dict[str, dict[str, Any]]:
    """File name -> object for ``manifests/webhook``."""
    return {
        "service.yaml": service(namespace=namespace),
        "mutatingwebhookconfiguration.yaml": mutating_configuration(
            namespace=namespace, platform_key=platform_key),
        "validatingwebhookconfiguration.yaml": validating_configuration(namespace=namespace),
        "plugins-configmap.yaml": plugins_configmap(namespace=namespace),
    }


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line strings (the plugin profile stays readable), no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = "# Generated by `python -m fluid.webhook.configuration`; do not edit by hand.\n"


def render(platform_key: str = "") -> dict[str, str]:
    """File name -> YAML text, including the kustomization."""
    files = {name: HEADER + yaml.dump(obj, Dumper=_Dumper, sort_keys=False)
             for name, obj in manifests(platform_key=platform_key).items()}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": sorted(files)}
    files["kustomization.yaml"] = HEADER + yaml.dump(kustomization, Dumper=_Dumper, sort_keys=False)
    return files


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "manifests/webhook")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in render(os.environ.get(labels.SERVERLESS_PLATFORM_KEY_ENV, "")).items():
        (directory / name).write_text(text)


if __name__ == "__main__":
    main()
