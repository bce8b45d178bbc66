#!/usr/bin/env bash
# demo.sh: build ledger_am, start a throwaway cluster, load a sample ledger and
# run a few queries (`make demo`, command 1 of the README).
#
#   bash scripts/demo.sh          (as root; the cluster runs as postgres)
#
# The cluster lives in /tmp/ledger_am_demo (port 54329) and keeps running
# afterwards; the script ends by printing how to connect and how to stop it.
# Re-running reuses the cluster (restarting it, so a freshly installed build is
# loaded) and reloads the table from scratch.
#
# Environment:
#   DEMO_EVENTS=100000   events to load        DEMO_ACCOUNTS=5000   accounts
#   DEMO_BATCH=10000     events per INSERT (one transaction each)
#   DEMO_DIR=/tmp/ledger_am_demo   DEMO_PORT=54329   DEMO_DB=ledger
#   DEMO_FRESH=1         delete and re-create the cluster first
#   DEMO_SKIP_BUILD=1    do not run scripts/build.sh
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

DIR=${DEMO_DIR:-/tmp/ledger_am_demo}
PORT=${DEMO_PORT:-54329}
DB=${DEMO_DB:-ledger}
EVENTS=${DEMO_EVENTS:-100000}
ACCOUNTS=${DEMO_ACCOUNTS:-5000}
BATCH=${DEMO_BATCH:-10000}

# die MESSAGE: print MESSAGE (and the server log tail, if any) and exit 1.
die() {
  echo "demo: ERROR: $*" >&2
  if [[ -f "$DIR/server.log" ]]; then
    echo "demo: last lines of $DIR/server.log:" >&2
    tail -n 20 "$DIR/server.log" >&2
  fi
  exit 1
}

# now_ms: wall clock in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# rate COUNT MS: COUNT per second over MS milliseconds, as an integer.
rate() { echo $(( $2 > 0 ? $1 * 1000 / $2 : 0 )); }

# sql [PSQL ARGS...]: psql on the demo database, stop on the first error.
sql() { cluster_psql "$DIR" -d "$DB" -v ON_ERROR_STOP=1 "$@"; }

for v in EVENTS ACCOUNTS BATCH PORT; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "DEMO_$v must be a positive integer (got '${!v}')"
done
(( ACCOUNTS >= 2 )) || die "DEMO_ACCOUNTS must be at least 2"

# --- 1. build and install -----------------------------------------------------
if [[ "${DEMO_SKIP_BUILD:-0}" != 1 ]]; then
  echo "==> building and installing ledger_am"
  bash "$REPO_ROOT/scripts/build.sh" || die "build failed"
fi

# --- 2. cluster ---------------------------------------------------------------
echo "==> cluster in $DIR (port $PORT)"
if [[ "${DEMO_FRESH:-0}" == 1 ]]; then
  cluster_remove "$DIR" || die "could not remove $DIR"
fi
if cluster_is_initialised "$DIR"; then
  # Reuse it; restart so the freshly installed library is the one loaded.
  cluster_stop "$DIR" fast || die "could not stop the running demo cluster"
  cluster_env "$DIR"
  [[ "$CLUSTER_PORT" == "$PORT" ]] || echo "demo: note: existing cluster uses port $CLUSTER_PORT"
