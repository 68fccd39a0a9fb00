#!/usr/bin/env bash
# `rubrica id check` for every document type: valid numbers print their
# normalised form and exit 0; invalid ones exit 1 with "rubrica: <reason>" on
# stderr and nothing on stdout; a wrong command line exits 2.
. "$(dirname "$0")/../lib/common.sh"

# valid TYPE VALUE EXPECTED [OPTION...]: exits 0 printing exactly EXPECTED.
valid() {
  local type=$1 value=$2 expected=$3 out rc
  shift 3
  out=$("$RUBRICA" id check "$@" -- "$type" "$value" 2>"$WORK/err")
  rc=$?
  same "$type $(printf %q "$value")${*:+ $*} is valid" "$rc:$out" "0:$expected"
}

# invalid TYPE VALUE NEEDLE [OPTION...]: exits 1, stdout empty, stderr is
# "rubrica: ..." and contains NEEDLE.
invalid() {
  local type=$1 value=$2 needle=$3 rc verdict=ok
  shift 3
  "$RUBRICA" id check "$@" -- "$type" "$value" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  [ -s "$WORK/out" ] && verdict="stdout not empty"
  grep -q '^rubrica: ' "$WORK/err" || verdict="no 'rubrica:' line: $(cat "$WORK/err")"
  grep -qF -- "$needle" "$WORK/err" || verdict="no '$needle' in: $(cat "$WORK/err")"
  same "$type $(printf %q "$value")${*:+ $*} is refused" "$rc:$verdict" "1:ok"
}

# usage DESC ARG...: `rubrica id ARG...` exits 2.
usage() {
  local desc=$1 rc
  shift
  "$RUBRICA" id "$@" >/dev/null 2>&1
  rc=$?
  same "$desc exits 2" "$rc" "2"
}

echo "Peru"
valid pe-dni 10117410-2 10117410
valid pe-dni 10117410-g 10117410
valid pe-dni 05209244-8 05209244
invalid pe-dni 10117410-3 "is 2 or G, not 3"
invalid pe-dni 108125H3-3 "8 digits"
invalid pe-dni 1081254332 "8 digits"
valid pe-ruc 20512333797 20512333797
valid pe-ruc 10054148289 10054148289
valid pe-ruc 10101174102 10101174102
invalid pe-ruc 20512333798 "Peru RUC: check digit"
invalid pe-ruc 99512333792 "starts with 10, 15, 17 or 20"
invalid pe-ruc 2051233379 "11 digits"
valid pe-ce ab123456 AB123456
invalid pe-ce ABCDEF1234567 "at most 12"

echo "Panama"
valid pa-cedula 8-274-125 8-274-125
valid pa-cedula pe-1-19 PE-1-19
valid pa-cedula 8AV-1-196 8AV-1-196
valid pa-cedula 13-1-1 13-1-1
invalid pa-cedula 0-1-1 "no province 0"
invalid pa-cedula 14-1-1 "no province 14"
invalid pa-cedula 8-12345-1 "at most 4 digits"
invalid pa-cedula X-1-1 "Las cédulas con letras en el tomo"
invalid pa-cedula 8-1-1-1 "La cédula sólo debe tener el tomo, folio y asiento."
invalid pa-cedula -1-1 "Debe introducir el tomo de la cédula."
valid pa-ruc 8-274-125 "8-274-125 DV 91"
valid pa-ruc 8-274-125 "8-274-125 DV 91" --dv 91
valid pa-ruc "8-274-125 DV 91" "8-274-125 DV 91"
valid pa-ruc 8-2743-1253 "8-2743-1253 DV 31" --dv 31
valid pa-ruc PE-1-19 "PE-1-19 DV 60" --dv 60
valid pa-ruc E-1-11 "E-1-11 DV 63" --dv 63
valid pa-ruc 8AV-1-196 "8AV-1-196 DV 90" --dv 90
valid pa-ruc E-8-110361 "E-8-110361 DV 95" --dv 95
valid pa-ruc 61302-14-123411 "61302-14-123411 DV 22" --dv 22
valid pa-ruc 8-1-2 "8-1-2 DV 05" --dv 05
invalid pa-ruc 253-92-57027 "is 76, not 23" --dv 23
invalid pa-ruc 8-274-125 "is 91, not 19" --dv 19
invalid pa-ruc 8-1-2 "deberá agregar un cero 0 por delante" --dv 5
invalid pa-ruc 8-1 "separados por guiones"

echo "Paraguay"
valid py-ci 1068460 1068460
invalid py-ci 123456789 "1 to 8 digits"
valid py-ruc 80028061-0 80028061-0
valid py-ruc 80000020-0 80000020-0
valid py-ruc 1068460-3 1068460-3
valid py-ruc 2660-3 2660-3
invalid py-ruc 80053249-2 "Paraguay RUC: check digit"
invalid py-ruc 80021744-8 "Paraguay RUC: check digit"
invalid py-ruc 80123456785 "one check digit"

echo "El Salvador"
valid sv-dui 12345678-4 12345678-4
valid sv-dui 00000001-8 00000001-8
invalid sv-dui 12345678-9 "is 4, not 9"
invalid sv-dui 04567890-1 "El Salvador DUI: check digit"
invalid sv-dui 00000000-0 "all zeros"
valid sv-nit 0614-050707-104-8 0614-050707-104-8
valid sv-nit 0209-200875-101-2 0209-200875-101-2
invalid sv-nit 0614-050707-104-0 "is 8, not 0"
invalid sv-nit 52345678901234 "starts with 0, 1 or 9"

echo "Untrusted input"
invalid pe-ruc "" "is empty"
invalid pa-cedula " 8-274-125" "spaces before or after"
invalid pa-cedula "8-274-125 " "spaces before or after"
invalid sv-dui $'12345678-4\n' "spaces before or after"
invalid pa-ruc $'8-274-125\xc3\xa9' "at position 10"
invalid pe-ce "$(printf '1%.0s' $(seq 1 65))" "too long"
invalid xx-id 1 "unknown document type 'xx-id'"
invalid pe-dni 10117410-2 "only given with a Panama RUC" --dv 91

echo "Command line"
ok "id check --help exits 0" "$RUBRICA" id check --help
contains "id check --help lists the types" "sv-nit" "$RUBRICA" id check --help
ok "id --help exits 0" "$RUBRICA" id --help
usage "no arguments" check
usage "a TYPE without VALUE" check pe-dni
usage "an extra argument" check pe-dni 10117410 extra
usage "an unknown option" check --bogus pe-dni 10117410
usage "--dv without its value" check pa-ruc 8-274-125 --dv
usage "an unknown verb" verify pe-dni 10117410

finish
