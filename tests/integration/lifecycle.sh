#!/usr/bin/env bash
# Holds with a limit and delta CRLs, checked with openssl. A hold whose limit
# passed (set under RUBRICA_FAKE_TIME) is revoked, with the reason stated at
# suspension, in `cert show`, `cert list`, OCSP and the CRL; `rubrica serve`'s
# maintenance thread converts a hold that runs out while it serves, and
# GET /crl only reads; `rubrica crl --delta` lists what changed since its base
# (new revocations and holds, removeFromCRL for a released hold), verifies,
# and `openssl verify -use_deltas` with the old base and the delta says
# revoked for a certificate revoked after the base.
set -u
. "$(dirname "$0")/../lib/common.sh"

DATA=$WORK/data
trap stop_server EXIT

at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
T0=$(at '-3 days')
T1=$(at '-3 days +1 hour')
LIMIT=$(at '-2 days')

# Panamá provides for suspension; the provider is set up three days ago.
RUBRICA_FAKE_TIME=$T0 ok "init a PA provider (three days ago)" \
  "$RUBRICA" init --data "$DATA" --jurisdiction PA
"$RUBRICA" ca cert root --data "$DATA" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert issuing --data "$DATA" >"$WORK/issuing.pem" 2>/dev/null
cat "$WORK/root.pem" "$WORK/issuing.pem" >"$WORK/chain.pem"

issue() { # name [fake time] -> $WORK/name.pem, prints the serial
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -subj "/CN=$1" -out "$WORK/$1.csr" 2>/dev/null
  RUBRICA_FAKE_TIME=${2:-} "$RUBRICA" cert issue --data "$DATA" --csr "$WORK/$1.csr" \
    --profile natural-person --set given_name=Ana --set surname="$1" --set id_type=pa-cedula \
    --set id_number=8-123-456 --out "$WORK/$1.pem" >/dev/null 2>&1
  openssl x509 -in "$WORK/$1.pem" -noout -serial 2>/dev/null | cut -d= -f2
}
LAPSED=$(issue lapsed "$T0")
SOON=$(issue soon)
REV=$(issue rev)
REL=$(issue rel)
HOLD2=$(issue hold2)
[ -n "$LAPSED" ] && [ -n "$SOON" ] && [ -n "$REV" ] && [ -n "$REL" ] && [ -n "$HOLD2" ]
_record $? "issue five certificates"
db() { sqlite3 "$DATA/rubrica.db" "$1"; }
crl_text() { openssl crl -in "$1" -inform "${2:-PEM}" -noout -text; }
# entry FILE SERIAL: the CRL entry of SERIAL in `openssl crl -text` FILE (serial line + 6).
entry() { grep -A6 "Serial Number: $2" "$1"; }

echo "-- a hold past its limit"
RUBRICA_FAKE_TIME=$T1 ok "suspend until $LIMIT, to become key-compromise" \
  "$RUBRICA" cert suspend "$LAPSED" --until "$LIMIT" --reason key-compromise \
  --cause "token extraviado" --data "$DATA"
RUBRICA_FAKE_TIME=$T1 contains "cert show (text) while held: the limit and what follows" \
  "until ${LIMIT%Z}.000Z, then key-compromise" "$RUBRICA" cert show "$LAPSED" --data "$DATA"
fails "suspend refuses certificate-hold as what the hold becomes" \
  "$RUBRICA" cert suspend "$REL" --reason certificate-hold --data "$DATA"
same "... and leaves that certificate valid" "$(db "SELECT status FROM certificates WHERE serial = '$REL'")" valid
"$RUBRICA" cert show "$LAPSED" --json --data "$DATA" >"$WORK/show.json" 2>&1
contains "cert show: revoked" '"status": "revoked"' cat "$WORK/show.json"
contains "cert show: reason key-compromise" '"reason": "key-compromise"' cat "$WORK/show.json"
contains "cert show: the legal cause says the hold ran out" "venció sin reactivación" cat "$WORK/show.json"
contains "cert show: revoked at the hold's limit" "\"revoked_at\": \"${LIMIT%Z}.000Z\"" cat "$WORK/show.json"
contains "cert show (text): revoked, key-compromise" "revoked since ${LIMIT%Z}.000Z, key-compromise" \
  "$RUBRICA" cert show "$LAPSED" --data "$DATA"
contains "cert list --status revoked lists it" "$LAPSED  revoked" \
  "$RUBRICA" cert list --status revoked --data "$DATA"
