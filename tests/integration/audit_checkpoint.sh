#!/usr/bin/env bash
# Signed audit checkpoints: `rubrica audit checkpoint` has the provider's TSA
# time-stamp the chain head; `openssl ts -verify` accepts the exported token
# for the head hash that sqlite3 reads from the row. On copies of the store
# tampered with by sqlite3 and Python, `audit verify` catches what the hash
# chain alone cannot: records cut off the end, and the whole chain rewritten
# with valid hashes (recomputed independently in Python); and a checkpoint
# whose fixed hash or token was altered. `rubrica serve` makes checkpoints
# on its own every --checkpoint-interval.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

export RUBRICA_KEY_PASS=checkpoint-test-passphrase
data=$WORK/data
trap stop_server EXIT
db() { sqlite3 "$1/rubrica.db" "$2"; }

# tampered NAME SQL: a fresh copy of the data directory with SQL applied by sqlite3.
tampered() {
  local dir=$WORK/$1
  rm -rf "$dir" && cp -r "$data" "$dir" && db "$dir" "$2" >/dev/null && echo "$dir"
}

# broken_as DESC PROBLEM DIR [ARGS...]: verify --json on DIR exits 1 and names PROBLEM.
broken_as() {
  local desc=$1 problem=$2 dir=$3 out
  shift 3
  out=$("$RUBRICA" audit verify --data "$dir" "$@" --json 2>/dev/null)
  [ $? -eq 1 ] && [ "$(jq -r .problem <<<"$out")" = "$problem" ]
  _record $? "$desc"
}

ok "init a PE provider" "$RUBRICA" init --data "$data"
contains "before any checkpoint, verify says there is none" "no signed checkpoint yet" \
  "$RUBRICA" audit verify --data "$data"
"$RUBRICA" audit checkpoint --data "$data" --json >"$WORK/cp.json" 2>"$WORK/cp.err"
same "audit checkpoint exits 0" "$?" 0
SEQ=$(jq -r .seq "$WORK/cp.json")
HEAD=$(jq -r .head "$WORK/cp.json")
same "it fixes the head record, whose hash sqlite3 reads from the row" \
  "$HEAD" "$(db "$data" "SELECT lower(hex(hash)) FROM audit_log WHERE seq = $SEQ")"
same "... which was the newest record then" "$SEQ" "$(db "$data" "SELECT max(seq) - 1 FROM audit_log")"
same "the checkpoint is itself in the audit log" \
  "$(db "$data" "SELECT action || ' ' || object FROM audit_log ORDER BY seq DESC LIMIT 1")" \
  "audit.checkpoint audit:$SEQ"
contains "a second checkpoint with nothing new logged makes none" "nothing to checkpoint" \
  "$RUBRICA" audit checkpoint --data "$data"
same "... and writes nothing" "$(db "$data" "SELECT COUNT(*) FROM audit_checkpoint")" 1

echo "-- the token, checked by openssl"
ok "checkpoints --token writes the RFC 3161 token" \
  "$RUBRICA" audit checkpoints --data "$data" --token "$SEQ" --out "$WORK/token.der"
"$RUBRICA" ca cert root --data "$data" >"$WORK/root.pem"
{ "$RUBRICA" ca cert tsa --data "$data"; "$RUBRICA" ca cert issuing --data "$data"; } >"$WORK/untrusted.pem"
contains "openssl ts -verify accepts it for the head hash" "Verification: OK" \
  openssl ts -verify -digest "$HEAD" -in "$WORK/token.der" -token_in \
  -CAfile "$WORK/root.pem" -untrusted "$WORK/untrusted.pem"
OTHER=$(printf '%064x' 7)
contains "... and refuses it for any other hash" "Verification: FAILED" \
  openssl ts -verify -digest "$OTHER" -in "$WORK/token.der" -token_in \
  -CAfile "$WORK/root.pem" -untrusted "$WORK/untrusted.pem"
contains "the token's imprint is SHA-256" "Hash Algorithm: sha256" \
  openssl ts -reply -in "$WORK/token.der" -token_in -token_out -text
fails "a checkpoint that does not exist has no token" \
  "$RUBRICA" audit checkpoints --data "$data" --token 999 --out "$WORK/none.der"

echo "-- verify with checkpoints"
for who in ana luis; do
  "$RUBRICA" audit record --data "$data" --action test.note --object "person:$who" >/dev/null 2>&1
done
contains "verify: the checkpoint verifies, two records after it" \
  "1 signed checkpoints verify; the newest fixes record $SEQ" "$RUBRICA" audit verify --data "$data"
contains "... records after it: 3 (its own record and two notes)" "records after it: 3" \
  "$RUBRICA" audit verify --data "$data"

