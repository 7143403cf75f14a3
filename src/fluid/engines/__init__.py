"""Engines: one per runtime kind, each driving its runtime's lifecycle behind ``base.Engine``.

``base`` holds the protocol and the shared lifecycle (``CacheEngine``); ``registry`` maps
runtime kinds to engine factories; each runtime has a package (``alluxio``, ``juicefs``,
``jindo``, ``goosefs``, ``thin``) with ``manifests.py`` (pure rendering), ``ops.py`` (calls
into runtime processes over a ``PodExecutor``) and ``engine.py`` (the lifecycle hooks).
Engines never import each other.
"""
