#!/usr/bin/env bash
# 014_bulk_scan.sh: a sequential scan of a table larger than the block cache
# reads its blocks without caching them, so it leaves the cache to the reads
# that can use it; a table that fits keeps filling the cache (TAP output).
#
# The cluster gets a 16 MB block cache (ledger_am.block_cache_mb) and a
# ~25 MB table, flushed into RocksDB files. The scan's size estimate comes
# from ANALYZE (row count and widths), as the planner's does:
#   * never analyzed: no estimate, the scan fills the cache as before;
#   * analyzed: larger than the cache, its chunks are read with kScanBulk
#     (ledger_am.worker_stats(): bulk_scan_chunks) and the cache stays
#     nearly empty (block_cache_used), with the same answer;
#   * a small analyzed table: cached as before;
#   * two scans of the large table at once share the cache: their blocks
#     are cached, each decompressed once (src/worker/bulk_scans.h).
# Each scan starts from a cold cache (server restart).
#
#   bash test/t/014_bulk_scan.sh   (as root; the cluster runs as postgres)
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T014_PORT:-54396}
ROWS=${T014_ROWS:-40000}
TESTNO=0
FAILED=0
DIR=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
cleanup() {
  [[ -n "$DIR" && -d "$DIR" ]] && cluster_remove "$DIR" >/dev/null 2>&1
}
trap cleanup EXIT

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
wstat() { tap_worker_stat "$DIR" postgres "$1"; }
restart() {
  cluster_stop "$DIR" fast >/dev/null 2>&1
  cluster_start "$DIR" >/dev/null 2>&1 || bail "server did not restart"
}
# settle: the worker publishes the cache's usage before it sleeps.
settle() { sleep 0.5; }
PLAN=13
finish() { tap_server_log "$DIR" 20; tap_exit 014_bulk_scan; }

echo "1..$PLAN"
DIR=$(mktemp -d /tmp/ledger_am_t014.XXXXXX) && chown postgres "$DIR"
if ! out=$(cluster_init "$DIR" "$PORT" 2>&1); then
  bail "initdb failed: $out"
fi
printf 'ledger_am.block_cache_mb = 16\nautovacuum = off\nmax_parallel_workers_per_gather = 0\n' \
  >>"$DIR/postgresql.conf"
out=$(cluster_start "$DIR" 2>&1) || bail "server did not start: $out"

# ~650-byte rows (a varied memo, so they do not compress to nothing), then
# flushed and compacted into files: the block cache only holds file blocks.
out=$(q <<SQL 2>&1
CREATE EXTENSION ledger_am;
SELECT ledger_am.create_events_table('ev');
$(tap_events_sql ev "$ROWS" "jsonb_build_object('n', g, 'memo', (SELECT string_agg(md5((g * 31 + k)::text), ' ')
                                                        FROM generate_series(1, 16) k))")
CREATE TABLE small (id bigint, note text) USING ledger_am;
INSERT INTO small SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
SELECT ledger_am.compact('ev');
SELECT ledger_am.compact('small');
SQL
)
[[ $? -eq 0 ]] && ok_if 0 "loaded $ROWS rows into ev and compacted them into files" || bail "load failed: $out"

expect_eq "the block cache is the configured 16 MB" "$(wstat block_cache_bytes)" "$((16 * 1024 * 1024))"

scan="SELECT count(*), sum(amount), sum(length(payload::text)) FROM ev"

# Never analyzed: no size estimate, the scan caches its blocks.
restart
want=$(q -c "$scan")
settle
used=$(wstat block_cache_used)
expect_eq "an unanalyzed table is not scanned in bulk" "$(wstat bulk_scan_chunks)" "0"
ok_if $(( used > 12 * 1024 * 1024 ? 0 : 1 )) "its scan filled the cache (used $used bytes)"

# Analyzed: ~25 MB of rows against a 16 MB cache.
q -c "ANALYZE ev; ANALYZE small" >/dev/null || bail "ANALYZE failed"
restart
got=$(q -c "$scan")
settle
used=$(wstat block_cache_used)
chunks=$(wstat bulk_scan_chunks)
expect_eq "the bulk scan gives the same answer" "$got" "$want"
ok_if $(( chunks > 10 ? 0 : 1 )) "its chunks were read in bulk ($chunks chunks)"
ok_if $(( used < 4 * 1024 * 1024 ? 0 : 1 )) "and left the cache nearly empty (used $used bytes)"

# A small analyzed table fits: scanned as before, its blocks cached.
before=$(wstat bulk_scan_chunks)
expect_eq "a table that fits the cache is scanned whole" "$(q -c 'SELECT count(*), sum(id) FROM small')" "2000|2001000"
settle
expect_eq "and not in bulk" "$(wstat bulk_scan_chunks)" "$before"
after=$(wstat block_cache_used)
ok_if $(( after > used ? 0 : 1 )) "its blocks were cached (used $used -> $after bytes)"

# Two scans at once, three times each, from a cold cache.
restart
o1=$(mktemp) o2=$(mktemp)
q -c "$scan" -c "$scan" -c "$scan" >"$o1" 2>&1 &
p1=$!
q -c "$scan" -c "$scan" -c "$scan" >"$o2" 2>&1 &
p2=$!
wait $p1; wait $p2
settle
used=$(wstat block_cache_used)
expect_eq "concurrent scan 1 answers like the others" "$(sort -u "$o1")" "$want"
expect_eq "concurrent scan 2 answers like the others" "$(sort -u "$o2")" "$want"
ok_if $(( used > 4 * 1024 * 1024 ? 0 : 1 )) "concurrent scans shared the cache (used $used bytes)"
rm -f "$o1" "$o2"

cluster_stop "$DIR" fast >/dev/null 2>&1
finish
