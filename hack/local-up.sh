#!/usr/bin/env bash
# Brings up a local control plane with kwok nodes, installs Fluid's CRDs, runs the
# controller-manager (with its webhook) and the CSI plugin against it, applies the sample
# dataset, and prints how to point kubectl at it. Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash hack/ensure-env.sh
exec .venv/bin/python -m fluid.testing.localup "$@"
