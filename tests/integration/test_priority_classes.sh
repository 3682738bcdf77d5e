#!/usr/bin/env bash
# Priority classes per namespace (docs/reference/queue.md): a Queue
# {maxRunning: 1, classes high 100 and low -5, maxPriority: 100}; behind a
# blocker, Tasks a (low), b (priority 1000000, clamped to 100), c (high) and
# d (priority 1000000) start, by Docker's own start times, in the order
# b, c, d, a: b and c before a, c after b (equal priority: older first), d
# after c (its 1000000 counts as 100; unclamped it would go first). A Task
# naming a class its Queue lacks waits Queued/UnknownPriorityClass without
# holding back the others, across a kill -9 and restart too, and starts
# once `berth apply` adds the class; so does one in a namespace without a
# Queue once one is created. A Workflow step and a CronTask run carry the
# class of their templates. Setting priority and priorityClassName is
# refused (berth apply: file:line:column and the field; the server: 422),
# and so are bad classes. The example runs in its order.
source "$(dirname "$0")/lib.sh"
start_berthd

# ---- bad input -----------------------------------------------------------
bad() { # file expected-error
  local rc=0
  berth apply -f "$1" 2>"$T/err" >/dev/null || rc=$?
  [ "$rc" = 1 ] || fail "apply $1: exit $rc, want 1: $(cat "$T/err")"
  has -F "$2" "$T/err" || fail "error for $1: $(cat "$T/err"), want $2"
  code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$T/berth.sock" \
    -X POST -H 'Content-Type: application/yaml' --data-binary @"$1" \
    http://localhost/apis/berth/v1/apply)
  [ "$code" = 422 ] || fail "server answered $code for $1: $(cat "$T/resp")"
}
cat >"$T/both.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: both}
spec:
  image: busybox:latest
  priority: 5
  priorityClassName: high
YAML
bad "$T/both.yaml" "both.yaml:7:3: spec.priorityClassName: set priority or priorityClassName, not both"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec:\n  priorityClasses:\n    - {name: high, value: 1}\n    - {name: high, value: 2}\n' >"$T/dup.yaml"
bad "$T/dup.yaml" "dup.yaml:7:8: spec.priorityClasses[1].name: duplicate name high (first at spec.priorityClasses[0])"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec: {maxPriority: 2000000}\n' >"$T/max.yaml"
bad "$T/max.yaml" "spec.maxPriority: must be between -1000000 and 1000000"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default}\nspec: {}\n' >"$T/none.yaml"
bad "$T/none.yaml" "spec: set maxRunning, priorityClasses or maxPriority"
printf 'apiVersion: berth/v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {image: busybox:latest, priorityClassName: high}}\n' >"$T/svc.yaml"
bad "$T/svc.yaml" "spec.template.priorityClassName: not allowed in a Service template"
[ -z "$(berth get queues -A -o name)" ] || fail "a bad Queue was stored"
[ -z "$(berth get tasks -A -o name)" ] || fail "a bad Task was stored"

# ---- the order of classes, numbers and the clamp --------------------------
queue() { # classes...: the Queue of namespace prio
  printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default, namespace: prio}\n'
  printf 'spec:\n  maxRunning: 1\n  maxPriority: 100\n  priorityClasses:\n'
  for c in "$@"; do printf '    - %s\n' "$c"; done
}
task() { # name "priority: N" | "priorityClassName: C" seconds
  printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: %s, namespace: prio}\n' "$1"
  printf 'spec: {image: "busybox:latest", network: none, command: [sleep, "%s"]%s}\n' "$3" "${2:+, $2}"
}
classes=('{name: high, value: 100}' '{name: low, value: -5}')
{ queue "${classes[@]}"; task blocker "" 10; } >"$T/blocker.yaml"
berth apply -f "$T/blocker.yaml" >/dev/null || fail "apply the Queue and the blocker"
berth -n prio get queue default | has -E "^default +1 +100 " || fail "get queue: $(berth -n prio get queue default)"
wait_until 20 '[ -n "$(docker ps -q --filter "$(cluster_filter)" --filter label=berth.name=blocker)" ]' ||
  fail "the blocker does not run"

