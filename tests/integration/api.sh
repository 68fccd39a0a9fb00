#!/usr/bin/env bash
# The JSON API, the CRL and CA distribution points and the public repository
# of `rubrica serve`, checked from outside with curl, openssl and sqlite3:
# refusals (401, 403) change nothing and are audited; issuance through the API
# gives a certificate `openssl verify` accepts; a revocation through the API
# shows in OCSP and in the CRL `openssl crl -verify` checks; the repository
# shows consenting holders only and every revoked serial.
set -u
. "$(dirname "$0")/../lib/common.sh"

DATA=$WORK/data
DB=$DATA/rubrica.db
trap stop_server EXIT

# Panamá allows suspension, so the suspend and reinstate calls can be checked.
ok "init a PA provider" "$RUBRICA" init --data "$DATA" --jurisdiction PA
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem" 2>/dev/null

ok "user add auditor" "$RUBRICA" user add ana --role auditor --data "$DATA"
ok "user add operator" "$RUBRICA" user add oscar --role operator --data "$DATA"
ok "user add approver" "$RUBRICA" user add pia --role approver --data "$DATA"
fails "user add refuses an unknown role" "$RUBRICA" user add x --role root --data "$DATA"
fails "user add refuses a taken name" "$RUBRICA" user add ana --role operator --data "$DATA"
contains "user list --json shows the role" '"role": "approver"' "$RUBRICA" user list --json --data "$DATA"
token_for() { "$RUBRICA" token create "$1" --data "$DATA" | tail -n 1; }
AUDITOR=$(token_for ana)
OPERATOR=$(token_for oscar)
APPROVER=$(token_for pia)
[ ${#AUDITOR} -eq 43 ] && [ ${#OPERATOR} -eq 43 ] && [ ${#APPROVER} -eq 43 ]
_record $? "token create prints a 43-character token on its last line"
same "tokens are stored hashed, never in clear" \
  "$(sqlite3 "$DB" "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '$OPERATOR' OR last4 = '$OPERATOR'")" 0

start_serve --data "$DATA"
contains "serve announces the API" "API /api/v1/" cat "$WORK/serve.out"
[ -n "$URL" ] || { stop_server; finish; exit 1; }

# api METHOD PATH TOKEN [JSON-BODY] -> status code; the body goes to $WORK/body
api() {
  local method=$1 path=$2 token=$3 body=${4:-}
  local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$method")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "$URL$path"
}
json_body() { # csr-file publish surname -> an issuance request
  local csr
  csr=$(awk '{printf "%s\\n", $0}' "$1")
  printf '{"csr":"%s","profile":"natural-person","publish":%s,"fields":{"given_name":"Ana","surname":"%s","id_type":"pa-cedula","id_number":"8-274-125"}}' \
    "$csr" "$2" "$3"
}
count() { sqlite3 "$DB" "SELECT COUNT(*) FROM $1"; }
newcsr() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -subj "/CN=$1" -out "$WORK/$1.csr" 2>/dev/null
}
newcsr one
newcsr two
newcsr three

# Refusals change nothing and are audited.
BEFORE=$(count certificates)
DENIED=$(sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'api.denied'")
same "POST without a token is 401" "$(api POST /api/v1/certificates '' "$(json_body "$WORK/one.csr" true Uno)")" 401
contains "401 is a JSON error" '"code":"unauthenticated"' cat "$WORK/body"
contains "401 asks for a Bearer token" "WWW-Authenticate: Bearer" \
  curl -s -D - -o /dev/null "$URL/api/v1/certificates"
same "a wrong token is 401" "$(api GET /api/v1/certificates AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)" 401
same "an auditor may not issue (403)" \
  "$(api POST /api/v1/certificates "$AUDITOR" "$(json_body "$WORK/one.csr" true Uno)")" 403
contains "403 is a JSON error" '"code":"forbidden"' cat "$WORK/body"
same "nothing was issued by the refused calls" "$(count certificates)" "$BEFORE"
same "each refusal is audited as api.denied" \
  "$(sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'api.denied'")" $((DENIED + 4))
same "the anonymous refusal names api:anonymous" \
  "$(sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'api.denied' AND actor = 'api:anonymous'")" 3
contains "the role refusal names the auditor" "api:ana" \
  sqlite3 "$DB" "SELECT actor FROM audit_log WHERE action = 'api.denied'"

# Issuance through the API.
same "an operator issues (201)" \
  "$(api POST /api/v1/certificates "$OPERATOR" "$(json_body "$WORK/one.csr" true Publicado)")" 201
