"""data.fluid.io/v1alpha1: the Fluid API as attrs models, plus their CRDs.

Owns the kinds (Dataset, the runtimes, ThinRuntimeProfile and the data operations), the
names shared across Fluid (``constants``), conversion between raw dicts and models
(``converter``), the registry of kinds (``kinds``), CRD generation (``schema``,
``crdgen``) and CRD installation (``install``). Never talks to the API server except in
``install``. Everything else in Fluid imports from here.
"""

from fluid.api import kinds  # registers every kind with fluid.kube.resources
from fluid.api.converter import FieldError, StructureError, structure, unstructure

__all__ = ["FieldError", "StructureError", "kinds", "structure", "unstructure"]
