#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy (no Docker, no kind)
# and caches them outside the repo, keyed by version. Prints nothing but
# progress on stderr; the binary paths are printed on stdout, one per line.
#
#   KUBE_VERSION  (default v1.34.4)   ETCD_VERSION (default v3.6.13)
#   CONTROL_PLANE_CACHE (default ~/.cache/lambda-ingress/control-plane)
#   KUBE_APISERVER_BIN / ETCD_BIN: use this binary instead (no build; the path
#     is checked and printed as is).
#
# Caching (e.g. in CI): the binaries land in $CONTROL_PLANE_CACHE, keyed by
# version; a cold build also fills Go's own caches, GOMODCACHE (~0.9 GB of
# module downloads, `go env GOMODCACHE`) and GOCACHE (~2 GB of compiled
# packages, `go env GOCACHE`). Caching $CONTROL_PLANE_CACHE alone is enough to
# skip the build; caching GOMODCACHE/GOCACHE too only speeds up a rebuild for a
# new version. Cold build: ~3.5 min on 2 cores. Concurrent runs serialise on
# a flock(1) lock in the cache directory when flock is available.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.13}
CACHE=${CONTROL_PLANE_CACHE:-$HOME/.cache/lambda-ingress/control-plane}
# k8s.io/kubernetes v1.X.Y publishes its staging modules as v0.X.Y.
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"

log() { echo "build-control-plane: $*" >&2; }

# A given override path wins over the cache and the build.
use_override() {
  local var=$1 path=$2
  if [[ ! -x $path ]]; then echo "build-control-plane: $var=$path is not an executable file" >&2; exit 1; fi
  echo "$path"
}

build_kube_apiserver() {
  if [[ -n ${KUBE_APISERVER_BIN:-} ]]; then use_override KUBE_APISERVER_BIN "$KUBE_APISERVER_BIN"; return; fi
  local out="$CACHE/kube-apiserver-$KUBE_VERSION"
  if [[ -x $out ]]; then echo "$out"; return; fi
  local work="$CACHE/src/kube-apiserver-$KUBE_VERSION"
  mkdir -p "$work"
  log "building kube-apiserver $KUBE_VERSION in $work (first time only; several minutes)"
  (
    cd "$work"
    cat > go.mod <<MOD
module lambda-ingress.io/hack/kube-apiserver

go 1.24
MOD
    # k8s.io/kubernetes requires its staging modules at v0.0.0 with local
    # replaces that do not survive as a dependency: read the list from its
    # go.mod and replace each with the published tag.
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}' | while read -r mod; do
      echo "replace $mod => $mod $STAGING_VERSION" >> go.mod
    done
    echo "require k8s.io/kubernetes $KUBE_VERSION" >> go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
    go mod tidy >&2
    local major minor
    major=$(echo "$KUBE_VERSION" | cut -d. -f1 | tr -d v)
    minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
    local pkg=k8s.io/component-base/version
    go build -trimpath -o "$out.tmp" \
      -ldflags "-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor" \
      k8s.io/kubernetes/cmd/kube-apiserver >&2
    mv "$out.tmp" "$out"
  )
  echo "$out"
}

build_etcd() {
  if [[ -n ${ETCD_BIN:-} ]]; then use_override ETCD_BIN "$ETCD_BIN"; return; fi
  local out="$CACHE/etcd-$ETCD_VERSION"
  if [[ -x $out ]]; then echo "$out"; return; fi
  local work="$CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$work"
  log "building etcd $ETCD_VERSION in $work (first time only)"
  (
    cd "$work"
    cat > go.mod <<MOD
module lambda-ingress.io/hack/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    go mod tidy >&2
    go build -trimpath -ldflags "-s -w" -o "$out.tmp" go.etcd.io/etcd/server/v3 >&2
    mv "$out.tmp" "$out"
  )
  echo "$out"
}

mkdir -p "$CACHE"
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it"
    flock 9
  fi
fi
case "${1:-all}" in
  kube-apiserver) build_kube_apiserver ;;
  etcd) build_etcd ;;
  all) build_etcd; build_kube_apiserver ;;
  *) echo "usage: $0 [all|kube-apiserver|etcd]" >&2; exit 2 ;;
esac
