#!/usr/bin/env bash
# bench/index_cost.sh: what the bench's five btrees cost a heap COPY, and so
# what the write bars ask of the row store when ledger_am keeps the same
# btrees (issue 5: COPY and 100-event transactions >= 1.5x heap).
#
# Runs on a cluster kept by bench/run (--keep), with the generated CSV:
#   bench/run --scale 1000000 --only bytes --repeats 1 --keep --port 54474 --workdir /tmp/b17r
#   bash bench/index_cost.sh /tmp/b17r 54474 [rounds]
# Loads the CSV into three fresh heap copies of events_heap, alternating, each
# round: parsed only (COPY ... WHERE false: input functions run, nothing is
# stored); no index; the primary key and the unique constraint only; all five
# btrees of the bench. Prints events/s per variant and round, then the
# per-row cost of the btrees and the ceiling they put on a 1.5x bar.
set -euo pipefail

WORKDIR=${1:?usage: index_cost.sh WORKDIR PORT [ROUNDS]}
PORT=${2:?usage: index_cost.sh WORKDIR PORT [ROUNDS]}
ROUNDS=${3:-2}
PGDATA="$WORKDIR/pgdata"
CSV=$(ls "$WORKDIR"/data/events_*.csv | head -1)
ROWS=$(basename "$CSV" .csv | sed 's/events_//')
COLS="event_id, event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, tx_id, amount, currency, payload, metadata"

q() { PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- \
	psql -h "$PGDATA" -p "$PORT" -d bench -Atq -v ON_ERROR_STOP=1 -c "$1"; }

make_table() {
	q "DROP TABLE IF EXISTS ic_$1; CREATE TABLE ic_$1 (LIKE events_heap INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
	case $1 in
		parse | none) ;;
		keys) q "ALTER TABLE ic_keys ADD PRIMARY KEY (event_id), ADD UNIQUE (aggregate_id, aggregate_version)" ;;
		all)
			q "ALTER TABLE ic_all ADD PRIMARY KEY (event_id), ADD UNIQUE (aggregate_id, aggregate_version)"
			q "CREATE INDEX ON ic_all (debit_account, ts); CREATE INDEX ON ic_all (credit_account, ts); CREATE INDEX ON ic_all (ts)"
			;;
	esac
}

declare -A total
VARIANTS="parse none keys all"
for v in $VARIANTS; do total[$v]=0; done
echo "COPY of $ROWS events from $CSV into heap tables, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
	for v in $VARIANTS; do
		make_table "$v"
		q "CHECKPOINT"
		start=$(date +%s.%N)
		if [ "$v" = parse ]; then
			q "COPY ic_$v ($COLS) FROM '$CSV' WITH (FORMAT csv) WHERE false"
		else
			q "COPY ic_$v ($COLS) FROM '$CSV' WITH (FORMAT csv)"
		fi
		end=$(date +%s.%N)
		secs=$(echo "$end - $start" | bc -l)
		total[$v]=$(echo "${total[$v]} + $secs" | bc -l)
		printf 'round %d  %-5s %8.0f events/s\n' "$r" "$v" "$(echo "$ROWS / $secs" | bc -l)"
		q "DROP TABLE ic_$v"
	done
done
us() { echo "${total[$1]} * 1000000 / ($ROWS * $ROUNDS)" | bc -l; }
parse=$(us parse); none=$(us none); keys=$(us keys); all=$(us all)
printf '\nper row: parsed only %.2f us, no index %.2f us, primary key + unique %.2f us, five btrees %.2f us\n' \
	"$parse" "$none" "$keys" "$all"
printf 'the five btrees cost %.2f us a row; a 1.5x bar allows %.2f us a row in all\n' \
	"$(echo "$all - $none" | bc -l)" "$(echo "$all / 1.5" | bc -l)"
printf 'so with the same five btrees, parsing and storing a row may take %.2f us (heap: %.2f, parsing alone %.2f)\n' \
	"$(echo "$all / 1.5 - ($all - $none)" | bc -l)" "$none" "$parse"
