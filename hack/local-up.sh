#!/usr/bin/env bash
# Brings up a local control plane with kwok nodes, installs Fluid's CRDs, runs the
# controller-manager (with its webhook) and the CSI plugin against it, applies the samples,
# waits until the sample Alluxio dataset is Bound and the sample app Running on its cache
# nodes, and prints how to point kubectl at it. Ctrl-C stops everything.
# kwok runs no containers: exec into the sample Alluxio master is answered by a simulated
# CLI (fluid.testing.kwok_exec), and local-up says so; --no-simulate turns that off.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash hack/ensure-env.sh
exec .venv/bin/python -m fluid.testing.localup "$@"
