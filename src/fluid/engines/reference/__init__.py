"""The reference-dataset engine (``dataset://`` sharing across namespaces), a Thin variant.

The registry uses ``factory`` for a ThinRuntime whose ``profileName`` is empty.
"""

from fluid.engines.reference.engine import ReferenceEngine, factory

__all__ = ["ReferenceEngine", "factory"]
