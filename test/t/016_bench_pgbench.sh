#!/usr/bin/env bash
# 016_bench_pgbench.sh: the benchmark harness (bench/harness.py) runs pgbench
# the way its figures assume: against the bench database, without pgbench's
# debug logging, and reads the tps back (TAP output). pgbench's -d is
# --debug, not a database name; sessions 1-10 of bench/ passed "-d bench",
# and the logging of every command made the pgbench client, not the server,
# the limit of fast workloads (heap point lookups at 4 clients: ~23k tps
# logging, ~55k without, on the same cluster).
#
#   bash test/t/016_bench_pgbench.sh      (as root; the cluster runs as postgres)
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"
export PATH="/usr/lib/postgresql/15/bin:$PATH"

PORT=${T016_PORT:-54397}
TESTNO=0
FAILED=0
WORK=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
cleanup() { [[ -n "$WORK" && -d "$WORK" ]] && { cluster_remove "$WORK/pgdata" >/dev/null 2>&1; rm -rf "$WORK"; }; }
trap cleanup EXIT

echo "1..3"
WORK=$(mktemp -d /tmp/ledger_am_t016.XXXXXX) && chown postgres "$WORK" && chmod 755 "$WORK"
DIR="$WORK/pgdata"
if ! out=$(cluster_init "$DIR" "$PORT" "" 2>&1 && cluster_start "$DIR" 2>&1 &&
           cluster_psql "$DIR" -d postgres -qc "CREATE DATABASE bench" 2>&1); then
  ok_if 1 "cluster with a bench database starts" "$out"
  for _ in 2 3; do ok_if 1 "not run"; done
  tap_exit 016_bench_pgbench
fi

# A script that fails (division by zero) unless it runs in the bench database.
printf 'SELECT 1 / (current_database() = %s)::int;\n' "'bench'" >"$WORK/check_db.sql"
chmod 644 "$WORK/check_db.sql"

# Run the harness's own command line for one second, one client.
out=$(cd "$REPO_ROOT/bench" && python3 - "$WORK" "$PORT" "$WORK/check_db.sql" <<'PY' 2>&1
import subprocess, sys
import harness
work, port, script = sys.argv[1:4]
cl = harness.Cluster(work, port)
r = subprocess.run(harness.as_pg(cl.pgbench_cmd(script, 1, 1, "on", {"rows": 10})),
                   capture_output=True, text=True, cwd="/")
tps, lat, failed = harness.pgbench_parse(r.stdout)
print(f"rc={r.returncode} tps={tps} failed={failed}")
print("debug_lines=%d" % sum("client 0 sending" in l for l in r.stderr.splitlines()))
print("STDERR:" + r.stderr[:2000])
PY
)
grep -q "^rc=0 " <<<"$out" && ok_if 0 "the harness's pgbench command runs in the bench database" \
  || ok_if 1 "the harness's pgbench command runs in the bench database" "$out"
grep -qE "^rc=0 tps=[0-9.]*[1-9]" <<<"$out" && ok_if 0 "its tps is read back and above zero" \
  || ok_if 1 "its tps is read back and above zero" "$out"
grep -q "^debug_lines=0$" <<<"$out" && ok_if 0 "pgbench runs without --debug logging" \
  || ok_if 1 "pgbench runs without --debug logging" "$out"
tap_exit 016_bench_pgbench
