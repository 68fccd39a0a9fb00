#!/usr/bin/env bash
# The audit log through the CLI: `rubrica audit record` writes entries,
# `audit verify` accepts the untouched log and, on copies of the SQLite file
# tampered with by the sqlite3 tool (a field edited, a row deleted, a row
# inserted, two rows' seqs swapped), names the right record and kind; the
# record hash is recomputed independently in Python; `audit list` filters
# and its --json output parses with python3.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

# count_rows FILE: data lines of a table printed by `audit list` (no header).
count_rows() {
  grep -cE '^ *[0-9]+  ' "$1"
}

# tampered NAME SQL: a fresh copy of the data directory with SQL applied by sqlite3.
tampered() {
  local dir=$WORK/$1
  rm -rf "$dir" && mkdir -p "$dir" && cp "$data"/rubrica.db* "$dir"/ &&
    sqlite3 "$dir/rubrica.db" "$2" && echo "$dir"
}

# broken_at DESC DIR TEXT: verify on DIR exits 1 and says TEXT.
broken_at() {
  local desc=$1 dir=$2 text=$3
  "$RUBRICA" audit verify --data "$dir" >"$WORK/last.out" 2>&1
  local rc=$?
  [ "$rc" -eq 1 ] && grep -qF -- "$text" "$WORK/last.out"
  _record $? "$desc"
}

# The record hash as documented in src/audit/audit.c, computed with Python's
# hashlib from the row itself: SHA-256 over 8-byte big-endian length-prefixed
# fields. Prints the hex hash of record SEQ in DB.
python_hash() {
  python3 - "$1" "$2" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
at, actor, action, obj, detail, prev = db.execute(
    "SELECT at_ms, actor, action, object, detail, prev_hash FROM audit_log WHERE seq = ?",
    (int(sys.argv[2]),)).fetchone()
h = hashlib.sha256()
for field in (b"rubrica-audit-v1", at.to_bytes(8, "big"), actor.encode(), action.encode(),
              obj.encode(), detail.encode(), bytes(prev)):
    h.update(len(field).to_bytes(8, "big") + field)
print(h.hexdigest())
EOF
}

# A forged record linked to record LINK, with its hash computed as above:
# prints INSERT SQL for seq SEQ.
forged_insert() {
  python3 - "$1" "$2" "$3" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
seq, link = int(sys.argv[2]), int(sys.argv[3])
(prev,) = db.execute("SELECT hash FROM audit_log WHERE seq = ?", (link,)).fetchone()
at, actor, action, obj, detail = 1795346000000, "cli:mallory", "key.ceremony", "ca:root", "{}"
h = hashlib.sha256()
for field in (b"rubrica-audit-v1", at.to_bytes(8, "big"), actor.encode(), action.encode(),
              obj.encode(), detail.encode(), bytes(prev)):
    h.update(len(field).to_bytes(8, "big") + field)
print("INSERT INTO audit_log VALUES (%d, %d, '%s', '%s', '%s', '%s', X'%s', X'%s');"
      % (seq, at, actor, action, obj, detail, bytes(prev).hex(), h.hexdigest()))
EOF
}

# Moves every seq >= FROM by DELTA, in two steps so the primary key never clashes.
shift_sql() {
  echo "UPDATE audit_log SET seq = -(seq + $2) WHERE seq >= $1;" \
    "UPDATE audit_log SET seq = -seq WHERE seq < 0;"
}

data=$WORK/data
mkdir -p "$data"
me=$(id -un)

echo "-- an empty log"
contains "verify on an empty log says OK with 0 records" "audit log OK: 0 records" \
  "$RUBRICA" audit verify --data "$data"

echo "-- writing records"
entries=(
  "key.ceremony|ca:root|{\"room\": \"B2\", \"witnesses\": [\"ana\", \"luis\"]}"
  "inspection|site:lima|"
  "cert.review|cert:01|{\"by\": \"Núñez\"}"
  "cert.review|cert:02|"
  "key.backup|ca:root|{\"copies\": 2}"
  "inspection|site:quito|{}"
  "cert.review|cert:03|"
  "key.ceremony|ca:sub|{\"room\": \"B2\"}"
)
written=0
for i in "${!entries[@]}"; do
  IFS='|' read -r action object detail <<<"${entries[$i]}"
  args=(audit record --data "$data" --action "$action" --object "$object")
  [ -n "$detail" ] && args+=(--detail "$detail")
  RUBRICA_FAKE_TIME="2026-11-22T10:0$((i + 1)):00Z" "$RUBRICA" "${args[@]}" \
    >"$WORK/last.out" 2>&1 && grep -qF "recorded audit entry $((i + 1))" "$WORK/last.out" &&
    written=$((written + 1))
