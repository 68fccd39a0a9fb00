#!/usr/bin/env bash
# The certification authority as independent tools see it. For each
# jurisdiction a fresh provider issues one certificate of every profile from
# fresh requests (EC P-256, P-384 and RSA-2048 keys); `openssl verify`, GnuTLS
# `certtool` and NSS `vfychain` accept each chain, and `openssl x509 -text`
# shows the ETSI identifiers, key usage, EKU, policies, AIA and CRLDP. Then the
# lifecycle as openssl sees it: revocation in the CRL with its reason and
# invalidity date, a CRL number that grows, suspension (Panama only) and
# certificateHold, a hold that runs out, renewal and re-issue; `init` refusing
# to run twice; the audit chain verifying at the end.
set -u
. "$(dirname "$0")/../lib/common.sh"

HAVE_NSS=0
command -v vfychain >/dev/null && command -v certutil >/dev/null && HAVE_NSS=1
[ "$HAVE_NSS" = 1 ] || skip "NSS tools (certutil, vfychain) for the NSS checks"

# newcsr NAME KEY: a request for a new key (p256, p384 or rsa) in $WORK/NAME.csr.
# Its subject is deliberately wrong: the CA must not copy it.
newcsr() {
  local opts
  case $2 in
    p256) opts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    p384) opts=(-newkey ec -pkeyopt ec_paramgen_curve:P-384) ;;
    rsa) opts=(-newkey rsa:2048) ;;
  esac
  openssl req -new "${opts[@]}" -nodes -keyout "$WORK/$1.key" -subj "/CN=copied/O=copied" \
    -out "$WORK/$1.csr" 2>/dev/null
}

# serial_of FILE: the certificate's serial as `openssl x509 -serial` prints it.
serial_of() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2; }

# said DESC NEEDLE: passes when the previous check's output contains NEEDLE.
said() { grep -qF -- "$2" "$WORK/last.out"; _record $? "$1"; }

# as_text CERT: `openssl x509 -text` once per certificate, names one RDN a line in UTF-8,
# into CERT.txt, which the checks below read (each openssl run costs ~60 ms).
as_text() { openssl x509 -in "$1" -noout -text -nameopt multiline,utf8,-esc_msb >"$1.txt"; }

# ext TEXT HEADER: the line that starts an extension and the one after.
ext() { grep -A1 -F -- "$2" "$1"; }

# ext_value TEXT HEADER: only the value line after HEADER, trimmed.
ext_value() { ext "$1" "$2" | sed -n 2p | sed 's/^ *//; s/ *$//'; }

# chain_checks LABEL DIR CERT NSS_USAGE: the three verifiers accept CERT with DIR's chain.
chain_checks() {
  local label=$1 dir=$2 cert=$3 usage=$4
  contains "$label: openssl verify" ": OK" \
    openssl verify -CAfile "$dir/root.pem" -untrusted "$dir/issuing.pem" "$cert"
  cat "$cert" "$dir/issuing.pem" "$dir/root.pem" >"$WORK/chain.pem"
  contains "$label: certtool --verify-chain" "Chain verification output: Verified" \
    certtool --verify-chain --infile "$WORK/chain.pem"
  cat "$cert" "$dir/issuing.pem" >"$WORK/partial.pem"
  ok "$label: certtool --verify against the root alone" \
    certtool --verify --load-ca-certificate "$dir/root.pem" --infile "$WORK/partial.pem"
  if [ "$HAVE_NSS" = 1 ] && [ -n "$usage" ]; then
    contains "$label: NSS vfychain (usage $usage)" "Chain is good" \
      vfychain -d "sql:$dir/nss" -pp -u "$usage" -a "$cert"
  fi
}

