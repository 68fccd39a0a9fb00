#!/usr/bin/env bash
# The CA with its keys in a PKCS#11 token (SoftHSM2, initialised by
# tests/lib/softhsm.sh): init generates the root, issuing, OCSP and TSA keys on
# the token, no key file is written, the token holds them as sensitive and
# never extractable; issuance, revocation and the CRL work and verify with
# openssl and GnuTLS; a wrong PIN fails cleanly; a second provider cannot
# take over the same labels. Skipped when SoftHSM2 is not installed.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/softhsm.sh"
trap softhsm_cleanup EXIT

if [ "$HAVE_SOFTHSM" != 1 ] || ! command -v pkcs11-tool >/dev/null; then
  skip "SoftHSM2 and pkcs11-tool for the PKCS#11 CA checks"
  finish; exit $?
fi

D=$WORK/data
P11=(pkcs11-tool --module "$RUBRICA_PKCS11_MODULE")
counts() { sqlite3 "$D/rubrica.db" 'select count(*) from certificates; select count(*) from audit_log' |
  tr '\n' ' '; }
newcsr() { # NAME: a P-256 request in $WORK/NAME.csr
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -subj "/CN=$1" -out "$WORK/$1.csr" 2>/dev/null
}
newcsr leaf & newcsr second & newcsr third & wait

echo "-- init on the token"
ok "init --hsm pkcs11:token=rubrica exits 0" "$RUBRICA" init --data "$D" --jurisdiction PA \
  --org "Rúbrica HSM SA" --hsm "pkcs11:token=rubrica" --key-type ec-p256
said() { grep -qF -- "$2" "$WORK/last.out"; _record $? "$1"; }
said "... and says the keys are on the token" "PKCS#11 token"
same "no key files under DATA/keys" "$(find "$D/keys" -type f 2>/dev/null | wc -l)" 0
fails "no private key anywhere in the data directory" grep -rl "PRIVATE KEY" "$D"
ok "ca list" "$RUBRICA" ca list --data "$D"
same "all four authorities use the token" "$(grep -c 'key=pkcs11' "$WORK/last.out")" 4

"${P11[@]}" --list-objects --login --pin "$RUBRICA_PKCS11_PIN" >"$WORK/objects.txt" 2>/dev/null
same "the token holds four private keys" "$(grep -c '^Private Key Object' "$WORK/objects.txt")" 4
for label in root issuing ocsp tsa; do
  grep -A4 '^Private Key Object' "$WORK/objects.txt" | grep -A3 "label: *$label\$" \
    >"$WORK/key-$label.txt"
  contains "key '$label' is on the token" "label" cat "$WORK/key-$label.txt"
  contains "key '$label' is sensitive and never extractable" "sensitive, always sensitive, never extractable" \
    cat "$WORK/key-$label.txt"
done

"$RUBRICA" ca cert root --data "$D" >"$WORK/root.pem" 2>/dev/null
"$RUBRICA" ca cert --data "$D" >"$WORK/issuing.pem" 2>/dev/null
contains "the root (signed on the token) verifies" ": OK" \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/issuing.pem"
for svc in ocsp tsa; do
  "$RUBRICA" ca cert "$svc" --data "$D" >"$WORK/$svc.pem" 2>/dev/null
  contains "the $svc certificate verifies" ": OK" \
    openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/issuing.pem" "$WORK/$svc.pem"
done
same "the token's issuing public key is the issuing certificate's" \
  "$("${P11[@]}" --read-object --type pubkey --label issuing 2>/dev/null |
    openssl pkey -pubin -inform DER -outform DER 2>/dev/null | sha256sum)" \
  "$(openssl x509 -in "$WORK/issuing.pem" -pubkey -noout | openssl pkey -pubin -outform DER |
    sha256sum)"

echo "-- issuance and revocation"
ok "issue a certificate" "$RUBRICA" cert issue --data "$D" --csr "$WORK/leaf.csr" \
  --profile natural-person --set given_name=Ana --set surname=Díaz --set id_number=8-274-125 \
  --out "$WORK/leaf.pem"
contains "openssl verify accepts it" ": OK" \
  openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/issuing.pem" "$WORK/leaf.pem"
cat "$WORK/leaf.pem" "$WORK/issuing.pem" "$WORK/root.pem" >"$WORK/chain.pem"
contains "certtool --verify-chain accepts it" "Chain verification output: Verified" \
  certtool --verify-chain --infile "$WORK/chain.pem"