# u names a class the Queue lacks: it must not hold back a, b, c and d.
task u "priorityClassName: urgent" 1 | berth apply -f - >/dev/null || fail "apply u"
task a "priorityClassName: low" 1 | berth apply -f - >/dev/null || fail "apply a"
task b "priority: 1000000" 1 | berth apply -f - >/dev/null || fail "apply b"
sleep 1.1 # creationTimestamp has whole seconds: c is younger than b, d than c
task c "priorityClassName: high" 1 | berth apply -f - >/dev/null || fail "apply c"
sleep 1.1
task d "priority: 1000000" 1 | berth apply -f - >/dev/null || fail "apply d"

# name reason message, of the Tasks of prio waiting Queued.
queued() {
  berth -n prio get tasks -o json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["items"]:
    st = t.get("status", {})
    c = [c for c in st.get("conditions", []) if c["type"] == "Queued" and c["status"] == "True"]
    if st.get("phase") == "Pending" and c:
        print(t["metadata"]["name"], c[0]["reason"], c[0]["message"])'
}
wait_until 20 '[ "$(queued | wc -l)" = 5 ]' || fail "queued: $(queued)"
queued >"$T/queued.txt"
has -x 'u UnknownPriorityClass priority class "urgent" is not defined in Queue prio/default' "$T/queued.txt" ||
  fail "u: $(cat "$T/queued.txt")"
[ "$(grep -c ' QueueLimit ' "$T/queued.txt")" = 4 ] || fail "a b c d: $(cat "$T/queued.txt")"
berth -n prio describe task c | has -E "Priority Class: +high" || fail "describe c: $(berth -n prio describe task c)"
berth -n prio describe task c | has -E "Position: +2 of 4 queued" || fail "describe c: position"
berth -n prio describe task u | has -E "^Queue:" && fail "u has a queue position"

for t in a b c d; do
  berth -n prio wait "task/$t" --for=condition=Succeeded --timeout 60s >/dev/null || fail "$t did not succeed"
done
docker inspect $(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.namespace=prio) >"$T/inspect.json"
python3 - "$T/inspect.json" <<'PY' || fail "start order"
import calendar, json, re, sys
def ns(ts):
    y, mo, d, h, mi, s, frac = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts).groups()
    return (calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s))) * 10**9 +
            int((frac or "0").ljust(9, "0")[:9]))
starts = {c["Config"]["Labels"]["berth.name"]: ns(c["State"]["StartedAt"]) for c in json.load(open(sys.argv[1]))}
order = sorted(starts, key=starts.get)
print("start order: %s" % order, file=sys.stderr)
sys.exit(0 if order == ["blocker", "b", "c", "d", "a"] else 1)
PY
[ "$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.name=u)" = "" ] || fail "u has a container"

# A restart keeps u out of the run queue (the rebuild skips it) and waiting.
kill9_berthd
start_berthd
sleep 2
queued | has -x 'u UnknownPriorityClass priority class "urgent" is not defined in Queue prio/default' ||
  fail "u after a restart: $(queued)"

# Adding the class to the Queue wakes u (no timer: the Queue's change).
queue "${classes[@]}" '{name: urgent, value: 1000}' >"$T/queue2.yaml"
berth apply -f "$T/queue2.yaml" >/dev/null || fail "add the class"
berth -n prio wait task/u --for=condition=Succeeded --timeout 30s >/dev/null ||
  fail "u did not run once its class exists: $(berth -n prio get task u -o json)"

# A Workflow step's task and a CronTask's template carry the class to the
# Tasks they make.
cat >"$T/carriers.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: wf, namespace: prio}
spec:
  steps:
    - name: s
      task: {image: "busybox:latest", network: none, priorityClassName: high, command: [sh, -c, "exit 0"]}
