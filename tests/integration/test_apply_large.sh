#!/usr/bin/env bash
# berth apply of more documents than one request may hold (berthd takes 1000):
# 10 files of 1,000 suspended Sources each (cheap: a suspended Source runs
# nothing) go in batches, each batch written in few store transactions
# (apply_batch): every object lands and reads back, a second apply changes
# nothing, and berth diff sees no difference until a file changes. A batch
# with one invalid object in the middle writes nothing of that batch and names
# the document (file:line from the CLI, the document from the API). Then the
# same on etcd, smaller, when etcd is up. Logs objects/s.
source "$(dirname "$0")/lib.sh"

roots=()
if "$BERTHD" --help 2>&1 | grep -q -- '--source-root'; then
  mkdir -p "$T/src"
  roots=(--source-root "$T/src")
fi
start_berthd "${roots[@]}"

PER_FILE=${APPLY_LARGE_PER_FILE:-1000}
FILES=10 N=$((10 * PER_FILE))
# make_manifests DIR PER_FILE: FILES files of PER_FILE Sources each.
make_manifests() {
  mkdir -p "$1"
  python3 - "$1" "$FILES" "$2" "$T" <<'PY'
import sys
d, files, per, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w = len(str(per))
for f in range(1, files + 1):
    with open("%s/f%02d.yaml" % (d, f), "w") as out:
        for i in range(1, per + 1):
            if i > 1:
                out.write("---\n")
            out.write("apiVersion: berth/v1\nkind: Source\nmetadata:\n  name: s%02d-%0*d\n"
                      "spec:\n  path: %s/src/site-%02d-%0*d\n  suspend: true\n"
                      % (f, w, i, t, f, w, i))
PY
}
make_manifests "$T/m" "$PER_FILE"
first=$(printf 's01-%0*d' ${#PER_FILE} 1)

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
berth get source "$first" -o json | python3 -c '
import json, sys
o = json.load(sys.stdin)
s = o["spec"]
assert s["suspend"] is True and s["recursive"] is True and s["prune"] is True, s
assert s["include"] == ["*.yaml", "*.yml", "*.json"] and s["rescanSeconds"] == 600, s
' || fail "defaults of $first"

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
# (A new file: a file holds at most 1000 documents.)
printf -- 'apiVersion: berth/v1\nkind: Source\nmetadata: {name: brand-new}\nspec: {path: /x, suspend: true}\n' >"$T/m/f11.yaml"
rc=0
berth diff -f "$T/m" >"$T/diff.out" || rc=$?
[ "$rc" = 1 ] || fail "diff after a change: exit $rc"
[ "$(grep -c '^+++ file/sources/default/' "$T/diff.out")" = $((PER_FILE + 1)) ] ||
  fail "diff shows $(grep -c '^+++ ' "$T/diff.out") objects, want $((PER_FILE + 1))"
grep -x -- '-  rescanSeconds: 600' "$T/diff.out" | wc -l | has -x "$PER_FILE" || fail "diff lines"
grep -x -- '+  rescanSeconds: 60' "$T/diff.out" | wc -l | has -x "$PER_FILE" || fail "diff lines"
grep -x -- '@@ -0,0 +1,21 @@' "$T/diff.out" >/dev/null ||
  fail "new object not all +: $(grep -A3 'brand-new' "$T/diff.out" | head)"

# An invalid document anywhere: nothing is sent, and the CLI names its file
# and line.
line=$(($(wc -l <"$T/m/f11.yaml") + 5))
printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: bad}\nspec: {path: relative}\n' \
  >>"$T/m/f11.yaml"
berth apply -f "$T/m" >"$T/apply3.out" 2>"$T/apply3.err" && fail "invalid apply succeeded"
has 'spec.path: invalid path "relative"' "$T/apply3.err" || fail "error: $(cat "$T/apply3.err")"
has -F "$T/m/f11.yaml:$line:" "$T/apply3.err" || fail "error does not name f11.yaml:$line: $(cat "$T/apply3.err")"
[ ! -s "$T/apply3.out" ] || fail "an invalid apply applied: $(head -n 3 "$T/apply3.out")"
berth get source brand-new >/dev/null 2>&1 && fail "brand-new was applied"

# The server's own rule, for a client that does not check first: one batch
# (a request) with an invalid object in the middle writes nothing of it, and
# the error names the document.
{
  for i in 1 2 3; do
    printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: api-%d}\nspec: {path: %s/src/a, suspend: true}\n' "$i" "$T"
  done
  printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: api-bad}\nspec: {path: relative}\n'
  for i in 4 5; do
    printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: api-%d}\nspec: {path: %s/src/a, suspend: true}\n' "$i" "$T"
  done
} >"$T/batch.yaml"
code=$(curl -s -o "$T/batch.out" -w '%{http_code}' --unix-socket "$T/berth.sock" \
  -H 'Content-Type: application/yaml' --data-binary @"$T/batch.yaml" \
  http://localhost/apis/berth/v1/apply)
[ "$code" = 422 ] || fail "invalid batch: HTTP $code: $(cat "$T/batch.out")"
has -F 'sources/api-bad: spec.path' "$T/batch.out" || fail "422 does not name the document: $(cat "$T/batch.out")"
python3 - "$T/batch.out" <<'PY' || fail "422 details: $(cat "$T/batch.out")"
import json, sys
d = json.load(open(sys.argv[1]))["details"]
assert any(c["field"].startswith("sources/api-bad: spec.path") and c.get("line") == 20 for c in d), d
PY
for i in 1 2 3 4 5; do
  berth get source "api-$i" >/dev/null 2>&1 && fail "api-$i of an invalid batch was written"
done
log "an invalid batch wrote nothing and named its document"

stop_berthd

# --- the same on etcd (smaller: etcd is shared) ------------------------------
etcd_up || { log "SKIP etcd part: no etcd at $ETCD_URL"; log "PASS"; exit 0; }
prefix=$(unique_prefix)
CLEANUP_LAST='etcd_delete_prefix "$prefix"'
E_PER_FILE=${APPLY_LARGE_ETCD_PER_FILE:-300}
EN=$((FILES * E_PER_FILE))
make_manifests "$T/e" "$E_PER_FILE"
start_replica e --store "etcd://${ETCD_URL#http://}" --prefix "$prefix" --leader-elect=false \
  "${roots[@]}"
export BERTH_SERVER="unix://$T/e.sock"
t0=$(date +%s%N)
berth apply -f "$T/e" >"$T/e1.out" 2>"$T/e1.err" || fail "etcd apply: $(tail -n 5 "$T/e1.err")"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$(grep -c ' created$' "$T/e1.out")" = "$EN" ] ||
  fail "etcd apply did not create $EN objects: $(sort "$T/e1.out" | uniq -c | head)"
log "etcd: applied $EN objects in ${ms} ms: $((EN * 1000 / (ms > 0 ? ms : 1))) objects/s"
n=$(berth get sources | wc -l)
[ "$n" = $((EN + 1)) ] || fail "etcd: berth get sources has $n lines, want $((EN + 1))"
# Every key is in etcd itself, once.
keys=$(curl -sf -X POST "$ETCD_URL/v3/kv/range" -d "{\"key\":\"$(printf %s "${prefix}sources/" | base64 -w0)\",\"range_end\":\"$(printf %s "${prefix}sources0" | base64 -w0)\",\"count_only\":true}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("count", 0))')
[ "$keys" = "$EN" ] || fail "etcd holds $keys Source keys, want $EN"
berth apply -f "$T/e" >"$T/e2.out" || fail "etcd: second apply failed"
[ "$(grep -c ' unchanged$' "$T/e2.out")" = "$EN" ] ||
  fail "etcd: second apply changed something: $(sort "$T/e2.out" | grep -v unchanged | head)"
sed -i 's/^  suspend: true$/  suspend: true\n  rescanSeconds: 60/' "$T/e/f03.yaml"
berth apply -f "$T/e" >"$T/e3.out" || fail "etcd: third apply failed"
[ "$(grep -c ' configured$' "$T/e3.out")" = "$E_PER_FILE" ] ||
  fail "etcd: want $E_PER_FILE configured: $(sort "$T/e3.out" | uniq -c | head)"
berth get source "$(printf 's03-%0*d' ${#E_PER_FILE} 7)" -o json | has '"rescanSeconds": 60' ||
  fail "etcd: the change did not land"
line=$(($(wc -l <"$T/e/f05.yaml") + 5))
printf -- '---\napiVersion: berth/v1\nkind: Source\nmetadata: {name: bad}\nspec: {path: relative}\n' \
  >>"$T/e/f05.yaml"
berth apply -f "$T/e" >"$T/e4.out" 2>"$T/e4.err" && fail "etcd: invalid apply succeeded"
has -F "$T/e/f05.yaml:$line:" "$T/e4.err" || fail "etcd: error does not name f05.yaml:$line: $(cat "$T/e4.err")"
[ ! -s "$T/e4.out" ] || fail "etcd: an invalid apply applied"
log "PASS"