# Per-jurisdiction test data: national ID in, serialNumber out; tax ID in, organizationIdentifier out.
declare -A NID SERIALNUMBER ORGID ORGIDENT FOREIGN_TYPE FOREIGN_ID FOREIGN_SERIAL
NID[PE]=10117410-2 SERIALNUMBER[PE]=PNOPE-10117410
ORGID[PE]=20512333797 ORGIDENT[PE]=NTRPE-20512333797
FOREIGN_TYPE[PE]=pe-ce FOREIGN_ID[PE]=AB12345 FOREIGN_SERIAL[PE]=PE:CE-AB12345
NID[PA]=8-274-125 SERIALNUMBER[PA]=IDCPA-8-274-125
# Panama: the RUC with the DV its holder declared, which is checked.
ORGID[PA]="61302-14-123411 DV 22" ORGIDENT[PA]=NTRPA-61302-14-123411-22
FOREIGN_TYPE[PA]=passport FOREIGN_ID[PA]=X1234567 FOREIGN_SERIAL[PA]=PASPA-X1234567
NID[PY]=1068460 SERIALNUMBER[PY]=IDCPY-1068460
ORGID[PY]=80028061-0 ORGIDENT[PY]=VATPY-80028061-0
FOREIGN_TYPE[PY]=passport FOREIGN_ID[PY]=P998877 FOREIGN_SERIAL[PY]=PASPY-P998877
NID[SV]=12345678-4 SERIALNUMBER[SV]=IDCSV-12345678-4
ORGID[SV]=0614-050707-104-8 ORGIDENT[SV]=VATSV-0614-050707-104-8
FOREIGN_TYPE[SV]=passport FOREIGN_ID[SV]=S556677 FOREIGN_SERIAL[SV]=PASSV-S556677

PROFILES=(natural-person foreign-person legal-representative attribute professional e-invoice
  agent tsa ocsp)
# Subscriber keys, one per profile in order: P-256, P-384 and (slow to make) RSA-2048.
KEYS=(p256 p384 rsa p384 p256 p384 p256 p256 p384)

# fields J PROFILE: fills the array SETS with the --set options for that profile.
fields() {
  local j=$1 person=(--set given_name=José --set "surname=Pérez Núñez")
  case $2 in
    natural-person) SETS=("${person[@]}" --set "id_number=${NID[$j]}" --set email=jose@example.pe) ;;
    foreign-person) SETS=(--set given_name=Anne --set surname=Martin --set "id_type=${FOREIGN_TYPE[$j]}"
      --set "id_number=${FOREIGN_ID[$j]}") ;;
    legal-representative) SETS=(--set given_name=María --set surname=Quispe
      --set "id_number=${NID[$j]}" --set "organization=Empresa Ejemplo SAC"
      --set "org_id=${ORGID[$j]}" --set "limits=Contratos hasta 50 000 USD") ;;
    attribute) SETS=(--set given_name=Rosa --set surname=Huamán --set "id_number=${NID[$j]}"
      --set "organization=Ministerio de Ejemplo" --set "title=Directora General") ;;
    professional) SETS=(--set given_name=Carlos --set surname=Ríos --set "id_number=${NID[$j]}"
      --set profession=Abogado --set license=CAL-12345) ;;
    e-invoice) SETS=(--set "organization=Empresa Ejemplo SAC" --set "org_id=${ORGID[$j]}") ;;
    agent) SETS=(--set "common_name=Servidor de firma 1" --set "organization=Empresa Ejemplo SAC"
      --set "org_id=${ORGID[$j]}") ;;
    tsa) SETS=(--set "common_name=Unidad TSA 1" --set "organization=Empresa Ejemplo SAC") ;;
    ocsp) SETS=(--set "common_name=Respondedor OCSP 1" --set "organization=Empresa Ejemplo SAC") ;;
  esac
}

# setup J KEYTYPE: a provider in $WORK/J with root.pem, issuing.pem and an NSS database.
setup() {
  local j=$1 dir=$WORK/$1
  mkdir -p "$dir"
  ok "$j: init ($2)" "$RUBRICA" init --data "$dir/data" --jurisdiction "$j" --key-type "$2" \
    --org "Rúbrica $j SA" --base-url "http://ca.example.$j"
  "$RUBRICA" ca cert root --data "$dir/data" >"$dir/root.pem" 2>/dev/null
  "$RUBRICA" ca cert --data "$dir/data" >"$dir/issuing.pem" 2>/dev/null
  contains "$j: the root certifies the issuing CA" ": OK" \
    openssl verify -CAfile "$dir/root.pem" "$dir/issuing.pem"
  if [ "$HAVE_NSS" = 1 ]; then
    mkdir -p "$dir/nss"
    certutil -N --empty-password -d "sql:$dir/nss" &&
      certutil -A -n root -t C,C,C -i "$dir/root.pem" -d "sql:$dir/nss" &&
      certutil -A -n issuing -t ,, -i "$dir/issuing.pem" -d "sql:$dir/nss" || HAVE_NSS=0
  fi
}

