#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for tests and CI, and prints its URL last.
#   PG_ROOT  folder for its data, socket and log (default: a new temporary folder)
#   PG_PORT  TCP port on 127.0.0.1 (default 55432)
#   PG_BIN   folder holding initdb/pg_ctl (default: the newest /usr/lib/postgresql/*/bin, else PATH)
#   PG_DURABLE=1  keep PostgreSQL's durable defaults; otherwise fsync is off, which is only
#                 for tests: never measure durability or failover on such a cluster.
# Stop it with scripts/pg-down.sh (same PG_ROOT). Exits 3, naming the package, when no
# PostgreSQL server is installed (Debian/Ubuntu: apt-get install postgresql).
set -euo pipefail
R=${PG_ROOT:-$(mktemp -d /tmp/fastgpu-pg.XXXXXX)}
P=${PG_PORT:-55432}
B=${PG_BIN:-}
if [ -z "$B" ]; then
  B=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$B" ] && command -v initdb >/dev/null 2>&1; then B=$(dirname "$(command -v initdb)"); fi
fi
if [ -z "$B" ] || [ ! -x "$B/initdb" ] || [ ! -x "$B/pg_ctl" ]; then
  echo "pg-up: no PostgreSQL server found (initdb, pg_ctl). Install it: apt-get install postgresql (Debian/Ubuntu), or set PG_BIN." >&2
  exit 3
fi

# initdb refuses to run as root: as root the cluster belongs to the `postgres` user the
# Debian package creates; anyone else runs it as themselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
mkdir -p "$R"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$R"; fi
if [ ! -f "$R/data/PG_VERSION" ]; then
  as_owner "$B/initdb" -D "$R/data" -U postgres -A trust --no-sync -E UTF8 >"$R/initdb.log" 2>&1 \
    || { cat "$R/initdb.log" >&2; exit 1; }
fi
FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${PG_DURABLE:-0}" = 1 ] && FAST=""
# -k: the socket goes in our folder (the default /var/run/postgresql may not exist or be ours).
if ! as_owner "$B/pg_ctl" -D "$R/data" -l "$R/log" -w -t 30 \
  -o "-p $P -k $R -c listen_addresses=127.0.0.1 -c max_connections=300 $FAST" start >/dev/null; then
  tail -n 20 "$R/log" >&2 || true
  exit 1
fi
as_owner "$B/psql" -h 127.0.0.1 -p "$P" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'fastgpu'" | grep -q 1 \
  || as_owner "$B/createdb" -h 127.0.0.1 -p "$P" -U postgres fastgpu
echo "PG_ROOT=$R" >&2
echo "postgres://postgres@127.0.0.1:$P/fastgpu"
