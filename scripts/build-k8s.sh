#!/usr/bin/env bash
# Builds the binaries of a real Kubernetes control plane for the kubernetes
# probe's tests (internal/testenv/kube.go): kube-apiserver,
# kube-controller-manager and kube-scheduler from k8s.io/kubernetes, kwok
# (fake nodes and pods) from sigs.k8s.io/kwok, and etcd (Debian's
# etcd-server when apt-get can install it, else built from go.etcd.io/etcd).
#
# They land in "${PRF_TEST_CACHE:-$HOME/.cache/prf-test}/kubernetes-v1.37.2/bin"
# (testenv.CacheDir's directory), atomically: built in a temp dir, then
# renamed. The script is idempotent: it exits at once when every binary is
# there, and keeps those an interrupted run finished. A cold build took 40
# minutes on a very busy 2-core machine (load average ~18) and needs ~5 GB of
# Go module and build cache; with a warm Go build cache it takes about a
# minute.
#
# Why scratch modules: `go install k8s.io/kubernetes/cmd/...@v1.37.2` is
# refused because k8s.io/kubernetes' go.mod replaces its staging modules with
# local paths. A scratch module that requires it and replaces every staging
# module with its published version (v0.37.2) builds fine. kwok and etcd get
# their own scratch modules so that their dependency versions stay theirs.
set -euo pipefail

K8S_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
KWOK_VERSION=v0.8.0
ETCD_VERSION=v3.7.0

# The same directory as testenv.CacheDir: $PRF_TEST_CACHE, else
# $XDG_CACHE_HOME/prf-test, else ~/.cache/prf-test.
CACHE="${PRF_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prf-test}"
ROOT="$CACHE/kubernetes-$K8S_VERSION"
DEST="$ROOT/bin"
BINS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

have_all() {
  local b
  for b in "${BINS[@]}"; do
    [ -x "$DEST/$b" ] || return 1
  done
}

if have_all; then
  echo "kubernetes $K8S_VERSION binaries present in $DEST"
  exit 0
fi

command -v go >/dev/null || { echo "build-k8s: go is not on PATH" >&2; exit 1; }
command -v jq >/dev/null || { echo "build-k8s: jq is not on PATH" >&2; exit 1; }

START=$(date +%s)
elapsed() {
  local s=$(( $(date +%s) - START ))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}
log() { echo "[$(elapsed)] $*"; }

mkdir -p "$ROOT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/prf-build-k8s.XXXXXX")
# The staging dir sits beside DEST so that the final rename stays on one
# filesystem.
STAGE=$(mktemp -d "$ROOT/.bin.XXXXXX")
chmod 755 "$STAGE"
trap 'rm -rf "$WORK" "$STAGE"' EXIT

# Binaries a previous, interrupted run already finished are kept.
for b in "${BINS[@]}"; do
  if [ -x "$DEST/$b" ]; then
    cp -p "$DEST/$b" "$STAGE/$b"
  fi
done

export GOWORK=off
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

# scratch_module DIR MODULE VERSION LOCALVERSION writes DIR/go.mod requiring
# MODULE@VERSION and copies MODULE's replace directives: a replacement by a
# local path (./staging/src/k8s.io/api) becomes the same module at
# LOCALVERSION, a replacement by a module version is kept as it is.
scratch_module() {
  local dir=$1 mod=$2 ver=$3 localver=$4 gomod
  mkdir -p "$dir"
  # Asked from inside the scratch directory, so that no go.mod around the
  # caller's working directory is touched.
  printf 'module prfbuild\n\ngo 1.26.0\n' >"$dir/go.mod"
  gomod=$(cd "$dir" && go mod download -json "$mod@$ver" | jq -r .GoMod)
  {
    echo "module prfbuild"
    echo
    echo "go 1.26.0"
    echo
    echo "require $mod $ver"
    echo
    go mod edit -json "$gomod" | jq -r --arg lv "$localver" '
      .Replace // [] | .[]
      | select(.Old.Path | test("^k8s.io/sample-") | not)
      | if (.New.Path | startswith(".") or startswith("/"))
        then "replace \(.Old.Path) => \(.Old.Path) \($lv)"
        else "replace \(.Old.Path)\(if .Old.Version then " " + .Old.Version else "" end) => \(.New.Path) \(.New.Version)"
        end'
  } >"$dir/go.mod"
  # a main package so that `go mod` commands have something to resolve
  echo "package main" >"$dir/main.go"
}

