#!/usr/bin/env bash
# The store through the CLI: `rubrica db migrate|status` on SQLite and on
# PostgreSQL ($RUBRICA_TEST_PG), checked with sqlite3 and psql; and bad
# input (malformed URL, unreachable server, read-only or damaged file, missing
# data directory), each refused with one line on stderr and nothing changed.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

# fails_with DESC NEEDLE CMD...: CMD exits non-zero (within 30 s) with exactly
# one line on stderr, and that line contains NEEDLE.
fails_with() {
  local desc=$1 needle=$2; shift 2
  timeout 30 "$@" >"$WORK/stdout" 2>"$WORK/last.out"
  local rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$(wc -l <"$WORK/last.out")" -eq 1 ] &&
    grep -qF -- "$needle" "$WORK/last.out"
  _record $? "$desc"
}

# lacks DESC NEEDLE: the last command's output does not contain NEEDLE.
lacks() {
  ! grep -qF -- "$2" "$WORK/last.out" "$WORK/stdout" 2>/dev/null
  _record $? "$1"
}

# A fingerprint of a directory: names and contents of every file in it.
fingerprint() {
  (cd "$1" && find . -type f | sort | xargs -r sha256sum)
}

# Runs two `db migrate` at once; both must succeed.
migrate_twice_at_once() {
  "$RUBRICA" db migrate "$@" >"$WORK/m1" 2>&1 &
  local first=$!
  "$RUBRICA" db migrate "$@" >"$WORK/m2" 2>&1
  local second=$?
  wait "$first" && [ "$second" -eq 0 ]
}

echo "-- SQLite"
data=$WORK/data
mkdir -p "$data"
contains "migrate creates and migrates DATA/rubrica.db" "is up to date" \
  "$RUBRICA" db migrate --data "$data"
ok "the file is a sound SQLite database (sqlite3)" \
  test "$(sqlite3 "$data/rubrica.db" 'PRAGMA integrity_check')" = ok
migrations=$(sqlite3 "$data/rubrica.db" 'SELECT COUNT(*) FROM schema_migrations')
ok "schema_migrations has at least one row (sqlite3)" test "${migrations:-0}" -ge 1
same "each migration is recorded once (sqlite3)" \
  "$(sqlite3 "$data/rubrica.db" 'SELECT COUNT(DISTINCT version) FROM schema_migrations')" \
  "$migrations"
ok "a second migrate succeeds" "$RUBRICA" db migrate --data "$data"
same "a second migrate adds nothing (sqlite3)" \
  "$(sqlite3 "$data/rubrica.db" 'SELECT COUNT(*) FROM schema_migrations')" "$migrations"
contains "status names the database" "database: sqlite:$data/rubrica.db" \
  "$RUBRICA" db status --data "$data"
cp "$WORK/last.out" "$WORK/status.txt"
fails "status shows nothing pending" grep -q pending "$WORK/status.txt"
same "status lists every migration" "$(grep -cE '^ +[0-9]+  ' "$WORK/status.txt")" "$migrations"
contains "status --json marks migrations applied" '"applied": true' \
  "$RUBRICA" db status --json --data "$data"
same "status --json has nothing pending" "$(grep -c '"applied": false' "$WORK/last.out")" 0

other=$WORK/other.db
contains "RUBRICA_DB selects the database" "sqlite:$other" \
  env RUBRICA_DB="$other" "$RUBRICA" db migrate --data "$data"
same "RUBRICA_DB's file holds the schema (sqlite3)" \
  "$(sqlite3 "$other" 'SELECT COUNT(*) FROM schema_migrations')" "$migrations"
contains "--db wins over RUBRICA_DB" "sqlite:$data/rubrica.db" \
  env RUBRICA_DB="$WORK/unused.db" "$RUBRICA" db status --data "$data" --db "$data/rubrica.db"
ok "RUBRICA_DB's file was not made when --db was given" test ! -e "$WORK/unused.db"

mkdir -p "$WORK/together"
ok "two migrates at once both succeed" migrate_twice_at_once --data "$WORK/together"
same "two migrates at once apply each migration once (sqlite3)" \
  "$(sqlite3 "$WORK/together/rubrica.db" 'SELECT COUNT(*) FROM schema_migrations')" "$migrations"

echo "-- bad input"
fails_with "a missing data directory is refused" "does not exist" \
  "$RUBRICA" db migrate --data "$WORK/no-such-dir"
ok "the missing data directory was not created" test ! -e "$WORK/no-such-dir"

fails_with "a malformed PostgreSQL URL is refused" "notaport" \
  "$RUBRICA" db migrate --data "$data" --db "postgres://user@host:notaport/db"
fails_with "a malformed URL with a password is refused" "port" \
  "$RUBRICA" db migrate --data "$data" --db "postgres://user:s3cr3t-pw@host:notaport/db"
lacks "the password is not printed" "s3cr3t-pw"
fails_with "an unparsable URL is refused" "IPv6" \
  "$RUBRICA" db migrate --data "$data" --db "postgres://user:s3cr3t-pw@[::1/db"
lacks "the password of an unparsable URL is not printed" "s3cr3t-pw"
fails_with "an unsupported URL scheme is refused" "unsupported" \
  "$RUBRICA" db migrate --data "$data" --db "mysql://user:s3cr3t-pw@host/db"
lacks "the password of an unsupported URL is not printed" "s3cr3t-pw"

fails_with "PostgreSQL behind a missing socket directory: names the socket" \
  "$WORK/no-socket-here" \
  "$RUBRICA" db migrate --data "$data" --db "postgresql://rubrica@/postgres?host=$WORK/no-socket-here"
