#!/usr/bin/env bash
# Time-stamp tokens per second: `rubrica serve` (P-256 TSA key, every token
# recorded durably before it is sent) against what an operator would
# otherwise run, a loop of `openssl ts -reply` with the same key, certificate
# and query. Rúbrica is driven by wrk with 1 and 64 keep-alive connections;
# openssl by one loop, and by one loop per core beside the 64-connection run.
# Prints both figures and the ratio, and the mean group size of the record
# writer (tokens per commit).
#   bench/tsa_bench.sh [seconds per run, default 10]
# RUBRICA names the binary (default build/rubrica). Needs wrk (installed when missing) and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=tsa-bench
. bench/lib.sh

"$RUBRICA" init --data "$DATA" --jurisdiction PE --key-type ec-p256 >/dev/null
"$RUBRICA" ca cert tsa --data "$DATA" >"$WORK/tsa.pem"
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem"
openssl x509 -in "$WORK/tsa.pem" -noout -text | grep -q 'ASN1 OID: prime256v1' ||
  { echo "tsa_bench: the TSA key is not P-256" >&2; exit 1; }

# The same TSA key for openssl, decrypted into the scratch directory.
key_ref=$(sqlite3 "$DATA/rubrica.db" "SELECT key_ref FROM authorities WHERE role = 'tsa'")
key_file=${key_ref#file:}
[ "${key_file#/}" != "$key_file" ] || key_file=$DATA/$key_file
openssl pkey -in "$key_file" -passin env:RUBRICA_KEY_PASS -out "$WORK/tsa.key"
cat >"$WORK/ts.cnf" <<EOF
[ tsa ]
default_tsa = bench
[ bench ]
serial = $WORK/serial
crypto_device = builtin
signer_cert = $WORK/tsa.pem
certs = $WORK/issuing.pem
signer_key = $WORK/tsa.key
signer_digest = sha256
default_policy = 2.999.1.8
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF
echo 01 >"$WORK/serial"

echo "document to stamp" >"$WORK/doc.txt"
openssl ts -query -data "$WORK/doc.txt" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null
cat >"$WORK/post.lua" <<'EOF'
local f = io.open(os.getenv("TSA_QUERY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/timestamp-query"
EOF

# The access log stays on (the default): it is part of the cost of a request.
"$RUBRICA" serve --data "$DATA" --listen 127.0.0.1:0 --access-log "$WORK/access.log" \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q serving "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out")

# Both must grant a token that verifies before they are timed.
curl -sf --data-binary @"$WORK/q.tsq" -H 'Content-Type: application/timestamp-query' \
  -o "$WORK/rb.tsr" "$BASE/tsa"
openssl ts -reply -queryfile "$WORK/q.tsq" -inkey "$WORK/tsa.key" -signer "$WORK/tsa.pem" \
  -config "$WORK/ts.cnf" -out "$WORK/os.tsr" 2>/dev/null
for reply in rb os; do
  openssl ts -verify -queryfile "$WORK/q.tsq" -in "$WORK/$reply.tsr" -CAfile "$WORK/issuing.pem" \
    -partial_chain -untrusted "$WORK/tsa.pem" >/dev/null 2>&1 ||
    { echo "tsa_bench: the $reply token does not verify" >&2; exit 1; }
done

rate() { # connections
  local threads=$(($1 < 2 ? 1 : 2))
  TSA_QUERY=$WORK/q.tsq wrk -t"$threads" -c"$1" -d"${SECONDS_PER_RUN}s" -s "$WORK/post.lua" \
    "$BASE/tsa" | awk '/Requests\/sec/ {printf "%d", $2}'
}

# Loops of openssl ts -reply for the same time, one per lane; prints tokens/s.
openssl_rate() { # lanes
  local lanes=$1 end=$((SECONDS + SECONDS_PER_RUN)) start
  start=$(date +%s.%N)
  for lane in $(seq "$lanes"); do
    (
      n=0
      while [ "$SECONDS" -lt "$end" ]; do
        openssl ts -reply -queryfile "$WORK/q.tsq" -inkey "$WORK/tsa.key" -signer "$WORK/tsa.pem" \
          -config "$WORK/ts.cnf" -out /dev/null 2>/dev/null && n=$((n + 1))
      done
      echo "$n" >"$WORK/lane.$lane"
    ) &
  done
  wait
  cat "$WORK"/lane.* | awk -v s="$start" -v e="$(date +%s.%N)" '{n += $1} END {printf "%d", n / (e - s)}'
  rm -f "$WORK"/lane.*
}

metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

echo "TSA tokens/s, P-256 key, SHA-256 query with nonce and certReq, ${SECONDS_PER_RUN}s per run"
cores=$(nproc)
for c in 1 64; do
  tokens0=$(metric rubrica_tsa_tokens_total)
  commits0=$(metric rubrica_tsa_record_commits_total)
  rb=$(rate "$c")
  tokens=$(($(metric rubrica_tsa_tokens_total) - tokens0))
  commits=$(($(metric rubrica_tsa_record_commits_total) - commits0))
  lanes=$([ "$c" -eq 1 ] && echo 1 || echo "$cores")
  os=$(openssl_rate "$lanes")
  echo "connections $c:"
  echo "  rubrica: $rb tokens/s (records: $tokens tokens in $commits commits, $((tokens / (commits > 0 ? commits : 1))) per commit)"
  echo "  openssl: $os tokens/s ($lanes openssl ts -reply loop(s); no durable record)"
  printf '  ratio:   %.1fx\n' "$(echo "$rb / ($os + 0.0001)" | bc -l)"
done