n=0
total=${#BINS[@]}
# build NAME DIR PACKAGE [LDFLAGS...] builds PACKAGE in the scratch module DIR.
build() {
  local name=$1 dir=$2 pkg=$3 extra=${4:-}
  n=$((n + 1))
  if [ -x "$STAGE/$name" ]; then
    log "$name already built ($n/$total)"
    return
  fi
  local t0=$(date +%s)
  log "building $name ($n/$total)..."
  (cd "$dir" && go build -trimpath -ldflags="-s -w $extra" -o "$STAGE/$name.tmp" "$pkg")
  mv "$STAGE/$name.tmp" "$STAGE/$name"
  log "built $name in $(( $(date +%s) - t0 ))s"
}

n=$((n + 1))
if [ -x "$STAGE/etcd" ]; then
  log "etcd already built ($n/$total)"
else
  if ! command -v etcd >/dev/null && command -v apt-get >/dev/null &&
    [[ "$(apt-cache policy etcd-server 2>/dev/null)" == *"Candidate: "[0-9]* ]]; then
    log "installing Debian's etcd-server ($n/$total)..."
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server >/dev/null || true
  fi
  if command -v etcd >/dev/null; then
    log "etcd ($n/$total): using $(command -v etcd) ($(etcd --version 2>/dev/null | head -1))"
    cp "$(command -v etcd)" "$STAGE/etcd"
  else
    n=$((n - 1))
    log "preparing go.etcd.io/etcd/server/v3@$ETCD_VERSION..."
    scratch_module "$WORK/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION"
    build etcd "$WORK/etcd" go.etcd.io/etcd/server/v3
  fi
fi

K8S_LDFLAGS="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
K8S_LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=$(echo "${K8S_VERSION#v}" | cut -d. -f1)"
K8S_LDFLAGS+=" -X k8s.io/component-base/version.gitMinor=$(echo "${K8S_VERSION#v}" | cut -d. -f2)"
K8S_LDFLAGS+=" -X k8s.io/component-base/version.gitTreeState=clean"
K8S_LDFLAGS+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

if [ ! -x "$STAGE/kube-apiserver" ] || [ ! -x "$STAGE/kube-controller-manager" ] || [ ! -x "$STAGE/kube-scheduler" ]; then
  log "preparing k8s.io/kubernetes@$K8S_VERSION (module downloads, ~1 GB)..."
  scratch_module "$WORK/k8s" k8s.io/kubernetes "$K8S_VERSION" "$STAGING_VERSION"
  log "$(grep -c '^replace' "$WORK/k8s/go.mod") staging modules replaced"
fi
build kube-apiserver "$WORK/k8s" k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS"
build kube-controller-manager "$WORK/k8s" k8s.io/kubernetes/cmd/kube-controller-manager "$K8S_LDFLAGS"
build kube-scheduler "$WORK/k8s" k8s.io/kubernetes/cmd/kube-scheduler "$K8S_LDFLAGS"

if [ ! -x "$STAGE/kwok" ]; then
  log "preparing sigs.k8s.io/kwok@$KWOK_VERSION..."
  scratch_module "$WORK/kwok" sigs.k8s.io/kwok "$KWOK_VERSION" "$KWOK_VERSION"
fi
build kwok "$WORK/kwok" sigs.k8s.io/kwok/cmd/kwok

have_all_stage() {
  local b
  for b in "${BINS[@]}"; do
    [ -x "$STAGE/$b" ] || return 1
  done
}
have_all_stage || { echo "build-k8s: some binaries are missing" >&2; exit 1; }

# Swap the finished directory into place.
if [ -d "$DEST" ]; then
  mv "$DEST" "$WORK/old-bin"
fi
mv "$STAGE" "$DEST"
log "kubernetes $K8S_VERSION binaries ready in $DEST ($(du -sh "$DEST" | cut -f1))"
