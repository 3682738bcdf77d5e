#!/usr/bin/env bash
# GitOps against the real engine and a real Git repository: the example repo
# (examples/gitops/) followed by a Source converges; a file added runs, edited
# is configured, `git rm` prunes it (its container goes); a broken file next
# to good ones is reported with its line and deletes nothing while the good
# change applies; a fix makes it Ready; `git checkout` of an older commit
# converges to that commit's set; 500 files written at once cause one sync;
# drift through the API is put back; 5,000 objects in 50 files converge, also
# across a kill -9 of berthd in the middle; an emptied directory is refused by
# maxPruneFraction; the directory removed makes the Source Stalled and prunes
# nothing; berthd --watch-dir creates its Source.
source "$(dirname "$0")/lib.sh"
command -v git >/dev/null || skip "git is not installed"
repo=$T/manifests/team-a
mkdir -p "$T/manifests"
cp -r "$BERTH_SOURCE_DIR/examples/gitops/repo" "$repo"
g() { git -C "$repo" -c user.email=t@example.com -c user.name=test "$@" >/dev/null; }
g init -q
g add -A
g commit -qm initial
start_berthd --source-root "$T/manifests"

# src PATH: a field of the Source (dotted; list indexes as numbers).
src() {
  berth get source team-a -o json | python3 -c "
import json,sys
o=json.load(sys.stdin)
for p in sys.argv[1].split('.'):
    o=o[int(p)] if isinstance(o,list) else (o.get(p) if isinstance(o,dict) else None)
print('' if o is None else (json.dumps(o) if isinstance(o,(dict,list)) else o))" "$1"
}
ready() { berth get source team-a -o json | python3 -c "
import json,sys
for c in json.load(sys.stdin).get('status',{}).get('conditions',[]):
    if c['type']==sys.argv[1]: print(c['status'], c['reason'])" "$1"; }
head_rev() { git -C "$repo" rev-parse HEAD; }
synced_at() { wait_until 30 "[ \"\$(src status.revision)\" = \"$1\" ]" || fail "not synced to $1: $(berth get source team-a -o yaml)"; }
exists() { berth get "$1" >/dev/null 2>&1; }

# --- a Source outside the allowed roots is refused, naming the field ---------------------------
printf 'apiVersion: berth/v1\nkind: Source\nmetadata: {name: nope}\nspec:\n  path: /etc\n' >"$T/nope.yaml"
out=$(berth apply -f "$T/nope.yaml" 2>&1) && fail "a Source on /etc was accepted"
echo "$out" | has "spec.path: /etc is outside the directories berthd may read sources from" || fail "refusal: $out"
! exists source/nope || fail "refused Source stored"

# --- the example converges ------------------------------------------------------------
sed "s|/srv/manifests/team-a|$repo|" "$BERTH_SOURCE_DIR/examples/gitops/source.yaml" >"$T/source.yaml"
berth apply -f "$T/source.yaml" >/dev/null || fail "apply source"
synced_at "$(head_rev)"
[ "$(ready Ready)" = "True Synced" ] || fail "not Ready: $(berth get source team-a -o yaml)"
[ "$(src status.objectCount)" = 3 ] && [ "$(src status.files)" = 3 ] || fail "counts: $(berth get source team-a -o yaml)"
berth wait task/report --for=condition=Succeeded --timeout=60s || fail "report did not run"
exists crontask/nightly && exists service/api || fail "objects missing"
berth get task report -o json | has '"berth/source-path": "jobs/report.yaml"' || fail "no source-path annotation"
berth get sources | has -E "^team-a +$repo +[0-9a-f]{12} +3 +True " || fail "get sources: $(berth get sources)"

# --- add, edit, git rm ---------------------------------------------------------------------
cat >"$repo/jobs/extra.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: extra}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'sleep 300']}
YAML
g add -A && g commit -qm "add extra"
synced_at "$(head_rev)"
berth wait task/extra --for=condition=Running --timeout=60s || fail "extra not running"
sed -i 's/report v1/report v2/' "$repo/jobs/report.yaml"
t0=$(date +%s.%N)
g commit -qam "edit report"
wait_until 30 'berth get task report -o json | has "report v2"' || fail "edit not applied"
log "file write to object stored: $(python3 -c "import time; print('%.2fs' % (time.time() - $t0))")"
[ "$(berth get task report -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["generation"])')" = 2 ] ||
  fail "report not configured"
g rm -q jobs/extra.yaml && g commit -qm "remove extra"
synced_at "$(head_rev)"
wait_until 30 '! exists task/extra' || fail "extra not pruned"
wait_until 30 '[ -z "$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=extra)" ]' ||
  fail "extra's container left"
src status.lastPrune | has 'tasks/default/extra' || fail "lastPrune: $(src status.lastPrune)"

# --- a broken file: reported with its line, nothing deleted, good changes still apply ----------
printf 'apiVersion: berth/v1\nkind: Task\nmetadata: {name: broken}\nspec:\n  imagee: busybox\n' >"$repo/jobs/broken.yaml"
g rm -q services/api.yaml
sed -i 's/report v2/report v3/' "$repo/jobs/report.yaml"
g add -A && g commit -qm "broken"
synced_at "$(head_rev)"
[ "$(ready Stalled)" = "True FilesInError" ] || fail "not Stalled: $(berth get source team-a -o yaml)"
src status.errors | has '"file": "jobs/broken.yaml", "message": "spec.imagee: unknown field, did you mean spec.image?", "line": 5, "column": 3' ||
  fail "errors: $(src status.errors)"
exists service/api || fail "api deleted while a file is broken"
berth get task report -o json | has "report v3" || fail "the good change was not applied"
berth describe source team-a | has 'jobs/broken.yaml:5:3' || fail "describe: $(berth describe source team-a)"
sed -i 's/imagee: busybox/image: busybox:latest/' "$repo/jobs/broken.yaml"
g commit -qam "fix"
synced_at "$(head_rev)"
[ "$(ready Ready)" = "True Synced" ] || fail "not Ready after the fix: $(berth get source team-a -o yaml)"
wait_until 30 '! exists service/api' || fail "api not pruned after the fix"

# --- git checkout of an older commit converges to that commit's set ----------------------------
g checkout -q HEAD~4 # "add extra": report v1, nightly, api, extra
synced_at "$(head_rev)"
wait_until 30 'exists service/api && exists task/extra && ! exists task/broken' ||
  fail "checkout: $(berth get tasks; berth get services)"
g checkout -q -
synced_at "$(head_rev)"
wait_until 30 '! exists service/api && ! exists task/extra && exists task/broken' || fail "back to the branch"

# --- drift through the API is put back -------------------------------------------------------
berth get crontask nightly -o yaml | sed 's/0 3 \* \* \*/0 4 * * */' | berth apply -f - >/dev/null
wait_until 30 'berth get crontask nightly -o json | has "\"schedule\": \"0 3 \* \* \*\""' ||
  fail "drift not corrected: $(berth get crontask nightly -o yaml)"
[ "$(src status.drift.count)" -ge 1 ] && [ "$(src status.drift.lastObject)" = crontasks/default/nightly ] ||
  fail "drift not recorded: $(src status.drift)"

# --- 500 files at once: one sync ---------------------------------------------------------------
syncs() { grep -c 'reconciled key=/berth/sources/default/team-a' "$T/berthd.log" || true; }
before=$(syncs)
python3 - "$repo/many" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
for i in range(500):
    with open(os.path.join(sys.argv[1], "c%03d.yaml" % i), "w") as f:
        f.write("apiVersion: berth/v1\nkind: CronTask\nmetadata: {name: c%03d}\nspec:\n"
                "  schedule: '0 0 1 1 *'\n  suspend: true\n"
                "  taskTemplate: {spec: {image: busybox:latest, command: ['true']}}\n" % i)
PY
wait_until 60 '[ "$(src status.objectCount)" = 503 ]' || fail "500 files: $(src status.objectCount)"
sleep 2
n=$(( $(syncs) - before ))
log "500 files written at once: $n sync(s)"
[ "$n" -le 2 ] || fail "500 files caused $n syncs"
[ "$(berth get crontasks -o name | wc -l)" = 501 ] || fail "crontasks: $(berth get crontasks -o name | wc -l)"

# --- maxPruneFraction: an emptied directory prunes nothing without --force-prune ----------------
mv "$repo/many" "$T/many-away"
wait_until 30 '[ "$(ready Stalled)" = "True PruneRefused" ]' || fail "no PruneRefused: $(berth get source team-a -o yaml)"
[ "$(berth get crontasks -o name | wc -l)" = 501 ] || fail "pruned past maxPruneFraction"
berth sync source/team-a --force-prune >/dev/null || fail "sync --force-prune"
wait_until 60 '[ "$(berth get crontasks -o name | wc -l)" = 1 ]' || fail "force prune: $(berth get crontasks -o name | wc -l)"

# --- 5,000 objects in 50 files, with a kill -9 of berthd in the middle ---------------------------
python3 - "$repo/big" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
for f in range(50):
    with open(os.path.join(sys.argv[1], "f%02d.yaml" % f), "w") as out:
        for i in range(100):
            out.write("---\napiVersion: berth/v1\nkind: CronTask\nmetadata: {name: b%02d-%03d}\nspec:\n"
                      "  schedule: '0 0 1 1 *'\n  suspend: true\n"
                      "  taskTemplate: {spec: {image: busybox:latest, command: ['true']}}\n" % (f, i))
PY
t0=$(date +%s.%N)
g add -A && g commit -qm "5000 objects"
wait_until 60 '[ "$(berth get crontasks -o name | wc -l)" -ge 200 ]' || fail "the big sync did not start"
kill9_berthd
start_berthd --source-root "$T/manifests"
wait_until 240 '[ "$(src status.objectCount)" = 5003 ] && [ "$(ready Ready)" = "True Synced" ]' ||
  fail "5000: $(src status.objectCount) $(ready Ready)"
log "5,000 objects in 50 files (berthd killed and restarted during it): $(python3 -c "import time; print('%.1fs' % (time.time() - $t0))")"
[ "$(berth get crontasks -o name | wc -l)" = 5001 ] || fail "crontasks: $(berth get crontasks -o name | wc -l)"

# --- the directory removed: Stalled, nothing pruned -----------------------------------------------
mv "$repo" "$T/team-a-away"
wait_until 30 '[ "$(ready Stalled)" = "True PathMissing" ]' || fail "no PathMissing: $(berth get source team-a -o yaml)"
[ "$(berth get crontasks -o name | wc -l)" = 5001 ] || fail "pruned while the path is missing"
mv "$T/team-a-away" "$repo"
wait_until 120 '[ "$(ready Ready)" = "True Synced" ]' || fail "not Ready once the path is back"

# --- berthd --watch-dir creates its Source -------------------------------------------------------------
stop_berthd
mkdir -p "$T/manifests/Team_B"
printf 'apiVersion: berth/v1\nkind: Task\nmetadata: {name: from-b}\nspec: {image: busybox:latest, network: none, command: [sh, -c, "echo b"]}\n' \
  >"$T/manifests/Team_B/b.yaml"
start_berthd --source-root "$T/manifests" --watch-dir "$T/manifests/Team_B"
wait_until 30 'exists source/team-b' || fail "no source from --watch-dir: $(berth get sources)"
wait_until 60 'exists task/from-b' || fail "no task from-b: $(berth get source team-b -o yaml)"
berth wait task/from-b --for=condition=Succeeded --timeout=60s || fail "from-b did not run"
stop_berthd
log "PASS"
