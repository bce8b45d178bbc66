#!/usr/bin/env bash
# ledger_load.sh: what a growing ledger_am table costs the storage worker.
#
#   bash bench/ledger_load.sh [CHUNKS]        (as root; CHUNKS of 1M events, default 6)
#
# COPYs CHUNKS chunks of 1,000,000 generated events (bench/gen/gen_events.c,
# 8,333 accounts) into a table made by ledger_am.create_events_table (primary
# key, unique (aggregate_id, aggregate_version), ledger_range declaration; no
# heap twin, no extra btrees) in a fresh cluster (shared_buffers 1GB, port
# LOAD_PORT or 54419, data in LOAD_DIR or /tmp/ledger_load). It prints each
# chunk's rate, the CPU the storage worker process used (all its threads:
# main loop, flushes, compactions) over the whole load, what RocksDB's LOG
# says compaction cost per column family (CPU, bytes written), then 6 s of
# 1-client last50.sql and window30d.sql. Used in session 15 to tune the keys
# family's compaction (docs/architecture.md, "Range keys' compaction");
# rebuild with other options and run again to compare. The generated CSVs
# stay in LOAD_DIR/data for the next run; the cluster is removed at the end,
# RocksDB's LOG is kept as LOAD_DIR/LOG.last.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

CHUNKS=${1:-6}
DIR=${LOAD_DIR:-/tmp/ledger_load}
PORT=${LOAD_PORT:-54419}
PG=$DIR/pgdata
COLS="event_id, event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, tx_id, amount, currency, payload, metadata"
STEP=31536		# ms between events, as bench/run at 1M

mkdir -p "$DIR/data" "$DIR/bin"
chmod 755 "$DIR" "$DIR/data"
cc -O2 -o "$DIR/bin/gen_events" "$REPO_ROOT/bench/gen/gen_events.c"
cluster_remove "$PG" >/dev/null 2>&1 || true
cluster_init "$PG" "$PORT" >/dev/null
cat >>"$PG/postgresql.conf" <<CONF
shared_buffers = '1GB'
max_wal_size = '4GB'
checkpoint_timeout = '30min'
autovacuum = off
CONF
cluster_start "$PG" >/dev/null
trap 'cluster_stop "$PG" fast >/dev/null 2>&1; cluster_remove "$PG" >/dev/null 2>&1' EXIT
cluster_psql_retry "$PG" 60 "BEGIN; CREATE EXTENSION ledger_am; COMMIT;" -d postgres -q >/dev/null
cluster_psql "$PG" -d postgres -qAt -c "SELECT ledger_am.create_events_table('ev')" >/dev/null

WPID=$(pgrep -f "ledger_am storage worker" -U postgres -n)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$WPID/stat"; }
c0=$(cpu_ticks)
for ((i = 0; i < CHUNKS; i++)); do
  f=$DIR/data/chunk_$i.csv
  if [[ ! -s $f ]]; then
    "$DIR/bin/gen_events" $((i * 1000000)) 1000000 8333 $STEP >"$f"
    chmod 644 "$f"
  fi
  t0=$(date +%s.%N)
  cluster_psql "$PG" -d postgres -qAt -c "COPY ev ($COLS) FROM '$f' WITH (FORMAT csv)" >/dev/null
  t1=$(date +%s.%N)
  echo "chunk $((i + 1))/$CHUNKS (table at $((i + 1))M rows): $(python3 -c "print(f'{1e6 / ($t1 - $t0):,.0f}')") rows/s"
done
c1=$(cpu_ticks)
echo "storage worker CPU during the load: $(( (c1 - c0) / $(getconf CLK_TCK) )) s for ${CHUNKS}M rows"
sleep 5	# compactions the load started
cp "$PG/ledger_am/LOG" "$DIR/LOG.last"	# RocksDB's log of the load, for a closer look
python3 - "$PG/ledger_am/LOG" <<'PY'
import collections, json, re, sys
family, cost = {}, collections.defaultdict(lambda: [0, 0.0, 0.0])
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"\[(\w+)\] \[JOB (\d+)\]", line)
    if m:
        family[int(m.group(2))] = m.group(1)
    m = re.search(r"EVENT_LOG_v1 (\{.*\})", line)
    if m:
        e = json.loads(m.group(1))
        if e.get("event") == "compaction_finished":
            c = cost[family.get(e["job"], "?")]
            c[0] += 1
            c[1] += e["compaction_time_cpu_micros"] / 1e6
            c[2] += e["total_output_size"] / 1e6
for f, (n, cpu, out) in sorted(cost.items()):
    print(f"compaction of family {f}: {n} jobs, {cpu:.1f} CPU-s, {out:,.0f} MB written")
PY
cluster_env "$PG"
for w in last50 window30d; do
  sed "s/@TABLE@/ev/" "$REPO_ROOT/bench/workloads/$w.sql" >"$DIR/$w.sql"
  chmod 644 "$DIR/$w.sql"
  tps=$(cluster_as_pg pgbench -n -M prepared -c 1 -T 6 -D rows=$((CHUNKS * 1000000)) -D accounts=8333 \
        -D step=$STEP -D days30=335 -h "$CLUSTER_SOCKDIR" -p "$CLUSTER_PORT" -f "$DIR/$w.sql" postgres 2>&1 |
        grep -o 'tps = [0-9.]*' || true)
  echo "$w.sql, 1 client, 6 s: $tps"
done
