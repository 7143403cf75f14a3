"""Build hook: compile proto/csi.proto into fluid.csi.proto before packaging.

All metadata lives in setup.cfg; this file only adds the build step. ``build_py`` (which
both wheel builds and editable installs run) generates ``csi_pb2.py``, ``csi_pb2.pyi`` and
``csi_pb2_grpc.py`` with grpcio-tools (a build requirement in pyproject.toml), so the stubs
always match the pinned proto and are never committed. ``sdist`` ships the proto so a
wheel can be built from the source distribution. hack/gen-proto.sh does the same for a
development tree.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
PROTO = ROOT / "proto" / "csi.proto"
STUB_PACKAGE = ("fluid", "csi", "proto")
STUBS = ("csi_pb2.py", "csi_pb2.pyi", "csi_pb2_grpc.py")


def generate_csi_stubs(out_root: Path) -> None:
    """Run protoc from grpcio-tools, writing the stubs under ``out_root/fluid/csi/proto``.

    The virtual include ``fluid/csi/proto=proto`` makes the generated modules import each
    other as ``fluid.csi.proto.csi_pb2``.
    """
    import grpc_tools
    from grpc_tools import protoc

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    out_root.joinpath(*STUB_PACKAGE).mkdir(parents=True, exist_ok=True)
    argv = [
        "grpc_tools.protoc",
        f"-I{'/'.join(STUB_PACKAGE)}={PROTO.parent}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        "/".join((*STUB_PACKAGE, PROTO.name)),
    ]
    if protoc.main(argv) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")


class BuildPyWithProto(build_py):
    """build_py that first generates the CSI stubs into the source tree."""

    def run(self) -> None:
        source_root = ROOT / "src"
        stub_dir = source_root.joinpath(*STUB_PACKAGE)
        if PROTO.exists():
            generate_csi_stubs(source_root)
        elif not all((stub_dir / name).exists() for name in STUBS):
            raise RuntimeError(f"{PROTO} is missing and no generated stubs are present")
        super().run()
        if not self.editable_mode:
            # package_data in setup.cfg does not list the .pyi; copy it next to the modules.
            target = Path(self.build_lib).joinpath(*STUB_PACKAGE)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(stub_dir / "csi_pb2.pyi", target / "csi_pb2.pyi")


class SdistWithProto(sdist):
    """sdist that ships proto/csi.proto (the stubs are generated from it at build time)."""

    def add_defaults(self) -> None:
        super().add_defaults()
        self.filelist.append("proto/csi.proto")


setup(cmdclass={"build_py": BuildPyWithProto, "sdist": SdistWithProto})