dir=$(tampered truncated "DELETE FROM audit_log WHERE seq >= $SEQ")
# chain_links DIR: every record's prev_hash is the hash of the record before (Python).
chain_links() {
  python3 - "$1/rubrica.db" <<'EOF'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
prev = bytes(32)
for link, own in rows:
    assert bytes(link) == prev
    prev = bytes(own)
EOF
}
ok "records cut off the end: the rest of the chain still links (Python)" chain_links "$dir"
broken_as "... but verify reports the log truncated" truncated "$dir"
contains "... naming the record the checkpoint fixed" "fixed record $SEQ" \
  "$RUBRICA" audit verify --data "$dir"

dir=$(tampered fixed-hash "UPDATE audit_checkpoint SET head_hash = zeroblob(32)")
broken_as "a checkpoint whose fixed hash was changed does not verify" bad-checkpoint "$dir"
dir=$(tampered token "UPDATE audit_checkpoint SET signature ="\
" substr(signature, 1, length(signature) - 40) || X'00' || substr(signature, length(signature) - 38)")
broken_as "a checkpoint whose token was altered does not verify" bad-checkpoint "$dir"

# Rewrite record 2's detail and every later record's hash and link, as
# someone with write access to the database could: the chain is consistent
# again, and only the checkpoint's token can tell.
dir=$(tampered rewritten "PRAGMA user_version")
python3 - "$dir/rubrica.db" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT seq, at_ms, actor, action, object, detail FROM audit_log ORDER BY seq").fetchall()
prev = bytes(32)
for seq, at, actor, action, obj, detail in rows:
    if seq == 2:
        detail = '{"rewritten":true}'
    h = hashlib.sha256()
    for field in (b"rubrica-audit-v1", at.to_bytes(8, "big"), actor.encode(), action.encode(),
                  obj.encode(), detail.encode(), prev):
        h.update(len(field).to_bytes(8, "big") + field)
    db.execute("UPDATE audit_log SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?",
               (detail, prev, h.digest(), seq))
    prev = h.digest()
db.commit()
EOF
ok "... the rewritten chain links (Python)" chain_links "$dir"
broken_as "the chain rewritten with valid hashes (Python): verify reports it rewritten" \
  rewritten "$dir"
contains "... at the record the checkpoint fixed" "BROKEN at record $SEQ" \
  "$RUBRICA" audit verify --data "$dir"
# A subscriber who obtained a certificate of the 'tsa' profile from this CA
# signs a token over the head with openssl ts -reply and stores it as a
# checkpoint: it chains to the root and openssl accepts it, but it is not
# the provider's TSA.
dir=$(tampered forged "PRAGMA user_version")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/evil.key" \
  -subj /CN=evil -out "$WORK/evil.csr" 2>/dev/null
ok "a subscriber gets a certificate of the tsa profile" \
  "$RUBRICA" cert issue --data "$dir" --csr "$WORK/evil.csr" --profile tsa \
  --set organization="Sellos Falsos SAC" --set common_name="Falso TSA" --out "$WORK/evil.pem"
FSEQ=$(db "$dir" "SELECT max(seq) FROM audit_log")
FHEAD=$(db "$dir" "SELECT lower(hex(hash)) FROM audit_log WHERE seq = $FSEQ")
printf '[tsa]\ndefault_tsa = t\n[t]\nserial = %s\nsigner_digest = sha256\ndefault_policy = 1.2.3.4\ndigests = sha256\ness_cert_id_alg = sha256\ness_cert_id_chain = no\n' \
  "$WORK/evil.serial" >"$WORK/evil.cnf"
echo 01 >"$WORK/evil.serial"
openssl ts -query -digest "$FHEAD" -sha256 -cert -out "$WORK/evil.tsq" 2>/dev/null
openssl ts -reply -queryfile "$WORK/evil.tsq" -config "$WORK/evil.cnf" -signer "$WORK/evil.pem" \
  -inkey "$WORK/evil.key" -chain "$WORK/untrusted.pem" -token_out -out "$WORK/evil.tok" 2>/dev/null
contains "openssl ts -verify accepts the subscriber's token (it chains to the root)" \
  "Verification: OK" openssl ts -verify -digest "$FHEAD" -in "$WORK/evil.tok" -token_in \
  -CAfile "$WORK/root.pem" -untrusted "$WORK/untrusted.pem"
db "$dir" "INSERT INTO audit_checkpoint (seq, head_hash, at_ms, signer, signature)
  VALUES ($FSEQ, X'$FHEAD', 1795000000000, 'tsa', readfile('$WORK/evil.tok'))"
broken_as "... but stored as a checkpoint it is refused" bad-checkpoint "$dir"
contains "... as not signed by the provider's TSA" "not signed by the TSA 'tsa'" \
  "$RUBRICA" audit verify --data "$dir"
# Whoever can write the store can also add their certificate as a TSA
# authority and name it as the signer; a TSA certificate kept outside the
# store (--tsa-cert) is what such a store cannot change.
openssl x509 -in "$WORK/evil.pem" -outform DER -out "$WORK/evil.der"
db "$dir" "INSERT INTO authorities (name, role, issuer, key_ref, subject, serial, not_before_ms,
  not_after_ms, created_ms, cert_der) VALUES ('sellos', 'tsa', 'issuing', 'none', 'CN=Falso TSA',
  '01', 0, 4102444800000, 0, readfile('$WORK/evil.der'));
  UPDATE audit_checkpoint SET signer = 'sellos' WHERE seq = $FSEQ"
