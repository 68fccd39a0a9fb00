#!/usr/bin/env bash
# `rubrica serve` under bad input and faults, checked from outside: a body
# over 1 MiB, a truncated OCSP request, an unknown path, a slow client, clients
# that vanish mid-request or mid-response; revocations killed with SIGKILL at
# random moments (each certificate is then revoked everywhere or nowhere); and
# two responder processes sharing one PostgreSQL (when RUBRICA_TEST_PG is set).
set -u
. "$(dirname "$0")/../lib/common.sh"

DATA=$WORK/data
SERVER_PIDS=()
stop_servers() { for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; SERVER_PIDS=(); }
trap stop_servers EXIT

# start_server NAME ARGS...: starts serve in the background; sets URL and PID.
start_server() {
  local name=$1; shift
  "$RUBRICA" serve --listen 127.0.0.1:0 --threads 2 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  SERVER_PIDS+=("$PID")
  for _ in $(seq 100); do grep -q serving "$WORK/$name.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/$name.out")
  [ -n "$URL" ] || { echo "  the server did not start:"; cat "$WORK/$name.err"; }
}
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }

# issue DATA-ARGS... NAME: issues a natural-person certificate, prints its serial.
issue() {
  local name=${*: -1}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$name.key" \
    -subj "/CN=$name" -out "$WORK/$name.csr" 2>/dev/null
  "$RUBRICA" cert issue "${@:1:$#-1}" --csr "$WORK/$name.csr" --profile natural-person \
    --set given_name=Ana --set surname="$name" --set id_type=pa-cedula --set id_number=8-123-456 \
    --out "$WORK/$name.pem" >/dev/null 2>&1
  openssl x509 -in "$WORK/$name.pem" -noout -serial | cut -d= -f2
}
# ocsp_status URL NAME: good, revoked or whatever openssl ocsp says.
ocsp_status() {
  openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/$2.pem" -url "$1/ocsp" \
    -CAfile "$WORK/root.pem" -timeout 5 2>/dev/null | sed -n "s|^$WORK/$2.pem: ||p"
}

ok "init a PA provider" "$RUBRICA" init --data "$DATA" --jurisdiction PA
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem" 2>/dev/null
VICTIMS=(v1 v2 v3 v4 v5 v6)
declare -A SERIAL
for v in leaf "${VICTIMS[@]}"; do SERIAL[$v]=$(issue --data "$DATA" "$v"); done
[ -n "${SERIAL[leaf]}" ] && [ -n "${SERIAL[v6]}" ]
_record $? "issue seven certificates"

start_server main --data "$DATA" --timeout 2 --access-log "$WORK/access.log"
[ -n "$URL" ] || { stop_servers; finish; exit 1; }

# ---- bad input ----
head -c 1100000 /dev/zero >"$WORK/big"
same "a 1 MiB+ OCSP body gets 413" \
  "$(code --data-binary @"$WORK/big" -H 'Content-Type: application/ocsp-request' "$URL/ocsp")" 413
openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/leaf.pem" -no_nonce -reqout "$WORK/req.der" \
  >/dev/null 2>&1
head -c 30 "$WORK/req.der" >"$WORK/short.der"
same "a truncated OCSP request gets 200" "$(code -o "$WORK/short.resp" --data-binary @"$WORK/short.der" \
  -H 'Content-Type: application/ocsp-request' "$URL/ocsp")" 200
curl -s -o "$WORK/short.resp" --data-binary @"$WORK/short.der" \
  -H 'Content-Type: application/ocsp-request' "$URL/ocsp"
contains "... answering malformedRequest (openssl ocsp -respin)" "malformedrequest" \
  openssl ocsp -respin "$WORK/short.resp" -resp_text -noverify
same "an unknown path gets 404" "$(code "$URL/no/such/path")" 404

# ---- a slow client: half a request, then silence ----
python3 - "${URL#http://}" 6 >"$WORK/slow.result" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
          b"Content-Length: 100\r\n\r\n0123456789")
s.settimeout(float(sys.argv[2]))
start = time.time()
try:
    data = s.recv(4096)
    print("closed after %.1fs" % (time.time() - start) if not data else "answered")
except socket.timeout:
    print("still open")
except ConnectionResetError:
    print("closed after %.1fs" % (time.time() - start))
PY
SLOW=$!
sleep 0.5
same "while a client stalls, /healthz still answers" "$(code "$URL/healthz")" 200
same "... and so does OCSP" "$(ocsp_status "$URL" leaf)" good
wait "$SLOW"
contains "the stalled client is dropped after the timeout" "closed after" cat "$WORK/slow.result"

# ---- clients that vanish mid-request or mid-response (reset, not a clean close) ----
python3 - "${URL#http://}" "$WORK/req.der" <<'PY'
import socket, struct, sys
host, port = sys.argv[1].split(":")
body = open(sys.argv[2], "rb").read()
def rude(payload):
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(payload)
    s.close()  # unread answers and SO_LINGER 0: the server sees a reset
