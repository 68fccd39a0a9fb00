#!/usr/bin/env bash
# `rubrica serve` with the time-stamping unit, checked with independent tools:
# openssl ts makes the query and verifies the reply, curl speaks HTTP. Also
# the limits (404, 405, 413, 415, truncated query), /healthz, /metrics, and a
# clean stop on SIGTERM.
set -u
. "$(dirname "$0")/../lib/common.sh"

DATA=$WORK/data
trap stop_server EXIT

ok "init a PE provider" "$RUBRICA" init --data "$DATA" --jurisdiction PE
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert tsa --data "$DATA" >"$WORK/tsa.pem" 2>/dev/null

start_serve --data "$DATA"
# The maintenance thread's first pass has the TSA time-stamp the audit log's
# head (the log holds init's records and has no checkpoint yet): one token
# before any client's. Waiting for it keeps the counts below exact.
for _ in $(seq 100); do
  [ "$(sqlite3 "$DATA/rubrica.db" 'SELECT COUNT(*) FROM audit_checkpoint')" = 1 ] && break
  sleep 0.1
done
same "serve checkpoints the audit log at start" \
  "$(sqlite3 "$DATA/rubrica.db" 'SELECT COUNT(*) FROM audit_checkpoint')" 1
contains "serve prints its URL and the TSA path" "TSA /tsa" cat "$WORK/serve.out"
[ -n "$URL" ] || { stop_server; finish; exit 1; }

echo "document to stamp" >"$WORK/doc.txt"
stamp() { # query-file reply-file [content-type]
  curl -s -o "$2" -w '%{http_code}' --data-binary @"$1" \
    -H "Content-Type: ${3:-application/timestamp-query}" "$URL/tsa"
}
openssl ts -query -data "$WORK/doc.txt" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null
same "POST /tsa answers 200" "$(stamp "$WORK/q.tsq" "$WORK/r.tsr")" 200
ok "openssl ts -verify accepts the token" openssl ts -verify -queryfile "$WORK/q.tsq" \
  -in "$WORK/r.tsr" -CAfile "$WORK/root.pem" -untrusted "$WORK/tsa.pem"
contains "the token names the TSA policy" "Policy OID: 2.999.1.8" \
  openssl ts -reply -in "$WORK/r.tsr" -text
ok "a piped query verifies too" bash -c "openssl ts -query -data '$WORK/doc.txt' -sha512 -cert \
  2>/dev/null | tee '$WORK/q2.tsq' | curl -sf --data-binary @- -H 'Content-Type: application/timestamp-query' \
  '$URL/tsa' -o '$WORK/r2.tsr' && openssl ts -verify -queryfile '$WORK/q2.tsq' -in '$WORK/r2.tsr' \
  -CAfile '$WORK/root.pem' -untrusted '$WORK/tsa.pem'"

openssl ts -query -data "$WORK/doc.txt" -sha1 -out "$WORK/sha1.tsq" 2>/dev/null
stamp "$WORK/sha1.tsq" "$WORK/sha1.tsr" >/dev/null
contains "a SHA-1 query is rejected with badAlg" "Failure info: unrecognized or unsupported algorithm" \
  openssl ts -reply -in "$WORK/sha1.tsr" -text
head -c 20 "$WORK/q.tsq" >"$WORK/short.tsq"
same "a truncated query gets an answer, not a crash" "$(stamp "$WORK/short.tsq" "$WORK/short.tsr")" 200
contains "a truncated query is rejected with badDataFormat" "Failure info: the data submitted has the wrong format" \
  openssl ts -reply -in "$WORK/short.tsr" -text
same "a wrong content type gets 415" "$(stamp "$WORK/q.tsq" /dev/null text/plain)" 415
head -c 1100000 /dev/zero >"$WORK/big"
same "a body over 1 MiB gets 413" "$(stamp "$WORK/big" /dev/null)" 413
same "GET /tsa gets 405" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/tsa")" 405
same "an unknown path gets 404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/no/such/thing")" 404
contains "404 is a JSON error" '"code":"not_found"' curl -s "$URL/no/such/thing"
same "GET /healthz is 200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 200
curl -s "$URL/metrics" >"$WORK/metrics"
contains "metrics count TSA requests" 'rubrica_http_requests_total{route="/tsa",code="200"} 4' \
  cat "$WORK/metrics"
contains "metrics count tokens (two clients', one checkpoint's)" 'rubrica_tsa_tokens_total 3' \
  cat "$WORK/metrics"
contains "metrics have a latency histogram" 'rubrica_http_request_duration_seconds_bucket' \
  cat "$WORK/metrics"
same "tokens are recorded" "$(sqlite3 "$DATA/rubrica.db" 'SELECT COUNT(*) FROM tsa_tokens')" 3
contains "the access log has one line per request" '"POST /tsa HTTP/1.1" 200' cat "$WORK/serve.err"

# A request in flight when SIGTERM arrives: its client has sent the headers
# and half the query; the rest comes after the signal. The server stops
# accepting, but finishes this request before it exits.
python3 - "${URL#http://}" "$WORK/q.tsq" >"$WORK/inflight.tsr" 2>"$WORK/inflight.err" <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split(":")
query = open(sys.argv[2], "rb").read()
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /tsa HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
          b"Content-Type: application/timestamp-query\r\n"
          b"Content-Length: %d\r\n\r\n" % len(query) + query[:len(query) // 2])
time.sleep(1.0)
s.sendall(query[len(query) // 2:])
reply = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
head, _, body = reply.partition(b"\r\n\r\n")
sys.stderr.write(head.split(b"\r\n")[0].decode() + "\n")
sys.stdout.buffer.write(body)
PY
CLIENT=$!
sleep 0.4
kill -TERM "$SERVER_PID"
sleep 0.2
same "after SIGTERM, new connections are refused" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 000
wait "$CLIENT"
contains "the request in flight at SIGTERM still gets 200" "HTTP/1.1 200" cat "$WORK/inflight.err"
ok "... and its token verifies" openssl ts -verify -queryfile "$WORK/q.tsq" \
  -in "$WORK/inflight.tsr" -CAfile "$WORK/root.pem" -untrusted "$WORK/tsa.pem"
wait "$SERVER_PID"
same "SIGTERM stops the server with exit 0" "$?" 0
SERVER_PID=
same "... and the in-flight token was recorded before the exit" \
  "$(sqlite3 "$DATA/rubrica.db" 'SELECT COUNT(*) FROM tsa_tokens')" 4
finish
