"""Entry points: ``fluid-controller-manager`` and ``fluid-csi``; the composition roots."""