get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
post = (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)) + body
for _ in range(20):
    rude(get * 200)       # many pipelined answers, none read
    rude(post * 50)
    rude(post[:len(post) - 5])  # mid-body
PY
sleep 0.3
ok "the server survives clients that reset mid-response" kill -0 "$PID"
same "after all that, /healthz is 200" "$(code "$URL/healthz")" 200

# ---- SIGKILL during revocations ----
# A revocation takes ~50 ms; each is killed after a random 0-60 ms, and the
# server is killed too, as a crash would.
for v in "${VICTIMS[@]}"; do
  "$RUBRICA" cert revoke "${SERIAL[$v]}" --reason key-compromise --data "$DATA" >/dev/null 2>&1 &
  victim=$!
  sleep "0.0$((RANDOM % 6))$((RANDOM % 10))"
  kill -KILL "$victim" 2>/dev/null
  wait "$victim" 2>/dev/null
done
kill -KILL "$PID"
wait "$PID" 2>/dev/null
start_server restarted --data "$DATA" --access-log off
[ -n "$URL" ] || { stop_servers; finish; exit 1; }
curl -s --max-time 10 -o "$WORK/crl.der" "$URL/crl/issuing.crl"
openssl crl -inform DER -in "$WORK/crl.der" -noout -text >"$WORK/crl.txt" 2>&1 ||
  "$RUBRICA" crl --data "$DATA" --ca issuing --pem 2>/dev/null | openssl crl -noout -text >"$WORK/crl.txt"
db() { sqlite3 "$DATA/rubrica.db" "$1"; }
revoked_count=0
for v in "${VICTIMS[@]}"; do
  s=${SERIAL[$v]}
  status=$(db "SELECT status FROM certificates WHERE serial = '$s'")
  events=$(db "SELECT COUNT(*) FROM cert_events WHERE serial = '$s' AND event = 'revoke'")
  audits=$(db "SELECT COUNT(*) FROM audit_log WHERE action = 'cert.revoke' AND object = 'cert:$s'")
  ocsp=$(ocsp_status "$URL" "$v")
  grep -q "Serial Number: $s" "$WORK/crl.txt" && crl=1 || crl=0
  seen="$status events=$events audit=$audits ocsp=$ocsp crl=$crl"
  if [ "$status" = revoked ]; then
    revoked_count=$((revoked_count + 1))
    same "$v killed mid-revocation: all or nothing ($seen)" "$seen" \
      "revoked events=1 audit=1 ocsp=revoked crl=1"
  else
    same "$v killed mid-revocation: all or nothing ($seen)" "$seen" \
      "valid events=0 audit=0 ocsp=good crl=0"
  fi
done
echo "  ($revoked_count of ${#VICTIMS[@]} revocations completed before SIGKILL)"
ok "rubrica audit verify accepts the chain after the kills" "$RUBRICA" audit verify --data "$DATA"
stop_servers

# ---- two responder processes, one PostgreSQL ----
if [ -n "${RUBRICA_TEST_PG:-}" ] && command -v psql >/dev/null; then
  schema=faults_$$_$RANDOM
  psql -q "$RUBRICA_TEST_PG" -c "CREATE SCHEMA $schema" >/dev/null 2>&1
  PG=$(pg_schema_url "$schema")
  PGDATA_DIR=$WORK/pgdata
  ok "init on PostgreSQL" "$RUBRICA" init --data "$PGDATA_DIR" --db "$PG" --jurisdiction PA
  "$RUBRICA" ca cert issuing --data "$PGDATA_DIR" --db "$PG" >"$WORK/issuing.pem" 2>/dev/null
  "$RUBRICA" ca cert root --data "$PGDATA_DIR" --db "$PG" >"$WORK/root.pem" 2>/dev/null
  PGSERIAL=$(issue --data "$PGDATA_DIR" --db "$PG" shared)
  start_server one --data "$PGDATA_DIR" --db "$PG" --access-log off
  URL1=$URL
  start_server two --data "$PGDATA_DIR" --db "$PG" --access-log off
  URL2=$URL
  same "responder 1 says good" "$(ocsp_status "$URL1" shared)" good
  same "responder 2 says good" "$(ocsp_status "$URL2" shared)" good
  ok "revoke through the CLI" "$RUBRICA" cert revoke "$PGSERIAL" --reason superseded \
    --data "$PGDATA_DIR" --db "$PG"
  same "responder 1 says revoked" "$(ocsp_status "$URL1" shared)" revoked
  same "responder 2 says revoked" "$(ocsp_status "$URL2" shared)" revoked
  same "cert show on PostgreSQL: the history ends in the revocation (partial index)" \
    "$("$RUBRICA" cert show "$PGSERIAL" --json --data "$PGDATA_DIR" --db "$PG" |
      jq -r '([.history[].event] | join(",")) + " " + .history[-1].detail.reason')" \
    "issue,revoke superseded"
  stop_servers
  psql -q "$RUBRICA_TEST_PG" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
else
  skip "a PostgreSQL server (RUBRICA_TEST_PG) for the shared-responder check"
fi
finish