fails "cert list --status suspended does not" grep -q "$LAPSED" \
  <("$RUBRICA" cert list --status suspended --data "$DATA" 2>&1)
contains "cert list --json says revoked" '"status": "revoked"' \
  bash -c "'$RUBRICA' cert list --json --data '$DATA' | grep -A30 '\"serial\": \"$LAPSED\"'"
fails "a hold past its limit cannot be reinstated" "$RUBRICA" cert reinstate "$LAPSED" --data "$DATA"
fails "... nor revoked again" "$RUBRICA" cert revoke "$LAPSED" --reason superseded --data "$DATA"
same "the refused changes wrote no event" \
  "$(db "SELECT COUNT(*) FROM cert_events WHERE serial = '$LAPSED' AND event <> 'issue'")" 1

"$RUBRICA" crl --data "$DATA" --pem >"$WORK/crl1.pem" 2>/dev/null
crl_text "$WORK/crl1.pem" >"$WORK/crl1.txt"
contains "the CRL lists it" "Serial Number: $LAPSED" cat "$WORK/crl1.txt"
contains "... as Key Compromise" "Key Compromise" entry "$WORK/crl1.txt" "$LAPSED"
contains "... with the hold's start as invalidity date" "Invalidity Date" entry "$WORK/crl1.txt" "$LAPSED"
fails "... not as Certificate Hold" grep -q "Certificate Hold" <(entry "$WORK/crl1.txt" "$LAPSED")
same "signing the CRL converted it in the store" \
  "$(db "SELECT status || ' ' || reason FROM certificates WHERE serial = '$LAPSED'")" "revoked 1"
contains "the conversion has its event" '"hold_expired":true' \
  db "SELECT detail FROM cert_events WHERE serial = '$LAPSED' AND event = 'revoke'"
same "... and its audit record" \
  "$(db "SELECT COUNT(*) FROM audit_log WHERE action = 'cert.revoke' AND object = 'cert:$LAPSED'")" 1

echo "-- the maintenance thread"
contains "serve --help documents --maintenance-interval" "--maintenance-interval" \
  "$RUBRICA" serve --help
fails "serve refuses --maintenance-interval 0" "$RUBRICA" serve --data "$DATA" --maintenance-interval 0
SOON_UNTIL=$(at '+4 seconds')
ok "suspend a certificate for four seconds, to become cessation-of-operation" \
  "$RUBRICA" cert suspend "$SOON" --until "$SOON_UNTIL" --reason cessation-of-operation --data "$DATA"
start_serve --data "$DATA" --maintenance-interval 1 --access-log off
[ -n "$URL" ] || { stop_server; finish; exit 1; }
ask() { # name: openssl ocsp for $WORK/name.pem, no nonce (the pre-signed path)
  openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/$1.pem" -url "$URL/ocsp" \
    -CAfile "$WORK/root.pem" -no_nonce -resp_text
}
contains "OCSP: the expired hold is revoked" "lapsed.pem: revoked" ask lapsed
contains "OCSP: reason keyCompromise" "Reason: keyCompromise" ask lapsed
contains "OCSP: the four-second hold is on hold at first" "Reason: certificateHold" ask soon
contains "... and the answer's nextUpdate is the hold's limit, when it will change" \
  "Next Update: $(date -u -d "$SOON_UNTIL" '+%b %e %H:%M:%S %Y GMT')" ask soon
sleep 6
same "the maintenance thread converted it in the store" \
  "$(db "SELECT status || ' ' || reason FROM certificates WHERE serial = '$SOON'")" "revoked 5"
same "... with its event and audit record" \
  "$(db "SELECT COUNT(*) FROM audit_log WHERE action = 'cert.revoke' AND object = 'cert:$SOON' AND actor = 'serve:maintenance'")" 1
contains "OCSP: now revoked" "soon.pem: revoked" ask soon
contains "OCSP: reason cessationOfOperation" "Reason: cessationOfOperation" ask soon
same "the pre-signed OCSP response was replaced" \
  "$(db "SELECT COUNT(*) FROM ocsp_responses WHERE serial = '$SOON'")" 1
crl_signed() { db "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'crl.%'"; }
BEFORE=$(crl_signed)
same "GET /crl/issuing.crl is 200" \
  "$(curl -s -o "$WORK/served.crl" -w '%{http_code}' "$URL/crl/issuing.crl")" 200
