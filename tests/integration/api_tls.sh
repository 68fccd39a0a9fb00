#!/usr/bin/env bash
# TLS client certificates and the failed-authentication limiter of the API,
# checked from outside with openssl, curl and sqlite3: over HTTPS started with
# --tls-client-ca, a certificate registered to a user authenticates only if it
# chains to the client CAs, is within validity and, when Rúbrica issued it, is
# neither revoked nor suspended; each refusal is a 401 naming why, is audited,
# and changes nothing else. A client that keeps failing gets 429 with
# Retry-After, untouched store, and one api.throttled record per block.
set -u
. "$(dirname "$0")/../lib/common.sh"

DATA=$WORK/data
DB=$DATA/rubrica.db
SERVER_PID=
stop_server() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}
trap stop_server EXIT

ok "init a PA provider" "$RUBRICA" init --data "$DATA" --jurisdiction PA
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem" 2>/dev/null

# ---- a client CA and its certificates, made with openssl ----
genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/$1.key" 2>/dev/null; }
csr() { genkey "$1"; openssl req -new -key "$WORK/$1.key" -subj "/CN=$1" -out "$WORK/$1.csr" 2>/dev/null; }
genkey clientca
openssl req -x509 -key "$WORK/clientca.key" -out "$WORK/clientca.crt" -subj "/CN=Rubrica test client CA" \
  -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
mkdir -p "$WORK/ca/new"
: >"$WORK/ca/index.txt"
echo 1000 >"$WORK/ca/serial"
cat >"$WORK/ca/openssl.cnf" <<EOF
[ca]
default_ca = cca
[cca]
database = $WORK/ca/index.txt
new_certs_dir = $WORK/ca/new
serial = $WORK/ca/serial
default_md = sha256
policy = anything
unique_subject = no
x509_extensions = client
[anything]
commonName = supplied
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
EOF
# sign NAME START END [EXTENSIONS]: a certificate for NAME's CSR from the client CA
sign() {
  openssl ca -batch -notext -config "$WORK/ca/openssl.cnf" -cert "$WORK/clientca.crt" \
    -keyfile "$WORK/clientca.key" -in "$WORK/$1.csr" -out "$WORK/$1.crt" -startdate "$2" \
    -enddate "$3" -extensions "${4:-client}" >/dev/null 2>&1
}
NOW=$(date -u +%Y%m%d%H%M%SZ)
LATER=$(date -u -d '+2 days' +%Y%m%d%H%M%SZ)
for n in good expired early server unregistered; do csr $n; done
sign good "$NOW" "$LATER"
sign unregistered "$NOW" "$LATER"
sign server "$NOW" "$LATER" server
sign expired 20200101000000Z 20200201000000Z
sign early 20991201000000Z 20991231000000Z
ok "openssl verifies the good client certificate against the client CA" \
  openssl verify -purpose sslclient -CAfile "$WORK/clientca.crt" "$WORK/good.crt"
contains "openssl says the expired one has expired" "certificate has expired" \
  openssl verify -CAfile "$WORK/clientca.crt" "$WORK/expired.crt"
# A self-signed certificate (not from any client CA) and the server's own.
genkey stranger
openssl req -x509 -key "$WORK/stranger.key" -out "$WORK/stranger.crt" -subj "/CN=stranger" -days 2 \
  -addext extendedKeyUsage=clientAuth 2>/dev/null
genkey server_tls
openssl req -x509 -key "$WORK/server_tls.key" -out "$WORK/server_tls.crt" -subj "/CN=127.0.0.1" \
  -days 2 -addext subjectAltName=IP:127.0.0.1 2>/dev/null

# Certificates Rúbrica's own issuing CA issues (automated-agent profile: usable for TLS clients).
ours() { # name -> serial
  csr "$1"
  "$RUBRICA" cert issue --data "$DATA" --csr "$WORK/$1.csr" --profile agent --set common_name="$1" \
    --set organization="Mi PSC" --set org_id=8-NT-1-12345 --out "$WORK/$1.crt" >/dev/null 2>&1
  openssl x509 -in "$WORK/$1.crt" -noout -serial | cut -d= -f2
}
OURS=$(ours ours_valid)
REVOKED=$(ours ours_revoked)
HELD=$(ours ours_held)
LATE=$(ours ours_late)
[ -n "$OURS" ] && [ -n "$REVOKED" ] && [ -n "$HELD" ] && [ -n "$LATE" ]
_record $? "cert issue gives four agent certificates from the issuing CA"

