#!/usr/bin/env bash
# test-all.sh: build, install and run every test suite of ledger_am (`make test`).
#
#   bash scripts/test-all.sh        (as root; servers run as the postgres user)
#
# Steps: scripts/build.sh (deps, make, make install), then the suites
#   schedules  test/check_schedules.sh (Makefile test lists vs. files)
#   unit       make unit (GoogleTest via ctest)
#   regress    make installcheck, REGRESS part only (pg_regress, temp instance)
#   isolation  make installcheck, ISOLATION part only (pg_isolation_regress)
#   restart    test/t/001_restart.sh (crash-restart, TAP)
#   crash_load test/t/002_crash_load.sh (kill -9 under concurrent load, TAP)
#   crash_replay the same, 6 + 2 cycles, with ledger_am.debug_logged_rows_skip_wal:
#              every kill loses RocksDB's unflushed rows, replayed from Postgres' WAL
#   rows_wal   test/t/017_rows_wal.sh (rows in Postgres' WAL: slot, replay, settings, TAP)
#   dump_restore test/t/003_dump_restore.sh (pg_dump/pg_restore, TAP)
#   commits    test/t/010_concurrent_commits.sh (concurrent committers, TAP)
#   range_diff test/t/004_range_differential.sh (range scans vs heap, randomized, TAP)
#   wraparound test/t/005_wraparound.sh (xid wraparound, VACUUM, autovacuum, TAP)
#   resources  test/t/007_resources.sh (memory bounds, 100 clients, abandoned scans, TAP)
#   large_table test/t/009_large_table.sh (row ids past the 1 GB segment, TAP)
#   no_preload test/t/011_no_preload.sh (clear error without the preload, TAP)
#   base_backup test/t/012_base_backup.sh (standby and restored backups refuse, TAP)
#   reads      test/t/013_concurrent_reads.sh (read pool under concurrent clients vs heap, TAP)
#   bulk_scan  test/t/014_bulk_scan.sh (scans of tables larger than the block cache bypass it
#              unless concurrent, TAP)
#   row_dictionary test/t/015_row_dictionary.sh (zstd_row: rows compressed one by one keep
#              every acknowledged event across kill -9 and codec switches, TAP)
#   bench_pgbench test/t/016_bench_pgbench.sh (the bench harness runs pgbench on its database,
#              without --debug, TAP)
#   create_index_concurrently test/t/018_create_index_concurrently.sh (indexes built
#              concurrently under an insert load hold every row, TAP)
#   disk_full  test/t/008_disk_full.sh (ENOSPC on a small tmpfs, TAP; skips
#              itself where mounting is not permitted)
# Every suite runs even when an earlier one failed. regress and isolation run
# as `postgres` in a copy of the repo (/tmp/ledger_am_check.XXXXXX), and are
# separate make calls because make stops at the first failing command.
# A suite that cannot run, times out or dies counts its tests (at least one)
# as failed. The last line printed is exactly "N passed, N failed" (sums over
# suites); the exit status is non-zero if anything failed.
#
# Environment: LEDGER_TALLY_FILE=path  keep "PASSED FAILED" of the suites
#              finished so far in that file (used by .ci/run on a timeout);
#              KEEP_CHECK_DIR=1        keep the installcheck copy on success;
#              TEST_SKIP_BUILD=1       skip scripts/build.sh (test what is installed);
#              T_BUILD, T_UNIT, ...    per-step time limits in seconds.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin
export PATH="$PG_BINDIR:$PATH"
export PG_CONFIG="${PG_CONFIG:-$PG_BINDIR/pg_config}"
# shellcheck source=cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

