"""Fluid: datasets as first-class Kubernetes objects, cached close to the jobs that read them."""

__version__ = "0.1.0"
