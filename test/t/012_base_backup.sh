#!/usr/bin/env bash
# 012_base_backup.sh: a streaming standby and a server restored from
# pg_basebackup never answer a ledger_am query with silently missing rows
# (TAP output).
#
#   bash test/t/012_base_backup.sh      (as root; servers run as postgres, ~40 s)
#
# ledger_am rows live in RocksDB beside the Postgres WAL: a base backup copies
# them while they change and WAL replay cannot complete them. So:
#   1-2   a primary (port T012_PORT, 54394) gets events and a heap table; a
#         base backup with -R is taken while a client keeps inserting events;
#   3-4   the standby started from it serves the heap table but refuses
#         ledger_am reads (SQLSTATE 0A000, "during recovery or on a standby");
#   5-7   promoted, it still refuses reads and inserts, now with SQLSTATE 55000
#         ("restored from a base backup"), and left the marker file
#         ledger_am/RESTORED_FROM_BACKUP; heap tables work;
#   8     the primary is untouched: no marker, all its events, inserts work;
#   9     a second backup (no -R, no concurrent writes) restored as a plain
#         server refuses too, with the HINT naming the marker file;
#   10    deleting the marker and restarting accepts the copied rows: that
#         copy (taken at rest) has exactly the primary's events of that moment;
#   11    no server process crashed.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T012_PORT:-54394}
SB_PORT=$((PORT + 1))
RB_PORT=$((PORT + 2))
PLAN=11
TESTNO=0
FAILED=0
BASE=""
LOADER=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
finish() {
  while (( TESTNO < PLAN )); do ok_if 1 "not run"; done
  tap_exit 012_base_backup
}
cleanup() {
  [[ -n "$LOADER" ]] && kill "$LOADER" 2>/dev/null
  if [[ -n "$BASE" && -d "$BASE" ]]; then
    for d in "$BASE/standby" "$BASE/restored" "$BASE/primary"; do
      [[ -f "$d/PG_VERSION" ]] && cluster_remove "$d" >/dev/null 2>&1
    done
    rm -rf "$BASE"
  fi
}
trap cleanup EXIT

