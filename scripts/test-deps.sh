#!/usr/bin/env bash
# Installs what `make test` needs on a fresh machine, idempotently and
# quietly. Today that is only Go's module cache; system packages for the
# probes of later issues are listed in PKGS and installed with apt-get when
# missing (apt-get update once, then install).
set -euo pipefail
PKGS=(redis-server prometheus prometheus-alertmanager postgresql-15-pgaudit)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
go mod download

# Test servers built from Go modules into a cache outside the repository
# (reused when present; a cold build takes long once per machine and prints
# its progress).
here=$(dirname "$0")
"$here/build-chain.sh"
"$here/build-k8s.sh"