# Per-step time limits (seconds); the whole run normally takes a few minutes.
T_BUILD=${T_BUILD:-900}
T_SCHEDULES=${T_SCHEDULES:-60}
T_UNIT=${T_UNIT:-600}
T_REGRESS=${T_REGRESS:-480}
T_ISOLATION=${T_ISOLATION:-480}
T_RESTART=${T_RESTART:-300}
T_CRASH_LOAD=${T_CRASH_LOAD:-600}
T_DUMP_RESTORE=${T_DUMP_RESTORE:-300}
T_COMMITS=${T_COMMITS:-300}
T_RANGE_DIFF=${T_RANGE_DIFF:-300}
T_WRAPAROUND=${T_WRAPAROUND:-300}
T_RESOURCES=${T_RESOURCES:-420}
T_LARGE_TABLE=${T_LARGE_TABLE:-180}
T_NO_PRELOAD=${T_NO_PRELOAD:-120}
T_DISK_FULL=${T_DISK_FULL:-240}
T_BASE_BACKUP=${T_BASE_BACKUP:-240}
T_READS=${T_READS:-300}
T_BULK_SCAN=${T_BULK_SCAN:-180}
T_ROW_DICTIONARY=${T_ROW_DICTIONARY:-240}
T_ROWS_WAL=${T_ROWS_WAL:-300}
T_BENCH_PGBENCH=${T_BENCH_PGBENCH:-120}
T_CIC=${T_CIC:-180}

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()          # one line per suite for the final table
CUR_PID=""          # pid of the running `timeout` (killed on SIGTERM/SIGINT)
CUR_SUITE=""
CHECK_DIR=""
LOG_DIR=$(mktemp -d /tmp/ledger_am_test.XXXXXX)
chmod 755 "$LOG_DIR"

# banner TEXT: a visible section header.
banner() {
  echo
  echo "=================== $* ==================="
}

# record SUITE PASSED FAILED [NOTE]: add a suite's counts to the totals and
# the summary table, and update LEDGER_TALLY_FILE.
record() {
  local suite=$1 p=$2 f=$3 note=${4:-}
  TOTAL_PASSED=$((TOTAL_PASSED + p))
  TOTAL_FAILED=$((TOTAL_FAILED + f))
  SUMMARY+=("$(printf '%-10s %5d passed %5d failed  %s' "$suite" "$p" "$f" "$note")")
  echo "test-all: $suite: $p passed, $f failed${note:+ ($note)}"
  if [[ -n "${LEDGER_TALLY_FILE:-}" ]]; then
    echo "$TOTAL_PASSED $TOTAL_FAILED" >"$LEDGER_TALLY_FILE"
  fi
}

# final_line: print the summary table and, as the very last line,
# "N passed, N failed". Returns 1 when anything failed.
final_line() {
  banner "summary"
  local l
  for l in "${SUMMARY[@]}"; do echo "$l"; done
  echo "logs: $LOG_DIR"
  echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
  (( TOTAL_FAILED == 0 ))
}

# on_signal: stop the running suite, count it as failed, print the totals, exit.
on_signal() {
  trap - TERM INT HUP
  echo "test-all: interrupted${CUR_SUITE:+ during $CUR_SUITE}"
  if [[ -n "$CUR_PID" ]]; then
    kill -TERM "$CUR_PID" 2>/dev/null
    local _
    for _ in $(seq 1 40); do kill -0 "$CUR_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$CUR_PID" 2>/dev/null
  fi
  [[ -n "$CUR_SUITE" ]] && record "$CUR_SUITE" 0 1 "interrupted"
  final_line
  exit 1
}
trap on_signal TERM INT HUP

