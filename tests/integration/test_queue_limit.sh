#!/usr/bin/env bash
# A namespace's Queue (spec.maxRunning) without a global limit: bad Queues
# and priorities are refused naming the field (422 from the server too);
# a Workflow's four parallel steps in a namespace limited to 2 never run
# more than 2 at once and wait Queued (QueueLimit) meanwhile, carrying a
# step's priority to its Task; a CronTask's run carries its template's
# priority; the example runs (its urgent Task before a lower one waiting);
# a kill -9 and restart keep the limit (slots rebuilt from what runs); raising the
# limit, then deleting the Queue, starts the waiting
# Tasks of another namespace at once (no polling: the Queue's change wakes
# them).
source "$(dirname "$0")/lib.sh"
start_berthd

# ---- bad input -----------------------------------------------------------
bad() { # file expected-error
  if berth apply -f "$1" 2>"$T/err" >/dev/null; then fail "accepted: $(cat "$1")"; fi
  has -F "$2" "$T/err" || fail "error for $1: $(cat "$T/err"), want $2"
  code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$T/berth.sock" \
    -X POST -H 'Content-Type: application/yaml' --data-binary @"$1" \
    http://localhost/apis/berth/v1/apply)
  [ "$code" = 422 ] || fail "server answered $code for $1: $(cat "$T/resp")"
}
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec: {maxRunning: 0}\n' >"$T/q0.yaml"
bad "$T/q0.yaml" "spec.maxRunning: must be"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec: {}\n' >"$T/qnone.yaml"
bad "$T/qnone.yaml" "spec: set maxRunning, priorityClasses or maxPriority"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec: {maxRunning: "2"}\n' >"$T/qstr.yaml"
bad "$T/qstr.yaml" "spec.maxRunning: must be an integer"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: fast}\nspec: {maxRunning: 2}\n' >"$T/qname.yaml"
bad "$T/qname.yaml" 'metadata.name: a namespace has one Queue, named "default"'
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec: {maxRunning: 2, maxrunning: 3}\n' >"$T/qunk.yaml"
bad "$T/qunk.yaml" "spec.maxrunning: unknown field"
printf 'apiVersion: berth/v1\nkind: Task\nmetadata: {name: p}\nspec: {image: busybox:latest, priority: 1000001}\n' >"$T/prio.yaml"
bad "$T/prio.yaml" "spec.priority: must be"
printf 'apiVersion: berth/v1\nkind: Task\nmetadata: {name: p}\nspec: {image: busybox:latest, priority: high}\n' >"$T/prios.yaml"
bad "$T/prios.yaml" "spec.priority: must be an integer"
printf 'apiVersion: berth/v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {image: busybox:latest, priority: 1}}\n' >"$T/svc.yaml"
bad "$T/svc.yaml" "spec.template.priority: not allowed in a Service template"
[ -z "$(berth get queues -A -o name)" ] || fail "a bad Queue was stored"
[ -z "$(berth get tasks -A -o name)" ] || fail "a bad Task was stored"

