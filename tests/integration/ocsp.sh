#!/usr/bin/env bash
# The OCSP responder of `rubrica serve`, checked with independent clients:
# `openssl ocsp` and GnuTLS `ocsptool` say good, then revoked right after
# `rubrica cert revoke`, then certificateHold after a suspension; the GET form
# (RFC 5019 5) works with curl and carries the caching headers; garbage gets
# malformedRequest; a CA we do not serve gets unauthorized.
set -u
. "$(dirname "$0")/../lib/common.sh"

DATA=$WORK/data
trap stop_server EXIT

# Panamá allows suspension, so certificateHold can be checked too.
ok "init a PA provider" "$RUBRICA" init --data "$DATA" --jurisdiction PA
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem" 2>/dev/null

issue() { # name -> $WORK/name.pem, prints the serial
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -subj "/CN=$1" -out "$WORK/$1.csr" 2>/dev/null
  "$RUBRICA" cert issue --data "$DATA" --csr "$WORK/$1.csr" --profile natural-person \
    --set given_name=Ana --set surname="$1" --set id_type=pa-cedula --set id_number=8-123-456 \
    --out "$WORK/$1.pem" >/dev/null 2>&1
  openssl x509 -in "$WORK/$1.pem" -noout -serial | cut -d= -f2
}
SERIAL=$(issue leaf)
HELD=$(issue held)
[ -n "$SERIAL" ] && [ -n "$HELD" ]
_record $? "issue two certificates"

start_serve --data "$DATA"
contains "serve announces /ocsp" "OCSP /ocsp" cat "$WORK/serve.out"
[ -n "$URL" ] || { stop_server; finish; exit 1; }

ask_openssl() { # cert [extra openssl ocsp options]
  local cert=$1; shift
  openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/$cert.pem" -url "$URL/ocsp" \
    -CAfile "$WORK/root.pem" "$@"
}
# GnuTLS checks the delegated responder against the issuing CA (--load-signer).
ask_gnutls() { # cert [--nonce]
  ocsptool --ask="$URL/ocsp" --load-issuer "$WORK/issuing.pem" --load-cert "$WORK/$1.pem" \
    --load-signer "$WORK/issuing.pem" "${@:2}"
}

contains "openssl ocsp: good" "leaf.pem: good" ask_openssl leaf -resp_text
contains "openssl ocsp: the signature verifies" "Response verify OK" ask_openssl leaf
contains "openssl ocsp: the nonce is echoed" "Response verify OK" ask_openssl leaf -resp_text
! grep -q "WARNING: no nonce" "$WORK/last.out"
_record $? "openssl ocsp: no nonce warning"
contains "openssl ocsp: responder ID by key" "Responder Id: " ask_openssl leaf -resp_text -no_nonce
ok "ocsptool: verifies (exit 0)" ask_gnutls leaf
contains "ocsptool: good" "Certificate Status: good" ask_gnutls leaf
contains "ocsptool: verification succeeds" "Verifying OCSP Response: Success" ask_gnutls leaf --nonce

ok "revoke with key-compromise" "$RUBRICA" cert revoke "$SERIAL" --reason key-compromise \
  --data "$DATA"
contains "openssl ocsp: revoked right after" "leaf.pem: revoked" ask_openssl leaf -no_nonce
contains "openssl ocsp: reason keyCompromise" "Reason: keyCompromise" ask_openssl leaf -no_nonce
contains "ocsptool: revoked" "Certificate Status: revoked" ask_gnutls leaf
ok "ocsptool: the revoked answer verifies" ask_gnutls leaf

ok "suspend a certificate (Panama allows suspension)" "$RUBRICA" cert suspend "$HELD" --data "$DATA"
contains "openssl ocsp: suspended is certificateHold" "Reason: certificateHold" \
  ask_openssl held -no_nonce

# GET form: base64 of the DER request, URL-encoded, after /ocsp/.
openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/leaf.pem" -no_nonce \
  -reqout "$WORK/req.der" >/dev/null 2>&1
B64=$(base64 -w0 "$WORK/req.der" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
same "GET /ocsp/{base64} answers 200" \
  "$(curl -s -D "$WORK/get.h" -o "$WORK/get.der" -w '%{http_code}' "$URL/ocsp/$B64")" 200
contains "GET: the answer says revoked" "leaf.pem: revoked" openssl ocsp -respin "$WORK/get.der" \
  -issuer "$WORK/issuing.pem" -cert "$WORK/leaf.pem" -CAfile "$WORK/root.pem"
contains "GET: content type" "Content-Type: application/ocsp-response" cat "$WORK/get.h"
contains "GET: Cache-Control (RFC 5019 6.2)" "public, no-transform, must-revalidate" cat "$WORK/get.h"
contains "GET: ETag" "ETag: \"$(sha1sum "$WORK/get.der" | cut -c1-40)\"" cat "$WORK/get.h"
contains "GET: Expires" "Expires: " cat "$WORK/get.h"
contains "GET: Last-Modified" "Last-Modified: " cat "$WORK/get.h"
ETAG=$(grep -i '^ETag:' "$WORK/get.h" | cut -d' ' -f2 | tr -d '\r')
same "GET with If-None-Match gets 304" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/ocsp/$B64")" 304
same "GET twice gives the same bytes (pre-signed)" \
  "$(curl -s "$URL/ocsp/$B64" | sha1sum)" "$(sha1sum <"$WORK/get.der")"

post() { # file [content-type]
  curl -s -o "$WORK/post.der" -w '%{http_code}' --data-binary @"$1" \
    -H "Content-Type: ${2:-application/ocsp-request}" "$URL/ocsp"
}
echo "not an OCSP request" >"$WORK/garbage"
same "garbage gets 200 with an OCSP error" "$(post "$WORK/garbage")" 200
contains "garbage is malformedRequest" "malformedrequest" \
  openssl ocsp -respin "$WORK/post.der" -resp_text -noverify
same "a wrong content type gets 415" "$(post "$WORK/req.der" text/plain)" 415
openssl ocsp -issuer "$WORK/leaf.pem" -cert "$WORK/issuing.pem" -no_nonce \
  -reqout "$WORK/foreign.der" >/dev/null 2>&1
post "$WORK/foreign.der" >/dev/null
contains "a CA we do not serve gets unauthorized" "unauthorized" \
  openssl ocsp -respin "$WORK/post.der" -resp_text -noverify
curl -s "$URL/metrics" >"$WORK/metrics"
contains "metrics count OCSP responses" "rubrica_ocsp_responses_total" cat "$WORK/metrics"

stop_server
finish