# ---- users and registration ----
ok "user add approver" "$RUBRICA" user add pia --role approver --data "$DATA"
ok "user add auditor" "$RUBRICA" user add ana --role auditor --data "$DATA"
contains "user --help lists add-cert" "add-cert" "$RUBRICA" user --help
contains "user add-cert --help explains the checks" "client_certificate_untrusted" \
  "$RUBRICA" user add-cert --help
for n in good stranger ours_valid ours_revoked ours_held ours_late; do
  ok "user add-cert registers $n" "$RUBRICA" user add-cert pia --cert "$WORK/$n.crt" --data "$DATA"
done
ok "the older name 'user cert' still registers" \
  "$RUBRICA" user cert ana --cert "$WORK/unregistered.crt" --data "$DATA"
sqlite3 "$DB" "DELETE FROM client_certs WHERE user_name = 'ana'"
contains "add-cert refuses a serverAuth-only certificate" "clientAuth" \
  "$RUBRICA" user add-cert pia --cert "$WORK/server.crt" --data "$DATA"
# As a registration made before that check existed would be: the server must refuse it anyway.
sqlite3 "$DB" "INSERT INTO client_certs (cert_sha256, user_name, subject, created_ms) VALUES
  ('$(openssl x509 -in "$WORK/server.crt" -outform DER | sha256sum | cut -c1-64)', 'pia', 'CN=server', 0)"
contains "add-cert refuses an expired certificate" "expired" \
  "$RUBRICA" user add-cert pia --cert "$WORK/expired.crt" --data "$DATA"
contains "add-cert refuses one not valid yet" "not valid yet" \
  "$RUBRICA" user add-cert pia --cert "$WORK/early.crt" --data "$DATA"
# Registered while they were valid (the CLI's clock pinned), so the server's check is what refuses them.
ok "add-cert registers the expired one at a time it was valid" \
  env RUBRICA_FAKE_TIME=2020-01-15T00:00:00Z "$RUBRICA" user add-cert pia --cert "$WORK/expired.crt" --data "$DATA"
ok "and the early one at a time it will be valid" \
  env RUBRICA_FAKE_TIME=2099-12-15T00:00:00Z "$RUBRICA" user add-cert pia --cert "$WORK/early.crt" --data "$DATA"
ok "cert revoke" "$RUBRICA" cert revoke "$REVOKED" --reason key-compromise --data "$DATA"
ok "cert suspend" "$RUBRICA" cert suspend "$HELD" --data "$DATA"
contains "add-cert refuses a certificate this CA revoked" "revoked" \
  "$RUBRICA" user add-cert ana --cert "$WORK/ours_revoked.crt" --data "$DATA"
same "registrations: 9 certificates, all for pia" \
  "$(sqlite3 "$DB" "SELECT COUNT(*) || ' ' || COUNT(DISTINCT user_name) FROM client_certs")" "9 1"

# ---- the server ----
# Client CAs: the openssl one, and Rúbrica's issuing CA (and root) for its own certificates.
cat "$WORK/clientca.crt" "$WORK/issuing.pem" "$WORK/root.pem" >"$WORK/client-cas.pem"
start_server() { # [env...]
  env "$@" "$RUBRICA" serve --data "$DATA" --listen 127.0.0.1:0 --threads 2 \
    --tls-cert "$WORK/server_tls.crt" --tls-key "$WORK/server_tls.key" \
    --tls-client-ca "$WORK/client-cas.pem" >"$WORK/serve.out" 2>"$WORK/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -q serving "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'https://127.0.0.1:[0-9]*' "$WORK/serve.out")
  [ -n "$URL" ] || { echo "  the server did not start:"; cat "$WORK/serve.err"; }
}
echo nothing >"$WORK/empty.pem"
contains "serve refuses a client CA file without certificates" "no PEM certificate" \
  timeout 10 "$RUBRICA" serve --data "$DATA" --listen 127.0.0.1:0 --tls-cert "$WORK/server_tls.crt" \
  --tls-key "$WORK/server_tls.key" --tls-client-ca "$WORK/empty.pem"