# run_logged SUITE SECONDS CMD...: run CMD (stdin /dev/null) under a time
# limit, streaming its output and saving it to $LOG_DIR/SUITE.log.
# Sets RUN_RC (124 = timed out) and RUN_LOG.
run_logged() {
  local suite=$1 secs=$2; shift 2
  RUN_LOG="$LOG_DIR/$suite.log"
  : >"$RUN_LOG"
  CUR_SUITE=$suite
  timeout -k 30 "$secs" "$@" >"$RUN_LOG" 2>&1 </dev/null &
  CUR_PID=$!
  tail -n +1 -f --pid="$CUR_PID" "$RUN_LOG" 2>/dev/null &
  local tail_pid=$!
  wait "$CUR_PID"
  RUN_RC=$?
  CUR_PID=""
  wait "$tail_pid" 2>/dev/null
  CUR_SUITE=""
  if (( RUN_RC == 124 || RUN_RC == 137 )); then
    echo "test-all: $suite timed out after ${secs}s"
    RUN_RC=124
  fi
  return 0
}

# make_var NAME: value of Makefile variable NAME as make evaluates it.
make_var() {
  local helper val
  helper=$(mktemp)
  printf 'print-%%:\n\t@echo '"'"'$($*)'"'"'\n' >"$helper"
  val=$(cd "$REPO_ROOT" && make -s --no-print-directory -f Makefile -f "$helper" \
          PG_CONFIG="$PG_CONFIG" "print-$1" 2>/dev/null)
  rm -f "$helper"
  echo "$val"
}

# word_count STRING: number of whitespace-separated words in STRING.
word_count() { local w; read -r -a w <<<"$1"; echo "${#w[@]}"; }

# count_tap LOG RC: sets C_PASS/C_FAIL from "ok N"/"not ok N" lines; planned
# tests ("1..N") that never reported, or a non-zero RC with no failure
# reported, count as failures.
count_tap() {
  local log=$1 rc=$2 plan
  C_PASS=$(grep -Ec '^ok [0-9]+' "$log")
  C_FAIL=$(grep -Ec '^not ok [0-9]+' "$log")
  plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
  if [[ -n "$plan" ]] && (( C_PASS + C_FAIL < plan )); then
    C_FAIL=$((plan - C_PASS))
  fi
  if (( rc != 0 && C_FAIL == 0 )); then C_FAIL=1; fi
}

# count_ctest LOG RC: sets C_PASS/C_FAIL from ctest's
# "NN% tests passed, F tests failed out of T" line; no such line (cmake or
# compile error, no tests found) counts as one failure.
count_ctest() {
  local log=$1 rc=$2 line f t
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -z "$line" ]]; then
    C_PASS=0; C_FAIL=1
    return
  fi
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  C_PASS=$((t - f)); C_FAIL=$f
  if (( rc != 0 && C_FAIL == 0 )); then C_FAIL=1; fi
}

# count_pg_regress LOG RC EXPECTED: sets C_PASS/C_FAIL from pg_regress test
# lines ("test NAME ... ok  12 ms", "     NAME ... FAILED"); "failed
# (ignored)" counts as passed, as pg_regress does. Tests of the schedule that
# never reported (server did not start, crash) count as failures.
count_pg_regress() {
  local log=$1 rc=$2 expected=$3
  C_PASS=$(grep -Ec '^(test +| +)[^ ]+ +\.\.\. +(ok|failed \(ignored\))( |$)' "$log")
  C_FAIL=$(grep -Ec '^(test +| +)[^ ]+ +\.\.\. +FAILED' "$log")
  if (( C_PASS + C_FAIL < expected )); then C_FAIL=$((expected - C_PASS)); fi
  if (( rc != 0 && C_FAIL == 0 )); then C_FAIL=1; fi
}

# prepare_check_dir: copy the repo (no .git, build, old test output) into a
# fresh /tmp/ledger_am_check.XXXXXX owned by postgres, for installcheck.
prepare_check_dir() {
  CHECK_DIR=$(mktemp -d /tmp/ledger_am_check.XXXXXX) || return 1
  tar -C "$REPO_ROOT" \
      --exclude=./.git --exclude=./build --exclude=./results --exclude=./output_iso \
      --exclude=./tmp_check --exclude=./tmp_check_iso --exclude=./log \
      --exclude=./regression.diffs --exclude=./regression.out \
      -cf - . | tar -C "$CHECK_DIR" -xf - || return 1
  chown -R "$CLUSTER_OS_USER": "$CHECK_DIR" && chmod 755 "$CHECK_DIR"
}

