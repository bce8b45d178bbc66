#!/usr/bin/env bash
# check_schedules.sh: the test lists in the Makefile match the test files.
#
#   bash test/check_schedules.sh [REPO_ROOT]
#
# Fails when a sql/*.sql file (other than extension scripts: DATA and
# NAME--VERSION.sql) is not listed in REGRESS or a test/specs/*.spec
# is not listed in ISOLATION, when a listed test has no source file, when a
# listed test has no expected output, when a test is listed twice, or when
# a TAP script test/t/NNN_*.sh is not run by scripts/test-all.sh.
# Output is TAP ("ok N - ..." / "not ok N - ..."); exit status 0 iff all pass.
set -uo pipefail

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || { echo "Bail out! cannot cd to $ROOT"; exit 1; }
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[[ -x "$PG_CONFIG" ]] || PG_CONFIG=pg_config

# make_var NAME: value of Makefile variable NAME as make evaluates it
# (continuations, +=, includes). Falls back to a textual parse if make fails.
make_var() {
  local helper val
  helper=$(mktemp)
  printf 'print-%%:\n\t@echo '"'"'$($*)'"'"'\n' >"$helper"
  if val=$(make -s --no-print-directory -f Makefile -f "$helper" \
             PG_CONFIG="$PG_CONFIG" "print-$1" 2>/dev/null); then
    rm -f "$helper"
    echo "$val"
    return 0
  fi
  rm -f "$helper"
  # Fallback: join "\"-continued lines, then collect NAME =, :=, += assignments.
  awk -v name="$1" '
    { line = $0
      while (line ~ /\\$/ && (getline nxt) > 0) { sub(/\\$/, " ", line); line = line nxt }
      if (match(line, "^[ \t]*" name "[ \t]*(:?=|\\+=)")) {
        op = substr(line, RSTART, RLENGTH); rest = substr(line, RSTART + RLENGTH)
        sub(/#.*/, "", rest)
        if (op ~ /\+=$/) val = val " " rest; else val = rest
      } }
    END { print val }' Makefile
}

TESTNO=0
FAILED=0
# report OK DESCRIPTION [DETAIL...]: print one TAP line (OK is 0 for pass),
# followed by "#"-prefixed detail lines on failure.
report() {
  local okflag=$1 desc=$2; shift 2
  TESTNO=$((TESTNO + 1))
  if [[ $okflag -eq 0 ]]; then
    echo "ok $TESTNO - $desc"
  else
    echo "not ok $TESTNO - $desc"
    FAILED=$((FAILED + 1))
    local d
    for d in "$@"; do echo "#   $d"; done
  fi
}

# check_suite KIND LISTVAR SRCDIR EXT EXPDIR: the checks for one suite.
check_suite() {
  local kind=$1 var=$2 srcdir=$3 ext=$4 expdir=$5
  local listed=() files=() bad=() t f
  read -r -a listed <<<"$(make_var "$var")"
  for f in "$srcdir"/*."$ext"; do
    [[ -e "$f" ]] || continue
    # Extension install/upgrade scripts (DATA, NAME--VERSION.sql) are not tests.
    [[ " $DATA_FILES " == *" $f "* || "${f##*/}" == *--* ]] && continue
    t=${f##*/}; files+=("${t%."$ext"}")
  done

  # Every file is listed.
  bad=()
  for t in "${files[@]}"; do
    [[ " ${listed[*]} " == *" $t "* ]] || bad+=("$srcdir/$t.$ext is not listed in $var")
  done
  report ${#bad[@]} "$kind: every $srcdir/*.$ext is listed in $var" "${bad[@]}"

  # Every listed test has a file.
  bad=()
  for t in "${listed[@]}"; do
    [[ -f "$srcdir/$t.$ext" ]] || bad+=("$var lists $t but $srcdir/$t.$ext is missing")
  done
  report ${#bad[@]} "$kind: every test in $var has $srcdir/NAME.$ext" "${bad[@]}"

  # Every listed test has an expected output (NAME.out or an alternative NAME_N.out).
  bad=()
  for t in "${listed[@]}"; do
    compgen -G "$expdir/$t.out" >/dev/null || compgen -G "$expdir/${t}_[0-9].out" >/dev/null \
      || bad+=("$expdir/$t.out is missing")
  done
  report ${#bad[@]} "$kind: every test in $var has $expdir/NAME.out" "${bad[@]}"

  # No test listed twice.
  bad=()
  while read -r t; do
    [[ -n "$t" ]] && bad+=("$t is listed more than once in $var")
  done < <(printf '%s\n' "${listed[@]}" | sort | uniq -d)
  report ${#bad[@]} "$kind: no test listed twice in $var" "${bad[@]}"

  if [[ ${#listed[@]} -eq 0 ]]; then
    echo "# warning: $var is empty"
  fi
}

# check_tap: every TAP script test/t/NNN_*.sh is run by scripts/test-all.sh.
check_tap() {
  local bad=() f
  for f in test/t/[0-9][0-9][0-9]_*.sh; do
    [[ -e "$f" ]] || continue
    grep -q "^ *suite_tap [a-z_]* \"[^\"]*\" ${f##*/} " scripts/test-all.sh \
      || bad+=("$f is not run by scripts/test-all.sh (suite_tap)")
  done
  report ${#bad[@]} "tap: every test/t/NNN_*.sh is run by scripts/test-all.sh" "${bad[@]}"
}

DATA_FILES="$(make_var DATA) $(make_var DATA_built)"
echo "1..9"
check_suite regress REGRESS sql sql expected
check_suite isolation ISOLATION test/specs spec test/expected
check_tap
echo "# check_schedules: $((TESTNO - FAILED)) passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
