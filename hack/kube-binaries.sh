#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok
# from the Go module proxy into ~/.cache/fluid/kube/<version>/bin.
#
# Idempotent: a finished build leaves a .complete marker and is reused. A failed step
# says which step failed and exits non-zero. Builds run one at a time to stay within
# a 2-core, modest-memory machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${FLUID_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fluid}
bin="$cache/kube/${KUBE_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}/bin"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"

step() { echo "kube-binaries: $*" >&2; }
fail() { echo "kube-binaries: FAILED at step: $1" >&2; exit 1; }

if [[ "${1:-}" == "--print-bin-dir" ]]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || fail "find a Go toolchain (go not on PATH)"
if [[ -f "$bin/.complete" ]]; then step "cached build at $bin"; echo "$bin"; exit 0; fi

mkdir -p "$bin" "$cache"
exec 9>"$cache/kube-binaries.lock"
flock 9
if [[ -f "$bin/.complete" ]]; then echo "$bin"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
patch=$(echo "$KUBE_VERSION" | cut -d. -f3)
staging="v0.${minor}.${patch}"

build_kube() {
  step "kubernetes $KUBE_VERSION: wrapper module"
  mkdir -p "$work/kube" && cd "$work/kube"
  go mod init fluid.invalid/kubebin >/dev/null 2>&1 || fail "kubernetes: go mod init"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p') \
    || fail "kubernetes: download k8s.io/kubernetes@$KUBE_VERSION"
  [[ -f "$gomod" ]] || fail "kubernetes: locate go.mod of k8s.io/kubernetes@$KUBE_VERSION"
  local godir
  godir=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)
  go mod edit -go="$godir" || fail "kubernetes: set go directive"
  local godebug
  godebug=$(sed -n 's/^godebug default=\(.*\)$/\1/p' "$gomod" | head -n1)
  [[ -n "$godebug" ]] && go mod edit -godebug="default=$godebug"
  local mods
  mods=$(grep -oE '^\s*k8s.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}' | sort -u)
  [[ -n "$mods" ]] || fail "kubernetes: list staging modules"
  for m in $mods; do go mod edit -replace="$m=$m@$staging"; done
  step "kubernetes: resolving modules (replacing $(echo "$mods" | wc -l) staging modules with $staging)"
  local cmds="kube-apiserver kube-controller-manager kube-scheduler kubectl" pkgs=""
  for cmd in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$cmd@$KUBE_VERSION"; done
  # go get on the command packages (not just the module) records go.sum for all they import.
  # shellcheck disable=SC2086
  go get $pkgs || fail "kubernetes: go get (module resolution)"
  local date ld=""
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitCommit=$KUBE_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  for cmd in $cmds; do
    [[ -x "$bin/$cmd" ]] && { step "$cmd: already built"; continue; }
    step "$cmd: building"
    go build -tags selinux,notest,grpcnotrace -ldflags "-s -w $ld" -o "$bin/$cmd.tmp" \
      "k8s.io/kubernetes/cmd/$cmd" || fail "$cmd: go build"
    mv "$bin/$cmd.tmp" "$bin/$cmd"
  done
}

build_etcd() {
  [[ -x "$bin/etcd" ]] && { step "etcd: already built"; return; }
  step "etcd $ETCD_VERSION: building"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init fluid.invalid/etcdbin >/dev/null 2>&1 || fail "etcd: go mod init"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" || fail "etcd: go get"
  go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
    -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 || fail "etcd: go build"
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_kwok() {
  [[ -x "$bin/kwok" ]] && { step "kwok: already built"; return; }
  step "kwok $KWOK_VERSION: building"
  GOBIN="$work/kwokbin" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || fail "kwok: go install"
  mv "$work/kwokbin/kwok" "$bin/kwok"
}

build_etcd
build_kwok
build_kube

step "verifying"
"$bin/etcd" --version >/dev/null || fail "verify etcd --version"
"$bin/kube-apiserver" --version | grep -q "$KUBE_VERSION" || fail "verify kube-apiserver --version"
"$bin/kwok" --version >/dev/null 2>&1 || "$bin/kwok" --help >/dev/null 2>&1 || fail "verify kwok"
touch "$bin/.complete"
step "done: $bin"
echo "$bin"
