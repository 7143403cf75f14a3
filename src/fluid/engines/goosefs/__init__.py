"""The GooseFS engine: an Alluxio-like cache (master StatefulSet ``<name>-master`` with job
master, worker StatefulSet ``<name>-worker`` with job worker, FUSE DaemonSet
``<name>-fuse``) configured by the ``GOOSEFS_*_JAVA_OPTS`` of ConfigMap ``<name>-config``.

Upstream Fluid deprecated GooseFS; this engine keeps the last upstream API working.
"""
