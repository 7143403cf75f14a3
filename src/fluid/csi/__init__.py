"""The CSI node plugin ``fuse.csi.fluid.io``: publishes Fluid datasets' FUSE mounts to pods.

Modules: ``requests`` (parse), ``mounts`` (mount table, Mounter protocol, ensure_*),
``linux``/``fake`` (Mounter implementations), ``mountapi`` (the mount syscalls ``linux``
makes read-only binds with), ``state`` (what is staged/published), ``labels`` and
``events`` (the API server), ``node``/``identity``/``controller`` (the servicers),
``interceptor`` (errors to status codes), ``recovery`` (FUSE restarts), ``server``
(composition). Generated stubs live in ``fluid.csi.proto``.
"""

from fluid.csi.identity import DRIVER_NAME

__all__ = ["DRIVER_NAME"]
