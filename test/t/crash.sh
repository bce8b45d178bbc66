# crash.sh: finding and killing the processes of a TAP script's throwaway
# cluster, and waiting for it to come back (source it; test/t/002 and 015).
#
# Needs DIR (the data directory), CLUSTER_OS_USER (scripts/cluster.sh) and
# q SQL (run SQL on the cluster, print unaligned tuples). A process is "ours"
# when it runs as the cluster's user with the data directory as its working
# directory: only such processes are ever signalled.

# cluster_pids: pids of every process of our cluster: user postgres, working
# directory = the data directory (postmaster and all its children chdir there).
cluster_pids() {
  local p cwd
  for p in $(pgrep -u "$CLUSTER_OS_USER" 2>/dev/null); do
    cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
    [[ "$cwd" == "$DIR" ]] && echo "$p"
  done
}

# is_ours PID: true when PID is a live process of our cluster.
is_ours() {
  [[ -n "$1" && "$(readlink "/proc/$1/cwd" 2>/dev/null)" == "$DIR" ]] &&
    [[ "$(stat -c %U "/proc/$1" 2>/dev/null)" == "$CLUSTER_OS_USER" ]]
}

# postmaster_pid: the live postmaster of our cluster (from postmaster.pid).
postmaster_pid() {
  local p
  p=$(head -n 1 "$DIR/postmaster.pid" 2>/dev/null) || return 1
  is_ours "$p" && echo "$p"
}

# worker_pid: pid of the storage worker: from pg_stat_activity when it is
# listed there, else the child of the postmaster with that process title.
WORKER_VIA=""
worker_pid() {
  local p pm
  p=$(q "SELECT pid FROM pg_stat_activity
         WHERE backend_type = 'ledger_am storage worker'" 2>/dev/null | head -n 1)
  if [[ -n "$p" ]] && is_ours "$p"; then WORKER_VIA=pg_stat_activity; echo "$p"; return 0; fi
  pm=$(postmaster_pid) || return 1
  for p in $(pgrep -P "$pm" 2>/dev/null); do
    if [[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" == "postgres: ledger_am storage worker"* ]]; then
      WORKER_VIA="process title"; echo "$p"; return 0
    fi
  done
  return 1
}

# kill_all_cluster: SIGKILL every remaining process of our cluster until none
# is left (30 s).
kill_all_cluster() {
  local pids _
  for _ in $(seq 1 300); do
    pids=$(cluster_pids)
    [[ -z "$pids" ]] && return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null
    sleep 0.1
  done
  return 1
}

# wait_gone PID SECS: wait until PID no longer exists. A killed postmaster is
# re-parented to pid 1 and stays a zombie until that reaps it (about a second
# here); pg_ctl and the new postmaster would take the zombie for a running
# server.
wait_gone() {
  local deadline=$(( $(date +%s) + $2 ))
  while kill -0 "$1" 2>/dev/null; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}

# ready: the server accepts connections and the storage worker answers.
ready() {
  q "SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1) s" >/dev/null 2>&1
}

# wait_crash_restart OLD_WORKER KILLED SECS: wait until the killed process is
# gone, a new storage worker runs and the server answers.
wait_crash_restart() {
  local old=$1 killed=$2 deadline=$(( $(date +%s) + $3 )) w
  while (( $(date +%s) < deadline )); do
    if ! kill -0 "$killed" 2>/dev/null; then
      w=$(worker_pid 2>/dev/null)
      if [[ -n "$w" && "$w" != "$old" ]] && ready; then return 0; fi
    fi
    sleep 0.2
  done
  return 1
}

# wait_ready SECS: wait until ready.
wait_ready() {
  local deadline=$(( $(date +%s) + $1 ))
  while (( $(date +%s) < deadline )); do
    ready && return 0
    sleep 0.2
  done
  return 1
}