done
same "8 records written, numbered 1 to 8" "$written" 8
contains "verify says OK with 8 records" "audit log OK: 8 records, head " \
  "$RUBRICA" audit verify --data "$data"
head_hex=$(sqlite3 "$data/rubrica.db" "SELECT lower(hex(hash)) FROM audit_log WHERE seq = 8")
contains "verify names the head hash stored for record 8 (sqlite3)" "head $head_hex" \
  "$RUBRICA" audit verify --data "$data"
same "record 8's hash matches an independent computation (python3 hashlib)" \
  "$(python_hash "$data/rubrica.db" 8)" "$head_hex"
same "record 1 links to the start of the log (sqlite3)" \
  "$(sqlite3 "$data/rubrica.db" "SELECT hex(prev_hash) FROM audit_log WHERE seq = 1")" \
  "$(printf '0%.0s' {1..64})"
ok "verify --json parses and says ok (python3)" sh -c \
  "'$RUBRICA' audit verify --json --data '$data' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"ok\"] is True and d[\"records\"] == 8 else 1)'"

echo "-- refused manual entries leave nothing behind"
fails "an action with upper case is refused" \
  "$RUBRICA" audit record --data "$data" --action Key.Ceremony --object ca:root
fails "an action starting with a digit is refused" \
  "$RUBRICA" audit record --data "$data" --action 1key --object ca:root
fails "a detail that is not an object is refused" \
  "$RUBRICA" audit record --data "$data" --action note --object x --detail '[1, 2]'
fails "a detail that is not JSON is refused" \
  "$RUBRICA" audit record --data "$data" --action note --object x --detail '{room: B2}'
fails "an object with a control character is refused" \
  "$RUBRICA" audit record --data "$data" --action note --object "$(printf 'a\tb')"
fails "a missing --object is a usage error" \
  "$RUBRICA" audit record --data "$data" --action note
same "still 8 records (sqlite3)" "$(sqlite3 "$data/rubrica.db" 'SELECT COUNT(*) FROM audit_log')" 8

echo "-- tampering with a copy of the file (sqlite3)"
dir=$(tampered edited "UPDATE audit_log SET object = 'ca:evil' WHERE seq = 5")
broken_at "an edited object is named: record 5, edited" "$dir" \
  "audit log BROKEN at record 5: edited (stored hash does not match its content)"
dir=$(tampered edited-time "UPDATE audit_log SET at_ms = at_ms - 60000 WHERE seq = 2")
broken_at "an edited time is named: record 2, edited" "$dir" "BROKEN at record 2: edited"
dir=$(tampered deleted "DELETE FROM audit_log WHERE seq = 4")
broken_at "a deleted row is named: record 4, deleted" "$dir" "BROKEN at record 4: deleted"
dir=$(tampered deleted-renumbered "DELETE FROM audit_log WHERE seq = 4; $(shift_sql 5 -1)")
broken_at "a deleted row with the rest renumbered: record 4, deleted" "$dir" \
  "BROKEN at record 4: deleted"