# every_profile J DETAIL: issues one certificate of each profile; DETAIL=1 also reads them.
every_profile() {
  local j=$1 detail=$2 dir=$WORK/$1 i=0 p cert text usage
  for p in "${PROFILES[@]}"; do
    fields "$j" "$p"
    cert=$dir/$p.pem
    ok "$j $p: issue from a ${KEYS[$i]} request" "$RUBRICA" cert issue \
      --data "$dir/data" --csr "$WORK/$j-$p.csr" --profile "$p" "${SETS[@]}" --out "$cert"
    case $p in tsa) usage= ;; ocsp) usage=10 ;; *) usage=4 ;; esac
    chain_checks "$j $p" "$dir" "$cert" "$usage"
    i=$((i + 1))
    as_text "$cert"
    [ "$detail" = 1 ] || continue
    text=$cert.txt
    fails "$j $p: nothing of the CSR's subject is copied" grep -q copied "$text"
    contains "$j $p: basicConstraints critical, CA:FALSE" "CA:FALSE" \
      ext "$text" "X509v3 Basic Constraints: critical"
    case $p in
      agent | tsa | ocsp) same "$j $p: keyUsage critical, digitalSignature only" \
        "$(ext_value "$text" "X509v3 Key Usage: critical")" "Digital Signature" ;;
      *) same "$j $p: keyUsage critical, digitalSignature + nonRepudiation" \
        "$(ext_value "$text" "X509v3 Key Usage: critical")" "Digital Signature, Non Repudiation" ;;
    esac
    case $p in
      tsa) same "$j tsa: EKU critical, timeStamping alone" \
        "$(ext_value "$text" "X509v3 Extended Key Usage: critical")" "Time Stamping" ;;
      ocsp) same "$j ocsp: EKU OCSP Signing" \
        "$(ext_value "$text" "X509v3 Extended Key Usage:")" "OCSP Signing"
        contains "$j ocsp: id-pkix-ocsp-nocheck" "OCSP No Check" cat "$text" ;;
      e-invoice | agent) fails "$j $p: no EKU" grep -q "Extended Key Usage" "$text" ;;
      *) same "$j $p: EKU emailProtection" \
        "$(ext_value "$text" "X509v3 Extended Key Usage:")" "E-mail Protection" ;;
    esac
    contains "$j $p: policy 2.999.1.$i (profile order)" "Policy: 2.999.1.$i" cat "$text"
    contains "$j $p: CPS URI" "CPS: http://ca.example.$j/repository/cps" cat "$text"
    contains "$j $p: user notice" "Explicit Text:" cat "$text"
    contains "$j $p: AIA caIssuers" "CA Issuers - URI:http://ca.example.$j/ca/issuing.crt" cat "$text"
    if [ "$p" = ocsp ]; then
      fails "$j ocsp: no OCSP pointer in its own AIA" grep -q "OCSP - URI" "$text"
    else
      contains "$j $p: AIA OCSP" "OCSP - URI:http://ca.example.$j/ocsp" cat "$text"
    fi
    contains "$j $p: CRLDP" "URI:http://ca.example.$j/crl/issuing.crl" cat "$text"
    contains "$j $p: subject key identifier" "X509v3 Subject Key Identifier" cat "$text"
    contains "$j $p: authority key identifier" "X509v3 Authority Key Identifier" cat "$text"
    local serial
    serial=$(grep -A1 "Serial Number:" "$text" | sed -n 2p | tr -d ' :\n')
    [[ $serial =~ ^[0-7][0-9a-f]{39}$ ]]
    _record $? "$j $p: serial of 20 octets, positive ($serial)"
  done
}

