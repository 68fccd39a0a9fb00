#!/usr/bin/env bash
# Bad input to `rubrica cert issue`: broken, oversized and forged requests,
# keys outside the key policy, a key already certified for someone else,
# validity beyond the profile, dirty or invalid text, wrong check digits,
# unknown fields and profiles, missing fields. Each one exits non-zero with a
# message that names the field or the rule, and leaves the store untouched:
# the certificate and audit tables count the same before and after.
set -u
. "$(dirname "$0")/../lib/common.sh"

if ! command -v sqlite3 >/dev/null; then
  skip "sqlite3 for the bad-input checks"
  finish; exit $?
fi

# Under a sanitizer build a report must not pass for an ordinary refusal (exit 1 or 2).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86

D=$WORK/data
ok "init a PE provider" "$RUBRICA" init --data "$D" --jurisdiction PE
counts() { sqlite3 "$D/rubrica.db" 'select count(*) from certificates; select count(*) from audit_log' |
  tr '\n' ' '; }

# newcsr NAME OPENSSL-REQ-KEY-OPTIONS...: a request in $WORK/NAME.csr.
newcsr() {
  local name=$1; shift
  openssl req -new "$@" -nodes -keyout "$WORK/$name.key" -subj "/CN=$name" \
    -out "$WORK/$name.csr" 2>/dev/null
}
P256=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
newcsr good "${P256[@]}" &
newcsr other "${P256[@]}" &
wait
newcsr rsa1024 -newkey rsa:1024 &
newcsr k1 -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 &
wait
newcsr ed25519 -newkey ed25519 &
newcsr limits "${P256[@]}" &
wait
openssl ecparam -name prime256v1 -param_enc explicit -genkey -out "$WORK/explicit.key" 2>/dev/null
openssl req -new -key "$WORK/explicit.key" -subj /CN=explicit -out "$WORK/explicit.csr"

PERSON=(--profile natural-person --set given_name=José --set surname=Pérez
  --set id_number=10117410-2)

# One certificate so that the key-reuse case has something to collide with.
ok "issue one good certificate" "$RUBRICA" cert issue --data "$D" --csr "$WORK/other.csr" \
  --profile natural-person --set given_name=Ana --set surname=Quispe --set id_number=05209244-8 \
  --out "$WORK/other.pem"

# rejected DESC NEEDLE CSR ARGS...: `cert issue` fails, says NEEDLE, and writes nothing.
rejected() {
  local desc=$1 needle=$2 csr=$3; shift 3
  local before after
  before=$(counts)
  "$RUBRICA" cert issue --data "$D" --csr "$csr" "$@" --out "$WORK/should-not-exist.pem" \
    >"$WORK/last.out" 2>&1
  local rc=$?
  [ "$rc" = 1 ] || [ "$rc" = 2 ]
  _record $? "$desc: refused with exit status 1 or 2 (got $rc)"
  grep -qF -- "$needle" "$WORK/last.out"
  _record $? "$desc: the message says '$needle'"
  after=$(counts)
  same "$desc: nothing written to the store or the audit log" "$after" "$before"
  [ ! -s "$WORK/should-not-exist.pem" ]
  _record $? "$desc: no certificate printed"
  rm -f "$WORK/should-not-exist.pem"
}

echo "-- requests that are not requests"
head -c 400 /dev/urandom >"$WORK/garbage.csr"
rejected "garbage bytes" "RFC 2986" "$WORK/garbage.csr" "${PERSON[@]}"
printf 'not a request at all\n' >"$WORK/text.csr"
rejected "a line of text" "RFC 2986" "$WORK/text.csr" "${PERSON[@]}"
: >"$WORK/empty.csr"
rejected "an empty file" "empty" "$WORK/empty.csr" "${PERSON[@]}"
head -c 250 "$WORK/good.csr" >"$WORK/truncated.csr"
rejected "a truncated PEM request" "RFC 2986" "$WORK/truncated.csr" "${PERSON[@]}"
openssl req -in "$WORK/good.csr" -outform DER -out "$WORK/good.der"
head -c 100 "$WORK/good.der" >"$WORK/truncated.der"
rejected "a truncated DER request" "RFC 2986" "$WORK/truncated.der" "${PERSON[@]}"
{ cat "$WORK/good.der"; printf 'X'; } >"$WORK/trailing.der"
rejected "a DER request with a trailing byte" "RFC 2986" "$WORK/trailing.der" "${PERSON[@]}"
head -c 1048576 /dev/zero >"$WORK/huge.csr"
rejected "a 1 MiB file" "65536" "$WORK/huge.csr" "${PERSON[@]}"
{ cat "$WORK/good.csr"; head -c 70000 /dev/zero | tr '\0' ' '; } >"$WORK/padded.csr"
rejected "a valid request padded past 64 KiB" "65536" "$WORK/padded.csr" "${PERSON[@]}"
openssl x509 -in "$WORK/other.pem" -out "$WORK/cert-not-csr.pem"
rejected "a certificate instead of a request" "RFC 2986" "$WORK/cert-not-csr.pem" "${PERSON[@]}"

