# cluster.sh: helper library for throwaway PostgreSQL 15 clusters (source it).
#
#   source scripts/cluster.sh
#   cluster_init  /tmp/mydir 54330            # initdb as postgres, preload ledger_am
#   cluster_init  /tmp/mydir 54330 ""         # ... without shared_preload_libraries
#   cluster_start /tmp/mydir
#   cluster_psql  /tmp/mydir -d postgres -c 'SELECT 1'
#   cluster_psql_retry /tmp/mydir 60 'SELECT count(*) FROM events' -At
#   cluster_stop  /tmp/mydir                  # pg_ctl -m fast
#   cluster_stop  /tmp/mydir immediate
#   cluster_remove /tmp/mydir                 # stop (immediate) and rm -rf
#
# PostgreSQL refuses to run as root, so every server and client command runs as
# the OS user `postgres` (runuser when we are root). The data directory holds
# the unix socket (or /tmp when the path is too long for a socket name), the
# server log `server.log`, and `cluster.env` (PORT, SOCKDIR) that the other
# functions read. Only the cluster in the given directory is ever touched.
#
# Paths passed to these functions must be absolute: commands run from `/`
# (postgres may not be able to read the caller's working directory).

CLUSTER_PG_BINDIR=${CLUSTER_PG_BINDIR:-/usr/lib/postgresql/15/bin}
case ":$PATH:" in
  *":$CLUSTER_PG_BINDIR:"*) ;;
  *) export PATH="$CLUSTER_PG_BINDIR:$PATH" ;;
esac
CLUSTER_OS_USER=${CLUSTER_OS_USER:-postgres}

# cluster_as_pg CMD...: run CMD as the postgres OS user, from directory /.
cluster_as_pg() {
  if [[ $(id -un) == "$CLUSTER_OS_USER" ]]; then
    (cd / && "$@")
  else
    (cd / && runuser -u "$CLUSTER_OS_USER" -- "$@")
  fi
}

