#!/usr/bin/env bash
# CronTasks against the real engine: the example (a nightly Workflow) run now
# with `berth trigger`; @every 2s runs on time (skew reported) with history
# pruned; Forbid records runs missed while one is active (ConcurrencyForbid);
# Replace stops the active run; suspend and resume; triggers with and without
# --force; and berthd stopped for 10 s: catch-up None, Latest and All (max 3)
# as configured, never a run twice.
source "$(dirname "$0")/lib.sh"
start_berthd

# ct_field NAME PATH: a field of a CronTask (dotted path), "" when absent.
ct_field() {
  berth get crontask "$1" -o json | python3 -c "
import json,sys
o=json.load(sys.stdin)
for p in sys.argv[1].split('.'):
    o=o.get(p) if isinstance(o,dict) else None
print('' if o is None else (len(o) if isinstance(o,list) else o))" "$2"
}
# runs NAME: the names of its runs (Tasks and Workflows labelled berth.crontask=NAME).
runs() {
  { berth get tasks -l "berth.crontask=$1" -o name; berth get workflows -l "berth.crontask=$1" -o name; } 2>/dev/null | sort
}
# scheduled NAME: the scheduled time (unix seconds) of every run, sorted.
scheduled() {
  berth get tasks -l "berth.crontask=$1" -o json | python3 -c '
import json, sys, calendar, time
for o in json.load(sys.stdin).get("items", []):
    t = o["metadata"]["annotations"]["berth/scheduled-time"]
    print(calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")))' | sort -n
}
crontask() { # NAME SCHEDULE EXTRA-SPEC-LINES COMMAND
  cat <<YAML
apiVersion: berth/v1
kind: CronTask
metadata: {name: $1}
spec:
  schedule: "$2"
$3
  taskTemplate:
    spec: {image: "busybox:latest", network: none, command: [sh, -c, '$4']}
YAML
}

# --- the example: a Workflow every night; run it now --------------------------
berth apply -f "$BERTH_SOURCE_DIR/examples/nightly-report/crontask.yaml" >/dev/null || fail "apply example"
[ -n "$(ct_field nightly-report status.nextScheduleTime)" ] || wait_until 10 '[ -n "$(ct_field nightly-report status.nextScheduleTime)" ]' ||
  fail "no nextScheduleTime: $(berth get crontask nightly-report -o json)"
berth get crontasks | has -E '^nightly-report +30 2 \* \* \* +Europe/Berlin +false +0 +<none> +in ' ||
  fail "get crontasks: $(berth get crontasks)"
berth trigger crontask/nightly-report >"$T/trigger.out" || fail "trigger"
run=$(sed -n 's/.*run \(nightly-report-manual-[0-9]*\)$/\1/p' "$T/trigger.out")
[ -n "$run" ] || fail "trigger output: $(cat "$T/trigger.out")"
wait_until 30 "berth get workflow $run >/dev/null 2>&1" || fail "no run $run: $(runs nightly-report)"
berth wait "workflow/$run" --for=condition=Succeeded --timeout=90s || fail "run $run did not succeed"
berth logs "workflow/$run" | has -x "report $run: 42 rows" || fail "logs of $run: $(berth logs "workflow/$run")"
berth describe crontask nightly-report >"$T/describe.out"
has -x 'Next Runs:' "$T/describe.out" && has "$run" "$T/describe.out" || fail "describe: $(cat "$T/describe.out")"
[ "$(ct_field nightly-report status.lastTriggerTime)" != "" ] || fail "lastTriggerTime not set"

# --- @every 2s: on time, history pruned ----------------------------------------
crontask every '@every 2s' '  successfulHistoryLimit: 4' 'true' | berth apply -f - >/dev/null || fail "apply every"
start=$SECONDS
sleep 13
berth suspend crontask/every >/dev/null || fail "suspend every"
n=$(runs every | wc -l)
[ "$n" -ge 1 ] && [ "$n" -le 5 ] || fail "every: $n runs kept with successfulHistoryLimit 4 (+1 running): $(runs every)"
# Exactly once: every run has its own scheduled time, 2 s apart.
scheduled every >"$T/every.times"
[ "$(sort -u "$T/every.times" | wc -l)" = "$(wc -l <"$T/every.times")" ] || fail "a scheduled time twice: $(cat "$T/every.times")"
# Skew: the container's start against its scheduled time.
for t in $(berth get tasks -l berth.crontask=every -o name | sed 's,task/,,'); do
  at=$(berth get task "$t" -o json | python3 -c '
import json,sys,calendar,time
o=json.load(sys.stdin)
print(calendar.timegm(time.strptime(o["metadata"]["annotations"]["berth/scheduled-time"], "%Y-%m-%dT%H:%M:%SZ")))')
  started=$(docker inspect --format '{{.State.StartedAt}}' "$(docker ps -aq --filter "$(cluster_filter)" --filter "label=berth.name=$t" | head -1)")
  python3 -c "
import sys, datetime
s = datetime.datetime.fromisoformat(sys.argv[1][:26].rstrip('Z') + '+00:00').timestamp()
print('%.3f' % (s - int(sys.argv[2])))" "$started" "$at"
done | sort -n >"$T/skew"
log "@every 2s skew (s), container start - scheduled time: $(tr '\n' ' ' <"$T/skew")"
python3 -c "
import sys
v=[float(x) for x in open(sys.argv[1])]
assert v and max(v) < 10, v" "$T/skew" || fail "skew: $(cat "$T/skew")"
[ "$(ct_field every status.missed.count)" = 0 ] || fail "every missed runs: $(ct_field every status.missed)"

# --- Forbid: a 5 s run, every 2 s: the runs in between are missed ------------------
crontask forbid '@every 2s' '  concurrencyPolicy: Forbid' 'sleep 5' | berth apply -f - >/dev/null || fail "apply forbid"
wait_until 30 '[ "$(ct_field forbid status.missed.count)" -ge 2 ]' || fail "forbid: nothing missed: $(berth get crontask forbid -o json)"
[ "$(ct_field forbid status.missed.lastReason)" = ConcurrencyForbid ] || fail "forbid reason: $(ct_field forbid status.missed)"
[ "$(ct_field forbid status.active)" -le 1 ] || fail "forbid: two runs active"
berth trigger crontask/forbid >/dev/null || fail "trigger forbid"
wait_until 10 '[ -n "$(ct_field forbid status.lastTriggerTime)" ]' || fail "trigger not handled"
# A forced trigger runs beside the active run.
berth suspend crontask/forbid >/dev/null
wait_until 20 '[ "$(ct_field forbid status.active)" = 0 ]' || fail "forbid: runs never finished"
berth trigger crontask/forbid >/dev/null
wait_until 10 '[ "$(ct_field forbid status.active)" = 1 ]' || fail "trigger on a suspended crontask did not run"
sleep 1
berth trigger crontask/forbid --force >/dev/null || fail "trigger --force"
wait_until 10 '[ "$(ct_field forbid status.active)" = 2 ]' || fail "forced trigger did not run beside: $(ct_field forbid status.active)"

# --- Replace: the active run is stopped for the new one ----------------------------
crontask replace '@every 3s' '  concurrencyPolicy: Replace' 'sleep 60' | berth apply -f - >/dev/null || fail "apply replace"
wait_until 30 '[ "$(runs replace | wc -l)" -ge 1 ]' || fail "replace: no run"
first=$(runs replace | head -1)
wait_until 30 "! berth get ${first} >/dev/null 2>&1" || fail "replace: $first was not replaced"
[ "$(ct_field replace status.active)" -le 1 ] || fail "replace: more than one active"
berth suspend crontask/replace >/dev/null

# --- suspend, resume: no burst with catchUp None -----------------------------------
crontask pause '@every 2s' '  catchUp: {policy: None}' 'true' | berth apply -f - >/dev/null || fail "apply pause"
wait_until 10 '[ "$(runs pause | wc -l)" -ge 1 ]' || fail "pause: no run"
berth suspend crontask/pause >/dev/null || fail "suspend pause"
wait_until 5 '[ "$(ct_field pause status.conditions | head -c1)" != "" ]'
n=$(runs pause | wc -l)
sleep 6
[ "$(runs pause | wc -l)" = "$n" ] || fail "runs while suspended"
[ -z "$(ct_field pause status.nextScheduleTime)" ] || fail "nextScheduleTime while suspended"
berth resume crontask/pause >/dev/null || fail "resume"
wait_until 10 '[ "$(ct_field pause status.missed.lastReason)" = Downtime ]' || fail "resume: suspended times not missed: $(ct_field pause status.missed)"
[ "$(runs pause | wc -l)" -le "$((n + 1))" ] || fail "resume ran the suspended times: $(runs pause)"
berth suspend crontask/pause >/dev/null
berth suspend crontask/every >/dev/null

# --- berthd down for 10 s: catch-up None, Latest, All ------------------------------
crontask cu-none '@every 2s' '  catchUp: {policy: None}' 'true' | berth apply -f - >/dev/null
crontask cu-latest '@every 2s' '  catchUp: {policy: Latest}' 'true' | berth apply -f - >/dev/null
crontask cu-all '@every 2s' "  catchUp: {policy: All, max: 3}
  successfulHistoryLimit: 100" 'true' | berth apply -f - >/dev/null
wait_until 10 '[ "$(runs cu-all | wc -l)" -ge 1 ]' || fail "catch-up tasks never ran"
stop_berthd
down=$(date +%s)
sleep 10
start_berthd
up=$(date +%s)
sleep 3
for ct in cu-none cu-latest cu-all; do berth suspend "crontask/$ct" >/dev/null; done
# Runs scheduled while down (strictly between down+1 and up-1, to leave the edges alone).
in_gap() { scheduled "$1" | awk -v a=$((down + 1)) -v b=$((up - 1)) '$1 > a && $1 < b' | wc -l; }
[ "$(in_gap cu-none)" = 0 ] || fail "None ran missed times: $(scheduled cu-none)"
[ "$(in_gap cu-latest)" -le 1 ] || fail "Latest ran more than the latest: $(scheduled cu-latest)"
[ "$(in_gap cu-all)" -ge 2 ] && [ "$(in_gap cu-all)" -le 3 ] || fail "All (max 3) ran $(in_gap cu-all) missed times: $(scheduled cu-all)"
for ct in cu-none cu-latest cu-all; do
  [ "$(ct_field $ct status.missed.lastReason)" = Downtime ] || fail "$ct: missed $(ct_field $ct status.missed)"
  scheduled "$ct" >"$T/$ct.times"
  [ "$(sort -u "$T/$ct.times" | wc -l)" = "$(wc -l <"$T/$ct.times")" ] || fail "$ct ran a time twice"
done
log "catch-up after 10 s down: none=$(in_gap cu-none) latest=$(in_gap cu-latest) all=$(in_gap cu-all); missed none=$(ct_field cu-none status.missed.count) latest=$(ct_field cu-latest status.missed.count) all=$(ct_field cu-all status.missed.count)"

# --- deleting a CronTask deletes its runs ------------------------------------------
berth delete crontask every --timeout 60s >/dev/null || fail "delete every"
[ -z "$(runs every)" ] || fail "runs of a deleted crontask: $(runs every)"

# --- bad input: rejected with the field, nothing stored ------------------------------
if crontask bad '30 24 * * *' '' 'true' | berth apply -f - 2>"$T/bad.err"; then fail "bad schedule accepted"; fi
has 'spec.schedule: field 2 (hour): 24 is out of range 0-23' "$T/bad.err" || fail "bad schedule: $(cat "$T/bad.err")"
berth get crontask bad >/dev/null 2>&1 && fail "a bad crontask was stored"
stop_berthd
log "PASS"
