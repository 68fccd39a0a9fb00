#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `pg.sh start DIR` initialises a
# cluster in DIR, listening only on a Unix socket inside DIR, and prints its
# URL; `pg.sh stop DIR` stops it and removes DIR.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
cmd=${1:?start|stop}
dir=${2:?directory}
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  as_owner "$bindir/initdb" -D "$dir/cluster" -U rubrica --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  as_owner "$bindir/pg_ctl" -D "$dir/cluster" -l "$dir/server.log" -w \
    -o "-k $dir -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null
  echo "postgresql://rubrica@/postgres?host=$dir"
  ;;
stop)
  as_owner "$bindir/pg_ctl" -D "$dir/cluster" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
esac
