"""The EFC engine: Elastic File Client master, cache workers and FUSE for NAS datasets."""

__all__ = ["engine", "manifests", "ops"]
