#!/usr/bin/env bash
# `rubrica bench issue` still runs and prints its lines: a tiny run (no
# timing is judged here; the benchmark is for people), whose certificates are
# real ones that `openssl verify` accepts, and the refusals of a used work
# directory and of --db.
. "$(dirname "$0")/../lib/common.sh"

B=$WORK/bench
said() { grep -qF -- "$2" "$WORK/last.out"; _record $? "$1"; }

ok "a small run, with a prefilled store" "$RUBRICA" bench issue --count 40 --rounds 3 --batch 16 \
  --prefill 300 --openssl-sample 3 --work-dir "$B"
cp "$WORK/last.out" "$WORK/bench.out"
for line in '^rubrica: [0-9]+ certificates/s \(median of 3 rounds of 40 certificates' \
  '^openssl ca: [0-9]+ certificates/s \(3 certificates\)$' '^ratio: [0-9.]+x$' \
  '^rubrica with 300 certificates already stored: [0-9]+ certificates/s \(median of 3 rounds; [0-9]+% of'; do
  grep -qE "$line" "$WORK/bench.out"
  _record $? "prints a line matching /$line/"
done
same "six rounds measured, three per store" "$(grep -c '^round [1-3], ' "$WORK/bench.out")" 6

db() { sqlite3 "$B/$1/rubrica.db" "$2"; }
# Both stores also hold the provider's OCSP and TSA certificates from init.
same "the empty store holds what its rounds issued" \
  "$(db empty "SELECT count(*) FROM certificates WHERE profile = 'natural-person'")" 120
same "the prefilled store holds the prefill, the sample and its rounds" \
  "$(db prefilled "SELECT count(*) FROM certificates WHERE profile = 'natural-person'")" 421
same "every issued certificate has its issuance event" \
  "$(db empty "SELECT count(*) FROM cert_events WHERE event = 'issue'")" \
  "$(db empty "SELECT count(*) FROM certificates")"
ok "the audit chain of the prefilled store verifies" "$RUBRICA" audit verify --data "$B/prefilled"

# The last certificate issued into the empty store, checked by openssl against its CA chain.
db empty "SELECT writefile('$WORK/leaf.der', der) FROM certificates ORDER BY issued_ms DESC LIMIT 1" \
  >/dev/null
openssl x509 -inform DER -in "$WORK/leaf.der" -out "$WORK/leaf.pem"
"$RUBRICA" ca cert root --data "$B/empty" >"$WORK/root.pem"
"$RUBRICA" ca cert issuing --data "$B/empty" >"$WORK/issuing.pem"
ok "openssl verify accepts a benchmark certificate" openssl verify -CAfile "$WORK/root.pem" \
  -untrusted "$WORK/issuing.pem" "$WORK/leaf.pem"

fails "a used work directory is refused" "$RUBRICA" bench issue --count 2 --rounds 1 \
  --openssl-sample 0 --work-dir "$B"
said "... saying so" "$B"
fails "--db is refused" "$RUBRICA" bench issue --count 2 --rounds 1 --openssl-sample 0 \
  --work-dir "$WORK/other" --db "sqlite:$WORK/x.db"

finish
