#!/usr/bin/env bash
# 018_create_index_concurrently.sh: CREATE INDEX CONCURRENTLY on a ledger_am
# table under a live insert load (TAP output).
#
#   bash test/t/018_create_index_concurrently.sh     (as root; the cluster runs as postgres)
#
# Starts a throwaway cluster (port 54395, T018_PORT to override), loads
# 300,000 rows, then builds three indexes concurrently (a plain one, a
# partial one and a unique one) while 4 pgbench clients insert single rows
# for 15 s. Checks: inserts went on during the builds (pgbench committed
# rows while CREATE INDEX CONCURRENTLY ran, and none failed), every index is
# valid and ready, amcheck's bt_index_parent_check with heapallindexed finds
# every visible row in each index, and counts through each index equal a
# sequential scan's.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T018_PORT:-54395}
PLAN=6
TESTNO=0
FAILED=0
DIR=""
PGB_PID=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
finish() { tap_exit 018_create_index_concurrently; }
tap_cleanup_on_exit 30
trap '[[ -n "$PGB_PID" ]] && kill "$PGB_PID" 2>/dev/null; _tap_cleanup' EXIT

q() { cluster_psql "$DIR" -qAt -v ON_ERROR_STOP=1 "$@" 2>&1; }

echo "1..$PLAN"
DIR=$(mktemp -d /tmp/ledger_am_t018.XXXXXX)
tap_start_cluster "cluster with ledger_am starts (port $PORT)"

out=$(cluster_psql_retry "$DIR" 30 "
  CREATE EXTENSION ledger_am;
  CREATE EXTENSION amcheck;
  CREATE TABLE cic (id bigserial PRIMARY KEY, acct bigint NOT NULL, kind text NOT NULL,
                    amount numeric(12,2) NOT NULL) USING ledger_am;
  INSERT INTO cic (acct, kind, amount)
    SELECT g % 997, CASE WHEN g % 3 = 0 THEN 'fee' ELSE 'transfer' END, g % 10000 / 100.0
    FROM generate_series(1, 300000) g;" -q)
ok_if $? "300,000 rows loaded" "$out"

cat >"$DIR/insert.sql" <<'EOF'
\set a random(0, 996)
INSERT INTO cic (acct, kind, amount) VALUES (:a, CASE WHEN :a % 3 = 0 THEN 'fee' ELSE 'transfer' END, :a / 10.0);
EOF
chown postgres "$DIR/insert.sql"
before=$(q -c "SELECT count(*) FROM cic")
cluster_as_pg /usr/lib/postgresql/15/bin/pgbench -h "$DIR" -p "$PORT" -n -f "$DIR/insert.sql" \
  -c 4 -j 2 -T 15 postgres >"$DIR/pgbench.out" 2>&1 &
PGB_PID=$!
sleep 2
builds=$(q -c "CREATE INDEX CONCURRENTLY cic_acct ON cic (acct, kind)" \
           -c "CREATE INDEX CONCURRENTLY cic_fees ON cic (acct) WHERE kind = 'fee'" \
           -c "CREATE UNIQUE INDEX CONCURRENTLY cic_id_acct ON cic (id, acct)")
rc=$?
during=$(q -c "SELECT count(*) FROM cic")
wait "$PGB_PID" 2>/dev/null
PGB_PID=""
after=$(q -c "SELECT count(*) FROM cic")
ok_if $rc "three indexes built concurrently (plain, partial, unique)" "$builds"
(( during > before && after > during )) && ! grep -q "aborted\|ERROR" "$DIR/pgbench.out" \
  && ok_if 0 "inserts went on during and after the builds ($before -> $during -> $after rows)" \
  || ok_if 1 "inserts went on during the builds" "$before -> $during -> $after"$'\n'"$(tail -5 "$DIR/pgbench.out")"

out=$(q -c "SELECT string_agg(indexrelid::regclass || ':' || indisvalid || indisready, ' ' ORDER BY 1)
            FROM pg_index WHERE indrelid = 'cic'::regclass AND indexrelid::regclass::text <> 'cic_pkey'" \
        -c "SELECT bt_index_parent_check(i, true) FROM unnest('{cic_acct,cic_fees,cic_id_acct}'::regclass[]) i")
[[ "$(head -1 <<<"$out")" == "cic_acct:truetrue cic_fees:truetrue cic_id_acct:truetrue" && "$out" != *ERROR* ]] \
  && ok_if 0 "all valid and ready; amcheck (heapallindexed) finds every row in each index" \
  || ok_if 1 "indexes valid and complete" "$out"

counts=$(q -c "SET enable_seqscan = off" \
           -c "SELECT count(*) FROM cic WHERE acct >= 0 AND kind >= ''" \
           -c "SELECT count(*) FROM cic WHERE acct >= 0 AND kind = 'fee'" \
           -c "SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off" \
           -c "SELECT count(*) FROM cic" \
           -c "SELECT count(*) FROM cic WHERE kind = 'fee'")
read -r c_idx c_fee_idx c_seq c_fee_seq <<<"$(tr '\n' ' ' <<<"$counts")"
[[ -n "$c_seq" && "$c_idx" == "$c_seq" && "$c_fee_idx" == "$c_fee_seq" && "$c_seq" == "$after" ]] \
  && ok_if 0 "counts through the indexes equal the seq scan's ($c_seq rows, $c_fee_seq fees)" \
  || ok_if 1 "counts through the indexes equal the seq scan's" "$counts"
finish