SERIAL1=$(grep -o '"serial":"[0-9A-F]*"' "$WORK/body" | head -n1 | cut -d'"' -f4)
printf '%b' "$(grep -o '"pem":"[^"]*"' "$WORK/body" | cut -d'"' -f4)" >"$WORK/one.pem"
ok "the issued PEM verifies with openssl verify" \
  openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/issuing.pem" "$WORK/one.pem"
same "the certificate's serial is the one the API returned" \
  "$(openssl x509 -in "$WORK/one.pem" -noout -serial | cut -d= -f2)" "$SERIAL1"
contains "the issuance was audited by the library as api:oscar" "api:oscar" \
  sqlite3 "$DB" "SELECT actor FROM audit_log WHERE action = 'cert.issue'"
contains "the call was audited as api.issue" "cert:$SERIAL1" \
  sqlite3 "$DB" "SELECT object FROM audit_log WHERE action = 'api.issue'"
same "a second certificate, without consent to publish" \
  "$(api POST /api/v1/certificates "$OPERATOR" "$(json_body "$WORK/two.csr" false Reservado)")" 201
SERIAL2=$(grep -o '"serial":"[0-9A-F]*"' "$WORK/body" | head -n1 | cut -d'"' -f4)
same "a third certificate" \
  "$(api POST /api/v1/certificates "$OPERATOR" "$(json_body "$WORK/three.csr" false Tercero)")" 201
SERIAL3=$(grep -o '"serial":"[0-9A-F]*"' "$WORK/body" | head -n1 | cut -d'"' -f4)
newcsr four
same "a consenting holder whose name needs escaping in HTML" \
  "$(api POST /api/v1/certificates "$OPERATOR" "$(json_body "$WORK/four.csr" true 'Dueñas <b>&')")" 201
same "a malformed body is 400" "$(api POST /api/v1/certificates "$OPERATOR" '{"csr":')" 400
contains "400 is invalid_request" '"code":"invalid_request"' cat "$WORK/body"
same "an unknown member is 400" "$(api POST /api/v1/certificates "$OPERATOR" '{"cssr":"x"}')" 400
same "a CSR that does not parse is 422" \
  "$(api POST /api/v1/certificates "$OPERATOR" '{"csr":"not a csr","profile":"natural-person"}')" 422
contains "422 names the CSR" '"code":"invalid_csr"' cat "$WORK/body"
same "an unknown profile is 422" "$(api POST /api/v1/certificates "$OPERATOR" \
  "$(json_body "$WORK/one.csr" true Uno | sed 's/natural-person/no-such-profile/')")" 422
same "the same key for the same subject again is refused" \
  "$(api POST /api/v1/certificates "$OPERATOR" "$(json_body "$WORK/one.csr" true Otro)")" 409

# Reading.
same "an auditor lists (200)" "$(api GET '/api/v1/certificates?status=valid&limit=10' "$AUDITOR")" 200
contains "the list holds the issued serial" "$SERIAL1" cat "$WORK/body"
same "a bad status filter is 400" "$(api GET '/api/v1/certificates?status=nope' "$AUDITOR")" 400
same "an auditor shows one (200)" "$(api GET "/api/v1/certificates/$SERIAL1" "$AUDITOR")" 200
contains "show includes the PEM" "BEGIN CERTIFICATE" cat "$WORK/body"
same "an unknown serial is 404" "$(api GET /api/v1/certificates/0123ABCD "$AUDITOR")" 404
contains "404 is not_found" '"code":"not_found"' cat "$WORK/body"
same "an unknown endpoint is 404" "$(api GET /api/v1/nothing "$AUDITOR")" 404
contains "reads are audited too" "api:ana" \
  sqlite3 "$DB" "SELECT actor FROM audit_log WHERE action = 'api.show'"

# Lifecycle: the operator may not, the approver may.
same "an operator may not revoke (403)" \
  "$(api POST "/api/v1/certificates/$SERIAL2/revoke" "$OPERATOR" '{"reason":"key-compromise"}')" 403
same "the refused revocation changed nothing" \
  "$(sqlite3 "$DB" "SELECT status FROM certificates WHERE serial = '$SERIAL2'")" valid
same "revoke without a reason is 400" \
  "$(api POST "/api/v1/certificates/$SERIAL2/revoke" "$APPROVER" '{}')" 400
same "an approver revokes (200)" \
  "$(api POST "/api/v1/certificates/$SERIAL2/revoke" "$APPROVER" \
    '{"reason":"key-compromise","cause":"el titular perdió su token"}')" 200
contains "the answer says revoked" '"status":"revoked"' cat "$WORK/body"
same "revoking twice is 409" \
  "$(api POST "/api/v1/certificates/$SERIAL2/revoke" "$APPROVER" '{"reason":"superseded"}')" 409
same "an approver suspends (200)" \
  "$(api POST "/api/v1/certificates/$SERIAL3/suspend" "$APPROVER" '{"cause":"pedido del titular"}')" 200
same "and reinstates (200)" "$(api POST "/api/v1/certificates/$SERIAL3/reinstate" "$APPROVER")" 200
contains "reinstated means valid" '"status":"valid"' cat "$WORK/body"
same "the answer carries the history: issue, suspend, reinstate" \
  "$(jq -r '[.history[].event] | join(",")' "$WORK/body")" "issue,suspend,reinstate"
same "... the suspension with the cause given" \
  "$(jq -r '.history[1].detail.legal_cause' "$WORK/body")" "pedido del titular"
same "an approver revokes the third (200)" \
  "$(api POST "/api/v1/certificates/$SERIAL3/revoke" "$APPROVER" '{"reason":"superseded"}')" 200

printf '%b' "$(api GET "/api/v1/certificates/$SERIAL2" "$AUDITOR" >/dev/null;
  grep -o '"pem":"[^"]*"' "$WORK/body" | cut -d'"' -f4)" >"$WORK/two.pem"