contains "its serialNumber is IDCPA-8-274-125" "serialNumber=IDCPA-8-274-125" \
  openssl x509 -in "$WORK/leaf.pem" -noout -subject -nameopt RFC2253
SERIAL=$(openssl x509 -in "$WORK/leaf.pem" -noout -serial | cut -d= -f2)
ok "revoke it" "$RUBRICA" cert revoke "$SERIAL" --reason key-compromise --data "$D"
ok "crl (signed on the token)" "$RUBRICA" crl --data "$D" --pem --out "$WORK/crl.pem"
contains "openssl crl -verify accepts the CRL" "verify OK" \
  openssl crl -in "$WORK/crl.pem" -noout -verify -CAfile "$WORK/issuing.pem"
contains "openssl verify -crl_check says revoked" "certificate revoked" \
  openssl verify -crl_check -CRLfile "$WORK/crl.pem" -CAfile "$WORK/root.pem" \
  -untrusted "$WORK/issuing.pem" "$WORK/leaf.pem"
ok "suspend and reinstate another (PA)" sh -c "\"$RUBRICA\" cert issue --data '$D' \
  --csr '$WORK/second.csr' --profile natural-person --set given_name=Luis --set surname=Vega \
  --set id_number=PE-1-19 --out '$WORK/second.pem' &&
  s=\$(openssl x509 -in '$WORK/second.pem' -noout -serial | cut -d= -f2) &&
  \"$RUBRICA\" cert suspend \$s --data '$D' && \"$RUBRICA\" cert reinstate \$s --data '$D'"

echo "-- a wrong PIN"
BEFORE=$(counts)
RUBRICA_PKCS11_PIN=0000 fails "issuing with a wrong PIN fails" "$RUBRICA" cert issue \
  --data "$D" --csr "$WORK/third.csr" --profile natural-person --set given_name=Eva \
  --set surname=Ruiz --set id_number=8-274-125
said "... saying the PIN or login failed" "PIN"
same "... and writes nothing" "$(counts)" "$BEFORE"

echo "-- one token, one provider"
mkdir -p "$WORK/other"
fails "a second init on the same token is refused" "$RUBRICA" init --data "$WORK/other/data" \
  --jurisdiction PE --hsm "pkcs11:token=rubrica"
said "... naming the label that exists" "root"
"${P11[@]}" --list-objects --login --pin "$RUBRICA_PKCS11_PIN" 2>/dev/null >"$WORK/objects2.txt"
same "the token still holds four private keys" \
  "$(grep -c '^Private Key Object' "$WORK/objects2.txt")" 4
fails "an unknown token is refused" "$RUBRICA" init --data "$WORK/other/data2" \
  --jurisdiction PE --hsm "pkcs11:token=no-such-token"
said "... naming the token" "no-such-token"

echo "-- RSA-2048 keys on a second token"
softhsm2-util --init-token --free --label rubrica-rsa --so-pin "$RUBRICA_TEST_SO_PIN" \
  --pin "$RUBRICA_PKCS11_PIN" >/dev/null
R=$WORK/rsa
mkdir -p "$R"
ok "init --key-type rsa-2048 on the token" "$RUBRICA" init --data "$R/data" --jurisdiction PE \
  --hsm "pkcs11:token=rubrica-rsa" --key-type rsa-2048
"$RUBRICA" ca cert root --data "$R/data" >"$R/root.pem" 2>/dev/null
"$RUBRICA" ca cert --data "$R/data" >"$R/issuing.pem" 2>/dev/null
ok "issue from it" "$RUBRICA" cert issue --data "$R/data" --csr "$WORK/third.csr" \
  --profile natural-person --set given_name=Eva --set surname=Ruiz --set id_number=10117410-2 \
  --out "$R/leaf.pem"
contains "openssl verify accepts the RSA-signed chain" ": OK" \
  openssl verify -CAfile "$R/root.pem" -untrusted "$R/issuing.pem" "$R/leaf.pem"
cat "$R/leaf.pem" "$R/issuing.pem" "$R/root.pem" >"$R/chain.pem"
contains "certtool --verify-chain accepts it" "Chain verification output: Verified" \
  certtool --verify-chain --infile "$R/chain.pem"

ok "audit verify (EC token)" "$RUBRICA" audit verify --data "$D"
ok "audit verify (RSA token)" "$RUBRICA" audit verify --data "$R/data"
finish