"$RUBRICA" ca cert tsa --data "$data" >"$WORK/tsa.pem"
broken_as "with the forger's certificate added as a TSA authority, --tsa-cert still refuses it" \
  bad-checkpoint "$dir" --tsa-cert "$WORK/tsa.pem"
contains "... its token does not verify against the given TSA certificate" \
  "time-stamp token does not verify" \
  "$RUBRICA" audit verify --data "$dir" --tsa-cert "$WORK/tsa.pem"
ok "the untouched store verifies with --tsa-cert" \
  "$RUBRICA" audit verify --data "$data" --tsa-cert "$WORK/tsa.pem"
fails "--tsa-cert with a file that holds no certificate is refused" \
  "$RUBRICA" audit verify --data "$data" --tsa-cert "$WORK/evil.key"
ok "the untouched store still verifies" "$RUBRICA" audit verify --data "$data"

echo "-- rubrica serve makes checkpoints on its own"
before=$(db "$data" "SELECT COUNT(*) FROM audit_checkpoint")
start_serve --data "$data" --maintenance-interval 1 --checkpoint-interval 1 --access-log off
"$RUBRICA" audit record --data "$data" --action test.note --object person:eva >/dev/null 2>&1
for _ in $(seq 50); do
  [ "$(db "$data" "SELECT COUNT(*) FROM audit_checkpoint")" -gt "$before" ] && break
  sleep 0.2
done
stop_server
wait 2>/dev/null
[ "$(db "$data" "SELECT COUNT(*) FROM audit_checkpoint")" -gt "$before" ]
_record $? "a new checkpoint after activity, within seconds"
same "... made by the maintenance thread" \
  "$(db "$data" "SELECT actor FROM audit_log WHERE action = 'audit.checkpoint' ORDER BY seq DESC LIMIT 1")" \
  "serve:maintenance"
ok "verify accepts every checkpoint" "$RUBRICA" audit verify --data "$data"
same "... and counts them all" "$("$RUBRICA" audit verify --data "$data" --json | jq .checkpoints)" \
  "$(db "$data" "SELECT COUNT(*) FROM audit_checkpoint")"

echo "-- on PostgreSQL"
if [ -n "${RUBRICA_TEST_PG:-}" ] && command -v psql >/dev/null; then
  schema=checkpoint_$$_$RANDOM
  psql -q "$RUBRICA_TEST_PG" -c "CREATE SCHEMA $schema" >/dev/null 2>&1
  PG=$(pg_schema_url "$schema")
  pgdata=$WORK/pgdata
  ok "init on PostgreSQL" "$RUBRICA" init --data "$pgdata" --db "$PG"
  "$RUBRICA" audit checkpoint --data "$pgdata" --db "$PG" --json >"$WORK/pg.json" 2>&1
  PGSEQ=$(jq -r .seq "$WORK/pg.json")
  same "the checkpoint fixes the head hash psql reads" "$(jq -r .head "$WORK/pg.json")" \
    "$(psql -qtA "$PG" -c "SELECT encode(hash, 'hex') FROM audit_log WHERE seq = $PGSEQ")"
  "$RUBRICA" audit checkpoints --data "$pgdata" --db "$PG" --token "$PGSEQ" --out "$WORK/pg.der"
  "$RUBRICA" ca cert root --data "$pgdata" --db "$PG" >"$WORK/pgroot.pem"
  { "$RUBRICA" ca cert tsa --data "$pgdata" --db "$PG"
    "$RUBRICA" ca cert issuing --data "$pgdata" --db "$PG"; } >"$WORK/pguntrusted.pem"
  contains "openssl ts -verify accepts its token" "Verification: OK" \
    openssl ts -verify -digest "$(jq -r .head "$WORK/pg.json")" -in "$WORK/pg.der" -token_in \
    -CAfile "$WORK/pgroot.pem" -untrusted "$WORK/pguntrusted.pem"
  ok "verify with the checkpoint on PostgreSQL" "$RUBRICA" audit verify --data "$pgdata" --db "$PG"
  psql -q "$PG" -c "DELETE FROM audit_log WHERE seq >= $PGSEQ" >/dev/null 2>&1
  broken_as "records cut off the end on PostgreSQL: truncated" truncated "$pgdata" --db "$PG"
  psql -q "$RUBRICA_TEST_PG" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
else
  skip "a PostgreSQL server (RUBRICA_TEST_PG) for checkpoints on PostgreSQL"
fi

contains "rubrica --help lists the audit verbs from the audit table" \
  "the hash-chained audit log: verify, checkpoint, checkpoints, list, record" "$RUBRICA" --help

finish