fails_with "PostgreSQL on a closed port: names host and port" "127.0.0.1 port 1" \
  "$RUBRICA" db migrate --data "$data" --db "postgresql://rubrica:s3cr3t-pw@127.0.0.1:1/postgres"
lacks "the password of an unreachable server is not printed" "s3cr3t-pw"
fails_with "RUBRICA_DB with an unreachable server is refused" "127.0.0.1 port 1" \
  env RUBRICA_DB="postgresql://rubrica@127.0.0.1:1/postgres" "$RUBRICA" db status --data "$data"

damaged=$WORK/damaged
mkdir -p "$damaged"
head -c 16384 /dev/urandom >"$damaged/rubrica.db"
before=$(fingerprint "$damaged")
fails_with "a damaged SQLite file is refused" "damaged" "$RUBRICA" db migrate --data "$damaged"
same "the damaged file and its directory are unchanged" "$(fingerprint "$damaged")" "$before"

readonly_dir=$WORK/readonly
mkdir -p "$readonly_dir"
"$RUBRICA" db migrate --data "$readonly_dir" >/dev/null 2>&1
before=$(fingerprint "$readonly_dir")
as_reader=()
immutable=0
if [ "$(id -u)" -eq 0 ]; then
  # root writes through permissions: run as an unprivileged user, or mark the file immutable.
  chmod 755 "$WORK" "$readonly_dir"
  chmod 644 "$readonly_dir/rubrica.db"
  if runuser -u nobody -- test -x "$RUBRICA" 2>/dev/null; then
    as_reader=(runuser -u nobody --)
  elif chattr +i "$readonly_dir/rubrica.db" 2>/dev/null; then
    immutable=1
  else
    as_reader=(skip)
  fi
else
  chmod 444 "$readonly_dir/rubrica.db"
  chmod 555 "$readonly_dir"
fi
if [ "${as_reader[*]}" = skip ]; then
  echo "  note: cannot make a file read-only for root here; read-only check skipped"
else
  fails_with "a read-only SQLite file is refused" "read-only" \
    "${as_reader[@]}" "$RUBRICA" db migrate --data "$readonly_dir"
  same "the read-only database is unchanged" "$(fingerprint "$readonly_dir")" "$before"
fi
[ "$immutable" -eq 1 ] && chattr -i "$readonly_dir/rubrica.db"
chmod 755 "$readonly_dir"

echo "-- PostgreSQL"
if [ -z "${RUBRICA_TEST_PG:-}" ]; then
  skip "a PostgreSQL server (RUBRICA_TEST_PG) for the PostgreSQL checks"
else
  schema="it_$$_$RANDOM"
  url=$(pg_schema_url "$schema")
  pgq() { psql "$url" -XtAq -v ON_ERROR_STOP=1 -c "$1"; }
  ok "a fresh schema for this run (psql)" psql "$RUBRICA_TEST_PG" -Xq -c "CREATE SCHEMA $schema"
  pgdata=$WORK/pgdata
  mkdir -p "$pgdata"
  contains "migrate on PostgreSQL" "is up to date" "$RUBRICA" db migrate --data "$pgdata" --db "$url"
  same "each migration is recorded once (psql)" \
    "$(pgq 'SELECT COUNT(*) FROM schema_migrations')" "$migrations"
  same "the tables are in the run's schema (psql)" \
    "$(pgq "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$schema' AND table_name = 'schema_migrations'")" 1
  ok "a second migrate on PostgreSQL succeeds" "$RUBRICA" db migrate --data "$pgdata" --db "$url"
  same "a second migrate adds nothing (psql)" \
    "$(pgq 'SELECT COUNT(*) FROM schema_migrations')" "$migrations"
  contains "status on PostgreSQL names the server" "database: postgresql://" \
    "$RUBRICA" db status --data "$pgdata" --db "$url"
  cp "$WORK/last.out" "$WORK/status.txt"
  fails "status on PostgreSQL shows nothing pending" grep -q pending "$WORK/status.txt"
  same "status on PostgreSQL lists every migration" \
    "$(grep -cE '^ +[0-9]+  ' "$WORK/status.txt")" "$migrations"
  contains "RUBRICA_DB selects PostgreSQL" "database: postgresql://" \
    env RUBRICA_DB="$url" "$RUBRICA" db status --data "$pgdata"
  ok "no SQLite file was made when PostgreSQL was selected" test ! -e "$pgdata/rubrica.db"
  contains "a URL with a password is described without it" "password=***" \
    "$RUBRICA" db migrate --data "$pgdata" --db "$url&password=s3cr3t-pw"
  lacks "the password is not printed on success" "s3cr3t-pw"
  if [[ $RUBRICA_TEST_PG == *"/postgres?"* ]]; then
    fails_with "a database that does not exist is refused" "no_such_db_here" \
      "$RUBRICA" db migrate --data "$pgdata" --db "${RUBRICA_TEST_PG/\/postgres\?/\/no_such_db_here?}"
  fi

  together="it_$$_${RANDOM}_b"
  psql "$RUBRICA_TEST_PG" -Xq -c "CREATE SCHEMA $together"
  url2=$(pg_schema_url "$together")
  ok "two migrates at once on PostgreSQL both succeed" migrate_twice_at_once --data "$pgdata" \
    --db "$url2"
  same "two migrates at once apply each migration once (psql)" \
    "$(psql "$url2" -XtAq -c 'SELECT COUNT(*) FROM schema_migrations')" "$migrations"
  psql "$RUBRICA_TEST_PG" -Xq -c "DROP SCHEMA $schema CASCADE; DROP SCHEMA $together CASCADE" \
    >/dev/null 2>&1
fi

finish