contains "openssl ocsp says revoked after the API call" "two.pem: revoked" \
  openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/two.pem" -url "$URL/ocsp" \
  -CAfile "$WORK/root.pem" -no_nonce

# CRL and CA distribution.
curl -s -D "$WORK/crl.headers" -o "$WORK/issuing.crl" "$URL/crl/issuing.crl"
ok "the CRL verifies with openssl crl -verify" \
  openssl crl -inform DER -in "$WORK/issuing.crl" -CAfile "$WORK/issuing.pem" -verify -noout
contains "the CRL lists the revoked serial" "$SERIAL2" \
  openssl crl -inform DER -in "$WORK/issuing.crl" -noout -text
contains "the CRL is application/pkix-crl" "Content-Type: application/pkix-crl" cat "$WORK/crl.headers"
contains "the CRL has Last-Modified" "Last-Modified: " cat "$WORK/crl.headers"
contains "the CRL has Cache-Control" "Cache-Control: " cat "$WORK/crl.headers"
ok "curl | openssl crl -verify" bash -c "curl -sf '$URL/crl/issuing.crl' | openssl crl -inform DER \
  -CAfile '$WORK/issuing.pem' -verify -noout"
curl -s -D "$WORK/ca.headers" -o "$WORK/root.der" "$URL/ca/root.crt"
ok "/ca/root.crt parses with openssl x509 -inform DER" openssl x509 -inform DER -in "$WORK/root.der" -noout
same "/ca/root.crt is the root certificate" \
  "$(openssl x509 -inform DER -in "$WORK/root.der" -noout -fingerprint -sha256)" \
  "$(openssl x509 -in "$WORK/root.pem" -noout -fingerprint -sha256)"
contains "the CA certificate is application/pkix-cert" "Content-Type: application/pkix-cert" \
  cat "$WORK/ca.headers"
LASTMOD=$(grep -i '^Last-Modified:' "$WORK/ca.headers" | cut -d' ' -f2- | tr -d '\r')
same "If-Modified-Since gives 304" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $LASTMOD" "$URL/ca/root.crt")" 304
same "an unknown CA is 404 (CRL)" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/crl/nobody.crl")" 404
same "an unknown CA is 404 (certificate)" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ca/nobody.crt")" 404
same "the OCSP certificate is not served as a CA" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ca/ocsp.crt")" 404

# The public repository.
curl -s "$URL/repository?format=json" >"$WORK/repo.json"
contains "the repository shows the consenting holder" "Publicado" cat "$WORK/repo.json"
! grep -q "Reservado" "$WORK/repo.json"
_record $? "the repository hides the holder who did not consent"
! grep -q "Tercero" "$WORK/repo.json"
_record $? "nor the revoked holder who did not consent"
contains "the repository lists the revoked serial" "\"serial\":\"$SERIAL2\"" cat "$WORK/repo.json"
contains "with its reason" '"reason":"key-compromise"' cat "$WORK/repo.json"
contains "a search by name finds the consenting holder" "$SERIAL1" \
  curl -s "$URL/repository?format=json&q=Publicado"
! curl -s "$URL/repository?format=json&q=Reservado" | grep -q '"subject":"[^"]*Reservado'
_record $? "a search by name does not find the non-consenting holder"
contains "a search by serial finds the consenting holder" "Publicado" \
  curl -s "$URL/repository?format=json&q=$SERIAL1"