P=""; SB=""; RB=""
q() { local dir=$1; shift; cluster_psql "$dir" -d postgres -qAt -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" 2>&1; }

# backup_to DIR PORT [ARGS]: pg_basebackup of the primary into DIR, made
# startable on PORT (postgresql.conf and cluster.env point at the new place).
backup_to() {
  local dir=$1 port=$2; shift 2
  cluster_env "$P" || return 1
  mkdir -p "$dir" && chown postgres: "$dir" && chmod 700 "$dir"
  cluster_as_pg pg_basebackup -D "$dir" -h "$CLUSTER_SOCKDIR" -p "$PORT" -U postgres \
    -X stream -c fast "$@" || return 1
  cat >>"$dir/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
hot_standby = on
CONF
  printf 'PORT=%s\nSOCKDIR=%s\n' "$port" "$dir" >"$dir/cluster.env"
  : >"$dir/server.log"
  chown postgres: "$dir/cluster.env" "$dir/server.log"
}
ready() { # ready DIR: wait until the server in DIR accepts queries
  local i
  for (( i = 0; i < 60; i++ )); do
    cluster_psql "$DIR_ENV" -d postgres -qAt -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

echo "1..$PLAN"
BASE=$(mktemp -d /tmp/ledger_am_t012.XXXXXX) && chmod 755 "$BASE"
P=$BASE/primary; SB=$BASE/standby; RB=$BASE/restored

# 1: primary with events and a heap table.
if out=$(cluster_init "$P" "$PORT" ledger_am 2>&1 && cluster_start "$P" 2>&1) &&
   cluster_env "$P" &&
   out=$(q "$P" -c "CREATE EXTENSION ledger_am" \
            -c "SELECT ledger_am.create_events_table('events')" \
            -c "CREATE TABLE h (id int PRIMARY KEY)" \
            -c "INSERT INTO h SELECT generate_series(1, 100)" \
            -c "INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account,
                                    credit_account, amount, currency)
                SELECT 'deposit', gen_random_uuid(), 1, now(), g % 10, 100, 1, 'EUR'
                FROM generate_series(1, 2000) g"); then
  ok_if 0 "primary with 2000 events and a heap table (port $PORT)"
else
  ok_if 1 "primary with events" "$out"; finish
fi

# 2: base backup with -R while a client keeps inserting events.
# The loader stops at a flag and is waited for: killing the loop would leave
# its last INSERT running, to commit after the count below.
STOP_LOADER="$P.stop_loader"
rm -f "$STOP_LOADER"
(
  for (( i = 0; i < 100000; i++ )); do
    [[ -e "$STOP_LOADER" ]] && break
    cluster_psql "$P" -d postgres -qAt -c "INSERT INTO events (event_type, aggregate_id, aggregate_version,
        ts, debit_account, credit_account, amount, currency)
        SELECT 'deposit', gen_random_uuid(), 1, now(), g % 10, 100, 1, 'EUR'
        FROM generate_series(1, 200) g" >/dev/null 2>&1
  done
) &
LOADER=$!
sleep 1
out=$(backup_to "$SB" "$SB_PORT" -R 2>&1); rc=$?
sleep 0.5
touch "$STOP_LOADER"; wait "$LOADER" 2>/dev/null; LOADER=""; rm -f "$STOP_LOADER"
N_PRIMARY=$(q "$P" -c "SELECT count(*) FROM events")
if (( rc == 0 )) && [[ -f "$SB/standby.signal" && -f "$SB/backup_label" ]]; then
  ok_if 0 "pg_basebackup -R while events were being inserted (primary now has $N_PRIMARY events)"
else
  ok_if 1 "pg_basebackup -R" "$out"; finish
fi

# 3-4: the standby serves heap tables, refuses ledger_am reads.
DIR_ENV=$SB
out=$(cluster_start "$SB" 2>&1)
if ready && [[ "$(q "$SB" -c "SELECT pg_is_in_recovery()")" == t ]] &&
   [[ "$(q "$SB" -c "SELECT count(*) FROM h")" == 100 ]]; then
  ok_if 0 "the standby runs and serves the heap table (port $SB_PORT)"
else
  ok_if 1 "the standby runs" "$out"$'\n'"$(tail -5 "$SB/server.log")"
fi
out=$(q "$SB" -c "SELECT count(*) FROM events")
grep -q "ERROR:  0A000: ledger_am tables cannot be accessed during recovery or on a standby" <<<"$out" \
  && ok_if 0 "on the standby, reading events fails: cannot be accessed during recovery or on a standby (0A000)" \
  || ok_if 1 "on the standby, reading events is refused" "$out"

# 5-7: promoted, it still refuses, now because of the base backup.
out=$(cluster_as_pg pg_ctl -D "$SB" promote -w 2>&1)
for (( i = 0; i < 60; i++ )); do
  [[ "$(q "$SB" -c "SELECT pg_is_in_recovery()")" == f ]] && break
  sleep 0.5
done
out=$(q "$SB" -c "SELECT count(*) FROM events")
grep -q "ERROR:  55000: ledger_am tables cannot be accessed on a server restored from a base backup" <<<"$out" \
  && ok_if 0 "promoted standby: reading events fails: restored from a base backup (55000)" \
  || ok_if 1 "promoted standby: reading events is refused" "$out"
out=$(q "$SB" -c "INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account,
                    credit_account, amount, currency)
                  VALUES ('deposit', gen_random_uuid(), 1, now(), 1, 2, 1, 'EUR')")
grep -q "ERROR:  55000: ledger_am tables cannot be accessed on a server restored from a base backup" <<<"$out" \
  && ok_if 0 "promoted standby: inserting an event is refused the same way" \
  || ok_if 1 "promoted standby: inserting an event is refused" "$out"
out=$(q "$SB" -c "INSERT INTO h VALUES (101)" -c "SELECT count(*) FROM h")
if [[ -f "$SB/ledger_am/RESTORED_FROM_BACKUP" && "$out" == 101 ]]; then
  ok_if 0 "promoted standby: marker ledger_am/RESTORED_FROM_BACKUP written, heap tables read and written"
else
  ok_if 1 "promoted standby: marker file and heap tables" "$out"$'\n'"$(ls "$SB/ledger_am" 2>&1)"
fi

# 8: the primary is untouched.
out=$(q "$P" -c "INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account,
                    credit_account, amount, currency)
                  VALUES ('deposit', gen_random_uuid(), 1, now(), 1, 2, 1, 'EUR')" \
          -c "SELECT count(*) FROM events")
if [[ ! -e "$P/ledger_am/RESTORED_FROM_BACKUP" && "$out" == $((N_PRIMARY + 1)) ]]; then
  ok_if 0 "the primary has no marker, all $N_PRIMARY events and takes new ones"
else
  ok_if 1 "the primary is untouched" "want $((N_PRIMARY + 1)), got: $out"
fi
cluster_stop "$SB" fast >/dev/null 2>&1

# 9: a backup taken at rest, restored as a plain server (no standby.signal).
N_AT_BACKUP=$(q "$P" -c "SELECT count(*) FROM events")
DIR_ENV=$RB
out=$(backup_to "$RB" "$RB_PORT" 2>&1 && cluster_start "$RB" 2>&1)
if ready; then
  out=$(q "$RB" -c "SELECT count(*) FROM events")
else
  out="restored server did not start: $out"$'\n'"$(tail -5 "$RB/server.log")"
fi
grep -q "ERROR:  55000: ledger_am tables cannot be accessed on a server restored from a base backup" <<<"$out" &&
  grep -q 'HINT:  .*delete "ledger_am/RESTORED_FROM_BACKUP"' <<<"$out" \
  && ok_if 0 "restored backup (not a standby): reading events fails (55000), the HINT names the marker" \
  || ok_if 1 "restored backup: reading events is refused" "$out"

# 10: deleting the marker accepts the copied rows.
rm -f "$RB/ledger_am/RESTORED_FROM_BACKUP"
cluster_stop "$RB" fast >/dev/null 2>&1
out=$(cluster_start "$RB" 2>&1)
if ready; then
  out=$(q "$RB" -c "SELECT count(*) FROM events")
fi
[[ "$out" == "$N_AT_BACKUP" ]] \
  && ok_if 0 "after deleting the marker and a restart, the copy serves its $N_AT_BACKUP events" \
  || ok_if 1 "after deleting the marker, the copy serves its events" "want $N_AT_BACKUP, got: $out"

# 11: nothing crashed.
crashed=$(grep -h "terminated by signal\|was terminated by" "$P/server.log" "$SB/server.log" "$RB/server.log" 2>/dev/null)
[[ -z "$crashed" ]] && ok_if 0 "no server process crashed on the primary, the standby or the restored copy" \
  || ok_if 1 "no server process crashed" "$crashed"
finish