# subject_of CERT: the subject, one RDN per line, from CERT.txt.
subject_of() { sed -n '/^        Subject:/,/Subject Public Key Info/p' "$1.txt"; }
identifiers() { # J DETAIL
  local j=$1 dir=$WORK/$1
  contains "$j natural-person: serialNumber ${SERIALNUMBER[$j]}" \
    "serialNumber              = ${SERIALNUMBER[$j]}" subject_of "$dir/natural-person.pem"
  contains "$j foreign-person: serialNumber ${FOREIGN_SERIAL[$j]}" \
    "serialNumber              = ${FOREIGN_SERIAL[$j]}" subject_of "$dir/foreign-person.pem"
  contains "$j e-invoice: organizationIdentifier ${ORGIDENT[$j]}" \
    "organizationIdentifier    = ${ORGIDENT[$j]}" subject_of "$dir/e-invoice.pem"
  [ "$2" = 1 ] || return 0
  contains "$j natural-person: UTF-8 names kept" "commonName                = José Pérez Núñez" \
    subject_of "$dir/natural-person.pem"
  contains "$j natural-person: e-mail in the SAN" "email:jose@example.pe" \
    ext "$dir/natural-person.pem.txt" "X509v3 Subject Alternative Name"
  contains "$j legal-representative: organizationIdentifier" \
    "organizationIdentifier    = ${ORGIDENT[$j]}" subject_of "$dir/legal-representative.pem"
  contains "$j legal-representative: serialNumber" "serialNumber              = ${SERIALNUMBER[$j]}" \
    subject_of "$dir/legal-representative.pem"
  contains "$j legal-representative: the limits in a user notice" \
    "Límites: Contratos hasta 50 000 USD" cat "$dir/legal-representative.pem.txt"
  contains "$j attribute: title" "title                     = Directora General" \
    subject_of "$dir/attribute.pem"
  contains "$j agent: organizationIdentifier" "organizationIdentifier    = ${ORGIDENT[$j]}" \
    subject_of "$dir/agent.pem"
  contains "$j agent: common name" "commonName                = Servidor de firma 1" \
    subject_of "$dir/agent.pem"
}

echo "-- issuance, every profile, every jurisdiction"
# All the requests first, two at a time: key generation is most of the cost.
i=0
for j in PE PA PY SV; do
  for k in "${!PROFILES[@]}"; do
    newcsr "$j-${PROFILES[$k]}" "${KEYS[$k]}" &
    i=$((i + 1))
    [ $((i % 2)) = 0 ] && wait
  done
done
for extra in renew:p256 short:p256 rekey:rsa; do newcsr "${extra%%:*}" "${extra#*:}" & done
wait
setup PE ec-p256
every_profile PE 1
identifiers PE 1
setup PA ec-p384
every_profile PA 1
identifiers PA 1
fails "PA: an e-invoice for a mistyped RUC with its holder's DV is refused" \
  "$RUBRICA" cert issue --data "$WORK/PA/data" --csr "$WORK/renew.csr" --profile e-invoice \
  --set organization="Empresa SA" --set "org_id=61302-14-123412 DV 22"
said "PA: the refusal names the RUC's DV" "the DV of RUC 61302-14-123412 is"
setup PY rsa-2048
every_profile PY 0
identifiers PY 0
setup SV ec-p256
every_profile SV 0
identifiers SV 0

echo "-- revocation and CRLs (PE)"
D=$WORK/PE/data
CA=$WORK/PE/issuing.pem
ROOT=$WORK/PE/root.pem
crl() { "$RUBRICA" crl --data "$D" --pem "$@" 2>/dev/null; }
crl_number() { openssl crl -in "$1" -noout -crlnumber | cut -d= -f2; }
# crl_entry FILE SERIAL: the lines of one entry of the CRL's text form.
crl_entry() {
  openssl crl -in "$1" -noout -text | awk -v s="$2" '/Serial Number:/ { show = ($3 == s) } show'
}
LEAF=$WORK/PE/natural-person.pem
SERIAL=$(serial_of "$LEAF")
crl >"$WORK/crl0.pem"
contains "a CRL before any revocation verifies" "verify OK" \
  openssl crl -in "$WORK/crl0.pem" -noout -verify -CAfile "$CA"
contains "openssl verify -crl_check: good before revocation" ": OK" \
  openssl verify -crl_check -CRLfile "$WORK/crl0.pem" -CAfile "$ROOT" -untrusted "$CA" "$LEAF"
contains "revoke with a lower-case serial" "status:     revoked" \
  "$RUBRICA" cert revoke "$(echo "$SERIAL" | tr A-F a-f)" --reason key-compromise \
  --invalidity 2026-01-01T00:00:00Z --cause "token perdido" --data "$D"
