#!/usr/bin/env bash
# Generate the CSI gRPC stubs (csi_pb2.py, csi_pb2.pyi, csi_pb2_grpc.py) from proto/csi.proto
# into src/fluid/csi/proto/, for development and CI. setup.py runs the same protoc call
# at build/install time; this script needs only grpcio-tools, not an installed package.
# The stubs are gitignored; run this after editing the proto.
#
# Usage: hack/gen-proto.sh [python]   (default: .venv/bin/python, else python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${1:-}"
if [[ -z "${python}" ]]; then
  if [[ -x "${root}/.venv/bin/python" ]]; then python="${root}/.venv/bin/python"; else python=python3; fi
fi

out="${root}/src"
dest="${out}/fluid/csi/proto"
mkdir -p "${dest}"
include="$("${python}" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"

# The virtual include path maps proto/ to fluid/csi/proto/, so the generated modules
# import each other as fluid.csi.proto.csi_pb2 without any rewriting.
"${python}" -m grpc_tools.protoc \
  "-Ifluid/csi/proto=${root}/proto" \
  "-I${include}" \
  "--python_out=${out}" \
  "--pyi_out=${out}" \
  "--grpc_python_out=${out}" \
  "fluid/csi/proto/csi.proto"

echo "generated: $(cd "${dest}" && ls csi_pb2*.py*)"
