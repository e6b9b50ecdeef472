#!/usr/bin/env bash
# Builds helm from its Go module (no download of a prebuilt binary) and caches
# it outside the repo, keyed by version. Prints nothing but progress on
# stderr; the binary's path is printed on stdout.
#
#   HELM_VERSION (default v4.3.1)
#   HELM_CACHE   (default ~/.cache/lambda-ingress/helm)
#   HELM_BIN:    use this binary instead (no build; the path is checked and
#                printed as is).
#
# Caching (e.g. in CI): caching $HELM_CACHE alone is enough to skip the build.
# A cold build also fills GOMODCACHE (~0.55 GB) and GOCACHE (~1.2 GB). Cold build
# (empty Go caches): ~3 min on 2 cores.
# Concurrent runs serialise on a flock(1) lock in the cache directory when
# flock is available.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v4.3.1}
CACHE=${HELM_CACHE:-$HOME/.cache/lambda-ingress/helm}
MAJOR=${HELM_VERSION%%.*}

log() { echo "build-helm: $*" >&2; }

if [[ -n ${HELM_BIN:-} ]]; then
  if [[ ! -x $HELM_BIN ]]; then log "HELM_BIN=$HELM_BIN is not an executable file"; exit 1; fi
  echo "$HELM_BIN"
  exit 0
fi

out="$CACHE/helm-$HELM_VERSION"
if [[ -x $out ]]; then echo "$out"; exit 0; fi

mkdir -p "$CACHE"
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it"
    flock 9
  fi
  # The build we waited for may have produced it.
  if [[ -x $out ]]; then echo "$out"; exit 0; fi
fi

log "building helm $HELM_VERSION (first time only; minutes on a cold Go cache)"
# helm's module has no replace directives, so `go install module@version`
# builds it with exactly the dependencies it was released with.
bindir="$CACHE/bin-$HELM_VERSION.tmp"
rm -rf "$bindir"
pkg="helm.sh/helm/$MAJOR/internal/version"
GOBIN="$bindir" CGO_ENABLED=0 go install -trimpath \
  -ldflags "-s -w -X $pkg.version=$HELM_VERSION -X $pkg.gitTreeState=clean" \
  "helm.sh/helm/$MAJOR/cmd/helm@$HELM_VERSION" >&2
mv "$bindir/helm" "$out"
rm -rf "$bindir"
echo "$out"
