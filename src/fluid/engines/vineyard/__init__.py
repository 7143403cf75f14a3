"""The Vineyard engine: etcd master, vineyardd workers and the socket-exposing clients."""

__all__ = ["engine", "manifests"]
