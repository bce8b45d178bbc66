#!/usr/bin/env bash
# 011_no_preload.sh: without shared_preload_libraries = 'ledger_am', creating
# the extension fails with a clear message and a HINT, and nothing crashes
# (TAP output).
#
#   bash test/t/011_no_preload.sh      (as root; the cluster runs as postgres)
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T011_PORT:-54393}
TESTNO=0
FAILED=0
DIR=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
cleanup() { [[ -n "$DIR" && -d "$DIR" ]] && cluster_remove "$DIR" >/dev/null 2>&1; }
trap cleanup EXIT

echo "1..4"
DIR=$(mktemp -d /tmp/ledger_am_t011.XXXXXX) && chown postgres "$DIR"
if ! out=$(cluster_init "$DIR" "$PORT" "" 2>&1 && cluster_start "$DIR" 2>&1); then
  ok_if 1 "cluster without the preload starts" "$out"
  for _ in 2 3 4; do ok_if 1 "not run"; done
else
  ok_if 0 "cluster without the preload starts (port $PORT)"
  out=$(cluster_psql "$DIR" -v VERBOSITY=verbose -c "CREATE EXTENSION ledger_am" 2>&1)
  grep -q "ERROR:  55000: ledger_am must be loaded via shared_preload_libraries" <<<"$out" \
    && ok_if 0 "CREATE EXTENSION fails: must be loaded via shared_preload_libraries (SQLSTATE 55000)" \
    || ok_if 1 "CREATE EXTENSION fails with the preload message" "$out"
  grep -q "HINT:  Add 'ledger_am' to shared_preload_libraries in postgresql.conf and restart the server." <<<"$out" \
    && ok_if 0 "with a HINT saying what to do" || ok_if 1 "with a HINT" "$out"
  out=$(cluster_psql "$DIR" -qAt -c "SELECT count(*) FROM pg_extension WHERE extname = 'ledger_am'" 2>&1)
  [[ "$out" == 0 ]] && ! grep -q "terminated by signal" "$DIR/server.log" \
    && ok_if 0 "no extension left behind, no server process crashed" \
    || ok_if 1 "no extension left behind, no crash" "$out"$'\n'"$(grep signal "$DIR/server.log")"
fi
tap_exit 011_no_preload
