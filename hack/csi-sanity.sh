#!/usr/bin/env bash
# Run the upstream CSI sanity suite (csi-sanity from github.com/kubernetes-csi/csi-test)
# against fluid-csi's Identity and Node services.
#
# - Builds csi-sanity from the Go module proxy on first use (GOTOOLCHAIN=local), cached
#   under ~/.cache/fluid/csi-sanity/<version>/ with the shared Go caches.
# - Re-executes itself in a private mount namespace (unshare -m): a FUSE mount (bindfs,
#   or tmpfs if bindfs is missing) plays the runtime's FUSE client at fluid_path, the plugin
#   runs on a temporary socket, and every bind mount dies with the namespace.
# - Skips the Controller-service specs ("[Controller Server]"): fluid-csi's Controller is a
#   stub for static PVs (CreateVolume echoes, DeleteVolume forgets); the Node specs that
#   create volumes through it do run.
# - With KUBECONFIG set, the plugin labels the node named by CSI_SANITY_NODE (which must
#   exist) through that API server; without it, the plugin runs with --no-kube-api.
#
# Needs root (CAP_SYS_ADMIN), unshare, mount, Go >= 1.25. Output: csi-sanity's report;
# JUnit XML at $CSI_SANITY_JUNIT when set. Extra arguments go to csi-sanity, e.g.
#   hack/csi-sanity.sh --ginkgo.focus='Node Service'
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${CSI_SANITY_VERSION:-v5.6.0}"
cache="${FLUID_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/fluid}"  # as hack/kube-binaries.sh
bin_dir="${cache}/csi-sanity/${version}/bin"
sanity="${bin_dir}/csi-sanity"
python="${PYTHON:-${root}/.venv/bin/python}"
[[ -x "${python}" ]] || python=python3

build() {
  [[ -x "${sanity}" ]] && return
  command -v go >/dev/null || { echo "csi-sanity.sh: go is required to build csi-sanity" >&2; exit 2; }
  echo "csi-sanity.sh: building csi-sanity ${version} into ${bin_dir}" >&2
  mkdir -p "${bin_dir}"
  GOTOOLCHAIN=local GOBIN="${bin_dir}" GOFLAGS="-mod=mod -p=1" \
    GOMODCACHE="${cache}/go/mod" GOCACHE="${cache}/go/build" \
    go install "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@${version}"
}

if [[ -z "${FLUID_CSI_SANITY_IN_NS:-}" ]]; then
  build
  [[ "$(id -u)" == 0 ]] || { echo "csi-sanity.sh: needs root for mount namespaces" >&2; exit 2; }
  exec unshare --mount --propagation private env FLUID_CSI_SANITY_IN_NS=1 "$0" "$@"
fi

# -- inside the private mount namespace ------------------------------------------------------
work="$(mktemp -d /tmp/fluid-sanity-XXXXXX)"
fluid_path="${work}/runtime-mnt/thin/default/sanity/thin-fuse"
mkdir -p "${work}/data" "${fluid_path}"
echo "a file in the dataset" > "${work}/data/hello.txt"
plugin_pid=""
fuse_pid=""

cleanup() {
  local rc=$?
  [[ -n "${plugin_pid}" ]] && kill -TERM "${plugin_pid}" 2>/dev/null && wait "${plugin_pid}" || true
  umount -l "${fluid_path}" 2>/dev/null || true
  [[ -n "${fuse_pid}" ]] && kill "${fuse_pid}" 2>/dev/null || true
  if [[ ${rc} -ne 0 && -f "${work}/plugin.log" ]]; then
    echo "---- fluid-csi log (last 40 lines) ----" >&2
    tail -n 40 "${work}/plugin.log" >&2
  fi
  rm -rf "${work}"
  exit "${rc}"
}
trap cleanup EXIT

if command -v bindfs >/dev/null && [[ -e /dev/fuse ]]; then
  bindfs -f "${work}/data" "${fluid_path}" &
  fuse_pid=$!
  fs=fuse
else
  mount -t tmpfs -o size=16m sanity "${fluid_path}"
  fs=tmpfs
fi
for _ in $(seq 1 100); do mountpoint -q "${fluid_path}" && break; sleep 0.05; done
mountpoint -q "${fluid_path}" || { echo "csi-sanity.sh: ${fs} did not mount" >&2; exit 1; }

cat > "${work}/params.yaml" <<EOF
fluid_path: ${fluid_path}
mount_type: ${fs}
runtime_namespace: default
runtime_name: sanity
EOF

kube_args=(--no-kube-api)
if [[ -n "${KUBECONFIG:-}" ]]; then kube_args=(--kubeconfig "${KUBECONFIG}"); fi
node="${CSI_SANITY_NODE:-csi-sanity-node}"
PYTHONPATH="${root}/src${PYTHONPATH:+:${PYTHONPATH}}" "${python}" -m fluid.cli.csi \
  --endpoint "unix://${work}/csi.sock" --node-id "${node}" --state-dir "${work}/state" \
  --stage-timeout 10 --publish-timeout 10 --log-json "${kube_args[@]}" \
  >"${work}/plugin.log" 2>&1 &
plugin_pid=$!
for _ in $(seq 1 300); do [[ -S "${work}/csi.sock" ]] && break; sleep 0.1; done
[[ -S "${work}/csi.sock" ]] || { echo "csi-sanity.sh: fluid-csi did not start" >&2; exit 1; }

junit=()
if [[ -n "${CSI_SANITY_JUNIT:-}" ]]; then junit=(--ginkgo.junit-report "${CSI_SANITY_JUNIT}"); fi
"${sanity}" \
  --csi.endpoint "unix://${work}/csi.sock" \
  --csi.mountdir "${work}/target" \
  --csi.stagingdir "${work}/staging" \
  --csi.testvolumeparameters "${work}/params.yaml" \
  --ginkgo.skip '\[Controller Server\]' \
  --ginkgo.no-color \
  "${junit[@]}" "$@"
