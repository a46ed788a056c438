#!/usr/bin/env bash
# Stops the cluster that scripts/pg-up.sh started in PG_ROOT and removes the folder
# (KEEP=1 keeps the data, so a restart test can start it again on the same folder with pg-up.sh;
# PG_STOP_MODE=immediate stops it as a crash would: no checkpoint, recovery on the next start).
set -u
R=${PG_ROOT:?pg-down: set PG_ROOT to the folder pg-up.sh used}
[ -f "$R/data/PG_VERSION" ] || { [ "${KEEP:-0}" = 1 ] || rm -rf "$R"; exit 0; }
B=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -n "$B" ] || B=$(dirname "$(command -v pg_ctl)")
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$B/pg_ctl" -D "$R/data" -m "${PG_STOP_MODE:-fast}" -w stop >/dev/null 2>&1
else
  "$B/pg_ctl" -D "$R/data" -m "${PG_STOP_MODE:-fast}" -w stop >/dev/null 2>&1
fi
[ "${KEEP:-0}" = 1 ] || rm -rf "$R"
