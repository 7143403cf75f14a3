"""The Jindo engine (JindoCache, upstream's default ``jindocache`` implementation): master
StatefulSet ``<name>-jindofs-master`` with its headless Services, worker StatefulSet
``<name>-jindofs-worker``, FUSE DaemonSet ``<name>-jindofs-fuse`` and the configuration
ConfigMaps ``<name>-jindofs-config`` and ``<name>-jindofs-client-config``.
"""