# ---- a Workflow's steps in a namespace limited to 2 -----------------------
{
  cat <<'YAML'
apiVersion: berth/v1
kind: Queue
metadata: {name: default, namespace: team}
spec: {maxRunning: 2}
---
apiVersion: berth/v1
kind: Workflow
metadata: {name: wide, namespace: team}
spec:
  steps:
YAML
  for s in w1 w2 w3 w4; do
    cat <<YAML
    - name: $s
      task: {image: "busybox:latest", network: none, priority: ${s#w}, command: [sleep, "3"]}
YAML
  done
} >"$T/wide.yaml"
berth apply -f "$T/wide.yaml" >/dev/null || fail "apply"
berth -n team get queue default | has -E "^default +2 " || fail "berth get queue: $(berth -n team get queue default)"

# Two run, two wait: Pending, Queued True (QueueLimit) with the limit named.
queued_in_team() {
  berth -n team get tasks -o json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["items"]:
    st = t.get("status", {})
    c = [c for c in st.get("conditions", []) if c["type"] == "Queued" and c["status"] == "True"]
    if st.get("phase") == "Pending" and c and c[0]["reason"] == "QueueLimit":
        print(t["metadata"]["name"], c[0]["message"])'
}
wait_until 30 '[ "$(queued_in_team | wc -l)" = 2 ]' || fail "queued in team: $(queued_in_team)"
queued_in_team | has -F "waiting for a run slot: Queue team/default allows 2 running Tasks (spec.maxRunning)" ||
  fail "message: $(queued_in_team)"
queued_in_team >"$T/queued.txt"
name=$(awk 'NR == 1 { print $1 }' "$T/queued.txt")
berth -n team describe task "$name" | has -E "Position: +[12] of 2 queued" || fail "describe $name"
berth -n team get task wide-w4 -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["spec"]["priority"] == 4 else 1)' ||
  fail "the step's priority is not on its Task"
berth -n team wait workflow/wide --for=condition=Succeeded --timeout 60s >/dev/null ||
  fail "wide did not succeed: $(berth -n team get workflow wide -o json)"
peak=$(max_overlap wide-)
log "at most $peak step containers ran at once in team"
[ "$peak" = 2 ] || fail "$peak containers of team ran at once, Queue maxRunning 2"

# ---- the example: priority 100 starts before the waiting priority-0 Tasks --
berth apply -f "$BERTH_SOURCE_DIR/examples/queue/team-queue.yaml" >/dev/null || fail "apply example"
for t in report-low-1 report-low-2 report-low-3 report-urgent report-low-4; do
  berth -n team wait "task/$t" --for=condition=Succeeded --timeout 60s >/dev/null || fail "example: $t"
done
peak=$(max_overlap report-)
[ "$peak" = 2 ] || fail "example: $peak ran at once"
docker inspect $(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.namespace=team \
  --filter label=berth.kind=Task) >"$T/example.json"
# Two slots often free together (the first two end at once), so the urgent
# Task may start beside report-low-3; but never after report-low-4, which
# comes before it by name when both are created in the same second.
python3 - "$T/example.json" <<'PY' || fail "example: report-low-4 did not start last"
import json, sys
cs = [c for c in json.load(open(sys.argv[1])) if c["Config"]["Labels"]["berth.name"].startswith("report-")]
# Same width (Docker trims trailing zeros of the fraction): pad before comparing.
def key(c):
    ts = c["State"]["StartedAt"].rstrip("Z")
    whole, _, frac = ts.partition(".")
    return whole + "." + frac.ljust(9, "0")
order = [c["Config"]["Labels"]["berth.name"] for c in sorted(cs, key=key)]
print("example start order: %s" % order, file=sys.stderr)
sys.exit(0 if len(order) == 5 and order[-1] == "report-low-4" else 1)
PY

# ---- a CronTask's run carries its template's priority ---------------------
cat >"$T/cron.yaml" <<'YAML'
apiVersion: berth/v1
kind: CronTask
metadata: {name: nightly, namespace: team}
spec:
  schedule: "0 3 * * *"
  taskTemplate:
    spec: {image: "busybox:latest", network: none, priority: 7, command: [sh, -c, "exit 0"]}
YAML
berth apply -f "$T/cron.yaml" >/dev/null || fail "apply crontask"
berth -n team trigger crontask/nightly >/dev/null || fail "trigger"
wait_until 30 '[ -n "$(berth -n team get tasks -l berth.crontask=nightly -o name)" ]' || fail "no run"
run=$(berth -n team get tasks -l berth.crontask=nightly -o name | awk 'NR == 1')
run=${run#*/}
berth -n team get task "$run" -o json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["spec"]["priority"] == 7 else 1)' ||
  fail "the run's priority: $(berth -n team get task "$run" -o json)"
berth -n team wait "task/$run" --for=condition=Succeeded --timeout 30s >/dev/null || fail "the run failed"

# ---- raising the limit and deleting the Queue wake the waiting Tasks ------
{
  printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default, namespace: lim}\nspec: {maxRunning: 1}\n'
  for i in 1 2 3; do
    printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: t%s, namespace: lim}\n' "$i"
    printf 'spec: {image: "busybox:latest", network: none, command: [sleep, "60"]}\n'
  done
} >"$T/lim.yaml"
berth apply -f "$T/lim.yaml" >/dev/null || fail "apply lim"
running_in_lim() { docker ps -q --filter "$(cluster_filter)" --filter label=berth.namespace=lim | wc -l; }
wait_until 20 '[ "$(running_in_lim)" = 1 ]' || fail "lim: $(running_in_lim) running, want 1"
sleep 1
[ "$(running_in_lim)" = 1 ] || fail "lim: more than 1 ran with maxRunning 1"
# A crash and restart rebuild the slots from what runs: still 1, the others
# still queued.
kill9_berthd
start_berthd
sleep 2
[ "$(running_in_lim)" = 1 ] || fail "lim: $(running_in_lim) running after a restart, maxRunning 1"
[ "$(berth -n lim get tasks -o json | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)["items"] if t["status"]["phase"] == "Pending"))')" = 2 ] ||
  fail "lim: the queued Tasks after a restart: $(berth -n lim get tasks)"
sed -i 's/maxRunning: 1/maxRunning: 2/' "$T/lim.yaml"
berth apply -f "$T/lim.yaml" >/dev/null || fail "raise the limit"
wait_until 10 '[ "$(running_in_lim)" = 2 ]' || fail "lim: $(running_in_lim) running after raising to 2"
berth -n lim delete queue default >/dev/null || fail "delete queue"
wait_until 10 '[ "$(running_in_lim)" = 3 ]' || fail "lim: $(running_in_lim) running without a Queue"
berth -n lim delete task t1 t2 t3 >/dev/null || fail "delete lim tasks"
stop_berthd
log "PASS"