crl >"$WORK/crl1.pem"
contains "the CRL verifies with the issuing CA" "verify OK" \
  openssl crl -in "$WORK/crl1.pem" -noout -verify -CAfile "$CA"
contains "openssl verify -crl_check: certificate revoked" "certificate revoked" \
  openssl verify -crl_check -CRLfile "$WORK/crl1.pem" -CAfile "$ROOT" -untrusted "$CA" "$LEAF"
openssl crl -in "$WORK/crl1.pem" -noout -text >"$WORK/crl1.txt"
contains "the CRL lists the serial" "Serial Number: $SERIAL" cat "$WORK/crl1.txt"
contains "the CRL entry has reason keyCompromise" "Key Compromise" crl_entry "$WORK/crl1.pem" "$SERIAL"
contains "the CRL entry has the invalidity date" "Jan  1 00:00:00 2026 GMT" \
  grep -A1 "Invalidity Date" <(crl_entry "$WORK/crl1.pem" "$SERIAL")
contains "the CRL has an authority key identifier" "Authority Key Identifier" cat "$WORK/crl1.txt"
contains "the CRL has a nextUpdate" "Next Update:" cat "$WORK/crl1.txt"
contains "show --json keeps the legal cause" '"legal_cause": "token perdido"' \
  "$RUBRICA" cert show "$SERIAL" --json --data "$D"
contains "list --status revoked finds it" "$SERIAL" \
  "$RUBRICA" cert list --status revoked --json --data "$D"
fails "revoking it again is refused" \
  "$RUBRICA" cert revoke "$SERIAL" --reason key-compromise --data "$D"
said "... with a message saying it was revoked" "revoked on"
fails "reinstating a revoked certificate is refused" "$RUBRICA" cert reinstate "$SERIAL" --data "$D"
fails "an unknown serial is refused" \
  "$RUBRICA" cert revoke 0123456789ABCDEF --reason key-compromise --data "$D"
said "... with a message naming it" "0123456789ABCDEF"
fails "a serial that is not hex is refused" \
  "$RUBRICA" cert revoke XYZ --reason key-compromise --data "$D"
fails "an unknown reason is refused" \
  "$RUBRICA" cert revoke "$(serial_of "$WORK/PE/attribute.pem")" --reason because --data "$D"
fails "an invalidity date in the future is refused" \
  "$RUBRICA" cert revoke "$(serial_of "$WORK/PE/attribute.pem")" --reason key-compromise \
  --invalidity 2999-01-01T00:00:00Z --data "$D"
said "... naming RFC 5280 5.3.2" "5.3.2"

# A second revocation, this time with a colon-separated serial.
SECOND=$WORK/PE/professional.pem
COLONS=$(openssl x509 -in "$SECOND" -noout -text | grep -A1 "Serial Number:" | tail -n1 | tr -d ' ')
ok "revoke with a colon-separated serial ($COLONS)" \
  "$RUBRICA" cert revoke "$COLONS" --reason affiliation-changed --data "$D"
crl >"$WORK/crl2.pem"
N1=$(crl_number "$WORK/crl1.pem")
N2=$(crl_number "$WORK/crl2.pem")
[ -n "$N1" ] && [ -n "$N2" ] && [ "$((N2))" -gt "$((N1))" ]
_record $? "the CRL number grows after another revocation ($N1 -> $N2)"
contains "the new CRL has reason affiliationChanged" "Affiliation Changed" \
  openssl crl -in "$WORK/crl2.pem" -noout -text
contains "the new CRL still lists the first" "$SERIAL" openssl crl -in "$WORK/crl2.pem" -noout -text
contains "the new CRL verifies" "verify OK" openssl crl -in "$WORK/crl2.pem" -noout -verify -CAfile "$CA"
same "the CRL is the same when nothing changed" "$(crl | sha256sum)" "$(sha256sum <"$WORK/crl2.pem")"
crl --force >"$WORK/crl3.pem"
[ "$(($(crl_number "$WORK/crl3.pem")))" -gt "$((N2))" ]
_record $? "crl --force signs a new CRL with a higher number"
AGENT=$(serial_of "$WORK/PE/agent.pem")
ok "revoke with reason unspecified" "$RUBRICA" cert revoke "$AGENT" --reason unspecified --data "$D"
crl >"$WORK/crl4.pem"
contains "... the CRL lists it" "Revocation Date" crl_entry "$WORK/crl4.pem" "$AGENT"
fails "... without a reason code (RFC 5280 5.3.1)" grep -q "Reason Code" \
  <(crl_entry "$WORK/crl4.pem" "$AGENT")

