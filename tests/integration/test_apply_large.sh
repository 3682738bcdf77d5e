#!/usr/bin/env bash
# berth apply of more documents than one request may hold (berthd takes 1000):
# 10 files of 150 suspended Sources each (cheap: a suspended Source runs
# nothing) go in batches, every object lands, a second apply changes nothing,
# and berth diff sees no difference until a file changes. Logs objects/s.
source "$(dirname "$0")/lib.sh"

roots=()
if "$BERTHD" --help 2>&1 | grep -q -- '--source-root'; then
  mkdir -p "$T/src"
  roots=(--source-root "$T/src")
fi
start_berthd "${roots[@]}"

FILES=10 PER_FILE=150 N=$((10 * 150))
mkdir -p "$T/m"
for f in $(seq -w 1 $FILES); do
  for i in $(seq -w 1 $PER_FILE); do
    [ "$i" = 001 ] || echo ---
    printf 'apiVersion: berth/v1\nkind: Source\nmetadata:\n  name: s%s-%s\nspec:\n' "$f" "$i"
    printf '  path: %s/src/site-%s-%s\n  suspend: true\n' "$T" "$f" "$i"
  done >"$T/m/f$f.yaml"
done

t0=$(date +%s%N)
berth apply -f "$T/m" >"$T/apply.out" 2>"$T/apply.err" ||
  fail "apply failed: $(tail -n 5 "$T/apply.err")"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$(grep -c ' created$' "$T/apply.out")" = "$N" ] ||
  fail "apply did not create $N objects: $(sort "$T/apply.out" | uniq -c | head)"
log "applied $N objects in ${ms} ms: $((N * 1000 / (ms > 0 ? ms : 1))) objects/s"

berth get sources >"$T/get.out" || fail "berth get sources failed"
n=$(wc -l <"$T/get.out")
[ "$n" = $((N + 1)) ] || fail "berth get sources has $n lines, want $((N + 1))"
head -n 1 "$T/get.out" | has -E '^NAME +PATH +REVISION +OBJECTS +READY +AGE$' ||
  fail "get header: $(head -n 1 "$T/get.out")"
berth get source s01-001 -o json | python3 -c '
import json, sys
o = json.load(sys.stdin)
s = o["spec"]
assert s["suspend"] is True and s["recursive"] is True and s["prune"] is True, s
assert s["include"] == ["*.yaml", "*.yml", "*.json"] and s["rescanSeconds"] == 600, s
' || fail "defaults of s01-001"

# Again: every object unchanged, in the same batches.
t0=$(date +%s%N)
berth apply -f "$T/m" >"$T/apply2.out" || fail "second apply failed"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$(grep -c ' unchanged$' "$T/apply2.out")" = "$N" ] || fail "second apply changed something"
log "re-applied $N unchanged objects in ${ms} ms: $((N * 1000 / (ms > 0 ? ms : 1))) objects/s"
berth apply -f "$T/m" --dry-run | grep -c ' unchanged (dry run)$' | has -x "$N" ||
  fail "dry run"

# diff: nothing, then one change.
rc=0
berth diff -f "$T/m" >"$T/diff.out" || rc=$?
[ "$rc" = 0 ] || fail "diff of what was applied: exit $rc: $(head -n 20 "$T/diff.out")"
[ ! -s "$T/diff.out" ] || fail "diff printed: $(head -n 20 "$T/diff.out")"
sed -i 's/^  suspend: true$/  suspend: true\n  rescanSeconds: 60/' "$T/m/f05.yaml"
printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: brand-new}\nspec: {path: /x, suspend: true}\n' >>"$T/m/f10.yaml"
rc=0
berth diff -f "$T/m" >"$T/diff.out" || rc=$?
[ "$rc" = 1 ] || fail "diff after a change: exit $rc"
[ "$(grep -c '^+++ file/sources/default/' "$T/diff.out")" = $((PER_FILE + 1)) ] ||
  fail "diff shows $(grep -c '^+++ ' "$T/diff.out") objects, want $((PER_FILE + 1))"
grep -x -- '-  rescanSeconds: 600' "$T/diff.out" | wc -l | has -x "$PER_FILE" || fail "diff lines"
grep -x -- '+  rescanSeconds: 60' "$T/diff.out" | wc -l | has -x "$PER_FILE" || fail "diff lines"
grep -x -- '@@ -0,0 +1,21 @@' "$T/diff.out" >/dev/null ||
  fail "new object not all +: $(grep -A3 'brand-new' "$T/diff.out" | head)"

# An invalid document anywhere: nothing is sent.
printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: bad}\nspec: {path: relative}\n' \
  >>"$T/m/f10.yaml"
berth apply -f "$T/m" >"$T/apply3.out" 2>"$T/apply3.err" && fail "invalid apply succeeded"
has 'spec.path: invalid path "relative"' "$T/apply3.err" || fail "error: $(cat "$T/apply3.err")"
[ ! -s "$T/apply3.out" ] || fail "an invalid apply applied: $(head -n 3 "$T/apply3.out")"
berth get source brand-new >/dev/null 2>&1 && fail "brand-new was applied"

stop_berthd
log "PASS"
