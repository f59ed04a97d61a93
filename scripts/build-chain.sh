#!/usr/bin/env bash
# Builds the blockchain node binaries the chain tests run (CometBFT, then
# go-ethereum) from their Go modules, each in a scratch module, into
# "${PRF_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prf-test}/chain/<name>-<version>/<name>"
# (testenv.CacheDir()).
# Idempotent: a binary already in the cache is not rebuilt. Atomic: each
# build goes to a temporary directory renamed into place when complete.
#
# Usage: scripts/build-chain.sh [cometbft|geth]...   (default: both)
set -euo pipefail

COMETBFT_VERSION=v1.0.1
GETH_VERSION=v1.17.10
CACHE="${PRF_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prf-test}/chain"
START=$(date +%s)

TMPDIRS=()
cleanup() { local d; for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT
log() { echo "[build-chain +$(( $(date +%s) - START ))s] $*"; }

# build NAME VERSION MODULE PACKAGE
build() {
  local name=$1 version=$2 module=$3 pkg=$4
  local dest="$CACHE/$name-$version"
  if [ -x "$dest/$name" ]; then
    log "$name $version already built: $dest/$name"
    return 0
  fi
  mkdir -p "$CACHE"
  local tmp
  tmp=$(mktemp -d "$CACHE/.$name-$version.XXXXXX")
  TMPDIRS+=("$tmp")
  local t0
  t0=$(date +%s)
  log "$name $version: fetching $module@$version"
  mkdir -p "$tmp/src" "$tmp/out"
  (
    cd "$tmp/src"
    export GOFLAGS=-mod=mod GOWORK=off
    go mod init prf-build-chain/"$name" >/dev/null 2>&1
    go get "$pkg@$version" >/dev/null
    log "$name $version: compiling (this takes minutes)"
    go build -trimpath -ldflags='-s -w' -o "$tmp/out/$name" "$pkg"
  )
  "$tmp/out/$name" version >/dev/null 2>&1 || true
  mv "$tmp/out" "$tmp/final"
  if ! mv -T "$tmp/final" "$dest" 2>/dev/null; then
    if [ -x "$dest/$name" ]; then
      log "$name $version: built concurrently by another process"
    else
      log "$name $version: cannot move build into $dest" >&2
      return 1
    fi
  fi
  log "$name $version: done in $(( $(date +%s) - t0 ))s: $dest/$name ($(du -h "$dest/$name" | cut -f1))"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(cometbft geth)
for t in "${targets[@]}"; do
  case "$t" in
    cometbft) build cometbft "$COMETBFT_VERSION" github.com/cometbft/cometbft github.com/cometbft/cometbft/cmd/cometbft ;;
    geth) build geth "$GETH_VERSION" github.com/ethereum/go-ethereum github.com/ethereum/go-ethereum/cmd/geth ;;
    *) echo "unknown target $t (want cometbft or geth)" >&2; exit 2 ;;
  esac
done
log "all done"