echo "-- suspension"
fails "PE: suspension is refused" \
  "$RUBRICA" cert suspend "$(serial_of "$WORK/PE/attribute.pem")" --data "$D"
said "... saying Peru does not provide for it" "does not provide for suspending"
same "PE: the refused suspension left the certificate valid" \
  "$("$RUBRICA" cert show "$(serial_of "$WORK/PE/attribute.pem")" --json --data "$D" |
    grep -o '"status": "[a-z]*"')" '"status": "valid"'

PD=$WORK/PA/data
PCA=$WORK/PA/issuing.pem
PROOT=$WORK/PA/root.pem
pcrl() { "$RUBRICA" crl --data "$PD" --pem 2>/dev/null; }
HELD=$WORK/PA/attribute.pem
HSERIAL=$(serial_of "$HELD")
ok "PA: suspend" "$RUBRICA" cert suspend "$HSERIAL" --cause "solicitud del titular" --data "$PD"
pcrl >"$WORK/pcrl1.pem"
contains "PA: the CRL shows Certificate Hold" "Certificate Hold" \
  openssl crl -in "$WORK/pcrl1.pem" -noout -text
contains "PA: openssl verify -crl_check says on hold" "certificate revoked" \
  openssl verify -crl_check -CRLfile "$WORK/pcrl1.pem" -CAfile "$PROOT" -untrusted "$PCA" "$HELD"
fails "PA: suspending a suspended certificate is refused" \
  "$RUBRICA" cert suspend "$HSERIAL" --data "$PD"
ok "PA: reinstate" "$RUBRICA" cert reinstate "$HSERIAL" --data "$PD"
pcrl >"$WORK/pcrl2.pem"
fails "PA: the reinstated certificate is gone from the next CRL" \
  grep -q "$HSERIAL" <(openssl crl -in "$WORK/pcrl2.pem" -noout -text)
[ "$(($(crl_number "$WORK/pcrl2.pem")))" -gt "$(($(crl_number "$WORK/pcrl1.pem")))" ]
_record $? "PA: the CRL after reinstatement has a higher number"
contains "PA: openssl verify -crl_check is good again" ": OK" \
  openssl verify -crl_check -CRLfile "$WORK/pcrl2.pem" -CAfile "$PROOT" -untrusted "$PCA" "$HELD"
fails "PA: reinstating a valid certificate is refused" \
  "$RUBRICA" cert reinstate "$HSERIAL" --data "$PD"
fails "PA: a suspension beyond the jurisdiction's maximum is refused" \
  "$RUBRICA" cert suspend "$HSERIAL" --until 2999-01-01T00:00:00Z --data "$PD"

# A hold that reaches its limit becomes a permanent revocation.
UNTIL=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
LATER=$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)
ok "PA: suspend until $UNTIL" "$RUBRICA" cert suspend "$HSERIAL" --until "$UNTIL" --data "$PD"
RUBRICA_FAKE_TIME=$LATER pcrl >"$WORK/pcrl3.pem"
openssl crl -in "$WORK/pcrl3.pem" -noout -text >"$WORK/pcrl3.txt"
contains "PA: past its limit the hold is a revocation in the CRL" "$HSERIAL" cat "$WORK/pcrl3.txt"
fails "... no longer certificateHold" grep -q "Certificate Hold" "$WORK/pcrl3.txt"
contains "PA: the record says revoked" '"status": "revoked"' \
  "$RUBRICA" cert show "$HSERIAL" --json --data "$PD"
fails "PA: an extinguished hold cannot be reinstated" \
  "$RUBRICA" cert reinstate "$HSERIAL" --data "$PD"

echo "-- renewal and re-issue"
OLD=$WORK/PE/legal-representative.pem
OSERIAL=$(serial_of "$OLD")
fails "renewal outside the 21-day window is refused" \
  "$RUBRICA" cert renew "$OSERIAL" --csr "$WORK/renew.csr" --data "$D"
