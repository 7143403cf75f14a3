"""fluid-csi with a chosen way of making read-only binds, for the tests of the fallback.

``python csi_plugin_launcher.py --readonly-bind MODE <fluid-csi flags>``: the flags after
the mode are fluid-csi's own (``fluid.cli.csi``), and the same server is served with a
``LinuxMounter`` built for MODE: ``atomic`` (the default of the real binary), ``two-step``
(the fallback, forced by its parameter), or ``enosys`` (atomic over a syscall entry that
answers ENOSYS to everything, as a kernel older than 5.2 does). Started by
``csiproc.PluginProcess(readonly_bind=...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import errno

import attrs

from fluid.cli import csi as csi_cli
from fluid.csi import mountapi, server
from fluid.csi.linux import LinuxMounter, ReadOnlyBind
from fluid.observability import logging as fluid_logging

MODES = ("atomic", "two-step", "enosys")


def _enosys(number: ctypes.c_long, /, *args: object) -> int:
    ctypes.set_errno(errno.ENOSYS)
    return -1


def mounter(mode: str) -> LinuxMounter:
    if mode == "enosys":
        api = attrs.evolve(mountapi.MountApi.native(), syscall=_enosys)
        return LinuxMounter(readonly_bind=ReadOnlyBind.ATOMIC, mount_api=api)
    return LinuxMounter(readonly_bind=ReadOnlyBind(mode))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readonly-bind", choices=MODES, required=True)
    ours, rest = parser.parse_known_args()
    args = csi_cli.parse_args(rest)
    fluid_logging.configure(level=args.log_level, json=args.log_json)
    asyncio.run(server.serve(csi_cli.settings_from_args(args), mounter=mounter(ours.readonly_bind)))


if __name__ == "__main__":
    main()