dir=$(tampered inserted-copy "$(shift_sql 6 1) INSERT INTO audit_log
  SELECT 6, at_ms, actor, action, object, detail, prev_hash, hash FROM audit_log WHERE seq = 5")
broken_at "a copied row inserted with the rest renumbered: record 6, inserted" "$dir" \
  "BROKEN at record 6: inserted"
dir=$(tampered inserted-appended "INSERT INTO audit_log
  SELECT 9, at_ms, actor, action, object, detail, prev_hash, hash FROM audit_log WHERE seq = 2")
broken_at "a copied row appended: record 9, inserted" "$dir" "BROKEN at record 9: inserted"
dir=$(tampered inserted-forged "$(shift_sql 4 1) $(forged_insert "$data/rubrica.db" 4 3)")
broken_at "a forged row with a correct hash and link: record 4, inserted" "$dir" \
  "BROKEN at record 4: inserted"
dir=$(tampered reordered "UPDATE audit_log SET seq = -1 WHERE seq = 3;
  UPDATE audit_log SET seq = 3 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = -1")
broken_at "two rows' seqs swapped: record 3, reordered" "$dir" "BROKEN at record 3: reordered"
dir=$(tampered reordered-adjacent "UPDATE audit_log SET seq = -1 WHERE seq = 7;
  UPDATE audit_log SET seq = 7 WHERE seq = 8; UPDATE audit_log SET seq = 8 WHERE seq = -1")
broken_at "the last two rows swapped: record 7, reordered" "$dir" "BROKEN at record 7: reordered"
ok "verify --json on a broken log parses and names the record (python3)" sh -c \
  "'$RUBRICA' audit verify --json --data '$dir' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"ok\"] is False and d[\"problem\"] == \"reordered\" and d[\"record\"] == 7 else 1)'"
ok "the original file still verifies" "$RUBRICA" audit verify --data "$data"

echo "-- listing"
"$RUBRICA" audit list --data "$data" >"$WORK/list.txt" 2>&1
same "list shows all 8 records" "$(count_rows "$WORK/list.txt")" 8
same "list is newest first" "$(grep -E '^ *[0-9]+  ' "$WORK/list.txt" | head -n1 | awk '{print $1}')" 8
contains "list shows times as RFC 3339 UTC" "2026-11-22T10:05:00.000Z" \
  "$RUBRICA" audit list --data "$data"
"$RUBRICA" audit list --data "$data" --action cert. >"$WORK/list.txt" 2>&1
same "--action cert. matches the prefix (3 records)" "$(count_rows "$WORK/list.txt")" 3
"$RUBRICA" audit list --data "$data" --action inspection >"$WORK/list.txt" 2>&1
same "--action inspection matches exactly (2 records)" "$(count_rows "$WORK/list.txt")" 2
"$RUBRICA" audit list --data "$data" --object ca:root >"$WORK/list.txt" 2>&1
same "--object ca:root (2 records)" "$(count_rows "$WORK/list.txt")" 2
"$RUBRICA" audit list --data "$data" --actor "cli:$me" >"$WORK/list.txt" 2>&1
same "--actor cli:$me (8 records)" "$(count_rows "$WORK/list.txt")" 8
"$RUBRICA" audit list --data "$data" --actor cli:nobody >"$WORK/list.txt" 2>&1
same "--actor cli:nobody (0 records)" "$(count_rows "$WORK/list.txt")" 0
"$RUBRICA" audit list --data "$data" --since 2026-11-22T10:03:00Z \
  --until 2026-11-22T10:06:00Z >"$WORK/list.txt" 2>&1
same "--since is inclusive and --until exclusive (records 3 to 5)" \
  "$(grep -E '^ *[0-9]+  ' "$WORK/list.txt" | awk '{print $1}' | tr '\n' ' ')" "5 4 3 "
"$RUBRICA" audit list --data "$data" --limit 2 >"$WORK/list.txt" 2>&1
same "--limit 2 gives the newest two" \
  "$(grep -E '^ *[0-9]+  ' "$WORK/list.txt" | awk '{print $1}' | tr '\n' ' ')" "8 7 "
"$RUBRICA" audit list --data "$data" --limit 2 --oldest-first >"$WORK/list.txt" 2>&1
same "--oldest-first --limit 2 gives the first two" \
  "$(grep -E '^ *[0-9]+  ' "$WORK/list.txt" | awk '{print $1}' | tr '\n' ' ')" "1 2 "
"$RUBRICA" audit list --data "$data" --json >"$WORK/list.json" 2>/dev/null
ok "list --json parses (python3 -m json.tool)" python3 -m json.tool "$WORK/list.json"
ok "list --json has 8 records with details as objects (python3)" python3 -c "
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 8 and [r['seq'] for r in rows] == list(range(8, 0, -1))
assert rows[7]['detail'] == {'room': 'B2', 'witnesses': ['ana', 'luis']}
assert rows[5]['detail'] == {'by': 'Núñez'} and rows[6]['detail'] == {}
assert rows[0]['time'] == '2026-11-22T10:08:00.000Z' and len(rows[0]['hash']) == 64
" "$WORK/list.json"
"$RUBRICA" audit list --data "$data" --json --action nothing. >"$WORK/list.json" 2>/dev/null
ok "list --json with no match is an empty array (python3)" python3 -c "
import json, sys; assert json.load(open(sys.argv[1])) == []" "$WORK/list.json"
"$RUBRICA" audit list --data "$data" --since yesterday >"$WORK/last.out" 2>&1
same "--since with a bad time is a usage error (exit 2)" "$?" 2
"$RUBRICA" audit list --data "$data" --limit 0 >"$WORK/last.out" 2>&1
same "--limit 0 is a usage error (exit 2)" "$?" 2

finish
