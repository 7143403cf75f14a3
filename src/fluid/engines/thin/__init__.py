"""The Thin engine: runs the user's own FUSE image (described by a cluster-scoped
ThinRuntimeProfile, overridden by the ThinRuntime) as DaemonSet ``<name>-fuse``, with an
optional worker StatefulSet, and hands it a JSON config in ConfigMap ``<name>-fuse-conf``.

A ThinRuntime with an empty ``profileName`` is a reference-dataset runtime served by
``fluid.engines.reference``, not by this package.
"""
