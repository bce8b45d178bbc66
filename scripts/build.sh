#!/usr/bin/env bash
# build.sh: install dependencies, then build and install the extension.
#
#   bash scripts/build.sh
#
# Runs scripts/install-deps.sh, then `make -j2 && make install` in the repo
# root against PostgreSQL 15 (PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config).
# `make install` writes into the system PostgreSQL directories, so run as root.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin
export PATH="$PG_BINDIR:$PATH"
export PG_CONFIG="${PG_CONFIG:-$PG_BINDIR/pg_config}"

bash "$REPO_ROOT/scripts/install-deps.sh"

cd "$REPO_ROOT"
echo "build: make -j2 (PG_CONFIG=$PG_CONFIG)"
make -j2 PG_CONFIG="$PG_CONFIG"
echo "build: make install"
make install PG_CONFIG="$PG_CONFIG"
echo "build: done"