echo "-- proof of possession"
# The signature is the last element of the DER request: flip a bit in its last byte.
python3 - "$WORK/good.der" "$WORK/forged.der" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[-3] ^= 0x01
open(sys.argv[2], "wb").write(data)
EOF
rejected "a signature that does not verify (DER)" "proof of possession" "$WORK/forged.der" \
  "${PERSON[@]}"
openssl req -inform DER -in "$WORK/forged.der" -out "$WORK/forged.pem" 2>/dev/null
rejected "a signature that does not verify (PEM)" "proof of possession" "$WORK/forged.pem" \
  "${PERSON[@]}"
# Another key's public key put into a request signed by the first key: the
# subjectPublicKeyInfo of `other` replaces that of `good`, the signature stays.
python3 - "$WORK/good.der" "$WORK/other.csr" "$WORK/swapped.der" <<'EOF'
import base64, sys
def der_of(path):
    data = open(path, "rb").read()
    if data.startswith(b"-----"):
        body = b"".join(l for l in data.splitlines() if not l.startswith(b"-----"))
        data = base64.b64decode(body)
    return bytearray(data)
good, other = der_of(sys.argv[1]), der_of(sys.argv[2])
# A P-256 SubjectPublicKeyInfo is 91 bytes starting 30 59 30 13 06 07 2a 86 48 ce 3d 02 01.
marker = bytes.fromhex("3059301306072a8648ce3d0201")
g, o = good.find(marker), other.find(marker)
assert g > 0 and o > 0
good[g:g + 91] = other[o:o + 91]
open(sys.argv[3], "wb").write(good)
EOF
rejected "a request signed by a key other than the one it carries" "proof of possession" \
  "$WORK/swapped.der" "${PERSON[@]}"

echo "-- key policy"
rejected "an RSA-1024 key" "at least 2048" "$WORK/rsa1024.csr" "${PERSON[@]}"
rejected "a secp256k1 key" "secp256k1" "$WORK/k1.csr" "${PERSON[@]}"
rejected "an Ed25519 key" "ED25519" "$WORK/ed25519.csr" "${PERSON[@]}"
rejected "a P-256 key with explicit curve parameters" "RFC 5480" "$WORK/explicit.csr" \
  "${PERSON[@]}"
rejected "a key already certified for another subject" "one key, one subject" \
  "$WORK/other.csr" "${PERSON[@]}"

echo "-- validity"
rejected "--days beyond the profile's maximum (1095)" "max_validity_days" "$WORK/good.csr" \
  "${PERSON[@]}" --days 1096
rejected "--days 0" "--days" "$WORK/good.csr" "${PERSON[@]}" --days 0
rejected "--days not a number" "--days" "$WORK/good.csr" "${PERSON[@]}" --days 12x

echo "-- subject fields"
rejected "a control character in given_name" "given_name" "$WORK/good.csr" \
  --profile natural-person --set given_name=$'Jos\x01é' --set surname=Pérez \
  --set id_number=10117410-2
rejected "a newline in surname" "surname" "$WORK/good.csr" \
  --profile natural-person --set given_name=José --set surname=$'Pérez\nCN=root' \
  --set id_number=10117410-2
rejected "an escape sequence in email" "email" "$WORK/good.csr" "${PERSON[@]}" \
  --set email=$'j\x1b[31m@example.pe'