else
  if [[ -e "$DIR" && -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
    die "$DIR exists but is not a demo cluster; remove it or set DEMO_DIR"
  fi
  cluster_init "$DIR" "$PORT" ledger_am || die "initdb failed"
fi
cluster_start "$DIR" || die "the server did not start (is ledger_am installed?)"

cluster_psql "$DIR" -d postgres -v ON_ERROR_STOP=1 -q <<SQL || die "could not create database $DB"
SELECT 'CREATE DATABASE $DB' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB')
\gexec
SQL

echo "==> CREATE EXTENSION ledger_am; SELECT ledger_am.create_events_table('events');"
# One transaction, retried while the storage worker is still starting up.
cluster_psql_retry "$DIR" 60 "
BEGIN;
SET LOCAL client_min_messages = warning;
DROP TABLE IF EXISTS events;
DROP EXTENSION IF EXISTS ledger_am CASCADE;
CREATE EXTENSION ledger_am;
SELECT ledger_am.create_events_table('events');
COMMIT;" -d "$DB" -q || die "could not create the extension or the events table"
sql -c '\d events'

# --- 3. load the sample ledger --------------------------------------------------
# Event i (1..EVENTS) belongs to account (aggregate) 1 + (i-1) % ACCOUNTS with
# aggregate_version 1 + (i-1) / ACCOUNTS; ts rises evenly over the last 365
# days. Type mix: 30% deposit, 20% withdrawal, 40% transfer, 10% fee; external
# accounts 9000001 (cash) and 9000002 (fee income) are the other side of
# deposits, withdrawals and fees.
T0=$(cluster_psql "$DIR" -d "$DB" -XAtc "SELECT (now() - interval '365 days')::text") \
  || die "could not read the clock"
batches=$(( (EVENTS + BATCH - 1) / BATCH ))
echo "==> loading $EVENTS events over $ACCOUNTS accounts in $batches batches of up to $BATCH (one transaction each)"
load_start=$(now_ms)
for (( b = 0; b < batches; b++ )); do
  lo=$(( b * BATCH + 1 ))
  hi=$(( lo + BATCH - 1 )); (( hi > EVENTS )) && hi=$EVENTS
  t_start=$(now_ms)
  sql -q -v lo="$lo" -v hi="$hi" -v n="$EVENTS" -v accts="$ACCOUNTS" -v t0="$T0" <<'SQL' \
    || die "batch $((b + 1)) failed"
BEGIN;
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts,
                    debit_account, credit_account, tx_id, amount, currency,
                    payload, metadata)
SELECT g.event_type,
       ('a0000000-0000-4000-8000-' || lpad(to_hex(g.acct), 12, '0'))::uuid,
       g.version,
       :'t0'::timestamptz + (g.i - 1) * (interval '365 days' / :n),
       CASE g.event_type WHEN 'deposit' THEN 9000001 ELSE g.acct END,
       CASE g.event_type WHEN 'deposit' THEN g.acct
                         WHEN 'withdrawal' THEN 9000001
                         WHEN 'fee' THEN 9000002
                         ELSE g.peer END,
       gen_random_uuid(),
       CASE g.event_type WHEN 'fee' THEN round(0.50 + (g.h % 450) / 100.0, 4)
                         ELSE round(1 + (g.h % 500000) / 100.0, 4) END,
       CASE g.acct % 5 WHEN 0 THEN 'EUR' WHEN 1 THEN 'GBP' ELSE 'USD' END,
       jsonb_build_object('description', g.event_type || ' for account ' || g.acct,
                          'channel', (ARRAY['web', 'mobile', 'api', 'branch'])[1 + g.h % 4],
                          'reference', 'REF-' || lpad(g.i::text, 9, '0')),
       jsonb_build_object('correlation_id', gen_random_uuid(),
                          'causation_id', gen_random_uuid(),
                          'user_id', 'user-' || (1 + g.h % 997),
                          'source', 'demo-loader')
FROM (SELECT s.*,
             CASE WHEN s.h % 100 < 30 THEN 'deposit'
                  WHEN s.h % 100 < 50 THEN 'withdrawal'
                  WHEN s.h % 100 < 90 THEN 'transfer'
                  ELSE 'fee' END AS event_type,
             1 + (s.acct + (s.h / 100) % (:accts - 1)) % :accts AS peer
      FROM (SELECT i,
                   1 + (i - 1) % :accts AS acct,
                   1 + (i - 1) / :accts AS version,
                   hashint8(i) & 2147483647 AS h
            FROM generate_series(:lo::bigint, :hi::bigint) AS i) s) g;
COMMIT;
SQL
  t_end=$(now_ms)
  n=$(( hi - lo + 1 ))
  printf '    batch %d/%d: %d / %d events loaded, %d events in %d ms = %d events/s\n' \
    $((b + 1)) "$batches" "$hi" "$EVENTS" "$n" $(( t_end - t_start )) "$(rate "$n" $(( t_end - t_start )))"
done
load_ms=$(( $(now_ms) - load_start ))
echo "==> loaded $EVENTS events in $(( load_ms / 1000 )).$(printf '%03d' $(( load_ms % 1000 ))) s: $(rate "$EVENTS" "$load_ms") events/s overall"
sql -q -c 'ANALYZE events' || die "ANALYZE failed"

# --- 4. example queries ----------------------------------------------------------
echo "==> example queries"
sql <<'SQL' || die "an example query failed"
\timing on
\echo
\echo '--- how many events?'
SELECT count(*) AS events FROM events;

\echo '--- the last 10 events of account 42'
EXPLAIN (COSTS OFF)
SELECT * FROM events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC LIMIT 10;
SELECT ts, event_type, debit_account, credit_account, amount, currency
FROM events
WHERE debit_account = 42 OR credit_account = 42
ORDER BY ts DESC LIMIT 10;

\echo '--- volume per currency'
SELECT currency, count(*) AS events, sum(amount) AS total_amount
FROM events GROUP BY currency ORDER BY currency;

\echo '--- one event by event_id (primary key)'
SELECT event_id AS some_event_id FROM events WHERE debit_account = 42 ORDER BY ts LIMIT 1 \gset
EXPLAIN (COSTS OFF) SELECT * FROM events WHERE event_id = :'some_event_id';
\x on
SELECT * FROM events WHERE event_id = :'some_event_id';
\x off

\echo '--- storage: RocksDB bytes of the table (pg_relation_size only sees the empty stub file)'
SELECT ledger_am.table_size('events') AS table_bytes,
       pg_size_pretty(ledger_am.table_size('events')) AS table_size,
       round(ledger_am.table_size('events')::numeric / greatest(count(*), 1), 1) AS bytes_per_event,
       pg_size_pretty(pg_indexes_size('events')) AS btree_indexes
FROM events;

\echo '--- proof of non-alteration: VACUUM settles the events, ledger_am.digest hashes them'
\echo '    (record rows and sha256; ledger_am.digest(''events'', rows) must return the same sha256 later)'
VACUUM events;
SELECT * FROM ledger_am.digest('events');
SQL

echo
echo "--- rows are immutable: UPDATE events SET amount = 0 (expected to fail)"
update_out=$(cluster_psql "$DIR" -d "$DB" -q -v ON_ERROR_STOP=0 2>&1 <<'SQL'
BEGIN;
\echo 'UPDATE events SET amount = 0;'
UPDATE events SET amount = 0;
ROLLBACK;
SQL
) || true
echo "$update_out"
if [[ "$update_out" != *ERROR* ]]; then
  die "UPDATE was not refused"
fi

# --- 5. how to use it -----------------------------------------------------------------
cat <<EOF

==> the demo cluster keeps running
    data directory: $DIR   (server log: $DIR/server.log)
    connect:        $(cluster_psql_cmdline "$DIR" "$DB")
    stop:           runuser -u postgres -- $CLUSTER_PG_BINDIR/pg_ctl -D $DIR -m fast stop
    remove:         (after stopping) rm -rf $DIR
    re-run:         make demo   (DEMO_EVENTS=N to change the size, DEMO_FRESH=1 for a new cluster)
EOF