said "... naming the renewal window" "renewal window"
ok "renewal with --force" \
  "$RUBRICA" cert renew "$OSERIAL" --csr "$WORK/renew.csr" --force --data "$D" --out "$WORK/renewed.pem"
chain_checks "renewed" "$WORK/PE" "$WORK/renewed.pem" 4
same "renewal keeps the subject" "$(openssl x509 -in "$WORK/renewed.pem" -noout -subject)" \
  "$(openssl x509 -in "$OLD" -noout -subject)"
contains "renewal leaves the old certificate valid" '"status": "valid"' \
  "$RUBRICA" cert show "$OSERIAL" --json --data "$D"
SHORT=$WORK/PE/e-invoice.pem
fails "renewal of a short certificate is still refused early" "$RUBRICA" cert renew \
  "$(serial_of "$SHORT")" --csr "$WORK/PE-e-invoice.csr" --days 10 --data "$D"
ok "issue a 30-day certificate" "$RUBRICA" cert issue --data "$D" --csr "$WORK/short.csr" \
  --profile professional --set given_name=Eva --set surname=Lara --set id_number=05209244-8 \
  --set profession=Contadora --set license=CCPL-1 --days 30 --out "$WORK/short.pem"
IN_WINDOW=$(date -u -d '+20 days' +%Y-%m-%dT%H:%M:%SZ)
RUBRICA_FAKE_TIME=$IN_WINDOW ok "renewal within 21 days of expiry, same key" "$RUBRICA" cert renew \
  "$(serial_of "$WORK/short.pem")" --csr "$WORK/short.csr" --data "$D" --out "$WORK/short2.pem"

fails "re-issue with the same key is refused" \
  "$RUBRICA" cert reissue "$OSERIAL" --csr "$WORK/PE-legal-representative.csr" --data "$D"
said "... saying a new key is needed" "new key"
ok "re-issue with a new key" "$RUBRICA" cert reissue "$OSERIAL" --csr "$WORK/rekey.csr" \
  --data "$D" --out "$WORK/reissued.pem"
chain_checks "re-issued" "$WORK/PE" "$WORK/reissued.pem" 4
contains "the old certificate is revoked as superseded" '"reason": "superseded"' \
  "$RUBRICA" cert show "$OSERIAL" --json --data "$D"
crl >"$WORK/crl5.pem"
contains "the CRL says Superseded" "Superseded" openssl crl -in "$WORK/crl5.pem" -noout -text
contains "openssl verify -crl_check: the old one is revoked" "certificate revoked" \
  openssl verify -crl_check -CRLfile "$WORK/crl5.pem" -CAfile "$ROOT" -untrusted "$CA" "$OLD"
contains "openssl verify -crl_check: the new one is good" ": OK" \
  openssl verify -crl_check -CRLfile "$WORK/crl5.pem" -CAfile "$ROOT" -untrusted "$CA" \
  "$WORK/reissued.pem"
fails "re-issuing a revoked certificate is refused" \
  "$RUBRICA" cert reissue "$OSERIAL" --csr "$WORK/renew.csr" --data "$D"

echo "-- init twice"
data_sum() { find "$1" -type f | sort | xargs sha256sum | sha256sum; }
audit_count() { "$RUBRICA" audit list --data "$1" 2>/dev/null | wc -l; }
BEFORE=$(data_sum "$D")
AUDIT_BEFORE=$(audit_count "$D")
fails "init on an initialised directory is refused" \
  "$RUBRICA" init --data "$D" --jurisdiction PE
said "... saying nothing was changed" "nothing was changed"
fails "init with another jurisdiction and key type is refused too" \
  "$RUBRICA" init --data "$D" --jurisdiction PA --key-type rsa-2048 --org Otra
same "the data directory is byte for byte the same" "$(data_sum "$D")" "$BEFORE"
same "the audit log has the same number of records" "$(audit_count "$D")" "$AUDIT_BEFORE"
same "the issuing CA certificate is unchanged" "$("$RUBRICA" ca cert --data "$D" | sha256sum)" \
  "$(sha256sum <"$CA")"

echo "-- audit"
for j in PE PA PY SV; do
  ok "$j: audit verify" "$RUBRICA" audit verify --data "$WORK/$j/data"
done
finish
