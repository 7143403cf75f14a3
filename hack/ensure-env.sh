#!/usr/bin/env bash
# Creates (or reuses) the project's virtualenv at .venv with the package and its test and
# dev dependencies, generates the CSI stubs, and builds the control-plane binaries.
# Idempotent and quiet when everything is in place. Sourced by local-up.sh and test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
stamp=.venv/.installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
  echo "ensure-env: installing Python dependencies into .venv" >&2
  [[ -x .venv/bin/python ]] || "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test,dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
if [[ -f hack/gen-proto.sh ]]; then
  bash hack/gen-proto.sh >/dev/null
fi
bash hack/kube-binaries.sh >/dev/null
