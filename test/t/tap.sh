# tap.sh: TAP helpers shared by the test/t scripts (source it).
#
#   ok_if STATUS "description" ["detail shown on failure"]
#       one test: passes when STATUS is 0; counts into TESTNO and FAILED
#   expect_eq "description" GOT WANT
#       one test: passes when GOT equals WANT (both shown on failure)
#   diag TEXT...
#       a "# " comment line per line of TEXT
#   tap_events_sql TABLE ROWS PAYLOAD
#       prints an INSERT of ROWS canonical events into TABLE (see below)
#   tap_start_cluster DESCRIPTION [SETTING...]
#       test: a cluster in $DIR on $PORT with ledger_am preloaded and each
#       SETTING line added to postgresql.conf starts; bails out if not
#   restart_with [SETTING]
#       a clean restart of the cluster in $DIR, SETTING added first
#   tap_cleanup_on_exit LINES
#       on exit: the server log's last LINES lines after a failure, and the
#       cluster in $DIR dropped (KEEP_CLUSTER=1 keeps it)
# The script sets TESTNO=0 and FAILED=0 (and its plan) before its first test.

ok_if() {
  TESTNO=$((TESTNO + 1))
  if [[ $1 -eq 0 ]]; then
    echo "ok $TESTNO - $2"
  else
    echo "not ok $TESTNO - $2"
    FAILED=$((FAILED + 1))
    [[ -n "${3:-}" ]] && sed 's/^/#   /' <<<"$3"
  fi
  return 0
}

expect_eq() {
  if [[ "$2" == "$3" ]]; then ok_if 0 "$1"; else ok_if 1 "$1" "got: '$2'"$'\n'"want: '$3'"; fi
}

diag() { sed 's/^/# /' <<<"$*"; }

# bail REASON: every planned test not run yet fails ("not run (REASON)"),
# then the script's own finish() ends the run.
bail() {
  echo "# fatal: $1"
  while (( TESTNO < PLAN )); do ok_if 1 "not run ($1)"; done
  finish
}

# tap_exit NAME: the summary line "# NAME: N passed, N failed", then exit
# with status 1 if any test failed.
tap_exit() {
  echo "# $1: $((TESTNO - FAILED)) passed, $FAILED failed"
  exit $(( FAILED > 0 ? 1 : 0 ))
}

# tap_server_log DIR LINES: after a failure, the last LINES lines of the
# cluster's server log as comments.
tap_server_log() {
  if (( FAILED > 0 )) && [[ -n "$1" && -f "$1/server.log" ]]; then
    echo "# last lines of $1/server.log:"
    tail -n "$2" "$1/server.log" | sed 's/^/#   /'
  fi
}

# tap_worker_stat DIR DB NAME: one counter of ledger_am.worker_stats(), read
# in database DB (one with the extension) of the cluster in DIR.
tap_worker_stat() {
  cluster_psql "$1" -d "$2" -qAt -v ON_ERROR_STOP=1 \
    -c "SELECT value FROM ledger_am.worker_stats() WHERE name = '$3'"
}

# tap_drop_cluster DIR KEPT: remove the test cluster in DIR; with
# KEEP_CLUSTER=1 stop it instead, say "# KEPT" and return 1 (the caller then
# keeps its other files too).
tap_drop_cluster() {
  if [[ "${KEEP_CLUSTER:-0}" == 1 ]]; then
    cluster_stop "$1" fast >/dev/null 2>&1
    echo "# $2"
    return 1
  fi
  cluster_remove "$1" >/dev/null 2>&1
}

# tap_events_sql TABLE ROWS PAYLOAD: an INSERT of events 1..ROWS into TABLE
# (a ledger_am.create_events_table), one a minute from 2024-01-01, 300
# accounts on each side; PAYLOAD is a jsonb expression of the event number g.
tap_events_sql() {
  cat <<SQL
INSERT INTO $1 (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account,
                amount, currency, payload)
SELECT 'posted', md5('agg' || (g / 10))::uuid, g % 10 + 1,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       g % 300, (g * 7 + 13) % 300, (g % 1000) + 0.25, 'EUR',
       $3
FROM generate_series(1, $2) g;
SQL
}

# tap_cleanup_on_exit LINES: when the script exits, print the last LINES
# lines of the server log if a test failed and drop the cluster in $DIR
# (kept with KEEP_CLUSTER=1); an interrupt exits.
tap_cleanup_on_exit() {
  TAP_LOG_LINES=$1
  trap _tap_cleanup EXIT
  trap 'echo "# interrupted"; exit 1' INT TERM
}
_tap_cleanup() {
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_server_log "$DIR" "$TAP_LOG_LINES"
    tap_drop_cluster "$DIR" "cluster kept in $DIR"
  fi
}

# tap_start_cluster DESCRIPTION [SETTING...]: one test. Initialises a cluster
# in $DIR on $PORT with shared_preload_libraries = ledger_am, adds each
# SETTING line to its postgresql.conf and starts it; the test fails and the
# script bails out when that does not work.
tap_start_cluster() {
  local description=$1 out
  shift
  if out=$(cluster_init "$DIR" "$PORT" ledger_am 2>&1 &&
           { (( $# == 0 )) || printf '%s\n' "$@" >>"$DIR/postgresql.conf"; } &&
           cluster_start "$DIR" 2>&1); then
    ok_if 0 "$description"
  else
    ok_if 1 "$description" "$out"
    bail "cluster did not start"
  fi
}

# restart_with [SETTING]: a clean restart of the cluster in $DIR, SETTING
# added to postgresql.conf first; the server log then holds only this
# start's lines.
restart_with() {
  cluster_stop "$DIR" fast >/dev/null 2>&1
  [[ -n "${1:-}" ]] && echo "$1" >>"$DIR/postgresql.conf"
  : >"$DIR/server.log"
  cluster_start "$DIR" >/dev/null 2>&1
}
