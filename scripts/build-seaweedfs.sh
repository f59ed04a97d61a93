#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the real S3-compatible server of the opt-in
# PRF_TEST_SEAWEEDFS=1 tests) from its Go module into
# "${PRF_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prf-test}/seaweedfs-<version>/weed"
# (testenv.CacheDir()).
#
# `go install github.com/seaweedfs/seaweedfs/weed@V` is refused because the
# module's go.mod holds replace directives, so the module is downloaded,
# copied to a scratch directory (the module cache is read-only) and built
# there. About 15 CPU-minutes and a 233 MB binary; progress is printed every
# minute. Idempotent (a binary already in place is not rebuilt) and atomic
# (built in a temporary directory, renamed into place when complete).
#
# Usage: scripts/build-seaweedfs.sh [VERSION [DEST_DIR]]
# VERSION is a Go module version; SeaweedFS tags releases without Go's "v",
# so it is a pseudo-version. Keep the default equal to
# testenv.SeaweedFSVersion (which passes it explicitly anyway).
set -euo pipefail

VERSION=${1:-${PRF_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}}
CACHE="${PRF_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prf-test}"
DEST=${2:-$CACHE/seaweedfs-$VERSION}
MODULE=github.com/seaweedfs/seaweedfs
START=$(date +%s)
log() { echo "[build-seaweedfs +$(( $(date +%s) - START ))s] $*"; }

if [ -x "$DEST/weed" ]; then
  log "SeaweedFS $VERSION already built: $DEST/weed"
  exit 0
fi

mkdir -p "$(dirname "$DEST")"
TMP=$(mktemp -d "$(dirname "$DEST")/.seaweedfs-$VERSION.XXXXXX")
TICKER=""
cleanup() {
  [ -n "$TICKER" ] && kill "$TICKER" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

export GOWORK=off GOFLAGS=-mod=mod
log "fetching $MODULE@$VERSION"
SRC=$(cd "$TMP" && go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [ -z "$SRC" ] || [ ! -d "$SRC" ]; then
  echo "build-seaweedfs: go mod download $MODULE@$VERSION gave no directory" >&2
  exit 1
fi
log "copying the module (its go.mod has replace directives, so it is built in place)"
cp -R "$SRC" "$TMP/src"
chmod -R u+w "$TMP/src"
mkdir -p "$TMP/out"

log "compiling weed (about 15 CPU-minutes; progress every minute)"
( while sleep 60; do log "still compiling…"; done ) &
TICKER=$!
(cd "$TMP/src" && go build -trimpath -ldflags='-s -w' -o "$TMP/out/weed" ./weed)
kill "$TICKER" 2>/dev/null || true
TICKER=""

"$TMP/out/weed" version || true
if ! mv -T "$TMP/out" "$DEST" 2>/dev/null; then
  if [ -x "$DEST/weed" ]; then
    log "built concurrently by another process"
  else
    echo "build-seaweedfs: cannot move the build into $DEST" >&2
    exit 1
  fi
fi
log "done: $DEST/weed ($(du -h "$DEST/weed" | cut -f1))"
