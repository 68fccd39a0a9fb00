#!/usr/bin/env bash
# OCSP requests per second: `rubrica serve` against `openssl ocsp -port`
# (what an operator would otherwise run), on the same certificate, with 1 and
# 64 keep-alive connections, measured with wrk POSTing one DER request without
# a nonce (the RFC 5019 form); openssl is driven by a one-connection-per-
# request client (see rate_close). Prints both figures and the ratio.
# The one-connection case runs twice: as the scheduler places client and
# server, and with both on one CPU (see the note at the end).
#   bench/ocsp_bench.sh [seconds per run, default 10]
# RUBRICA names the binary (default build/rubrica). Needs wrk and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=ocsp-bench
. bench/lib.sh

"$RUBRICA" init --data "$DATA" --jurisdiction PA >/dev/null
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem"
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem"
"$RUBRICA" ca cert ocsp --data "$DATA" >"$WORK/ocsp.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/leaf.key" \
  -subj "/CN=bench" -out "$WORK/leaf.csr" 2>/dev/null
"$RUBRICA" cert issue --data "$DATA" --csr "$WORK/leaf.csr" --profile natural-person \
  --set given_name=Ana --set surname=Bench --set id_type=pa-cedula --set id_number=8-123-456 \
  --out "$WORK/leaf.pem" >/dev/null

# The same responder key for openssl, decrypted into the scratch directory.
key_ref=$(sqlite3 "$DATA/rubrica.db" "SELECT key_ref FROM authorities WHERE role = 'ocsp'")
key_file=${key_ref#file:}
[ "${key_file#/}" != "$key_file" ] || key_file=$DATA/$key_file
openssl pkey -in "$key_file" -passin env:RUBRICA_KEY_PASS -out "$WORK/ocsp.key"
serial=$(openssl x509 -in "$WORK/leaf.pem" -noout -serial | cut -d= -f2)
expiry=$(date -u -d "+1 year" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t%s\tunknown\t/CN=bench\n' "$expiry" "$serial" >"$WORK/index.txt"

openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/leaf.pem" -no_nonce \
  -reqout "$WORK/req.der" >/dev/null 2>&1
cat >"$WORK/post.lua" <<'EOF'
local f = io.open(os.getenv("OCSP_REQ"), "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The access log stays on (the default): it is part of the cost of a request.
"$RUBRICA" serve --data "$DATA" --listen 127.0.0.1:0 --access-log "$WORK/access.log" \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q serving "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
RB_URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out")/ocsp"

OS_PORT=$(free_port)
openssl ocsp -index "$WORK/index.txt" -port "$OS_PORT" -rsigner "$WORK/ocsp.pem" \
  -rkey "$WORK/ocsp.key" -CA "$WORK/issuing.pem" -ndays 1 >"$WORK/openssl.out" 2>&1 &
PIDS+=($!)
sleep 0.5
OS_URL="http://127.0.0.1:$OS_PORT/"

# Both must answer "good" before they are timed.
for url in "$RB_URL" "$OS_URL"; do
  openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/leaf.pem" -url "$url" \
    -CAfile "$WORK/root.pem" -no_nonce 2>&1 | grep -q ": good" ||
    { echo "ocsp_bench: $url does not answer good" >&2; exit 1; }
done

rate() { # url connections
  local threads=$(($2 < 2 ? 1 : 2))
  OCSP_REQ=$WORK/req.der wrk -t"$threads" -c"$2" -d"${SECONDS_PER_RUN}s" -s "$WORK/post.lua" "$1" |
    awk '/Requests\/sec/ {printf "%d", $2}'
}

# openssl ocsp answers HTTP/1.0 and closes each connection, and OpenSSL 3.0's
# responder spins on a connection wrk closes (wrk gets no answer at all, even
# with Connection: close; ab fails at 64 connections), so it is driven by a
# small client that opens one connection per request (what its clients do
# anyway). That client, in Python, is itself part of the limit.
rate_close() { # url connections
  python3 - "$1" "$2" "$SECONDS_PER_RUN" "$WORK/req.der" <<'PY'
import http.client, sys, threading, time, urllib.parse
url, conns, secs, body = urllib.parse.urlparse(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), open(sys.argv[4], "rb").read()
done, stop = [0] * conns, time.time() + secs
def run(i):
    while time.time() < stop:
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        c.request("POST", url.path or "/", body, {"Content-Type": "application/ocsp-request"})
        if c.getresponse().read():
            done[i] += 1
        c.close()
ts = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
start = time.time()
[t.start() for t in ts]; [t.join() for t in ts]
print(int(sum(done) / (time.time() - start)), end="")
PY
}

# pin PID CPUS: moves a server (all its threads) to CPUS.
pin() { taskset -a -p -c "$2" "$1" >/dev/null; }
RB_PID=${PIDS[0]} OS_PID=${PIDS[1]}
ALL_CPUS=0-$(($(nproc) - 1))

report() { # label rubrica-rate openssl-rate
  echo "$1:"
  echo "  rubrica: $2 responses/s (wrk, keep-alive)"
  echo "  openssl: $3 responses/s (openssl ocsp -port, one connection per request)"
  printf '  ratio:   %.1fx\n' "$(echo "$2 / ($3 + 0.0001)" | bc -l)"
}

echo "OCSP responses/s, one pre-signed certificate, POST without nonce, ${SECONDS_PER_RUN}s per run"
for c in 1 64; do
  report "connections $c" "$(rate "$RB_URL" "$c")" "$(rate_close "$OS_URL" "$c")"
done
# On one connection each request waits for the previous answer, so the rate is
# bounded by two cross-CPU wake-ups per request; in a VM whose idle CPUs halt
# (no guest halt-polling) a wake-up costs tens of microseconds. With client and
# server on the same CPU the wake-ups stay local and the server's own cost shows.
pin "$RB_PID" 0; pin "$OS_PID" 0
report "connections 1, client and server on one CPU" \
  "$(taskset -c 0 bash -c "$(declare -f rate); WORK='$WORK' SECONDS_PER_RUN=$SECONDS_PER_RUN rate '$RB_URL' 1")" \
  "$(taskset -c 0 bash -c "$(declare -f rate_close); WORK='$WORK' SECONDS_PER_RUN=$SECONDS_PER_RUN rate_close '$OS_URL' 1")"
pin "$RB_PID" "$ALL_CPUS"; pin "$OS_PID" "$ALL_CPUS"