curl -s -o /dev/null "$URL/crl/issuing.crl"
curl -s -o /dev/null "$URL/crl/issuing-delta.crl"
same "GET only reads: no CRL was signed for it" "$(crl_signed)" "$BEFORE"
crl_text "$WORK/served.crl" DER >"$WORK/served.txt"
contains "the served CRL lists the converted hold" "Serial Number: $SOON" cat "$WORK/served.txt"
contains "... as Cessation Of Operation" "Cessation Of Operation" entry "$WORK/served.txt" "$SOON"
contains "the served CRL verifies" "verify OK" \
  openssl crl -inform DER -in "$WORK/served.crl" -noout -verify -CAfile "$WORK/issuing.pem"
contains "the served CRL points at its delta (Freshest CRL)" "/crl/issuing-delta.crl" \
  grep -A2 "Freshest CRL" "$WORK/served.txt"
same "GET /crl/issuing-delta.crl is 200" \
  "$(curl -s -o "$WORK/served-delta.crl" -w '%{http_code}' "$URL/crl/issuing-delta.crl")" 200
contains "the served delta verifies" "verify OK" \
  openssl crl -inform DER -in "$WORK/served-delta.crl" -noout -verify -CAfile "$WORK/issuing.pem"
contains "the served delta has a Delta CRL Indicator" "Delta CRL Indicator: critical" \
  crl_text "$WORK/served-delta.crl" DER
same "an unknown CA's delta is 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$URL/crl/nobody-delta.crl")" 404
stop_server
wait 2>/dev/null

echo "-- delta CRLs"
ok "suspend a certificate before the base" "$RUBRICA" cert suspend "$REL" --data "$DATA"
"$RUBRICA" crl --force --pem --data "$DATA" >"$WORK/base.pem" 2>/dev/null
crl_number() { openssl crl -in "$1" -noout -crlnumber | cut -d= -f2; }
BASE_N=$(crl_number "$WORK/base.pem")
contains "the base lists the hold" "Certificate Hold" entry <(crl_text "$WORK/base.pem") "$REL"
ok "after the base: revoke one (key-compromise)" \
  "$RUBRICA" cert revoke "$REV" --reason key-compromise --data "$DATA"
ok "... reinstate the held one" "$RUBRICA" cert reinstate "$REL" --data "$DATA"
ok "... suspend another" "$RUBRICA" cert suspend "$HOLD2" --data "$DATA"
ok "crl --delta" "$RUBRICA" crl --delta --pem --data "$DATA" --out "$WORK/delta.pem"
crl_text "$WORK/delta.pem" >"$WORK/delta.txt"
contains "openssl crl -verify accepts the delta" "verify OK" \
  openssl crl -in "$WORK/delta.pem" -noout -verify -CAfile "$WORK/issuing.pem"
same "the Delta CRL Indicator is critical and names the base" \
  "$(grep -A1 "Delta CRL Indicator" "$WORK/delta.txt" | tr -d ' \n')" \
  "X509v3DeltaCRLIndicator:critical$((BASE_N))"
[ "$(($(crl_number "$WORK/delta.pem")))" -gt "$((BASE_N))" ]
_record $? "the delta's CRL number follows the base's (one sequence)"
contains "the delta lists the revocation as Key Compromise" "Key Compromise" \
  entry "$WORK/delta.txt" "$REV"
contains "the delta lists the released hold as Remove From CRL" "Remove From CRL" \
  entry "$WORK/delta.txt" "$REL"
contains "the delta lists the new hold as Certificate Hold" "Certificate Hold" \
  entry "$WORK/delta.txt" "$HOLD2"
fails "the delta leaves out what the base already says" grep -q "$LAPSED" "$WORK/delta.txt"
fails "the delta carries no Freshest CRL (RFC 5280 5.2.6)" grep -q "Freshest CRL" "$WORK/delta.txt"
same "crl --delta again with no change gives the same delta" \
  "$("$RUBRICA" crl --delta --pem --data "$DATA" 2>/dev/null | sha256sum)" "$(sha256sum <"$WORK/delta.pem")"
vfy() { # cert, CRL files...
  local cert=$1; shift
  local crls=(); for f in "$@"; do crls+=(-CRLfile "$f"); done
  openssl verify -crl_check -use_deltas "${crls[@]}" -CAfile "$WORK/chain.pem" "$WORK/$cert.pem"
}
contains "the base alone does not know the revocation" "rev.pem: OK" vfy rev "$WORK/base.pem"
contains "verify -use_deltas, base + delta: revoked" "certificate revoked" \
  vfy rev "$WORK/base.pem" "$WORK/delta.pem"