curl -s "$URL/repository" >"$WORK/repo.html"
contains "the HTML page has the search form" '<form method="get" action="/repository"' cat "$WORK/repo.html"
contains "the HTML page is in Spanish" 'lang="es"' cat "$WORK/repo.html"
contains "the HTML page lists the revoked serial" "$SERIAL2" cat "$WORK/repo.html"
contains "the holder's name is escaped in the page" 'Dueñas \&lt;b\&gt;&amp;' cat "$WORK/repo.html"
! grep -q '<b>' "$WORK/repo.html"
_record $? "no raw markup from a certificate reaches the page"
contains "the search text is escaped in the page" '&lt;script&gt;' \
  curl -s "$URL/repository?q=%3Cscript%3E"
! curl -s "$URL/repository?q=%3Cscript%3E" | grep -q '<script>'
_record $? "no raw markup from the query reaches the page"
contains "the CPS is served" "Declaración de prácticas" curl -s "$URL/repository/cps"
contains "the CP is served" "Política de certificación" curl -s "$URL/repository/cp"
contains "the CP as markdown" "# Política de certificación" curl -s "$URL/repository/cp?format=md"

# Revoked tokens and disabled users stop at once.
TOKEN_ID=$(sqlite3 "$DB" "SELECT id FROM api_tokens WHERE user_name = 'ana'")
ok "token revoke" "$RUBRICA" token revoke "$TOKEN_ID" --data "$DATA"
same "a revoked token is 401" "$(api GET /api/v1/certificates "$AUDITOR")" 401
ok "user disable" "$RUBRICA" user disable oscar --data "$DATA"
same "a disabled user's token is 401" "$(api GET /api/v1/certificates "$OPERATOR")" 401
contains "token and user changes are audited" "token.revoke" \
  sqlite3 "$DB" "SELECT action FROM audit_log WHERE action LIKE 'token.%' OR action LIKE 'user.%'"
ok "the audit chain verifies after all of it" "$RUBRICA" audit verify --data "$DATA"

curl -s "$URL/metrics" >"$WORK/metrics"
contains "metrics count API issuance" "rubrica_certificates_issued_total 4" cat "$WORK/metrics"

kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
same "SIGTERM stops the server with exit 0" "$?" 0
SERVER_PID=

# A TLS client certificate registered to a user authenticates them if it chains
# to the --tls-client-ca certificates (tests/integration/api_tls.sh checks every
# refusal); the handshake proves the client holds its key.
selfsigned() { # name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -out "$WORK/$1.crt" -subj "/CN=$1" -days 2 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
}
selfsigned server
selfsigned stranger
selfsigned clientca
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/robot.key" \
  -subj /CN=robot -out "$WORK/robot.csr" 2>/dev/null
openssl x509 -req -in "$WORK/robot.csr" -CA "$WORK/clientca.crt" -CAkey "$WORK/clientca.key" \
  -set_serial 7 -days 2 -out "$WORK/robot.crt" 2>/dev/null
ok "user add for a client certificate" "$RUBRICA" user add robot --role auditor --data "$DATA"
ok "user add-cert registers it" "$RUBRICA" user add-cert robot --cert "$WORK/robot.crt" --data "$DATA"
ok "user add-cert registers a self-signed one too" \
  "$RUBRICA" user add-cert robot --cert "$WORK/stranger.crt" --data "$DATA"
"$RUBRICA" serve --data "$DATA" --listen 127.0.0.1:0 --threads 2 --tls-cert "$WORK/server.crt" \
  --tls-key "$WORK/server.key" --tls-client-ca "$WORK/clientca.crt" \
  >"$WORK/tls.out" 2>"$WORK/tls.err" &
SERVER_PID=$!
for _ in $(seq 50); do grep -q serving "$WORK/tls.out" 2>/dev/null && break; sleep 0.1; done
TLS_URL=$(grep -o 'https://127.0.0.1:[0-9]*' "$WORK/tls.out")
tls() { curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/server.crt" "$@"; }
same "a registered client certificate authenticates" \
  "$(tls --cert "$WORK/robot.crt" --key "$WORK/robot.key" "$TLS_URL/api/v1/certificates")" 200
same "a registered one that does not chain to the client CA does not" \
  "$(tls --cert "$WORK/stranger.crt" --key "$WORK/stranger.key" "$TLS_URL/api/v1/certificates")" 401
same "the certificate user keeps its role" "$(tls --cert "$WORK/robot.crt" --key "$WORK/robot.key" \
  -X POST -H 'Content-Type: application/json' -d '{"reason":"superseded"}' \
  "$TLS_URL/api/v1/certificates/$SERIAL1/revoke")" 403
contains "the call was audited for the certificate's user" "api:robot" \
  sqlite3 "$DB" "SELECT actor FROM audit_log WHERE action = 'api.list'"
stop_server
finish