rejected "invalid UTF-8 in surname" "surname" "$WORK/good.csr" \
  --profile natural-person --set given_name=José --set surname=$'P\xffrez' \
  --set id_number=10117410-2
rejected "overlong UTF-8 in given_name" "given_name" "$WORK/good.csr" \
  --profile natural-person --set given_name=$'\xc0\xafJosé' --set surname=Pérez \
  --set id_number=10117410-2
rejected "a DNI with a wrong check digit" "check" "$WORK/good.csr" \
  --profile natural-person --set given_name=José --set surname=Pérez --set id_number=10117410-3
rejected "a RUC with a wrong check digit" "RUC" "$WORK/good.csr" \
  --profile e-invoice --set organization="Empresa SAC" --set org_id=20512333798
rejected "an unknown field" "shoe_size" "$WORK/good.csr" "${PERSON[@]}" --set shoe_size=42
rejected "a field the profile does not take" "organization" "$WORK/good.csr" "${PERSON[@]}" \
  --set organization=ACME
rejected "a field given twice" "given_name" "$WORK/good.csr" "${PERSON[@]}" --set given_name=Otro
rejected "--set without '='" "FIELD=VALUE" "$WORK/good.csr" "${PERSON[@]}" --set email
rejected "an unknown profile" "no-such-profile" "$WORK/good.csr" --profile no-such-profile \
  --set given_name=José --set surname=Pérez --set id_number=10117410-2
rejected "no profile" "--profile" "$WORK/good.csr" --set given_name=José
rejected "a missing required field (surname)" "surname" "$WORK/good.csr" \
  --profile natural-person --set given_name=José --set id_number=10117410-2
rejected "an empty required field (id_number)" "id_number" "$WORK/good.csr" \
  --profile natural-person --set given_name=José --set surname=Pérez --set id_number=
rejected "an id_type the profile does not accept" "passport" "$WORK/good.csr" "${PERSON[@]}" \
  --set id_type=passport
rejected "a surname of 65 characters" "surname" "$WORK/good.csr" --profile natural-person \
  --set given_name=José --set "surname=$(printf 'x%.0s' {1..65})" --set id_number=10117410-2
rejected "a common name over 64 characters" "64" "$WORK/good.csr" --profile natural-person \
  --set "given_name=$(printf 'a%.0s' {1..40})" --set "surname=$(printf 'b%.0s' {1..30})" \
  --set id_number=10117410-2
rejected "limits over 191 characters" "limits" "$WORK/good.csr" --profile legal-representative \
  --set given_name=José --set surname=Pérez --set id_number=10117410-2 \
  --set organization="Empresa SAC" --set org_id=20512333797 \
  --set "limits=$(printf 'é%.0s' {1..192})"
rejected "a lower-case country" "country" "$WORK/good.csr" "${PERSON[@]}" --set country=pe
rejected "an e-mail without a domain" "email" "$WORK/good.csr" "${PERSON[@]}" --set email=jose@
rejected "a missing CSR file" "no-such.csr" "$WORK/no-such.csr" "${PERSON[@]}"

echo "-- the same request, corrected, is accepted"
ok "the good request with valid fields is issued" "$RUBRICA" cert issue --data "$D" \
  --csr "$WORK/good.csr" "${PERSON[@]}" --set email=jose@example.pe --out "$WORK/good.pem"
ok "limits of exactly 191 characters are issued" "$RUBRICA" cert issue --data "$D" \
  --csr "$WORK/limits.csr" --profile legal-representative --set given_name=Ana \
  --set surname=Quispe --set id_number=05209244-8 --set organization="Empresa SAC" \
  --set org_id=20512333797 --set "limits=$(printf 'é%.0s' {1..191})" --out "$WORK/limits.pem"
# RFC 5280 4.2.1.4: explicitText is at most 200 characters; "Límites: " takes 9.
LIMITS=$(openssl x509 -in "$WORK/limits.pem" -noout -text | grep -o 'Límites: é*')
same "the limits notice is 200 characters, none cut off" "${#LIMITS}" 200
ok "audit verify" "$RUBRICA" audit verify --data "$D"
finish