---
apiVersion: berth/v1
kind: CronTask
metadata: {name: nightly, namespace: prio}
spec:
  schedule: "0 3 * * *"
  taskTemplate:
    spec: {image: "busybox:latest", network: none, priorityClassName: low, command: [sh, -c, "exit 0"]}
YAML
berth apply -f "$T/carriers.yaml" >/dev/null || fail "apply the Workflow and the CronTask"
berth -n prio trigger crontask/nightly >/dev/null || fail "trigger"
berth -n prio wait workflow/wf --for=condition=Succeeded --timeout 30s >/dev/null || fail "wf did not succeed"
[ "$(berth -n prio get task wf-s -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"].get("priorityClassName"))')" = high ] ||
  fail "the step's class is not on its Task: $(berth -n prio get task wf-s -o json)"
wait_until 30 '[ -n "$(berth -n prio get tasks -l berth.crontask=nightly -o name)" ]' || fail "no run"
run=$(berth -n prio get tasks -l berth.crontask=nightly -o name | awk 'NR == 1')
run=${run#*/}
[ "$(berth -n prio get task "$run" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"].get("priorityClassName"))')" = low ] ||
  fail "the run's class: $(berth -n prio get task "$run" -o json)"
berth -n prio wait "task/$run" --for=condition=Succeeded --timeout 30s >/dev/null || fail "the run failed"

# A namespace without a Queue: the class is unknown until one is created.
printf 'apiVersion: berth/v1\nkind: Task\nmetadata: {name: n, namespace: noq}\nspec: {image: "busybox:latest", network: none, priorityClassName: high, command: [sleep, "1"]}\n' |
  berth apply -f - >/dev/null || fail "apply n"
wait_until 20 '[ "$(berth -n noq get task n -o json | python3 -c "
import json, sys
c = [c for c in json.load(sys.stdin)[\"status\"].get(\"conditions\", []) if c[\"type\"] == \"Queued\"]
print(c[0][\"message\"] if c and c[0][\"reason\"] == \"UnknownPriorityClass\" else \"\")")" = "priority class \"high\" is not defined in Queue noq/default" ]' ||
  fail "n: $(berth -n noq get task n -o json)"
printf 'apiVersion: berth/v1\nkind: Queue\nmetadata: {name: default, namespace: noq}\nspec: {priorityClasses: [{name: high, value: 1}]}\n' |
  berth apply -f - >/dev/null || fail "apply noq's Queue"
berth -n noq wait task/n --for=condition=Succeeded --timeout 30s >/dev/null || fail "n did not run"

# ---- the example ------------------------------------------------------------
berth apply -f "$BERTH_SOURCE_DIR/examples/queue/priority-classes.yaml" >/dev/null || fail "apply example"
for t in first nightly-batch report hotfix; do
  berth -n shared wait "task/$t" --for=condition=Succeeded --timeout 60s >/dev/null || fail "example: $t"
done
docker inspect $(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.namespace=shared) >"$T/example.json"
# Any of the four may take the one slot first; the others wait and start by
# effective priority: hotfix (urgent, 100), first and report (the default
# class, 0; first is older or, in the same second, first by name), then
# nightly-batch (batch, -10).
python3 - "$T/example.json" <<'PY' || fail "example: start order"
import json, sys
def key(c):
    whole, _, frac = c["State"]["StartedAt"].rstrip("Z").partition(".")
    return whole + "." + frac.ljust(9, "0")
order = [c["Config"]["Labels"]["berth.name"] for c in sorted(json.load(open(sys.argv[1])), key=key)]
print("example start order: %s" % order, file=sys.stderr)
want = [t for t in ["hotfix", "first", "report", "nightly-batch"] if t != order[0]]
sys.exit(0 if len(order) == 4 and order[1:] == want else 1)
PY
stop_berthd
log "PASS"
