#!/usr/bin/env bash
# The whole test suite: lint, types, unit, integration and e2e tests against a real local
# control plane (built on first use by hack/kube-binaries.sh, then cached).
# Extra arguments go to pytest, e.g. `bash hack/test.sh -k informer`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash hack/ensure-env.sh
echo "== ruff" >&2
.venv/bin/ruff check src test benchmarks
echo "== import layers (import-linter)" >&2
.venv/bin/lint-imports --no-cache
echo "== mypy --strict src/" >&2
.venv/bin/mypy
echo "== pytest" >&2
set +e
.venv/bin/pytest -q -p no:cacheprovider --durations=15 "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then echo "no tests were collected" >&2; exit 1; fi
exit $rc