# cluster_check_dir DIR: fail unless DIR is an absolute path.
cluster_check_dir() {
  if [[ -z "${1:-}" || "$1" != /* ]]; then
    echo "cluster: data directory must be an absolute path (got '${1:-}')" >&2
    return 1
  fi
}

# cluster_env DIR: load PORT and SOCKDIR of the cluster in DIR into
# CLUSTER_PORT / CLUSTER_SOCKDIR.
cluster_env() {
  cluster_check_dir "$1" || return 1
  if [[ ! -f "$1/cluster.env" ]]; then
    echo "cluster: $1 was not created by cluster_init (no cluster.env)" >&2
    return 1
  fi
  CLUSTER_PORT=$(sed -n 's/^PORT=//p' "$1/cluster.env")
  CLUSTER_SOCKDIR=$(sed -n 's/^SOCKDIR=//p' "$1/cluster.env")
}

# cluster_is_initialised DIR: true when DIR holds a cluster made by cluster_init.
cluster_is_initialised() {
  [[ -f "$1/PG_VERSION" && -f "$1/cluster.env" ]]
}

# cluster_init DIR PORT [PRELOAD]: initdb a new cluster in DIR (must not exist
# or be empty) listening on PORT via a unix socket only. PRELOAD is the value of
# shared_preload_libraries (default 'ledger_am'; pass "" for none). Extra
# settings can be appended to DIR/postgresql.conf before cluster_start.
cluster_init() {
  local dir=$1 port=$2 preload=${3-ledger_am}
  cluster_check_dir "$dir" || return 1
  if [[ -z "$port" ]]; then echo "cluster_init: PORT required" >&2; return 1; fi
  if [[ -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
    echo "cluster_init: $dir exists and is not empty" >&2
    return 1
  fi
  mkdir -p "$dir" || return 1
  chown "$CLUSTER_OS_USER": "$dir" && chmod 700 "$dir" || return 1

  # Unix socket paths are limited to ~107 bytes; fall back to /tmp.
  local sockdir=$dir
  if (( ${#dir} > 80 )); then sockdir=/tmp; fi

  echo "cluster: initdb $dir (port $port)"
  local out
  if ! out=$(cluster_as_pg initdb -D "$dir" -A trust -U postgres -E UTF8 \
        --locale=C.UTF-8 --no-sync 2>&1); then
    echo "cluster_init: initdb failed:" >&2
    echo "$out" >&2
    return 1
  fi

  cat >>"$dir/postgresql.conf" <<CONF

# --- added by scripts/cluster.sh (throwaway cluster) ---
port = $port
listen_addresses = ''
unix_socket_directories = '$sockdir'
shared_preload_libraries = '$preload'
logging_collector = off
log_min_messages = warning
CONF
  printf 'PORT=%s\nSOCKDIR=%s\n' "$port" "$sockdir" >"$dir/cluster.env"
  chown "$CLUSTER_OS_USER": "$dir/cluster.env"
}

# cluster_is_running DIR: true when pg_ctl reports a server running in DIR.
cluster_is_running() {
  cluster_check_dir "$1" || return 1
  [[ -f "$1/postmaster.pid" ]] || return 1
  cluster_as_pg pg_ctl -D "$1" status >/dev/null 2>&1
}

# cluster_start DIR: start the cluster in DIR, log to DIR/server.log, wait
# until it accepts connections (60 s). Prints the log tail on failure.
cluster_start() {
  local dir=$1
  cluster_env "$dir" || return 1
  if cluster_is_running "$dir"; then
    echo "cluster: $dir already running"
    return 0
  fi
  echo "cluster: starting $dir (port $CLUSTER_PORT, log $dir/server.log)"
  if ! cluster_as_pg pg_ctl -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null; then
    echo "cluster_start: server in $dir failed to start; last log lines:" >&2
    tail -n 40 "$dir/server.log" >&2 2>/dev/null
    return 1
  fi
}

# cluster_stop DIR [MODE]: stop the cluster in DIR with pg_ctl -m MODE
# (fast by default; smart|fast|immediate). No-op when it is not running.
cluster_stop() {
  local dir=$1 mode=${2:-fast}
  cluster_check_dir "$dir" || return 1
  if ! cluster_is_running "$dir"; then
    return 0
  fi
  echo "cluster: stopping $dir (-m $mode)"
  cluster_as_pg pg_ctl -D "$dir" -m "$mode" -w -t 60 stop >/dev/null
}

# cluster_remove DIR: stop the cluster in DIR (immediate) and delete DIR.
# Refuses anything that is not a cluster directory under /tmp.
cluster_remove() {
  local dir=$1
  cluster_check_dir "$dir" || return 1
  [[ -e "$dir" ]] || return 0
  case "$dir" in
    /tmp/?*) ;;
    *) echo "cluster_remove: refusing to delete $dir (not under /tmp)" >&2; return 1 ;;
  esac
  if [[ -n "$(ls -A "$dir" 2>/dev/null)" && ! -f "$dir/PG_VERSION" ]]; then
    echo "cluster_remove: refusing to delete $dir (not a cluster directory)" >&2
    return 1
  fi
  cluster_stop "$dir" immediate || true
  rm -rf -- "$dir"
}

# cluster_psql DIR [PSQL ARGS...]: psql as postgres against the cluster in DIR
# (database postgres unless -d is given). Reads stdin when no -c/-f is given.
# -X (no ~/.psqlrc) is always set.
cluster_psql() {
  local dir=$1; shift
  cluster_env "$dir" || return 1
  cluster_as_pg env PGDATABASE="${PGDATABASE:-postgres}" \
    psql -X -h "$CLUSTER_SOCKDIR" -p "$CLUSTER_PORT" -U postgres "$@"
}

# cluster_psql_retry DIR SECS SQL [PSQL ARGS...]: run SQL (a script, fed on
# stdin, ON_ERROR_STOP on) like cluster_psql, but while the ledger_am storage
# worker is still starting (error "storage worker is not running", seen right
# after a server start until the worker has opened RocksDB) retry every 0.5 s
# for up to SECS seconds. Any other error fails at once. SQL must be safe to
# re-run (wrap it in BEGIN/COMMIT). Prints the output of the last attempt
# (stdout and stderr together).
cluster_psql_retry() {
  local dir=$1 secs=$2 sql=$3; shift 3
  local out rc deadline=$(( $(date +%s) + secs ))
  while :; do
    out=$(cluster_psql "$dir" -v ON_ERROR_STOP=1 "$@" <<<"$sql" 2>&1)
    rc=$?
    if (( rc == 0 )) || [[ "$out" != *"storage worker is not running"* ]] \
       || (( $(date +%s) >= deadline )); then
      break
    fi
    sleep 0.5
  done
  [[ -n "$out" ]] && echo "$out"
  return $rc
}

# cluster_psql_cmdline DIR [DB]: the psql command line a user can type to
# connect to the cluster in DIR (printed by the demo).
cluster_psql_cmdline() {
  cluster_env "$1" || return 1
  echo "runuser -u postgres -- $CLUSTER_PG_BINDIR/psql -h $CLUSTER_SOCKDIR -p $CLUSTER_PORT -U postgres -d ${2:-postgres}"
}