contains "verify -use_deltas, base + delta: the released hold is good" "rel.pem: OK" \
  vfy rel "$WORK/base.pem" "$WORK/delta.pem"
contains "verify -use_deltas, base + delta: the new hold is revoked" "certificate revoked" \
  vfy hold2 "$WORK/base.pem" "$WORK/delta.pem"
"$RUBRICA" crl --pem --data "$DATA" >"$WORK/full2.pem" 2>/dev/null
contains "the complete CRL after the changes lists the revocation too" "$REV" \
  crl_text "$WORK/full2.pem"

echo "-- a certificate's history"
"$RUBRICA" cert show "$REL" --json --data "$DATA" >"$WORK/rel.json" 2>&1
same "cert show --json: the history is issue, suspend, reinstate" \
  "$(jq -r '[.history[].event] | join(",")' "$WORK/rel.json")" "issue,suspend,reinstate"
same "each later event names its audit record (audit_log, read with sqlite3)" \
  "$(jq -r '[.history[1:][].audit_seq] | join(",")' "$WORK/rel.json")" \
  "$(db "SELECT group_concat(seq) FROM (SELECT seq FROM audit_log WHERE object = 'cert:$REL' AND action <> 'cert.issue' ORDER BY seq)")"
same "the issuance is at the record's issued_at" \
  "$(jq -r '.history[0].at' "$WORK/rel.json")" "$(jq -r '.issued_at' "$WORK/rel.json")"
"$RUBRICA" cert show "$LAPSED" --json --data "$DATA" >"$WORK/lapsed.json" 2>&1
same "a lapsed hold's history ends in its revocation, with the reason stated at suspension" \
  "$(jq -r '([.history[].event] | join(",")) + " " + .history[-1].detail.reason' "$WORK/lapsed.json")" \
  "issue,suspend,revoke key-compromise"
contains "cert show (text) lists the history with the audit record" "reinstate  audit #" \
  "$RUBRICA" cert show "$REL" --data "$DATA"
contains "the history query reads the partial index of later events (sqlite3 query plan)" \
  "USING INDEX cert_events_changes" \
  db "EXPLAIN QUERY PLAN SELECT audit_seq FROM cert_events WHERE serial = '$REL' AND event <> 'issue'"
plan() { db "EXPLAIN QUERY PLAN $1"; }
contains "the CRL's query reads the index of certificates not valid" \
  "USING INDEX certificates_not_valid" \
  plan "SELECT serial FROM certificates WHERE issuer = 'issuing' AND status <> 'valid' ORDER BY serial"
contains "the lapsed-hold query reads the index of held certificates" \
  "USING INDEX certificates_held" \
  plan "SELECT serial FROM certificates WHERE status = 'suspended' AND hold_until_ms <= 0 ORDER BY serial LIMIT 1"
contains "the OCSP presign pass walks the serial index, with no sort" \
  "certificates_1 (serial>?)" \
  plan "SELECT c.serial FROM certificates c LEFT JOIN ocsp_responses r ON r.serial = c.serial WHERE c.issuer = 'issuing' AND c.serial > '' AND c.not_after_ms > 0 AND (r.serial IS NULL OR r.next_update_ms <= 0) ORDER BY c.serial LIMIT 128"
fails "... (no temporary B-tree)" grep -q "TEMP B-TREE" <(plan "SELECT c.serial FROM certificates c LEFT JOIN ocsp_responses r ON r.serial = c.serial WHERE c.issuer = 'issuing' AND c.serial > '' AND c.not_after_ms > 0 AND (r.serial IS NULL OR r.next_update_ms <= 0) ORDER BY c.serial LIMIT 128")
contains "a listing page reads the issuance-time index, newest first" \
  "SCAN certificates USING INDEX certificates_issued" \
  plan "SELECT serial FROM certificates ORDER BY issued_ms DESC, serial LIMIT 20"
same "valid certificates stay out of the index of those not valid" \
  "$(db "SELECT COUNT(*) FROM certificates INDEXED BY certificates_not_valid WHERE status <> 'valid' AND issuer >= ''")" \
  "$(db "SELECT COUNT(*) FROM certificates WHERE status <> 'valid'")"
same "issuance events stay out of that index" \
  "$(db "SELECT COUNT(*) FROM cert_events INDEXED BY cert_events_changes WHERE event <> 'issue' AND serial >= ''")" \
  "$(db "SELECT COUNT(*) FROM cert_events WHERE event <> 'issue'")"
ok "audit verify accepts the chain" "$RUBRICA" audit verify --data "$DATA"
finish