# show_failure_details DIR: print the diffs and server-log highlights of a
# failed pg_regress run whose output directory is DIR.
show_failure_details() {
  local out=$1
  if [[ -s "$out/regression.diffs" ]]; then
    echo "----- $out/regression.diffs (first 200 lines) -----"
    head -n 200 "$out/regression.diffs"
  fi
  local errs
  if [[ -f "$out/log/postmaster.log" ]]; then
    errs=$(grep -E 'PANIC|FATAL|terminated by signal|was terminated|TRAP|could not' \
             "$out/log/postmaster.log" | tail -n 40)
    if [[ -n "$errs" ]]; then
      echo "----- $out/log/postmaster.log (errors, last 40) -----"
      echo "$errs"
    fi
  fi
}

# suite_pg_regress SUITE SECONDS EXPECTED OUTDIR MAKEVARS...: run
# `make installcheck MAKEVARS` as postgres in CHECK_DIR and count results.
suite_pg_regress() {
  local suite=$1 secs=$2 expected=$3 outdir=$4; shift 4
  banner "$suite"
  if [[ -z "$CHECK_DIR" ]]; then
    record "$suite" 0 "$(( expected > 0 ? expected : 1 ))" "could not prepare $CHECK_DIR"
    return
  fi
  run_logged "$suite" "$secs" runuser -u "$CLUSTER_OS_USER" -- \
    make -C "$CHECK_DIR" installcheck PG_CONFIG="$PG_CONFIG" "$@"
  count_pg_regress "$RUN_LOG" "$RUN_RC" "$expected"
  local note=""
  (( RUN_RC == 124 )) && note="timed out"
  if (( C_FAIL > 0 )); then
    show_failure_details "$outdir"
    SUITE_FAILED=1
  fi
  record "$suite" "$C_PASS" "$C_FAIL" "$note"
}

# suite_tap SUITE SECONDS SCRIPT BUILD_OK: run test/t/SCRIPT (TAP) and count
# its results; when the build failed, count its plan (PLAN=N in the script,
# at least 1) as failed without running it.
suite_tap() {
  local suite=$1 secs=$2 script=$3 build_ok=$4 plan
  if (( build_ok )); then
    banner "$suite"
    run_logged "$suite" "$secs" bash "$REPO_ROOT/test/t/$script"
    count_tap "$RUN_LOG" "$RUN_RC"
    record "$suite" "$C_PASS" "$C_FAIL" "$( (( RUN_RC == 124 )) && echo "timed out")"
  else
    plan=$(sed -n 's/^PLAN=\([0-9][0-9]*\).*/\1/p' "$REPO_ROOT/test/t/$script" | head -n 1)
    record "$suite" 0 "${plan:-1}" "not run: build failed"
  fi
}

