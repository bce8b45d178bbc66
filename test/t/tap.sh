# tap.sh: TAP helpers shared by the test/t scripts (source it).
#
#   ok_if STATUS "description" ["detail shown on failure"]
#       one test: passes when STATUS is 0; counts into TESTNO and FAILED
#   expect_eq "description" GOT WANT
#       one test: passes when GOT equals WANT (both shown on failure)
#   diag TEXT...
#       a "# " comment line per line of TEXT
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