start_server RUBRICA_API_AUTH_LIMIT=1000/60
[ -n "$URL" ] || { finish; exit 1; }

# as NAME METHOD PATH [BODY] -> status; body in $WORK/body, headers in $WORK/headers
as() {
  local name=$1 method=$2 path=$3 body=${4:-}
  local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --cacert "$WORK/server_tls.crt"
    -X "$method")
  [ "$name" != - ] && args+=(--cert "$WORK/$name.crt" --key "$WORK/$name.key")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "$URL$path"
}
code() { grep -o '"code":"[a-z_]*"' "$WORK/body" | cut -d'"' -f4; }
# Everything but the audit log: what a refused call must leave as it was.
state() {
  sqlite3 "$DB" "SELECT serial, status, revoked_ms FROM certificates ORDER BY serial;
    SELECT * FROM client_certs ORDER BY cert_sha256; SELECT * FROM users ORDER BY name;
    SELECT * FROM api_tokens ORDER BY id" | sha256sum
}
audits() { sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action ${1:-LIKE '%'}"; }

same "a registered certificate from the client CA authenticates (200)" \
  "$(as good GET /api/v1/certificates)" 200
contains "the call is audited for its user" "api:pia" \
  sqlite3 "$DB" "SELECT actor FROM audit_log WHERE action = 'api.list'"
same "a registered certificate this CA issued authenticates (200)" \
  "$(as ours_valid GET "/api/v1/certificates/$OURS")" 200
same "the certificate's user keeps its role: pia may suspend (200)" \
  "$(as good POST "/api/v1/certificates/$LATE/suspend" '{"cause":"prueba"}')" 200
same "and reinstate (200)" "$(as good POST "/api/v1/certificates/$LATE/reinstate")" 200

BEFORE=$(state)
OTHER=$(audits "NOT IN ('api.denied')")
DENIED=$(audits "= 'api.denied'")
# refused NAME CODE DESCRIPTION: a revocation by NAME is 401 with CODE
refused() {
  same "$3: 401" "$(as "$1" POST "/api/v1/certificates/$OURS/revoke" '{"reason":"superseded"}')" 401
  same "$3: code $2" "$(code)" "$2"
}
refused stranger client_certificate_untrusted "a self-signed certificate (registered)"
refused expired client_certificate_expired "an expired certificate from the client CA (registered)"
refused early client_certificate_not_yet_valid "a certificate not valid yet (registered)"
refused server client_certificate_wrong_purpose "a serverAuth-only certificate (registered)"
refused ours_revoked client_certificate_revoked "a certificate this CA revoked (registered)"
refused ours_held client_certificate_suspended "a certificate this CA suspended (registered)"
refused unregistered client_certificate_unregistered "a valid certificate nobody registered"
contains "a refused certificate gets WWW-Authenticate" "WWW-Authenticate: Bearer" cat "$WORK/headers"
same "without any credentials: 401 unauthenticated" \
  "$(as - GET /api/v1/certificates)" 401
same "  code unauthenticated" "$(code)" unauthenticated
same "the refused calls changed nothing in the store" "$(state)" "$BEFORE"
same "the target certificate is still valid" \
  "$(sqlite3 "$DB" "SELECT status FROM certificates WHERE serial = '$OURS'")" valid
same "they wrote no record but api.denied" "$(audits "NOT IN ('api.denied')")" "$OTHER"
same "each refusal is one api.denied record" "$(audits "= 'api.denied'")" $((DENIED + 8))
contains "the revoked refusal is audited with its reason and serial" "$REVOKED" \
  sqlite3 "$DB" "SELECT detail FROM audit_log WHERE action = 'api.denied'
    AND detail LIKE '%\"reason\":\"client_certificate_revoked\"%'"
contains "the untrusted refusal names OpenSSL's verify error" "self-signed certificate" \
  sqlite3 "$DB" "SELECT detail FROM audit_log WHERE action = 'api.denied'
    AND detail LIKE '%client_certificate_untrusted%'"

# Revocation takes effect on the next call, with the server running.
ok "cert revoke the valid one of ours" "$RUBRICA" cert revoke "$OURS" --reason superseded --data "$DATA"
same "its next call is refused (401)" "$(as ours_valid GET /api/v1/certificates)" 401
same "  as revoked" "$(code)" client_certificate_revoked
ok "user disable" "$RUBRICA" user disable pia --data "$DATA"
same "a disabled user's certificate is refused (401)" "$(as good GET /api/v1/certificates)" 401
same "  as unregistered to an enabled user" "$(code)" client_certificate_unregistered
stop_server

# ---- the failed-authentication limiter: 5 failures per 3 seconds ----
AUDITOR=$("$RUBRICA" token create ana --data "$DATA" | tail -n 1)
BAD=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
start_server RUBRICA_API_AUTH_LIMIT=5/3
[ -n "$URL" ] || { finish; exit 1; }
bearer() { # TOKEN -> status
  curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --cacert "$WORK/server_tls.crt" \
    -H "Authorization: Bearer $1" "$URL/api/v1/certificates"
}
same "the auditor's token works" "$(bearer "$AUDITOR")" 200
BEFORE=$(state)
ALL=$(audits)
statuses=
for _ in 1 2 3 4 5; do statuses="$statuses $(bearer $BAD)"; done
same "the first 5 bad tokens are 401" "$statuses" " 401 401 401 401 401"
same "each of them was audited" "$(audits)" $((ALL + 5))
contains "the fifth says the address is now throttled" '"throttled_for_s":3' \
  sqlite3 "$DB" "SELECT detail FROM audit_log ORDER BY seq DESC LIMIT 1"
statuses=
for _ in $(seq 20); do statuses="$statuses $(bearer $BAD)"; done
same "the next 20 are 429" "$statuses" "$(printf ' 429%.0s' $(seq 20))"
same "  code too_many_failed_authentications" "$(code)" too_many_failed_authentications
contains "  with Retry-After" "Retry-After: " cat "$WORK/headers"
RETRY=$(grep -i '^Retry-After:' "$WORK/headers" | tr -dc 0-9)
[ -n "$RETRY" ] && [ "$RETRY" -ge 1 ] && [ "$RETRY" -le 3 ]
_record $? "  Retry-After is within the 3-second block ($RETRY)"
same "a good token from the blocked address is 429 too" "$(bearer "$AUDITOR")" 429
same "a client certificate from it too" "$(as ours_valid GET /api/v1/certificates)" 429
same "the audit log did not grow while blocked" "$(audits)" $((ALL + 5))
same "nor did anything else in the store" "$(state)" "$BEFORE"
sleep 3.2
same "after the block the good token works" "$(bearer "$AUDITOR")" 200
same "one api.throttled record so far" "$(audits "= 'api.throttled'")" 1
same "  it counts the 22 suppressed attempts" \
  "$(audits "= 'api.throttled' AND detail LIKE '%\"suppressed\":22,%'")" 1
contains "  naming the address" '"client":"127.0.0.1"' \
  sqlite3 "$DB" "SELECT detail FROM audit_log WHERE action = 'api.throttled'"
same "the audit log grew by 5 refusals, 1 summary and 1 read" "$(audits)" $((ALL + 7))
# A second block, still open when the server stops: the summary is written at shutdown.
for _ in 1 2 3 4 5; do bearer $BAD >/dev/null; done
statuses=
for _ in 1 2 3 4 5 6 7; do statuses="$statuses $(bearer $BAD)"; done
same "a new window: 5 more failures, then 429 again" "$statuses" "$(printf ' 429%.0s' $(seq 7))"
stop_server
same "the open block's 7 attempts are recorded at shutdown" \
  "$(sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'api.throttled' AND detail LIKE '%\"suppressed\":7,%'")" 1
same "two api.throttled records in all" "$(audits "= 'api.throttled'")" 2
same "the audit log grew by max+1 records per block (and the read)" "$(audits)" $((ALL + 7 + 5 + 1))
ok "the audit chain verifies after all of it" "$RUBRICA" audit verify --data "$DATA"
contains "a malformed RUBRICA_API_AUTH_LIMIT stops serve" "FAILURES/SECONDS" \
  env RUBRICA_API_AUTH_LIMIT=lots timeout 10 "$RUBRICA" serve --data "$DATA" --listen 127.0.0.1:0
finish
