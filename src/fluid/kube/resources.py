"""Kinds addressed by group/version/plural, and the URL paths that reach them.

Owns no I/O. Every caller that talks to the API server names a ``Resource`` from here
(or builds one for its own kinds) instead of spelling paths by hand.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = [
    "CLUSTER_ROLES",
    "CLUSTER_ROLE_BINDINGS",
    "CONFIGMAPS",
    "CRDS",
    "CRONJOBS",
    "CSI_DRIVERS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "EVENTS",
    "JOBS",
    "LEASES",
    "MUTATING_WEBHOOKS",
    "NAMESPACES",
    "NODES",
    "PERSISTENT_VOLUMES",
    "PERSISTENT_VOLUME_CLAIMS",
    "PODS",
    "SECRETS",
    "SERVICES",
    "SERVICE_ACCOUNTS",
    "STATEFULSETS",
    "VALIDATING_WEBHOOKS",
    "Resource",
    "resource_of",
]


@attrs.frozen
class Resource:
    """One REST resource of the API server, such as ``apps/v1 statefulsets``."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path of the collection, or of one object (and its subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base

    def key(self) -> str:
        """A short identifier used in logs and metrics, e.g. ``statefulsets.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = Resource("", "v1", "pods", "Pod")
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
SECRETS = Resource("", "v1", "secrets", "Secret")
SERVICES = Resource("", "v1", "services", "Service")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
EVENTS = Resource("", "v1", "events", "Event")
PERSISTENT_VOLUMES = Resource("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False)
PERSISTENT_VOLUME_CLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
DAEMONSETS = Resource("apps", "v1", "daemonsets", "DaemonSet")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
JOBS = Resource("batch", "v1", "jobs", "Job")
CRONJOBS = Resource("batch", "v1", "cronjobs", "CronJob")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
CRDS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
    namespaced=False,
)
MUTATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration", namespaced=False,
)
VALIDATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration", namespaced=False,
)
CSI_DRIVERS = Resource("storage.k8s.io", "v1", "csidrivers", "CSIDriver", namespaced=False)
CLUSTER_ROLES = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False
)
CLUSTER_ROLE_BINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
    namespaced=False,
)

_KNOWN: dict[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        PODS, NODES, NAMESPACES, CONFIGMAPS, SECRETS, SERVICES, SERVICE_ACCOUNTS, EVENTS,
        PERSISTENT_VOLUMES, PERSISTENT_VOLUME_CLAIMS, STATEFULSETS, DAEMONSETS, DEPLOYMENTS,
        JOBS, CRONJOBS, LEASES, CRDS, MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS, CSI_DRIVERS,
        CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS,
    )
}


def register(resource: Resource) -> Resource:
    """Make ``resource_of`` know a kind (API packages register their own kinds at import)."""
    _KNOWN[(resource.api_version, resource.kind)] = resource
    return resource


def resource_of(obj: dict[str, Any]) -> Resource:
    """The Resource for an object's apiVersion and kind; KeyError names unknown kinds."""
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    try:
        return _KNOWN[key]
    except KeyError:
        raise KeyError(f"unknown kind {key[1]!r} in {key[0]!r}; register its Resource") from None