main() {
  cd "$REPO_ROOT" || exit 1
  echo "test-all: repo $REPO_ROOT, logs in $LOG_DIR"

  # --- build -------------------------------------------------------------
  banner "build"
  local build_ok=1
  if [[ "${TEST_SKIP_BUILD:-0}" == 1 ]]; then
    echo "test-all: TEST_SKIP_BUILD=1: testing the extension already installed"
    RUN_RC=0
  else
    run_logged build "$T_BUILD" bash "$REPO_ROOT/scripts/build.sh"
  fi
  if (( RUN_RC != 0 )); then
    build_ok=0
    record build 0 1 "build/install failed (rc $RUN_RC); extension suites not run"
  fi

  # --- schedules -----------------------------------------------------------
  banner "schedules"
  run_logged schedules "$T_SCHEDULES" bash "$REPO_ROOT/test/check_schedules.sh" "$REPO_ROOT"
  count_tap "$RUN_LOG" "$RUN_RC"
  record schedules "$C_PASS" "$C_FAIL"

  # --- unit ----------------------------------------------------------------
  banner "unit"
  run_logged unit "$T_UNIT" make -C "$REPO_ROOT" --no-print-directory unit PG_CONFIG="$PG_CONFIG"
  count_ctest "$RUN_LOG" "$RUN_RC"
  record unit "$C_PASS" "$C_FAIL" "$( (( RUN_RC == 124 )) && echo "timed out")"

  # --- regress / isolation ---------------------------------------------------
  local n_regress n_isolation
  n_regress=$(word_count "$(make_var REGRESS)")
  n_isolation=$(word_count "$(make_var ISOLATION)")
  SUITE_FAILED=0
  if (( build_ok )); then
    prepare_check_dir || { echo "test-all: could not copy the repo for installcheck"; CHECK_DIR=""; }
    suite_pg_regress regress "$T_REGRESS" "$n_regress" "$CHECK_DIR" ISOLATION=
    suite_pg_regress isolation "$T_ISOLATION" "$n_isolation" "$CHECK_DIR/output_iso" REGRESS=
    if [[ -n "$CHECK_DIR" ]]; then
      if (( SUITE_FAILED )) || [[ "${KEEP_CHECK_DIR:-0}" == 1 ]]; then
        echo "test-all: installcheck tree kept in $CHECK_DIR"
      else
        rm -rf -- "$CHECK_DIR"
      fi
    fi
  else
    record regress 0 "$(( n_regress > 0 ? n_regress : 1 ))" "not run: build failed"
    record isolation 0 "$(( n_isolation > 0 ? n_isolation : 1 ))" "not run: build failed"
  fi

  # --- TAP scripts: restart, crash_load, dump_restore ---------------------------
  suite_tap restart "$T_RESTART" 001_restart.sh "$build_ok"
  suite_tap crash_load "$T_CRASH_LOAD" 002_crash_load.sh "$build_ok"
  T002_SETTINGS="ledger_am.debug_logged_rows_skip_wal = on" T002_PORT=54342 CRASH_CYCLES=6 \
    CRASH_CYCLES_ASYNC=2 suite_tap crash_replay "$T_CRASH_LOAD" 002_crash_load.sh "$build_ok"
  suite_tap rows_wal "$T_ROWS_WAL" 017_rows_wal.sh "$build_ok"
  suite_tap dump_restore "$T_DUMP_RESTORE" 003_dump_restore.sh "$build_ok"
  suite_tap commits "$T_COMMITS" 010_concurrent_commits.sh "$build_ok"
  suite_tap range_diff "$T_RANGE_DIFF" 004_range_differential.sh "$build_ok"
  suite_tap wraparound "$T_WRAPAROUND" 005_wraparound.sh "$build_ok"
  suite_tap resources "$T_RESOURCES" 007_resources.sh "$build_ok"
  suite_tap large_table "$T_LARGE_TABLE" 009_large_table.sh "$build_ok"
  suite_tap no_preload "$T_NO_PRELOAD" 011_no_preload.sh "$build_ok"
  suite_tap base_backup "$T_BASE_BACKUP" 012_base_backup.sh "$build_ok"
  suite_tap reads "$T_READS" 013_concurrent_reads.sh "$build_ok"
  suite_tap bulk_scan "$T_BULK_SCAN" 014_bulk_scan.sh "$build_ok"
  suite_tap row_dictionary "$T_ROW_DICTIONARY" 015_row_dictionary.sh "$build_ok"
  suite_tap bench_pgbench "$T_BENCH_PGBENCH" 016_bench_pgbench.sh "$build_ok"
  suite_tap create_index_concurrently "$T_CIC" 018_create_index_concurrently.sh "$build_ok"
  suite_tap disk_full "$T_DISK_FULL" 008_disk_full.sh "$build_ok"

  final_line
}

main "$@"
