"""Thin async layer over the Kubernetes API: one raw-dict client, resources, errors, events."""

from fluid.kube import errors, resources
from fluid.kube.client import FIELD_MANAGER, KubeClient
from fluid.kube.resources import Resource

__all__ = ["FIELD_MANAGER", "KubeClient", "Resource", "errors", "resources"]
