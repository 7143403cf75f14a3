"""What every Fluid kind has: apiVersion, kind and metadata, plus name/namespace helpers.

Owns only the common envelope of the top-level models; each kind's module adds its own
``spec`` and ``status``. Never does I/O.
"""



from __future__ import annotations

from typing import Any

import attrs

from fluid.api.constants import API_VERSION
from fluid.api.fields import Embedded, field

__all__ = ["FluidObject", "LocalObjectReference", "PodMetadata"]


@attrs.frozen(kw_only=True)
class FluidObject:
    """The envelope of a data.fluid.io object; ``metadata`` stays a raw ObjectMeta dict."""

    api_version: str = field(json="apiVersion", default=API_VERSION)
    kind: str = field(default="")
    metadata: Embedded | None = field()

    @property
    def name(self) -> str:
        return str((self.metadata or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.metadata or {}).get("namespace", ""))

    @property
    def annotations(self) -> dict[str, Any]:
        return dict((self.metadata or {}).get("annotations") or {})


@attrs.frozen(kw_only=True)
class PodMetadata:
    """Labels and annotations added to the pods of a component."""

    labels: dict[str, str] | None = field(doc="Labels added to the pods.")
    annotations: dict[str, str] | None = field(doc="Annotations added to the pods.")


@attrs.frozen(kw_only=True)
class LocalObjectReference:
    """A reference to an object in the same namespace, e.g. an image pull Secret."""

    name: str | None = field(doc="Name of the referent.")
