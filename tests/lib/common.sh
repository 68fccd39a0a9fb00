# Shared by the integration tests (sourced, not run). Each check prints one
# line, ok or FAIL, and is counted; the runner adds the counts up.
# RUBRICA is the binary under test; WORK a scratch directory for this script.

RUBRICA=${RUBRICA:-$(pwd)/build/rubrica}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rubrica-it.XXXXXX")
PASSED=0
FAILED=0
export RUBRICA_KEY_PASS=${RUBRICA_KEY_PASS:-integration-test-passphrase}

_record() { # status description
  if [ "$1" -eq 0 ]; then
    PASSED=$((PASSED + 1)); echo "  ok   $2"
  else
    FAILED=$((FAILED + 1)); echo "  FAIL $2"
    [ -s "$WORK/last.out" ] && sed 's/^/       | /' "$WORK/last.out" | tail -n 15
  fi
}

# pg_schema_url SCHEMA: RUBRICA_TEST_PG with SCHEMA as the search path (the schema is not made).
pg_schema_url() {
  local sep='?'
  case $RUBRICA_TEST_PG in *\?*) sep='&' ;; esac
  echo "$RUBRICA_TEST_PG${sep}options=-csearch_path%3D$1"
}

# ok DESC CMD...: passes when CMD exits 0.
ok() {
  local desc=$1; shift
  "$@" >"$WORK/last.out" 2>&1
  _record $? "$desc"
}

# fails DESC CMD...: passes when CMD exits non-zero.
fails() {
  local desc=$1; shift
  if "$@" >"$WORK/last.out" 2>&1; then _record 1 "$desc (expected failure)"; else _record 0 "$desc"; fi
}

# contains DESC NEEDLE CMD...: passes when CMD's output (stdout+stderr) contains NEEDLE.
contains() {
  local desc=$1 needle=$2; shift 2
  "$@" >"$WORK/last.out" 2>&1
  grep -qF -- "$needle" "$WORK/last.out"
  _record $? "$desc"
}

# skip WHAT: a check that cannot run here because a tool is missing. Under
# tests/run (RUBRICA_TEST_STRICT=1), which installs every tool, that is a
# failure; run by hand on a bare machine it is a note.
skip() {
  if [ "${RUBRICA_TEST_STRICT:-0}" = 1 ]; then
    echo "a required tool is missing" >"$WORK/last.out"; _record 1 "$1"
  else
    echo "  note: skipped: $1"
  fi
}

# start_serve ARGS...: `rubrica serve ARGS` on a free loopback port in the
# background, output in $WORK/serve.out and serve.err. Sets SERVER_PID, and URL
# once it listens (left empty, with its errors shown, when it did not start).
SERVER_PID=
URL=
start_serve() {
  "$RUBRICA" serve --listen 127.0.0.1:0 --threads 2 "$@" >"$WORK/serve.out" 2>"$WORK/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -q serving "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$WORK/serve.out")
  [ -n "$URL" ] || { echo "  the server did not start:"; cat "$WORK/serve.err"; }
}
stop_server() { [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null; SERVER_PID=; }

# same DESC A B: passes when the two strings are equal.
same() {
  [ "$2" = "$3" ] && _record 0 "$1" || { echo "expected [$3] got [$2]" >"$WORK/last.out"; _record 1 "$1"; }
}

finish() {
  echo "$(basename "$0" .sh): $PASSED passed, $FAILED failed"
  [ -n "${RESULTS:-}" ] && echo "$PASSED $FAILED" >>"$RESULTS"
  rm -rf "$WORK"
  [ "$FAILED" -eq 0 ]
}
