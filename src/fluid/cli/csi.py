"""``fluid-csi``: the CSI node plugin ``fuse.csi.fluid.io``, one per node (a DaemonSet).

The composition root of the plugin: parses flags (each with an environment default, as
the DaemonSet sets them), configures logging and hands a ``CsiSettings`` to
``fluid.csi.server.serve``. Holds no CSI logic.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from fluid.csi import server
from fluid.csi.linux import ReadOnlyBind
from fluid.observability import logging as fluid_logging

__all__ = ["main", "parse_args", "settings_from_args"]

PLUGIN_DIR = "/var/lib/kubelet/csi-plugins/fuse.csi.fluid.io"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="fluid-csi", description=__doc__)
    parser.add_argument("--endpoint", default=env("CSI_ENDPOINT", f"unix://{PLUGIN_DIR}/csi.sock"),
                        help="unix socket the kubelet and the registrar connect to")
    parser.add_argument("--node-id", default=env("NODE_ID"),
                        help="this node's name (env NODE_ID, from spec.nodeName)")
    parser.add_argument("--state-dir", default=env("FLUID_CSI_STATE_DIR"),
                        help="where staged/published volumes are recorded; must survive "
                             "restarts (default: 'state' next to the endpoint's socket)")
    parser.add_argument("--kubeconfig", default=env("KUBECONFIG"),
                        help="kubeconfig path; in-cluster config when unset")
    parser.add_argument("--kube-api", action=argparse.BooleanOptionalAction, default=True,
                        help="label nodes and record Events through the API server "
                             "(--no-kube-api for csi-sanity and offline tests)")
    parser.add_argument("--recovery", action=argparse.BooleanOptionalAction, default=True,
                        help="re-bind published volumes after their FUSE client restarts")
    parser.add_argument("--recovery-period", type=float,
                        default=float(env("RECOVER_FUSE_PERIOD", "5")), help="seconds")
    parser.add_argument("--stage-timeout", type=float, default=60.0,
                        help="seconds NodeStageVolume waits for the FUSE mount")
    parser.add_argument("--publish-timeout", type=float, default=30.0,
                        help="seconds NodePublishVolume waits for the FUSE mount")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds SIGTERM waits for RPCs in flight")
    parser.add_argument("--readonly-bind", choices=[m.value for m in ReadOnlyBind],
                        default=env("FLUID_CSI_READONLY_BIND", ReadOnlyBind.ATOMIC.value),
                        help="atomic: open_tree+mount_setattr+move_mount, the mount appears "
                        "read-only (falls back to two-step on ENOSYS/EPERM); two-step: "
                        "bind, then remount read-only")
    parser.add_argument("--log-level", default=env("FLUID_LOG_LEVEL", "info"))
    parser.add_argument("--log-json", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    if not args.node_id:
        parser.error("--node-id (or env NODE_ID) is required")
    return args


def _default_state_dir(endpoint: str) -> str:
    """The plugin's socket directory is a hostPath that outlives the container: use it."""
    return os.path.join(os.path.dirname(server.socket_path(endpoint)), "state")


def settings_from_args(args: argparse.Namespace) -> server.CsiSettings:
    return server.CsiSettings(
        endpoint=args.endpoint,
        node_id=args.node_id,
        state_dir=Path(args.state_dir or _default_state_dir(args.endpoint)),
        kubeconfig=args.kubeconfig,
        kube_api=args.kube_api,
        recovery=args.recovery,
        recovery_period=args.recovery_period,
        stage_timeout=args.stage_timeout,
        publish_timeout=args.publish_timeout,
        grace=args.grace,
        readonly_bind=ReadOnlyBind(args.readonly_bind),
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    fluid_logging.configure(level=args.log_level, json=args.log_json)
    asyncio.run(server.serve(settings_from_args(args)))
    # The server stopped gracefully. Exit without the interpreter's atexit join of worker
    # threads: one stuck in stat() on a dead FUSE mount can never be joined, and waiting on
    # it would hang until the kubelet's SIGKILL.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
