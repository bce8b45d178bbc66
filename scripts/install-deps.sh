#!/usr/bin/env bash
# install-deps.sh: install the Debian 12 packages ledger_am needs to build and test.
#
# Idempotent: checks every package with dpkg-query and only when one is missing
# runs `apt-get update` (once) and `apt-get install` for the missing ones.
# Needs root (or sudo) only when something must be installed.
#
# Note: installing postgresql-15 lets postgresql-common create and start a
# cluster "15/main" on port 5432. We leave it alone; the project's scripts only
# use throwaway clusters under /tmp on other ports.
set -uo pipefail

REQUIRED_PKGS=(
  postgresql-15 postgresql-client-15 postgresql-server-dev-15
  librocksdb-dev liblz4-dev libzstd-dev
  libgtest-dev googletest libbenchmark-dev
  cmake g++ make
  libipc-run-perl
)
# Installed when the archive has it (amcheck ships in postgresql-15 anyway).
OPTIONAL_PKGS=(postgresql-contrib)

# is_installed PKG: true when dpkg reports PKG as fully installed.
is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ "$status" == "install ok installed" ]]
}

# as_root CMD...: run CMD as root (directly when we are root, else via sudo).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-deps: need root to run: $*" >&2
    return 1
  fi
}

main() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: dpkg-query not found; this script targets Debian 12" >&2
    return 1
  fi

  local missing=() optional_missing=() p
  for p in "${REQUIRED_PKGS[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  for p in "${OPTIONAL_PKGS[@]}"; do
    is_installed "$p" || optional_missing+=("$p")
  done

  if [[ ${#missing[@]} -eq 0 && ${#optional_missing[@]} -eq 0 ]]; then
    echo "install-deps: all packages present"
    return 0
  fi

  echo "install-deps: missing: ${missing[*]} ${optional_missing[*]}"
  as_root apt-get update || { echo "install-deps: apt-get update failed" >&2; return 1; }

  # Optional packages only when the archive knows them.
  for p in "${optional_missing[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then
      missing+=("$p")
    else
      echo "install-deps: optional package $p not available, skipping"
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}" || {
      echo "install-deps: apt-get install failed" >&2
      return 1
    }

  # Verify: a package that apt skipped silently would break the build later.
  local still=()
  for p in "${missing[@]}"; do
    is_installed "$p" || still+=("$p")
  done
  if [[ ${#still[@]} -gt 0 ]]; then
    echo "install-deps: still missing after install: ${still[*]}" >&2
    return 1
  fi
  echo "install-deps: installed ${missing[*]}"
}

main "$@"
